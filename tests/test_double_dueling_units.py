"""What Double DQN and the dueling head change, on hand-built tensors; and the bound on how
far each variant's file (these two, and deep_q_table.py) drifts from its parent."""

import difflib

import pytest
import torch
import torch.nn as nn

from benchmarks.common import ALGOS
from tests.helpers import FixedQ

# Bounds on the changed lines (removed + added) that `diff parent child` shows: the idea and
# little else (today 20, 29, 128 and 411, README's table; dqn_atari.py's are its envs, network, frame
# buffer and hyperparameters). A bound, not a pin: a parent's edit
# that its child does not follow soon passes it, while an edit that keeps the count proves
# nothing about the algorithm; the wiring tests (test_*_wiring.py) check that. Raise a
# bound only for a change that belongs to the algorithm.
MAX_CHANGED_LINES = {("dqn", "double_dqn"): 20, ("double_dqn", "dueling_dqn"): 30, ("q_table", "deep_q_table"): 150,
                     ("dqn", "dqn_atari"): 420}


def changed_lines(parent: str, child: str) -> int:
    old = (ALGOS / f"{parent}.py").read_text().splitlines()
    new = (ALGOS / f"{child}.py").read_text().splitlines()
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    return sum((i2 - i1) + (j2 - j1) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal")


@pytest.mark.parametrize("parent, child", MAX_CHANGED_LINES)
def test_variant_is_a_small_diff_of_its_parent(parent, child):
    assert 0 < changed_lines(parent, child) <= MAX_CHANGED_LINES[parent, child]


def test_double_target_differs_from_vanilla_exactly_where_the_argmaxes_disagree(dqn, double_dqn):
    # next states 0 and 2: online and target argmax agree; 1 and 3: they disagree
    online = FixedQ([[2.0, 1.0], [0.0, 1.0], [5.0, 5.5], [3.0, -1.0]])
    target = FixedQ([[4.0, 3.0], [7.0, 2.0], [1.0, 6.0], [0.5, 9.0]])
    rewards = torch.tensor([1.0, 1.0, 0.0, 2.0])
    next_observations = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
    terminations = torch.tensor([0.0, 0.0, 0.0, 1.0])
    gamma = 0.9

    double = double_dqn.td_target(online, target, rewards, next_observations, terminations, gamma)
    vanilla = dqn.td_target(target, rewards, next_observations, terminations, gamma)

    online_choice = online(next_observations).argmax(dim=1)
    expected = rewards + gamma * (1 - terminations) * target(next_observations)[torch.arange(4), online_choice]
    assert double.tolist() == pytest.approx(expected.tolist())
    assert double.tolist() == pytest.approx([1.0 + 0.9 * 4.0, 1.0 + 0.9 * 2.0, 0.9 * 6.0, 2.0])
    # a termination masks the disagreement at state 3
    assert (double != vanilla).tolist() == [False, True, False, False]


def test_dueling_head_centres_advantages_and_trains_both_streams(dueling_dqn):
    torch.manual_seed(0)
    network = dueling_dqn.QNetwork(obs_dim=4, n_actions=3, hidden_sizes=(16,))
    obs = torch.randn(8, 4)
    q_values = network(obs)
    values = network.value(network.trunk(obs))
    assert q_values.shape == (8, 3) and values.shape == (8, 1)
    torch.testing.assert_close((q_values - values).mean(dim=1), torch.zeros(8), atol=1e-6, rtol=0)

    q_values[:, 1].sum().backward()
    for stream in (network.value, network.advantage, network.trunk[0]):
        assert stream.weight.grad is not None and stream.weight.grad.abs().sum() > 0


def test_dueling_numpy_greedy_policy_matches_the_network(dueling_dqn):
    torch.manual_seed(1)
    network = dueling_dqn.QNetwork(obs_dim=4, n_actions=5, hidden_sizes=(32, 16))
    obs = torch.randn(512, 4)
    with torch.no_grad():
        expected = network(obs).argmax(dim=1).numpy()
    assert (dueling_dqn.greedy_policy(network, torch.device("cpu"))(obs.numpy()) == expected).all()


def test_dueling_network_has_the_same_interface_as_dqns(dqn, dueling_dqn):
    plain = dqn.QNetwork(obs_dim=6, n_actions=3, hidden_sizes=(8, 8))
    dueling = dueling_dqn.QNetwork(obs_dim=6, n_actions=3, hidden_sizes=(8, 8))
    assert plain(torch.zeros(2, 6)).shape == dueling(torch.zeros(2, 6)).shape
    assert isinstance(dueling.trunk, nn.Sequential) and len(dueling.trunk) == 4


def test_dueling_td_target_lets_the_online_network_pick_and_the_target_network_value(dueling_dqn):
    # next states 0 and 2: online and target argmax agree; 1 and 3: they disagree
    online = FixedQ([[2.0, 1.0], [0.0, 1.0], [5.0, 5.5], [3.0, -1.0]])
    target = FixedQ([[4.0, 3.0], [7.0, 2.0], [1.0, 6.0], [0.5, 9.0]])
    rewards = torch.tensor([1.0, 1.0, 0.0, 2.0])
    next_observations = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
    terminations = torch.tensor([0.0, 0.0, 0.0, 1.0])
    dueling = dueling_dqn.td_target(online, target, rewards, next_observations, terminations, 0.9)
    # the target network's value of the online network's choice: 4 (not max 4), 2 (not max 7), 6; state 3 terminates
    assert dueling.tolist() == pytest.approx([1.0 + 0.9 * 4.0, 1.0 + 0.9 * 2.0, 0.9 * 6.0, 2.0])
    reversed_roles = dueling_dqn.td_target(target, online, rewards, next_observations, terminations, 0.9)
    assert reversed_roles.tolist() != pytest.approx(dueling.tolist())
    assert not dueling_dqn.td_target(nn.Linear(1, 2), nn.Linear(1, 2), rewards, next_observations, terminations,
                                     0.9).requires_grad
