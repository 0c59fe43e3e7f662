"""The algorithmic pieces of algos/reinforce.py on hand-built inputs."""

import gymnasium as gym
import numpy as np
import pytest
import torch

# rewards of three episodes back to back: three steps, one step, two steps
REWARDS = np.array([1.0, 2.0, 3.0, 10.0, 4.0, 5.0])
EPISODE_ENDS = np.array([False, False, True, True, False, True])


@pytest.mark.parametrize("gamma, expected", [
    (1.0, [6.0, 5.0, 3.0, 10.0, 9.0, 5.0]),
    (0.99, [1 + 0.99 * 2 + 0.99**2 * 3, 2 + 0.99 * 3, 3.0, 10.0, 4 + 0.99 * 5, 5.0]),
])
def test_reward_to_go_restarts_at_each_episode_end(reinforce, gamma, expected):
    returns = reinforce.reward_to_go(REWARDS, EPISODE_ENDS, gamma)
    assert returns.tolist() == pytest.approx(expected, abs=1e-12)


def test_episode_batch_keeps_episodes_apart(reinforce):
    episodes = [
        reinforce.Episode(np.array([[0.0], [1.0], [2.0]]), np.array([0, 1, 0]), REWARDS[:3]),
        reinforce.Episode(np.array([[3.0]]), np.array([1]), REWARDS[3:4]),
        reinforce.Episode(np.array([[4.0], [5.0]]), np.array([1, 1]), REWARDS[4:]),
    ]
    observations, actions, returns = reinforce.episode_batch(episodes, gamma=1.0)
    assert observations[:, 0].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert actions.tolist() == [0, 1, 0, 1, 1, 1]
    assert returns.tolist() == [6.0, 5.0, 3.0, 10.0, 9.0, 5.0]


def two_action_toy(reinforce, logits: list[float]):
    """A categorical policy whose logits are its output bias: zero observations, no hidden layer."""
    policy = reinforce.CategoricalPolicy(obs_dim=1, n_actions=2, hidden_sizes=())
    with torch.no_grad():
        policy.net[0].weight.zero_()
        policy.net[0].bias.copy_(torch.tensor(logits))
    return policy


@pytest.mark.parametrize("ent_coef", [0.0, 0.1])
def test_policy_loss_gradient_is_the_analytic_score_function(reinforce, ent_coef):
    logits = torch.tensor([0.3, -0.2], dtype=torch.float64)
    policy = two_action_toy(reinforce, logits.tolist())
    actions = torch.tensor([0, 1, 1, 0])
    advantages = torch.tensor([1.0, -0.5, 2.0, 0.25])
    loss, entropy = reinforce.policy_loss(policy, torch.zeros(4, 1), actions, advantages, ent_coef)
    loss.backward()

    # softmax: ∇_z log π(a) = onehot(a) − π, and ∇_z H = −π (log π + H)
    pi = logits.softmax(0)
    score = torch.nn.functional.one_hot(actions, 2).double() - pi
    expected_entropy = -(pi * pi.log()).sum()
    entropy_gradient = -pi * (pi.log() + expected_entropy)
    expected = -(advantages.double()[:, None] * score).mean(0) - ent_coef * entropy_gradient
    assert entropy.item() == pytest.approx(expected_entropy.item(), rel=1e-6)
    assert policy.net[0].bias.grad.tolist() == pytest.approx(expected.tolist(), rel=1e-5)


def test_gaussian_log_prob_is_the_diagonal_normal_density(reinforce):
    policy = reinforce.GaussianPolicy(obs_dim=3, action_dim=2, hidden_sizes=(8,))
    with torch.no_grad():
        policy.log_std.copy_(torch.tensor([-0.5, 0.7]))
    obs, actions = torch.randn(5, 3), torch.randn(5, 2)
    mean = policy(obs)
    distribution = policy.distribution(mean)
    std = torch.tensor([-0.5, 0.7]).exp()
    expected = (-((actions - mean) ** 2) / (2 * std**2) - std.log() - 0.5 * np.log(2 * np.pi)).sum(1)
    assert distribution.log_prob(actions).shape == (5,)
    assert distribution.log_prob(actions).tolist() == pytest.approx(expected.tolist(), rel=1e-5)
    assert distribution.entropy().tolist() == pytest.approx([(0.5 + 0.5 * np.log(2 * np.pi) + std.log()).sum().item()] * 5)


def test_box_actions_are_clipped_for_the_env_only(reinforce):
    bounds = gym.spaces.Box(-2.0, 2.0, (1,))
    actions = np.array([[-3.5], [0.5], [2.75]], dtype=np.float32)
    assert reinforce.to_env_actions(actions, bounds).tolist() == [[-2.0], [0.5], [2.0]]
    assert actions.tolist() == [[-3.5], [0.5], [2.75]]
    discrete = np.array([0, 2, 1])
    assert reinforce.to_env_actions(discrete, gym.spaces.Discrete(3)) is discrete


def test_greedy_actions_are_the_argmax_and_the_clipped_mean(reinforce):
    categorical = two_action_toy(reinforce, [0.3, 0.9])
    act = reinforce.evaluation_policy(categorical, torch.device("cpu"), gym.spaces.Discrete(2), None)
    assert act(np.zeros((3, 1), dtype=np.float32)).tolist() == [1, 1, 1]

    gaussian = reinforce.GaussianPolicy(obs_dim=1, action_dim=2, hidden_sizes=())
    with torch.no_grad():
        gaussian.net[0].weight.copy_(torch.tensor([[1.0], [-1.0]]))
        gaussian.net[0].bias.zero_()
    act = reinforce.evaluation_policy(gaussian, torch.device("cpu"), gym.spaces.Box(-1.0, 1.0, (2,)), None)
    assert act(np.array([[0.5], [3.0]], dtype=np.float32)).tolist() == [[0.5, -0.5], [1.0, -1.0]]


def test_sampled_actions_follow_pi_and_their_own_generator(reinforce):
    categorical = two_action_toy(reinforce, [0.3, 0.9])  # π(1) = sigmoid(0.6) ≈ 0.646
    generator = torch.Generator().manual_seed(5)
    act = reinforce.evaluation_policy(categorical, torch.device("cpu"), gym.spaces.Discrete(2), generator)
    torch.manual_seed(0)
    global_state = torch.get_rng_state()
    actions = act(np.zeros((20_000, 1), dtype=np.float32))
    assert torch.equal(torch.get_rng_state(), global_state)  # training's draws untouched
    assert abs(actions.mean() - torch.sigmoid(torch.tensor(0.6)).item()) < 0.01
    generator.manual_seed(5)
    assert (act(np.zeros((20_000, 1), dtype=np.float32)) == actions).all()

    gaussian = reinforce.GaussianPolicy(obs_dim=1, action_dim=2, hidden_sizes=())
    with torch.no_grad():
        gaussian.net[0].weight.copy_(torch.tensor([[1.0], [-1.0]]))
        gaussian.net[0].bias.zero_()
        gaussian.log_std.copy_(torch.tensor([np.log(0.1), np.log(0.2)]))
    act = reinforce.evaluation_policy(gaussian, torch.device("cpu"), gym.spaces.Box(-10.0, 10.0, (2,)), generator)
    actions = act(np.full((20_000, 1), 0.5, dtype=np.float32))
    assert np.allclose(actions.mean(axis=0), [0.5, -0.5], atol=0.01)
    assert np.allclose(actions.std(axis=0), [0.1, 0.2], atol=0.01)
