"""Agent steps per second of N seeds as one batched process (benchmarks/batched.py) against the
same N seeds as one process of the script each: the same sweep (benchmarks/sweep.py) of one cell,
with --batched (one process, every core's torch thread) and with --no-batched (--workers
processes at a time, one torch thread each).

Both sides run the same options and count the same work: N seeds × --total-timesteps env steps,
with their gradient steps, the final evaluation and each process's start-up, timed from the
sweep's start to its end. N takes each value in turn, the two sides one after the other (a cell of
one seed runs as the script itself, batched or not).

    python -m benchmarks.batched_speed                                  # dqn, 64-64 networks, N = 1 4 16 64
    python -m benchmarks.batched_speed --hidden-sizes 256 256           # dqn.py's default networks
    python -m benchmarks.batched_speed --algorithm ddpg --env-id Pendulum-v1 --hidden-sizes 256 256 --members 2 4
    python -m benchmarks.batched_speed --device cuda --members 256 --per-process-members 0
"""

import os
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as `python benchmarks/batched_speed.py`: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tyro  # noqa: E402

from benchmarks.common import ROOT  # noqa: E402


@dataclass
class Args:
    algorithm: str = "dqn"  # a script benchmarks/batched.py runs: dqn, double_dqn, dueling_dqn or ddpg
    env_id: str = "CartPole-v1"  # gymnasium id of the env
    members: tuple[int, ...] = (1, 4, 16, 64)  # the N to measure
    per_process_members: int = 64  # the largest N also run one process per seed (0: none, e.g. on a GPU machine)
    total_timesteps: int = 10_000  # env steps per seed
    hidden_sizes: tuple[int, ...] = (64, 64)  # widths of the networks' hidden layers
    device: str = "cpu"  # device of the batched process (the per-seed processes run on the CPU)
    workers: int = os.cpu_count() or 1  # per-seed processes at a time, as a sweep's --workers


def sweep_seconds(args: Args, n: int, batched: bool) -> float:
    """Wall seconds of a sweep of seeds 1..n of one cell, batched or one process per seed."""
    cores = os.cpu_count() or 1
    extra = ["--total-timesteps", str(args.total_timesteps), "--hidden-sizes", *map(str, args.hidden_sizes),
             "--no-progress"]
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "sweep.py"), "--algos", args.algorithm, "--env-ids",
                        args.env_id, "--seeds", *map(str, range(1, n + 1)), "--out", out,
                        "--extra=" + shlex.join(extra), "--batched" if batched else "--no-batched",
                        "--batched-min-seeds", "1",
                        "--batched-algos", args.algorithm,
                        "--device", args.device if batched else "cpu",
                        "--workers", "1" if batched else str(args.workers),
                        "--threads-per-run", str(cores) if batched else "1"], check=True, capture_output=True)
        return time.perf_counter() - start


def main(args: Args) -> None:
    print(f"{args.algorithm} on {args.env_id}, {args.total_timesteps} env steps per seed, hidden sizes "
          f"{' '.join(map(str, args.hidden_sizes))}; batched on {args.device}, per seed {args.workers} processes "
          "at a time on the CPU")
    print("| N | batched agent steps/s | one process per seed, agent steps/s | ratio |\n|-|-|-|-|")
    for n in args.members:
        steps = n * args.total_timesteps
        batched = steps / sweep_seconds(args, n, batched=True)
        if n <= args.per_process_members:
            per_process = steps / sweep_seconds(args, n, batched=False)
            print(f"| {n} | {batched:,.0f} | {per_process:,.0f} | {batched / per_process:.2f}× |", flush=True)
        else:
            print(f"| {n} | {batched:,.0f} | – | – |", flush=True)


if __name__ == "__main__":
    main(tyro.cli(Args))
