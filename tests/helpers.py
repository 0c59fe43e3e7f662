"""Helpers shared by the tests: running scripts, reading run folders."""

import contextlib
import io
import json
import os
import runpy
import socket
import subprocess
import sys
from pathlib import Path
from typing import Callable
from unittest import mock

import gymnasium as gym
import numpy as np
import torch
import torch.nn as nn
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from benchmarks.common import ALGOS


def run_script(name: str, *cli_args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run algos/{name}.py through its real command line."""
    return subprocess.run(
        [sys.executable, str(ALGOS / f"{name}.py"), *cli_args],
        cwd=cwd, capture_output=True, text=True, timeout=timeout,
    )


def run_dirs(log_dir: Path) -> list[Path]:
    return sorted(path for path in log_dir.iterdir() if path.is_dir()) if log_dir.exists() else []


def only_run_dir(log_dir: Path) -> Path:
    dirs = run_dirs(log_dir)
    assert len(dirs) == 1, f"expected one run folder in {log_dir}, found {dirs}"
    return dirs[0]


def read_summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


def scalars(run_dir: Path) -> dict[str, list[float]]:
    """TensorBoard scalars of a run folder: tag -> values in step order."""
    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    events.Reload()
    return {tag: [event.value for event in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def text_tags(run_dir: Path) -> list[str]:
    events = EventAccumulator(str(run_dir))
    events.Reload()
    return events.Tags()["tensors"]


def assert_rejected(result: subprocess.CompletedProcess, message: str, cwd: Path) -> None:
    """Bad input: exit status 2, one line on stderr naming the problem, and nothing written."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not run_dirs(cwd / "runs") and not (cwd / "videos").exists()


class FixedQ(nn.Module):
    """A 'network' whose Q-values are a lookup by the first observation component."""

    def __init__(self, table: list[list[float]]):
        super().__init__()
        self.table = torch.tensor(table)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.table[obs[:, 0].long()]


def run_script_in_process(name: str, *cli_args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run algos/{name}.py's command line in this process, as `python algos/{name}.py` would
    run it (its __main__ block, exit status, stdout, stderr), without the seconds a fresh
    interpreter spends importing torch. An uncaught exception propagates: the test errs."""
    argv, old_cwd = [str(ALGOS / f"{name}.py"), *cli_args], os.getcwd()
    stdout, stderr = io.StringIO(), io.StringIO()
    returncode = 0
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr), mock.patch.object(sys, "argv", argv):
            runpy.run_path(argv[0], run_name="__main__")
    except SystemExit as exit_:
        returncode = exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
    finally:
        os.chdir(old_cwd)
    return subprocess.CompletedProcess(argv, returncode, stdout.getvalue(), stderr.getvalue())


def run_benchmark(name: str, *cli_args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run benchmarks/{name}.py through its real command line."""
    return subprocess.run(
        [sys.executable, str(ALGOS.parent / "benchmarks" / f"{name}.py"), *cli_args],
        cwd=cwd, capture_output=True, text=True, timeout=timeout,
    )


def cartpole_step(obs: np.ndarray, action: np.ndarray | int) -> tuple[np.ndarray, float, bool]:
    """CartPole's own dynamics from observation `obs` and an action (a number, or an array
    holding one, as a replay buffer stores it): (next observation, reward, terminated)."""
    env = gym.make("CartPole-v1").unwrapped
    env.reset(seed=0)
    env.state = obs.astype(np.float64)
    next_obs, reward, terminated, _, _ = env.step(int(np.ravel(action)[0]))
    return next_obs, reward, terminated


def assert_real_transitions(
    buffer, step: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, float, bool]], is_reset_obs: Callable[[np.ndarray], bool],
) -> tuple[int, int]:
    """Every transition in a stable-baselines3 ReplayBuffer, filled by one add per vector step
    and not wrapped around, is a real step of the env: `step(obs, action)` replays the env's
    own dynamics and gives (next observation, reward, terminated), which the stored next
    observation, reward and done flag must match; done flags are terminations and nothing
    else. Where a copy's next row does not continue from the stored next observation, its
    episode ended there and the next row starts from a reset observation. Returns how many
    episodes ended by termination and how many by truncation."""
    rows = buffer.pos
    assert rows > 0 and not buffer.full
    terminations = truncations = 0
    for env in range(buffer.n_envs):
        for t in range(rows):
            obs, next_obs = buffer.observations[t, env], buffer.next_observations[t, env]
            expected_next_obs, reward, terminated = step(obs, buffer.actions[t, env])
            np.testing.assert_allclose(next_obs, expected_next_obs, atol=1e-4)
            np.testing.assert_allclose(buffer.rewards[t, env], reward, rtol=1e-4, atol=1e-4)
            assert buffer.dones[t, env] == terminated, "done flags must be terminations, and only those"
            if t + 1 < rows and not np.array_equal(next_obs, buffer.observations[t + 1, env]):
                # the next stored observation is a reset one, and it never was a next_obs
                assert is_reset_obs(buffer.observations[t + 1, env])
                terminations += terminated
                truncations += not terminated
            elif t + 1 < rows:
                assert not terminated, "an episode went on after its termination"
    return terminations, truncations


def member_transitions_are_real(buffer, member: int,
                                step: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, float, bool]]) -> int:
    """Every transition of one member of a batched run's buffer (benchmarks/members.py, not wrapped
    around) is a real step of the env: `step(obs, action)` replays the env's own dynamics, whose next
    observation, reward and termination the stored ones must match; done flags are terminations
    and nothing else. Returns how many terminated."""
    size = int(buffer.size[member])
    assert 0 < size < buffer.capacity
    for t in range(size):
        expected_next, reward, terminated = step(buffer.observations[member, t].numpy(), buffer.actions[member, t].numpy())
        np.testing.assert_allclose(buffer.next_observations[member, t].numpy(), expected_next, atol=1e-4)
        np.testing.assert_allclose(float(buffer.rewards[member, t]), reward, rtol=1e-5, atol=1e-5)
        assert bool(buffer.dones[member, t]) == terminated, "done flags must be terminations, and only those"
    return int(buffer.dones[member, :size].sum())


def closed_port() -> int:
    """A local TCP port that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
