"""Every transition ddpg.py learns from is a real step of the env (gymnasium 1.x autoreset),
and its exploration noise is what --noise and --exploration-noise say."""

from typing import Callable

import gymnasium as gym
import numpy as np
import pytest
import torch

from tests.helpers import assert_real_transitions


def drift(x: np.float32, action: np.ndarray) -> np.float32:
    return np.float32(x + (action[0] - action[1]) / 4)


class Drift(gym.Env):
    """x' = x + (a₀ − a₁) / 4 with actions in the asymmetric Box [−1, 3] × [0, 2], reward −|x'|;
    the episode terminates when |x'| > 1. Reset draws x uniformly from [−0.5, 0.5]."""

    observation_space = gym.spaces.Box(-np.inf, np.inf, (1,), np.float32)
    action_space = gym.spaces.Box(np.array([-1.0, 0.0], np.float32), np.array([3.0, 2.0], np.float32))

    def __init__(self, render_mode: str | None = None):
        self.render_mode = render_mode

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.x = np.float32(self.np_random.uniform(-0.5, 0.5))
        return np.array([self.x]), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.x = drift(self.x, action)
        return np.array([self.x]), -abs(float(self.x)), bool(abs(self.x) > 1), False, {}


DRIFT = "algozoo-tests/Drift-v0"
gym.register(DRIFT, entry_point=Drift)


def drift_step(obs: np.ndarray, action: np.ndarray) -> tuple[np.ndarray, float, bool]:
    x = drift(obs[0], action)
    return np.array([x]), -abs(float(x)), bool(abs(x) > 1)


def pendulum_dynamics() -> Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, float, bool]]:
    """Pendulum's own step from an observation [cos θ, sin θ, θ̇] and an action."""
    pendulum = gym.make("Pendulum-v1").unwrapped
    pendulum.reset(seed=0)

    def step(obs: np.ndarray, action: np.ndarray) -> tuple[np.ndarray, float, bool]:
        pendulum.state = np.array([np.arctan2(obs[1], obs[0]), obs[2]], dtype=np.float64)
        next_obs, reward, terminated, _, _ = pendulum.step(action)
        return next_obs, float(reward), terminated

    return step


def short_training(ddpg, log_dir, **overrides) -> dict:
    settings = dict(
        total_timesteps=1500, learning_starts=1000, train_frequency=2, buffer_size=2000, batch_size=32,
        hidden_sizes=(32, 32), eval_episodes=1, eval_frequency=2000, log_dir=str(log_dir), progress=False,
        device="cpu",  # the checks run the actor on batches from the buffer's NumPy arrays
    )
    return ddpg.train(ddpg.Args(**{**settings, **overrides}))


@pytest.mark.parametrize("num_envs", [1, 4])
def test_pendulum_transitions_are_real_steps_and_time_limits_are_no_terminations(ddpg, tmp_path, num_envs):
    # a third of the run acts through the actor in training, with noise
    result = short_training(ddpg, tmp_path, env_id="Pendulum-v1", max_episode_steps=15, num_envs=num_envs)
    buffer = result["replay_buffer"]
    rows = buffer.pos
    assert rows * num_envs == 1500
    terminations, truncations = assert_real_transitions(buffer, pendulum_dynamics(), lambda obs: abs(obs[2]) <= 1)
    # Pendulum never terminates: every episode ends at the 15-step limit, stored with done 0
    assert terminations == 0 and truncations == num_envs * ((rows - 1) // 15)
    assert not buffer.dones[:rows].any()


@pytest.mark.parametrize("num_envs", [1, 4])
def test_terminations_are_stored_as_done_and_truncations_with_their_final_obs(ddpg, tmp_path, num_envs):
    buffer = short_training(ddpg, tmp_path, env_id=DRIFT, max_episode_steps=8, num_envs=num_envs)["replay_buffer"]
    assert buffer.pos * num_envs == 1500
    terminations, truncations = assert_real_transitions(buffer, drift_step, lambda obs: abs(obs[0]) <= 0.5)
    assert terminations > 30 and truncations > 30


def episode_starts(buffer) -> np.ndarray:
    """(rows, envs) bools: where a row starts an episode of its env copy."""
    rows = buffer.pos
    starts = np.ones((rows, buffer.n_envs), dtype=bool)
    starts[1:] = (buffer.next_observations[: rows - 1] != buffer.observations[1:rows]).any(axis=-1)
    return starts


@pytest.mark.parametrize("noise", ["normal", "ou"])
def test_exploration_noise_is_scaled_by_each_dimensions_range_and_drawn_per_env(ddpg, tmp_path, noise):
    # No gradient step (train_frequency beyond the run) keeps μ at the initial actor, so an
    # action minus μ(obs) is the noise itself; it acts from the first step (learning_starts 0).
    result = short_training(ddpg, tmp_path, env_id=DRIFT, max_episode_steps=8, num_envs=4, total_timesteps=8000,
                            buffer_size=8004, learning_starts=0, train_frequency=10**9, noise=noise,
                            exploration_noise=0.1, ou_theta=0.15, ou_dt=0.5)
    buffer, rows = result["replay_buffer"], result["replay_buffer"].pos
    with torch.no_grad():
        mu = result["actor"](torch.as_tensor(buffer.observations[:rows])).numpy()
    residuals = buffer.actions[:rows] - mu  # (rows, envs, dims)
    half_range = np.array([2.0, 1.0])
    starts = episode_starts(buffer)
    assert result["gradient_steps"] == 0 and starts.sum() > 500
    # the clip to the bounds never bit
    assert ((buffer.actions[:rows] > [-1.0, 0.0]) & (buffer.actions[:rows] < [3.0, 2.0])).all()

    by_env = residuals.transpose(1, 0, 2).reshape(4, -1)
    assert np.abs(np.corrcoef(by_env) - np.eye(4)).max() < 0.1, "copies must draw their own noise"
    if noise == "normal":
        np.testing.assert_allclose(residuals.reshape(-1, 2).std(axis=0), 0.1 * half_range, rtol=0.05)
        assert abs(np.corrcoef(residuals[:-1, 0, 0], residuals[1:, 0, 0])[0, 1]) < 0.1
    else:
        # each copy's process restarts from 0 with its episode: an episode's first noise is one
        # step of σ √dt ε, half range by half range; later steps carry it on
        np.testing.assert_allclose(residuals[starts].std(axis=0), 0.1 * np.sqrt(0.5) * half_range, rtol=0.1)
        continuing = ~starts[1:]
        later, earlier = residuals[1:][continuing], residuals[:-1][continuing]
        assert np.corrcoef(later[:, 0], earlier[:, 0])[0, 1] > 0.5
        assert (later.std(axis=0) > 1.3 * residuals[starts].std(axis=0)).all()
        # a copy whose episode goes on keeps its process, whatever the other copies do: its step is
        # ρ times the last noise plus a fresh σ √dt ε, ρ = 1 − θ dt
        innovations = later - (1 - 0.15 * 0.5) * earlier
        np.testing.assert_allclose(innovations.std(axis=0), 0.1 * np.sqrt(0.5) * half_range, rtol=0.1)
