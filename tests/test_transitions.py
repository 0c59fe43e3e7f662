"""Every transition a script learns from is a real step of the env (gymnasium 1.x autoreset)."""

import gymnasium as gym
import numpy as np
import pytest

from tests.helpers import assert_real_transitions, cartpole_step


@pytest.mark.parametrize("num_envs, async_envs", [(1, False), (4, False), (4, True)])
def test_no_stored_transition_crosses_an_episode_boundary(dqn_family, tmp_path, num_envs, async_envs):
    # A 15-step limit and ε >= 0.5 make episodes end both ways often; greedy actions come
    # from a network already in training.
    args = dqn_family.Args(
        env_id="CartPole-v1", max_episode_steps=15, num_envs=num_envs, async_envs=async_envs, total_timesteps=2000,
        end_e=0.5, exploration_fraction=1.0, learning_starts=500, buffer_size=4000, batch_size=32, eval_episodes=1, eval_frequency=2000,
        log_dir=str(tmp_path), progress=False,
    )
    buffer = dqn_family.train(args)["replay_buffer"]
    assert buffer.pos * num_envs == 2000
    # CartPole resets every state variable into [-0.05, 0.05]
    terminations, truncations = assert_real_transitions(buffer, cartpole_step, lambda obs: np.all(np.abs(obs) <= 0.05))
    assert terminations > 10 and truncations > 10


def assert_real_frozen_lake_steps(transitions: list[tuple[int, int, float, int, bool]]) -> tuple[int, int]:
    """Each (s, a, r, s', terminated) must be an outcome of slippery FrozenLake's model P[s][a]
    with that reward and termination; returns how many of them terminated."""
    P = gym.make("FrozenLake-v1").unwrapped.P
    # holes and the goal: every action stays there, terminating
    terminal_states = {s for s in P if all(outcome == (1.0, s, 0, True) for a in P[s] for outcome in P[s][a])}
    for s, a, r, s2, terminated in transitions:
        assert s not in terminal_states, f"a step from terminal state {s} was learned"
        outcomes = {(next_state, reward, done) for p, next_state, reward, done in P[s][a] if p > 0}
        assert (s2, r, terminated) in outcomes, f"({s}, {a}) -> {s2} with reward {r}, terminated {terminated}"
    return sum(t[4] for t in transitions)


@pytest.mark.parametrize("num_envs", [1, 4])
def test_q_table_learns_only_from_real_steps(q_table, tmp_path, monkeypatch, num_envs):
    seen = []
    update = q_table.q_learning_update

    def recording_update(table, obs, actions, rewards, next_obs, terminations, gamma, alpha):
        seen.extend(zip(obs.tolist(), actions.tolist(), rewards.tolist(), next_obs.tolist(), terminations.bool().tolist()))
        return update(table, obs, actions, rewards, next_obs, terminations, gamma, alpha)

    monkeypatch.setattr(q_table, "q_learning_update", recording_update)
    # an 8-step limit makes truncations as common as terminations
    q_table.train(q_table.Args(num_envs=num_envs, max_episode_steps=8, total_timesteps=4000, eval_episodes=1,
                               log_dir=str(tmp_path), progress=False))
    assert len(seen) == 4000
    terminations = assert_real_frozen_lake_steps(seen)
    assert 100 < terminations < 3000


@pytest.mark.parametrize("num_envs", [1, 4])
def test_deep_q_table_replays_only_real_steps(deep_q_table, tmp_path, num_envs):
    args = deep_q_table.Args(num_envs=num_envs, max_episode_steps=8, total_timesteps=4000, buffer_size=5000,
                             eval_episodes=1, log_dir=str(tmp_path), progress=False)
    buffer = deep_q_table.train(args)["replay_buffer"]
    rows = buffer.pos
    assert rows * num_envs == 4000
    columns = (buffer.observations[:rows, :, 0], buffer.actions[:rows, :, 0], buffer.rewards[:rows],
               buffer.next_observations[:rows, :, 0], buffer.dones[:rows])
    transitions = [tuple(column[t, env].item() for column in columns) for t in range(rows) for env in range(num_envs)]
    terminations = assert_real_frozen_lake_steps([(s, a, r, s2, bool(d)) for s, a, r, s2, d in transitions])
    assert 100 < terminations < 3000
