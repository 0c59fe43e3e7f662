"""The algorithmic pieces of algos/dqn.py on hand-built inputs."""

import pytest
import torch
import torch.nn as nn

from tests.helpers import FixedQ


def test_epsilon_schedule_end_points(dqn):
    assert dqn.linear_schedule(1.0, 0.05, 1000, 0) == 1.0
    assert dqn.linear_schedule(1.0, 0.05, 1000, 500) == pytest.approx(0.525)
    assert dqn.linear_schedule(1.0, 0.05, 1000, 1000) == 0.05
    assert dqn.linear_schedule(1.0, 0.05, 1000, 10**6) == 0.05


def test_zero_length_epsilon_schedule_starts_at_the_end(dqn):
    assert dqn.linear_schedule(1.0, 0.05, 0, 0) == 0.05
    assert dqn.linear_schedule(1.0, 0.05, 0, 7) == 0.05


def test_td_target_bootstraps_truncations_but_not_terminations(dqn):
    target_network = FixedQ([[1.0, 3.0], [5.0, -2.0], [0.5, 0.25]])
    rewards = torch.tensor([1.0, 1.0, -1.0])
    # transition 0 ends in a termination; 1 is a truncation, stored with its true final
    # observation and terminations = 0; 2 is an ordinary step
    next_observations = torch.tensor([[0.0], [1.0], [2.0]])
    terminations = torch.tensor([1.0, 0.0, 0.0])
    target = dqn.td_target(target_network, rewards, next_observations, terminations, gamma=0.9)
    assert target.tolist() == pytest.approx([1.0, 1.0 + 0.9 * 5.0, -1.0 + 0.9 * 0.5])


def test_td_target_carries_no_gradient(dqn):
    network = nn.Linear(2, 2)
    target = dqn.td_target(network, torch.zeros(4), torch.randn(4, 2), torch.zeros(4), gamma=0.99)
    assert not target.requires_grad


@pytest.mark.parametrize(
    "step, step_size, interval, expected",
    [(10, 1, 10, 1), (11, 1, 10, 0), (12, 4, 10, 1), (8, 4, 10, 0), (40, 32, 10, 4), (20, 20, 10, 2)],
)
def test_crossings_counts_multiples_passed_by_a_step(dqn, step, step_size, interval, expected):
    assert dqn.crossings(step, step_size, interval) == expected


def test_q_network_shapes(dqn):
    network = dqn.QNetwork(obs_dim=4, n_actions=3, hidden_sizes=(16, 8))
    assert network(torch.zeros(5, 4)).shape == (5, 3)
    assert [m.out_features for m in network if isinstance(m, nn.Linear)] == [16, 8, 3]


def test_numpy_greedy_policy_matches_the_network_and_follows_its_training(dqn):
    torch.manual_seed(0)
    network = dqn.QNetwork(obs_dim=4, n_actions=3, hidden_sizes=(32, 16))
    policy = dqn.greedy_policy(network, torch.device("cpu"))
    obs = torch.randn(256, 4)

    def torch_greedy():
        with torch.no_grad():
            return network(obs).argmax(dim=1).numpy()

    assert (policy(obs.numpy()) == torch_greedy()).all()
    before = policy(obs.numpy())
    optimizer = torch.optim.Adam(network.parameters(), lr=0.1, fused=True)
    for _ in range(20):  # push action 0 up everywhere
        optimizer.zero_grad()
        (-network(obs)[:, 0].mean()).backward()
        optimizer.step()
    after = policy(obs.numpy())
    assert (after != before).any() and (after == torch_greedy()).all()
