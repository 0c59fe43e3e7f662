"""Every transition stored by a DQN-family script is a real step of the env (gymnasium 1.x)."""

import gymnasium as gym
import numpy as np
import pytest


def cartpole_step(obs: np.ndarray, action: int) -> tuple[np.ndarray, bool]:
    """CartPole's own dynamics from observation `obs`: (next observation, terminated)."""
    env = gym.make("CartPole-v1").unwrapped
    env.reset(seed=0)
    env.state = obs.astype(np.float64)
    next_obs, _, terminated, _, _ = env.step(int(action))
    return next_obs, terminated


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
    rows = buffer.pos
    assert rows * num_envs == 2000 and not buffer.full
    obs, next_obs = buffer.observations[:rows], buffer.next_observations[:rows]
    actions, dones = buffer.actions[:rows, :, 0], buffer.dones[:rows]

    terminations = truncations = 0
    for env in range(num_envs):
        for t in range(rows):
            expected_next_obs, terminated = cartpole_step(obs[t, env], actions[t, env])
            np.testing.assert_allclose(next_obs[t, env], expected_next_obs, atol=1e-4)
            assert dones[t, env] == terminated, "done flags must be terminations, and only those"
            episode_ended = t + 1 < rows and not np.array_equal(next_obs[t, env], obs[t + 1, env])
            if episode_ended:
                # the next stored observation is a reset one, and it never was a next_obs
                assert np.all(np.abs(obs[t + 1, env]) <= 0.05)
                terminations += terminated
                truncations += not terminated
            elif t + 1 < rows:
                assert not terminated, "an episode went on after its termination"
    assert terminations > 10 and truncations > 10
