"""The algorithmic pieces of algos/ddpg.py on hand-built inputs."""

import numpy as np
import pytest
import torch

LOW, HIGH = np.array([-1.0, 0.0], np.float32), np.array([3.0, 2.0], np.float32)


def actor_with_output_bias(ddpg, bias: list[float]):
    """An actor on a 2-D Box [-1, 3] × [0, 2] whose pre-tanh output is `bias` whatever the observation."""
    actor = ddpg.Actor(obs_dim=3, action_low=LOW, action_high=HIGH, hidden_sizes=(8,))
    with torch.no_grad():
        actor.network[-1].weight.zero_()
        actor.network[-1].bias.copy_(torch.tensor(bias))
    return actor


def test_actor_maps_tanh_onto_each_dimensions_own_bounds(ddpg):
    obs = torch.randn(5, 3)
    with torch.no_grad():
        assert actor_with_output_bias(ddpg, [50.0, -50.0])(obs).tolist() == [[3.0, 0.0]] * 5
        assert actor_with_output_bias(ddpg, [-50.0, 50.0])(obs).tolist() == [[-1.0, 2.0]] * 5
        assert actor_with_output_bias(ddpg, [0.0, 0.0])(obs).tolist() == [[1.0, 1.0]] * 5


def test_actor_actions_round_trip_through_the_scaling(ddpg):
    torch.manual_seed(0)
    actor = ddpg.Actor(obs_dim=3, action_low=LOW, action_high=HIGH, hidden_sizes=(16,))
    obs = 3 * torch.randn(256, 3)
    with torch.no_grad():
        actions = actor(obs)
        pre_tanh = actor.network(obs)
    assert (actions >= torch.tensor(LOW)).all() and (actions <= torch.tensor(HIGH)).all()
    # undoing the scaling recovers tanh's input, dimension by dimension
    unscaled = (actions - actor.action_bias) / actor.action_scale
    torch.testing.assert_close(torch.atanh(unscaled), pre_tanh, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(actor.action_scale, torch.tensor([2.0, 1.0]))
    torch.testing.assert_close(actor.action_bias, torch.tensor([1.0, 1.0]))


def test_numpy_policy_matches_the_actor_and_follows_its_training(ddpg):
    torch.manual_seed(0)
    actor = ddpg.Actor(obs_dim=3, action_low=LOW, action_high=HIGH, hidden_sizes=(32, 16))
    policy = ddpg.deterministic_policy(actor, torch.device("cpu"))
    obs = torch.randn(256, 3)

    def torch_actions():
        with torch.no_grad():
            return actor(obs).numpy()

    np.testing.assert_allclose(policy(obs.numpy()), torch_actions(), atol=1e-5)
    before = policy(obs.numpy())
    optimizer = torch.optim.Adam(actor.parameters(), lr=0.1, fused=True)
    for _ in range(20):  # push the first action dimension down everywhere
        optimizer.zero_grad()
        actor(obs)[:, 0].mean().backward()
        optimizer.step()
    after = policy(obs.numpy())
    assert (after[:, 0] < before[:, 0] - 0.5).all()
    np.testing.assert_allclose(after, torch_actions(), atol=1e-5)


def test_critic_takes_observation_and_action(ddpg):
    qf = ddpg.QNetwork(obs_dim=3, action_dim=2, hidden_sizes=(16, 8))
    obs, actions = torch.randn(5, 3), torch.randn(5, 2)
    assert qf(obs, actions).shape == (5, 1)
    assert not torch.equal(qf(obs, actions), qf(obs, actions + 1.0))


def test_td_target_bootstraps_truncations_but_not_terminations(ddpg):
    # target actor μ'(s') = 2 s'; target critic Q'(s', a') = s' + a', so Q'(s', μ'(s')) = 3 s'
    target_actor = lambda obs: 2.0 * obs  # noqa: E731
    target_qf = lambda obs, actions: obs + actions  # noqa: E731
    rewards = torch.tensor([1.0, 1.0, -1.0])
    # transition 0 ends in a termination; 1 is a truncation, stored with its true final
    # observation and terminations = 0; 2 is an ordinary step
    next_observations = torch.tensor([[1.0], [2.0], [3.0]])
    terminations = torch.tensor([1.0, 0.0, 0.0])
    target = ddpg.td_target(target_actor, target_qf, rewards, next_observations, terminations, gamma=0.9)
    assert target.tolist() == pytest.approx([1.0, 1.0 + 0.9 * 6.0, -1.0 + 0.9 * 9.0])


def test_td_target_carries_no_gradient(ddpg):
    actor = ddpg.Actor(obs_dim=3, action_low=LOW, action_high=HIGH, hidden_sizes=(8,))
    qf = ddpg.QNetwork(obs_dim=3, action_dim=2, hidden_sizes=(8,))
    target = ddpg.td_target(actor, qf, torch.zeros(4), torch.randn(4, 3), torch.zeros(4), gamma=0.99)
    assert target.shape == (4,) and not target.requires_grad


def test_gaussian_noise_is_independent_per_env_and_dimension(ddpg):
    rng = np.random.default_rng(0)
    draws = np.stack([ddpg.gaussian_noise(0.3, (4, 2), rng) for _ in range(5000)])  # (steps, envs, dims)
    assert draws.shape == (5000, 4, 2)
    np.testing.assert_allclose(draws.std(axis=0), 0.3, rtol=0.05)
    correlations = np.corrcoef(draws.reshape(5000, 8).T)
    assert np.abs(correlations - np.eye(8)).max() < 0.06
    # no memory from one step to the next
    assert abs(np.corrcoef(draws[:-1, 0, 0], draws[1:, 0, 0])[0, 1]) < 0.06


def test_ou_noise_reverts_to_zero_at_rate_theta(ddpg):
    state, rng = np.array([[1.0, -2.0]]), np.random.default_rng(0)
    for step in range(1, 11):
        noise = ddpg.ornstein_uhlenbeck_noise(state, sigma=0.0, theta=0.15, dt=0.5, rng=rng)
        np.testing.assert_allclose(noise, [[(1 - 0.075) ** step, -2 * (1 - 0.075) ** step]])
        np.testing.assert_array_equal(state, noise)  # the process moved in place


def test_ou_noise_is_correlated_in_time_independent_across_envs_and_stationary(ddpg):
    theta, dt, sigma = 0.15, 1.0, 0.2
    state, rng = np.zeros((3, 2)), np.random.default_rng(0)
    draws = np.stack([ddpg.ornstein_uhlenbeck_noise(state, sigma, theta, dt, rng) for _ in range(20_000)])[1000:]
    # the AR(1) x ← (1 − θ dt) x + σ √dt ε: lag-1 correlation 1 − θ dt, stationary variance
    # σ² dt / (1 − (1 − θ dt)²)
    assert np.corrcoef(draws[:-1, 0, 0], draws[1:, 0, 0])[0, 1] == pytest.approx(1 - theta * dt, abs=0.03)
    np.testing.assert_allclose(draws.std(axis=0), sigma * np.sqrt(dt / (1 - (1 - theta * dt) ** 2)), rtol=0.15)
    correlations = np.corrcoef(draws.reshape(len(draws), 6).T)
    assert np.abs(correlations - np.eye(6)).max() < 0.1
