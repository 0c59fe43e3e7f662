"""Observations of other dtypes than float32 train everywhere: MuJoCo's float64, and integer
Boxes. CartPole-v1 and Pendulum-v1 re-registered with float64 (and int32) observations
stand in for them, with 1 and 4 env copies; one short ddpg.py run is on MuJoCo itself."""

import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
import torch

from benchmarks.common import ALGOS, load_algorithm
from tests.helpers import assert_real_transitions, cartpole_step, run_dirs

INT_SCALE = 1000  # the int32 CartPole observes round(1000 × observation)


def float64_env(env_id: str, render_mode: str | None = None) -> gym.Env:
    env = gym.make(env_id, render_mode=render_mode)
    space = env.observation_space
    return gym.wrappers.TransformObservation(env, lambda obs: obs.astype(np.float64),
                                             gym.spaces.Box(space.low, space.high, dtype=np.float64))


def int32_cartpole(render_mode: str | None = None) -> gym.Env:
    env = gym.make("CartPole-v1", render_mode=render_mode)
    return gym.wrappers.TransformObservation(env, lambda obs: np.round(obs * INT_SCALE).astype(np.int32),
                                             gym.spaces.Box(-2**20, 2**20, (4,), dtype=np.int32))


for base in ("CartPole-v1", "Pendulum-v1"):
    if f"Float64{base}" not in gym.registry:
        gym.register(f"Float64{base}", entry_point=lambda render_mode=None, base=base: float64_env(base, render_mode))
if "Int32CartPole-v1" not in gym.registry:
    gym.register("Int32CartPole-v1", entry_point=int32_cartpole)

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"))]
SHORT = dict(total_timesteps=600, learning_starts=200, batch_size=16, buffer_size=1000, hidden_sizes=(16,),
             eval_episodes=1, eval_frequency=300, progress=False)


def test_the_stand_ins_really_observe_float64_and_int32():
    assert gym.make("Float64CartPole-v1").observation_space.dtype == np.float64
    assert gym.make("Float64Pendulum-v1").reset(seed=0)[0].dtype == np.float64
    assert gym.make("Int32CartPole-v1").reset(seed=0)[0].dtype == np.int32


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("num_envs", [1, 4])
@pytest.mark.parametrize("script", ["dqn", "double_dqn", "dueling_dqn"])
def test_dqn_family_trains_on_float64_observations(script, num_envs, device, tmp_path):
    module = load_algorithm(script)
    result = module.train(module.Args(env_id="Float64CartPole-v1", num_envs=num_envs, max_episode_steps=30,
                                      device=device, log_dir=str(tmp_path), **SHORT))
    assert result["status"] == "completed" and result["gradient_steps"] > 0 and np.isfinite(result["eval_mean"])
    buffer = result["replay_buffer"]
    assert buffer.observations.dtype == np.float32
    if device == "cpu":
        assert_real_transitions(buffer, cartpole_step, lambda obs: np.all(np.abs(obs) <= 0.05))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("num_envs", [1, 4])
def test_dqn_trains_on_integer_observations(num_envs, device, tmp_path):
    dqn = load_algorithm("dqn")
    result = dqn.train(dqn.Args(env_id="Int32CartPole-v1", num_envs=num_envs, max_episode_steps=30, device=device,
                                log_dir=str(tmp_path), **SHORT))
    assert result["status"] == "completed" and result["gradient_steps"] > 0
    stored = result["replay_buffer"].observations[:result["replay_buffer"].pos]
    assert stored.dtype == np.float32 and np.array_equal(stored, np.round(stored)) and np.abs(stored).max() > 10


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("num_envs", [1, 4])
def test_ddpg_trains_on_float64_observations(num_envs, device, tmp_path):
    ddpg = load_algorithm("ddpg")
    result = ddpg.train(ddpg.Args(env_id="Float64Pendulum-v1", num_envs=num_envs, device=device,
                                  log_dir=str(tmp_path), **SHORT))
    assert result["status"] == "completed" and result["gradient_steps"] > 0 and np.isfinite(result["eval_mean"])
    assert result["replay_buffer"].observations.dtype == np.float32


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("num_envs", [1, 4])
@pytest.mark.parametrize("env_id", ["Float64CartPole-v1", "Float64Pendulum-v1", "Int32CartPole-v1"])
def test_reinforce_trains_on_float64_and_integer_observations(env_id, num_envs, device, tmp_path):
    reinforce = load_algorithm("reinforce")
    result = reinforce.train(reinforce.Args(env_id=env_id, num_envs=num_envs, max_episode_steps=30,
                                            total_timesteps=600, episodes_per_update=4, hidden_sizes=(16,),
                                            eval_episodes=1, device=device, log_dir=str(tmp_path), progress=False))
    assert result["status"] == "completed" and result["gradient_steps"] > 0 and np.isfinite(result["eval_mean"])


def test_ddpg_trains_on_mujoco(tmp_path):
    ddpg = load_algorithm("ddpg")
    assert gym.make("Hopper-v5").observation_space.dtype == np.float64
    result = ddpg.train(ddpg.Args(env_id="Hopper-v5", max_episode_steps=100, device="cpu", log_dir=str(tmp_path),
                                  **SHORT))
    assert result["status"] == "completed" and result["gradient_steps"] == 400 and np.isfinite(result["eval_mean"])
    assert result["replay_buffer"].observations.shape[-1] == 11


def test_missing_mujoco_is_one_line_with_the_install_command(tmp_path):
    # the script as a new user runs it, in an interpreter where `import mujoco` fails
    code = ("import runpy, sys; sys.modules['mujoco'] = None; sys.argv = sys.argv[1:]; "
            "runpy.run_path(sys.argv[0], run_name='__main__')")
    result = subprocess.run([sys.executable, "-c", code, str(ALGOS / "ddpg.py"), "--env-id", "HalfCheetah-v5"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("ddpg.py: error: HalfCheetah-v5 needs a package that is not installed")
    assert lines[0].endswith('pip install -e ".[mujoco]"')
    assert not run_dirs(tmp_path / "runs")
