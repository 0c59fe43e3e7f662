"""ddpg.py trains for real: seeding, learning, the GPU path."""

import pytest
import torch


def short_training(ddpg, log_dir, **overrides) -> dict:
    settings = dict(
        total_timesteps=600, learning_starts=300, buffer_size=1000, batch_size=32, hidden_sizes=(32, 32),
        max_episode_steps=50, eval_episodes=2, eval_frequency=600, log_dir=str(log_dir), progress=False,
    )
    return ddpg.train(ddpg.Args(**{**settings, **overrides}))


def test_same_seed_gives_the_same_episodic_returns_on_cpu(ddpg, tmp_path):
    first = short_training(ddpg, tmp_path, seed=3, device="cpu")
    second = short_training(ddpg, tmp_path, seed=3, device="cpu")
    other_seed = short_training(ddpg, tmp_path, seed=4, device="cpu")
    assert len(first["episodic_returns"]) == 12
    assert first["episodic_returns"] == second["episodic_returns"]
    assert first["eval_returns"] == second["eval_returns"]
    assert first["episodic_returns"] != other_seed["episodic_returns"]
    assert first["run_dir"] != second["run_dir"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_run_keeps_networks_and_batches_on_the_gpu(ddpg, tmp_path):
    result = short_training(ddpg, tmp_path, device="cuda", num_envs=2)
    assert result["status"] == "completed" and result["gradient_steps"] > 0
    assert next(result["actor"].parameters()).is_cuda and next(result["qf"].parameters()).is_cuda
    assert result["replay_buffer"].sample(4).observations.is_cuda


def test_pendulum_swings_up_and_balances_within_5000_steps(ddpg, tmp_path):
    # Smaller networks and batches than the defaults and a faster learning rate and τ learn
    # in few steps: about 25 s on a loaded 2-core CPU.
    result = ddpg.train(ddpg.Args(
        seed=1, env_id="Pendulum-v1", total_timesteps=5000, learning_starts=1000, hidden_sizes=(64, 64),
        batch_size=128, learning_rate=2e-3, tau=0.01, eval_frequency=5000, log_dir=str(tmp_path), progress=False,
        device="cpu",
    ))
    # uniformly random torques average about −1360 over these evaluation episodes
    assert result["eval_mean"] >= -300, result["eval_returns"]
