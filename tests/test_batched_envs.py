"""benchmarks/members.py's envpool backend: envpool's copies step as gymnasium's own env, time
limits are gymnasium's, ended copies restart at once, and a batched run stores only real steps."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from benchmarks import batched
from benchmarks.batched_envs import script_for
from benchmarks.common import load_algorithm
from benchmarks.members import MemberEnvs
from tests.helpers import member_transitions_are_real

pytest.importorskip("envpool", reason="envpool is not installed (pip install 'algozoo[envpool]')")

LIMIT = 20  # steps: short, so that episodes end by truncation as well as by termination


def gymnasium_step(env_id: str):
    """gymnasium's own step of env_id from an observation and an action: (next obs, reward, terminated)."""
    env = gym.make(env_id).unwrapped
    env.reset(seed=0)

    def step(obs: np.ndarray, action: np.ndarray) -> tuple[np.ndarray, float, bool]:
        obs = obs.astype(np.float64)
        if hasattr(env, "set_state"):  # MuJoCo: the observation is qpos without x, then qvel
            skipped = env.model.nq + env.model.nv - len(obs)
            env.set_state(np.concatenate([np.zeros(skipped), obs[:env.model.nq - skipped]]), obs[env.model.nq - skipped:])
        elif env_id == "Acrobot-v1":  # [cos θ1, sin θ1, cos θ2, sin θ2, θ̇1, θ̇2]
            env.state = np.array([np.arctan2(obs[1], obs[0]), np.arctan2(obs[3], obs[2]), obs[4], obs[5]])
        else:
            env.state = obs
            env.steps_beyond_terminated = None  # CartPole: a fresh episode's step
        discrete = isinstance(env.action_space, gym.spaces.Discrete)
        next_obs, reward, terminated, _, _ = env.step(int(np.ravel(action)[0]) if discrete else action)
        return next_obs, float(reward), terminated

    return step


@pytest.mark.parametrize("env_id", batched.ENVPOOL_ENVS)
def test_envpool_copies_step_as_gymnasium_s_env_with_its_time_limits(env_id):
    module = script_for(env_id)
    all_args = [module.Args(env_id=env_id, seed=seed, num_envs=2, max_episode_steps=LIMIT) for seed in (1, 11)]
    envs = MemberEnvs(module, all_args, "envpool")
    step_of = gymnasium_step(env_id)
    envs.single_action_space.seed(0)
    obs, lengths, terminations, truncations = envs.reset(), np.zeros(4, dtype=int), 0, 0
    assert obs.dtype == np.float32 and len(set(map(tuple, obs))) == 4  # seeds 1, 2, 11, 12
    for _ in range(150):
        actions = np.stack([envs.single_action_space.sample() for _ in range(4)])
        step = envs.step(actions)
        lengths += 1
        for i in range(4):
            next_obs, reward, terminated = step_of(obs[i], actions[i])
            np.testing.assert_allclose(step.real_next_obs[i], next_obs, atol=1e-4)
            assert step.rewards[i] == pytest.approx(reward, abs=1e-4) and step.terminations[i] == terminated
        assert step.valid is None  # every step is a transition (SAME_STEP)
        np.testing.assert_array_equal(step.ended, step.terminations | (lengths == LIMIT))
        np.testing.assert_array_equal(step.episode_lengths, lengths[step.ended])
        terminations += int(step.terminations.sum())
        truncations += int((step.ended & ~step.terminations).sum())
        # an ended copy starts its next episode at once: the next observation is a fresh one
        assert not np.isclose(step.next_obs, step.real_next_obs).all(axis=1)[step.ended].any()
        lengths[step.ended] = 0
        obs = step.next_obs
    envs.close()
    assert truncations > 0 and (terminations > 0 or env_id in ("Acrobot-v1", "MountainCar-v0",
                                                                 "MountainCarContinuous-v0", "HalfCheetah-v5"))


def test_ddpg_members_on_envpool_store_only_real_mujoco_steps(tmp_path):
    # HalfCheetah-v5's float64 observations through the batched engine; it never terminates, so every
    # episode ends at the 20-step limit, and bootstraps (Hopper's velocities are clipped in its
    # observations, so a trained actor's steps cannot be replayed from them; its terminations are
    # checked above)
    ddpg = load_algorithm("ddpg")
    args = ddpg.Args(env_id="HalfCheetah-v5", max_episode_steps=LIMIT, num_envs=2, total_timesteps=800,
                     learning_starts=400, buffer_size=2000, batch_size=32, hidden_sizes=(16,), eval_episodes=1,
                     eval_frequency=800, log_dir=str(tmp_path), progress=False, device="cpu")
    summaries = batched.train_ddpg(ddpg, "ddpg", args, [{"seed": 1}, {"seed": 2}], "envpool")
    buffer = summaries[0]["replay_buffer"]
    assert buffer.observations.dtype == torch.float32
    for member, summary in enumerate(summaries):
        assert summary["status"] == "completed" and int(buffer.size[member]) == 800
        assert member_transitions_are_real(buffer, member, gymnasium_step("HalfCheetah-v5")) == 0
        assert len(summary["episodic_returns"]) == 2 * (400 // LIMIT)


def test_the_backend_timing_steps_every_backend_the_env_has(capsys):
    from benchmarks import batched_envs

    batched_envs.main(batched_envs.Args(env_ids=["CartPole-v1", "Pendulum-v1"], members=[2], steps=5, repeats=1))
    lines = capsys.readouterr().out.splitlines()
    assert "| copies | sync | numpy | envpool |" in lines and "| copies | sync |" in lines  # Pendulum: sync only
    assert sum(line.startswith("| 2 |") for line in lines) == 2
