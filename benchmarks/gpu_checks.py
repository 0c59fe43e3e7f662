"""Every GPU check and measurement of the project, in one command for a machine with a CUDA device.

Time on such a machine is often short, so this runs them all in turn, each with a time limit,
and writes what each printed into --out (one file per check, and summary.md):

1. tests: the test suite's CUDA tests (`pytest -k cuda`): the scripts' and the batched runs'
   networks, replay buffers and batches on the device, members' TD targets against the scripts'.
2. batched_speed: `benchmarks/batched_speed.py` on the device, dqn.py's options on CartPole-v1
   with 64-64 networks, N = 16 and 256 members, and N = 16 also one process per seed on the
   CPU cores (a sweep's way today); batched_speed_defaults: N = 256 with dqn.py's own 256-256
   networks (the target: 100,000 agent steps per second in all).
3. classic_cartpole_batched, classic_cartpole_per_seed: the classic suite's DQN-family
   CartPole-v1 cells (3 files × 5 seeds × 50,000 steps) as a sweep, batched on the device, then
   one process per seed on the CPU cores; wall time each.
4. atari: dqn_atari.py on Breakout with the device, 20,000 steps with gradient steps from
   2,000 on: its steps per second, and the hours 10,000,000 steps would take at that rate;
   atari_copies: the same with 8 copies in ale-py's C++ threads (`--num-envs 8`).

    python -m benchmarks.gpu_checks --out gpu_results
    python -m benchmarks.gpu_checks --out gpu_results_1 --only tests batched_speed atari atari_copies  # 1 of 2
    python -m benchmarks.gpu_checks --device cpu --quick --out /tmp/gpu_plumbing   # small, on a CPU

A check that fails or runs past its limit is reported as such and the next one runs. The
limits add up to 20 minutes; where a command may run 10 minutes at most, run it in two parts.
"""

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as `python benchmarks/gpu_checks.py`: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tyro  # noqa: E402

from benchmarks.common import ROOT  # noqa: E402


@dataclass
class Args:
    out: str = "gpu_results"  # folder of the outputs (created; an existing folder is refused)
    device: str = "cuda"  # the device measured
    quick: bool = False  # small sizes throughout: checks that each command runs, measures nothing
    only: tuple[str, ...] = ()  # run only these checks, by name (see the list above); empty runs all


def checks(args: Args, out: Path) -> dict[str, tuple[list[str], int]]:
    """name: (command, time limit in seconds)."""
    python, cores = sys.executable, str(os.cpu_count() or 1)
    q = args.quick
    steps = "600" if q else "10000"
    sweep_extra = "--extra=--total-timesteps 600 --learning-starts 200 --no-progress" if q else "--extra=--no-progress"
    sweep = [python, "benchmarks/sweep.py", "--suite", "classic", "--algos", "dqn", "double_dqn", "dueling_dqn",
             "--env-ids", "CartPole-v1", sweep_extra]
    atari_steps, atari_start = ("600", "200") if q else ("20000", "2000")
    return {
        "tests": ([python, "-m", "pytest", "-q", "-p", "no:warnings", "tests", "-k", "cuda"], 240),
        "batched_speed": ([python, "-m", "benchmarks.batched_speed", "--device", args.device, "--members",
                           *(("2",) if q else ("16", "256")), "--per-process-members", "2" if q else "16",
                           "--total-timesteps", steps, "--workers", cores], 180),
        "batched_speed_defaults": ([python, "-m", "benchmarks.batched_speed", "--device", args.device,
                                    "--hidden-sizes", "256", "256", "--members", "2" if q else "256",
                                    "--per-process-members", "0", "--total-timesteps", steps], 150),
        "classic_cartpole_batched": ([*sweep, "--device", args.device, "--batched", "--batched-min-seeds", "1",
                                      "--workers", "3", "--runs-per-gpu", "3", "--threads-per-run", "1",
                                      "--out", str(out / "sweep_batched")], 180),
        "classic_cartpole_per_seed": ([*sweep, "--device", "cpu", "--no-batched", "--workers", cores,
                                       "--out", str(out / "sweep_per_seed")], 150),
        **{name: ([python, "algos/dqn_atari.py", "--env-id", "ALE/Breakout-v5", "--device", args.device,
                   "--num-envs", copies, "--total-timesteps", atari_steps, "--learning-starts", atari_start,
                   "--buffer-size", "100000", "--eval-frequency", atari_steps, "--eval-episodes", "1",
                   "--log-dir", str(out / f"{name}_runs"), "--no-progress"], limit)
           for name, copies, limit in (("atari", "1", 180), ("atari_copies", "8", 120))},
    }


def atari_line(out: Path, name: str) -> str:
    """Steps per second of a Breakout run, and what 10M steps would take at that rate."""
    summaries = list((out / f"{name}_runs").glob("*/summary.json"))
    if not summaries:
        return f"{name}: no summary.json"
    sps = json.loads(summaries[0].read_text())["sps"]
    return f"{name}: dqn_atari.py {sps:,.0f} steps/s on the device; 10,000,000 steps would take {1e7 / sps / 3600:.1f} h"


def main(args: Args) -> int:
    out = Path(args.out)
    if out.exists():
        print(f"gpu_checks: error: --out {out} exists; give a new folder", file=sys.stderr)
        return 2
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            print(f"gpu_checks: error: --device {args.device}: no CUDA device here (--device cpu --quick checks "
                  "the plumbing)", file=sys.stderr)
            return 2
    all_checks = checks(args, out)
    unknown = [name for name in args.only if name not in all_checks]
    if unknown:
        print(f"gpu_checks: error: --only {' '.join(unknown)}: choose from {', '.join(all_checks)}", file=sys.stderr)
        return 2
    out.mkdir(parents=True)
    summary = [f"# GPU checks on {args.device}{' (quick)' if args.quick else ''}", ""]
    for name, (command, limit) in all_checks.items():
        if args.only and name not in args.only:
            continue
        start = time.perf_counter()
        try:
            done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=limit)
            status, text = f"exit {done.returncode}", done.stdout + done.stderr
        except subprocess.TimeoutExpired as timeout:
            status = f"past its limit of {limit} s"
            text = (timeout.stdout or b"").decode(errors="replace") + (timeout.stderr or b"").decode(errors="replace")
        seconds = time.perf_counter() - start
        (out / f"{name}.txt").write_text(" ".join(command) + "\n\n" + text)
        tail = [line for line in text.strip().splitlines() if line.strip()][-6:]
        summary += [f"## {name}: {status}, {seconds:.0f} s", "", "```", *tail, "```", ""]
        print(f"{name}: {status}, {seconds:.0f} s", flush=True)
    summary += [atari_line(out, name) for name in ("atari", "atari_copies") if (out / f"{name}.txt").exists()]
    (out / "summary.md").write_text("\n".join(summary) + "\n")
    print(f"written: {out / 'summary.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(tyro.cli(Args)))
