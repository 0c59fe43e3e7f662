"""The tabular scripts' pieces: value iteration against published and exact numbers, the
Q-learning update, and the one-step identity of deep_q_table's SGD step with it."""

import gymnasium as gym
import numpy as np
import pytest
import torch

GERON_Q_AT_0_90 = [[18.91891892, 17.02702702, 13.62162162], [0.0, -np.inf, -4.87971488], [-np.inf, 50.13365013, -np.inf]]


def plan(value_iteration, env_id: str, gamma: float):
    env = gym.make(env_id)
    tables = value_iteration.mdp_tables(env.unwrapped.P, env.observation_space.n, env.action_space.n, torch.device("cpu"))
    q_values, _ = value_iteration.q_value_iteration(tables, gamma, tolerance=1e-12, max_iterations=100_000)
    return env, tables, q_values


def test_value_iteration_reproduces_geron_at_gamma_0_90(value_iteration):
    _, _, q_values = plan(value_iteration, "ThreeStateMDP-v0", 0.90)
    np.testing.assert_allclose(q_values.numpy(), GERON_Q_AT_0_90, atol=1e-6)
    assert q_values.argmax(dim=1).tolist() == [0, 0, 1]


def test_a_larger_discount_sends_the_agent_through_the_fire(value_iteration):
    _, _, q_values = plan(value_iteration, "ThreeStateMDP-v0", 0.95)
    assert q_values.argmax(dim=1).tolist() == [0, 2, 1]


@pytest.mark.parametrize("env_id, published", [("FrozenLake-v1", 0.744), ("Taxi-v4", 7.93), ("CliffWalking-v1", -13.0)])
def test_greedy_value_under_the_time_limit_matches_the_published_optimum(value_iteration, env_id, published):
    env, tables, q_values = plan(value_iteration, env_id, 0.99)
    horizon = env.spec.max_episode_steps or value_iteration.NO_LIMIT_CAP
    initial = torch.as_tensor(env.unwrapped.initial_state_distrib, dtype=torch.float64)
    stationary = float(initial @ value_iteration.time_limited_values(tables, q_values.argmax(dim=1), horizon))
    time_dependent = float(initial @ value_iteration.time_limited_values(tables, None, horizon))
    assert stationary == pytest.approx(published, abs=0.01)
    assert stationary <= time_dependent + 1e-12


def test_exact_time_limited_value_of_a_two_step_chain(value_iteration):
    # state 0 -> state 1 (reward 1) -> terminal (reward 10): one step of time gets 1, two get 11
    P = {0: {0: [(1.0, 1, 1.0, False)]}, 1: {0: [(1.0, 1, 10.0, True)]}}
    tables = value_iteration.mdp_tables(P, 2, 1, torch.device("cpu"))
    policy = torch.zeros(2, dtype=torch.long)
    assert value_iteration.time_limited_values(tables, policy, 1).tolist() == [1.0, 10.0]
    assert value_iteration.time_limited_values(tables, policy, 2).tolist() == [11.0, 10.0]


def test_q_learning_update_bootstraps_truncations_but_not_terminations(q_table):
    table = torch.tensor([[0.0, 0.0], [2.0, 4.0], [1.0, 0.0]])
    obs, actions = torch.tensor([0, 0]), torch.tensor([0, 1])
    rewards, next_obs, terminations = torch.tensor([1.0, 1.0]), torch.tensor([1, 1]), torch.tensor([1.0, 0.0])
    td_errors = q_table.q_learning_update(table, obs, actions, rewards, next_obs, terminations, gamma=0.5, alpha=0.5)
    assert td_errors.tolist() == [1.0, 3.0]
    assert table[0].tolist() == [0.5, 1.5]


def test_simultaneous_updates_of_one_pair_take_one_step_toward_their_mean_target(q_table):
    table = torch.zeros(2, 2)
    obs, actions, next_obs = torch.tensor([0, 0, 0]), torch.tensor([1, 1, 1]), torch.tensor([1, 1, 1])
    rewards, terminations = torch.tensor([3.0, 6.0, 0.0]), torch.ones(3)
    q_table.q_learning_update(table, obs, actions, rewards, next_obs, terminations, gamma=0.9, alpha=0.5)
    assert table.tolist() == [[0.0, 0.5 * 3.0], [0.0, 0.0]]


def test_one_sgd_step_on_the_one_hot_network_is_the_tabular_update(q_table, deep_q_table):
    torch.manual_seed(0)
    n_states, n_actions, alpha, gamma = 6, 3, 0.3, 0.9
    q_network = deep_q_table.QTable(n_states, n_actions)
    with torch.no_grad():
        q_network.linear.weight.normal_()
    table = q_network.linear.weight.detach().T.contiguous()  # a copy: the transposed view is not
    optimizer = torch.optim.SGD(q_network.parameters(), lr=alpha)
    for terminated in (0.0, 1.0):
        transition = (torch.tensor([2]), torch.tensor([1]), torch.tensor([0.7]), torch.tensor([4]), torch.tensor([terminated]))
        deep_q_table.q_learning_step(q_network, optimizer, *transition, gamma)
        q_table.q_learning_update(table, *transition, gamma, alpha)
        np.testing.assert_allclose(q_network.linear.weight.detach().T.numpy(), table.numpy(), atol=1e-6)
    assert table[2, 1] != 0.0


