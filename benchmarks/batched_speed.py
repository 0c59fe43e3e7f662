"""Agent steps per second of N seeds as one batched process (benchmarks/batched.py) against the
same N seeds run the way a sweep runs them without it: one process of the script per seed, at
most --workers at a time, one torch thread each.

Both sides run the same command-line options and count the same work: N seeds × --total-timesteps
env steps, with their gradient steps, the final evaluation and each process's start-up, timed
from launch to the last exit. The batched process gets every core's torch thread (it is the only
process); N takes each value in turn, the two sides alternating.

    python -m benchmarks.batched_speed                                  # dqn, 64-64 networks, N = 1 4 16 64
    python -m benchmarks.batched_speed --hidden-sizes 256 256           # dqn.py's default networks
    python -m benchmarks.batched_speed --device cuda --members 256 --per-process-members 0
"""

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as `python benchmarks/batched_speed.py`: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tyro  # noqa: E402

from benchmarks.common import ALGOS, ROOT  # noqa: E402


@dataclass
class Args:
    algorithm: str = "dqn"  # a script benchmarks/batched.py runs: dqn, double_dqn or dueling_dqn
    env_id: str = "CartPole-v1"  # gymnasium id of the env
    members: tuple[int, ...] = (1, 4, 16, 64)  # the N to measure
    per_process_members: int = 64  # the largest N also run one process per seed (0: none, e.g. on a GPU machine)
    total_timesteps: int = 10_000  # env steps per seed
    hidden_sizes: tuple[int, ...] = (64, 64)  # widths of the Q-networks' hidden layers
    device: str = "cpu"  # device of the batched process (the per-seed processes run on the CPU)
    env_backend: str = "auto"  # the batched process's --env-backend
    workers: int = os.cpu_count() or 1  # per-seed processes at a time, as a sweep's --workers


def options(args: Args, log_dir: str) -> list[str]:
    return ["--env-id", args.env_id, "--total-timesteps", str(args.total_timesteps), "--hidden-sizes",
            *map(str, args.hidden_sizes), "--log-dir", log_dir, "--no-progress"]


def batched_seconds(args: Args, n: int) -> float:
    with tempfile.TemporaryDirectory() as log_dir:
        start = time.perf_counter()
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "batched.py"), "--algorithm", args.algorithm,
                        "--seeds", *map(str, range(1, n + 1)), "--device", args.device, "--env-backend",
                        args.env_backend, *options(args, log_dir)], check=True, capture_output=True)
        return time.perf_counter() - start


def per_process_seconds(args: Args, n: int) -> float:
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory() as log_dir:
        start = time.perf_counter()
        waiting, running = list(range(1, n + 1)), []
        while waiting or running:
            while waiting and len(running) < args.workers:
                running.append(subprocess.Popen(
                    [sys.executable, str(ALGOS / f"{args.algorithm}.py"), "--seed", str(waiting.pop(0)), "--device",
                     "cpu", *options(args, log_dir)], env=environment, stdout=subprocess.DEVNULL))
            for process in running[:]:
                if process.poll() is not None:
                    running.remove(process)
                    if process.returncode != 0:
                        raise RuntimeError(f"{args.algorithm}.py exited with {process.returncode}")
            time.sleep(0.05)
        return time.perf_counter() - start


def main(args: Args) -> None:
    print(f"{args.algorithm} on {args.env_id}, {args.total_timesteps} env steps per seed, hidden sizes "
          f"{' '.join(map(str, args.hidden_sizes))}; batched on {args.device}, per seed {args.workers} processes "
          "at a time on the CPU")
    print("| N | batched agent steps/s | one process per seed, agent steps/s | ratio |\n|-|-|-|-|")
    for n in args.members:
        steps = n * args.total_timesteps
        batched = steps / batched_seconds(args, n)
        if n <= args.per_process_members:
            per_process = steps / per_process_seconds(args, n)
            print(f"| {n} | {batched:,.0f} | {per_process:,.0f} | {batched / per_process:.2f}× |", flush=True)
        else:
            print(f"| {n} | {batched:,.0f} | – | – |", flush=True)


if __name__ == "__main__":
    main(tyro.cli(Args))
