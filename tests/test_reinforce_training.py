"""algos/reinforce.py trains for real: the episodes its updates see, seeding, learning, the GPU path."""

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.helpers import cartpole_step, only_run_dir, read_summary


def short_training(module, log_dir, **overrides):
    settings = dict(total_timesteps=3000, episodes_per_update=5, eval_episodes=1, eval_frequency=3000,
                    log_dir=str(log_dir), progress=False, device="cpu")
    return module.train(module.Args(**{**settings, **overrides}))


@pytest.fixture
def updated_episodes(reinforce, monkeypatch) -> list:
    """Every episode the updates of the next training run receive, in order."""
    seen = []
    episode_batch = reinforce.episode_batch

    def recording_episode_batch(episodes, gamma):
        seen.extend(episodes)
        return episode_batch(episodes, gamma)

    monkeypatch.setattr(reinforce, "episode_batch", recording_episode_batch)
    return seen


@pytest.mark.parametrize("num_envs, async_envs", [(1, False), (4, False), (4, True)])
def test_updates_see_exactly_the_envs_episodes(reinforce, tmp_path, updated_episodes, num_envs, async_envs):
    # A 15-step limit makes episodes end both ways often.
    result = short_training(reinforce, tmp_path, env_id="CartPole-v1", max_episode_steps=15, num_envs=num_envs,
                            async_envs=async_envs)
    n = len(updated_episodes)
    assert n > 100 and result["gradient_steps"] > 20
    # the env's own episode statistics, in the order the episodes finished
    assert [len(episode.rewards) for episode in updated_episodes] == result["episodic_lengths"][:n]
    assert [episode.rewards.sum() for episode in updated_episodes] == result["episodic_returns"][:n]

    terminations = truncations = 0
    for obs, actions, rewards in updated_episodes:
        assert len(obs) == len(actions) == len(rewards) <= 15
        assert np.all(np.abs(obs[0]) <= 0.05), "an episode must start from a reset observation"
        for t in range(len(obs)):
            next_obs, _, terminated = cartpole_step(obs[t], actions[t])
            if t + 1 < len(obs):
                np.testing.assert_allclose(obs[t + 1], next_obs, atol=1e-4)
                assert not terminated, "an episode went on after its termination"
        terminations += terminated
        truncations += not terminated
        assert terminated or len(obs) == 15, "an episode ended with neither a termination nor the time limit"
    assert terminations > 10 and truncations > 10


def test_box_actions_reach_the_env_clipped_and_the_update_whole(reinforce, tmp_path, monkeypatch, updated_episodes):
    sent = []
    make_vector_env = reinforce.make_vector_env

    def recording_make_vector_env(args):
        envs = make_vector_env(args)
        step = envs.step
        envs.step = lambda actions: (sent.append(actions.copy()), step(actions))[1]
        return envs

    monkeypatch.setattr(reinforce, "make_vector_env", recording_make_vector_env)
    short_training(reinforce, tmp_path, env_id="Pendulum-v1", num_envs=4, total_timesteps=1600, episodes_per_update=2)
    assert len(updated_episodes) == 8 and all(len(episode.rewards) == 200 for episode in updated_episodes)
    obs = np.concatenate([episode.observations for episode in updated_episodes])
    actions = np.concatenate([episode.actions for episode in updated_episodes])[:, 0]
    rewards = np.concatenate([episode.rewards for episode in updated_episodes])
    # the initial σ = 1 draws some actions beyond Pendulum's torque bounds ±2: the update
    # keeps them whole, the env gets them clipped
    assert np.sum(np.abs(actions) > 2.1) > 20
    # sent is (step, copy); all four copies end an episode at steps 200 and 400, in copy order
    sent_by_episode = np.stack(sent)[:, :, 0].reshape(2, 200, 4).transpose(0, 2, 1).ravel()
    np.testing.assert_array_equal(sent_by_episode, np.clip(actions, -2.0, 2.0))
    # Pendulum pays −(θ² + 0.1 θ̇² + 0.001 u²) for the torque u it applied: the clipped action
    theta, theta_dot = np.arctan2(obs[:, 1], obs[:, 0]), obs[:, 2]
    expected = -(theta**2 + 0.1 * theta_dot**2 + 0.001 * np.clip(actions, -2.0, 2.0) ** 2)
    np.testing.assert_allclose(rewards, expected, atol=1e-5)


def test_annealed_learning_rate_falls_linearly_to_zero(reinforce, tmp_path):
    result = short_training(reinforce, tmp_path, learning_rate=0.01, anneal_lr=True, max_episode_steps=15, num_envs=4)
    events = EventAccumulator(result["run_dir"])
    events.Reload()
    logged = events.Scalars("charts/learning_rate")
    assert len(logged) == result["gradient_steps"] > 20
    for event in logged:
        assert event.value == pytest.approx(0.01 * (1 - event.step / 3000), rel=1e-5)


def test_same_seed_gives_the_same_episodic_returns_on_cpu(reinforce, tmp_path):
    first = short_training(reinforce, tmp_path, seed=3, total_timesteps=5000)
    second = short_training(reinforce, tmp_path, seed=3, total_timesteps=5000)
    other_seed = short_training(reinforce, tmp_path, seed=4, total_timesteps=5000)
    assert len(first["episodic_returns"]) > 50
    assert first["episodic_returns"] == second["episodic_returns"]
    assert first["eval_returns"] == second["eval_returns"]
    assert first["episodic_returns"] != other_seed["episodic_returns"]
    assert first["run_dir"] != second["run_dir"]


def test_a_sampled_evaluation_leaves_training_as_it_was_and_keeps_the_greedy_one_beside_it(reinforce, tmp_path):
    greedy = short_training(reinforce, tmp_path, total_timesteps=5000, eval_frequency=1000, eval_episodes=3)
    sampled = short_training(reinforce, tmp_path, total_timesteps=5000, eval_frequency=1000, eval_episodes=3,
                             eval_policy="sampled")
    assert sampled["episodic_returns"] == greedy["episodic_returns"]
    assert (greedy["eval_policy"], sampled["eval_policy"]) == ("greedy", "sampled")
    assert sampled["greedy_eval_mean"] == greedy["eval_mean"] == greedy["greedy_eval_mean"]
    assert sampled["eval_returns"] != greedy["eval_returns"]


def test_non_finite_loss_stops_training_and_keeps_the_logs(reinforce, tmp_path, monkeypatch):
    monkeypatch.setattr(reinforce, "reward_to_go", lambda rewards, episode_ends, gamma: np.full(len(rewards), np.nan))
    result = short_training(reinforce, tmp_path)
    assert result["status"].startswith("non-finite loss at step") and result["gradient_steps"] == 0
    summary = read_summary(only_run_dir(tmp_path))
    assert summary["status"] == result["status"] and summary["eval_mean"] is None
    assert 0 < summary["global_step"] < 3000


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_cuda_run_keeps_the_policy_on_the_gpu(reinforce, tmp_path, env_id):
    result = short_training(reinforce, tmp_path, env_id=env_id, device="cuda", num_envs=2, total_timesteps=2000, episodes_per_update=2)
    assert result["status"] == "completed" and result["gradient_steps"] > 0
    assert next(result["policy"].parameters()).is_cuda


def test_default_hyperparameters_balance_cartpole_within_24k_steps(reinforce, tmp_path):
    result = reinforce.train(reinforce.Args(seed=1, total_timesteps=24_000, log_dir=str(tmp_path), progress=False, device="cpu"))
    # a random policy averages about 22; the cap is 500
    assert result["eval_mean"] >= 400, result["eval_returns"]