def test_discretizer_bins_each_dimension_and_clips_outside_values(q_table):
    discretizer = q_table.Discretizer((4, 3), np.array([0.0, -1.0]), np.array([1.0, 1.0]))
    assert discretizer.n_states == 12
    assert discretizer(np.array([0.1, -0.9])) == 0
    assert discretizer(np.array([0.6, 0.0])) == 2 * 3 + 1
    assert discretizer(np.array([5.0, 9.0])) == 11 and discretizer(np.array([-5.0, -9.0])) == 0
    np.testing.assert_allclose(q_table.bin_centers(discretizer, 0), [0.125, 0.375, 0.625, 0.875])


def test_action_repeat_sums_rewards_and_stops_at_the_episode_end(q_table):
    env = q_table.ActionRepeat(gym.make("MountainCar-v0", max_episode_steps=25), repeat=10)
    env.reset(seed=0)
    rewards = [env.step(1)[1] for _ in range(2)]
    _, reward, terminated, truncated, _ = env.step(1)
    assert rewards == [-10.0, -10.0] and reward == -5.0 and truncated and not terminated


def test_sgd_step_on_a_batch_with_repeated_pairs_is_the_tabular_averaged_update(q_table, deep_q_table):
    # 32 transitions over 3 states × 2 actions: every pair appears several times, with
    # different targets; one SGD step must move each pair once, toward the mean of its targets
    generator = torch.Generator().manual_seed(0)
    n_states, n_actions, alpha, gamma = 3, 2, 0.5, 0.9
    q_network = deep_q_table.QTable(n_states, n_actions)
    with torch.no_grad():
        q_network.linear.weight.normal_(generator=generator)
    table = q_network.linear.weight.detach().T.contiguous()
    optimizer = torch.optim.SGD(q_network.parameters(), lr=alpha)
    batch = (torch.randint(n_states, (32,), generator=generator), torch.randint(n_actions, (32,), generator=generator),
             torch.rand(32, generator=generator), torch.randint(n_states, (32,), generator=generator),
             (torch.rand(32, generator=generator) < 0.3).float())
    deep_q_table.q_learning_step(q_network, optimizer, *batch, gamma)
    q_table.q_learning_update(table, *batch, gamma, alpha)
    np.testing.assert_allclose(q_network.linear.weight.detach().T.numpy(), table.numpy(), atol=1e-6)


def discounted_values(tables, policy: torch.Tensor, gamma: float) -> torch.Tensor:
    """V^π (S,) of a stationary policy in the discounted infinite-horizon problem, solved exactly."""
    states = torch.arange(len(policy))
    rewards, continues = tables["rewards"][states, policy], tables["continues"][states, policy]
    return torch.linalg.solve(torch.eye(len(policy), dtype=torch.float64) - gamma * continues, rewards)


def test_value_iteration_gives_the_discounted_optimum_which_a_time_limit_can_beat(value_iteration):
    env, tables, q_values = plan(value_iteration, "FrozenLake8x8-v1", 0.99)
    policy = q_values.argmax(dim=1)
    # optimal for the discounted problem: its own values are max_a Q, and no action improves on them
    values = discounted_values(tables, policy, 0.99)
    np.testing.assert_allclose(values.numpy(), q_values.max(dim=1).values.numpy(), atol=1e-8)
    improved = torch.where(tables["possible"], tables["rewards"] + 0.99 * tables["continues"] @ values, -torch.inf)
    assert (improved.max(dim=1).values <= values + 1e-9).all()
    # not the best stationary policy within the 200-step limit: γ = 0.999's greedy policy beats it
    initial = torch.as_tensor(env.unwrapped.initial_state_distrib, dtype=torch.float64)
    _, _, patient = plan(value_iteration, "FrozenLake8x8-v1", 0.999)
    within_limit = [float(initial @ value_iteration.time_limited_values(tables, p, 200)) for p in (policy, patient.argmax(dim=1))]
    assert within_limit == pytest.approx([0.863, 0.886], abs=0.001)
    optimum = float(initial @ value_iteration.time_limited_values(tables, None, 200))
    assert optimum == pytest.approx(0.913, abs=0.001)
    # and the script says so, not that it plans the best stationary policy under the limit
    assert "discounted infinite-horizon" in value_iteration.__doc__ and "best *stationary*" not in value_iteration.__doc__
