"""Helpers shared by the tests: running scripts, reading run folders."""

import contextlib
import io
import json
import os
import runpy
import subprocess
import sys
from pathlib import Path
from unittest import mock

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
