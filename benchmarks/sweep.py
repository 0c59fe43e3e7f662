"""Benchmark sweeps: every cell of algorithms × envs × seeds is the real script,
`python algos/NAME.py ...`, in its own process, on this machine or on a Ray cluster.

    python benchmarks/sweep.py --suite classic
    python benchmarks/sweep.py --algos dqn double_dqn --env-ids CartPole-v1 Acrobot-v1 --num-seeds 3 \\
        --extra="--total-timesteps 20000" --out runs/sweeps/cartpole
    python benchmarks/sweep.py --suite classic --backend ray --ray-address auto

Each run gets --log-dir OUT/runs/{algo}/{env_id}/seed_{seed}: its run folder (TensorBoard
events, summary.json) and run.log (the command, then the script's stdout and stderr) sit
together where a later sweep finds them. OUT/sweep.json, rewritten atomically whenever a
run ends, records every cell: command, status (pending, running, completed, failed,
interrupted), exit status and log tail of a failure, wall seconds. Running the same sweep
again skips each cell whose summary.json says completed with the same arguments and runs
the others from scratch, keeping the log of each earlier attempt as attempt_N.log.
`python benchmarks/report.py --sweep OUT` turns the folder into tables and plots.

On Ray, OUT and this checkout (with its Python environment) must be at the same paths on
every node, e.g. on a shared file system: each task runs the script there and writes to OUT.
"""

import dataclasses
import fcntl
import shlex
import signal
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as `python benchmarks/sweep.py`: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tyro  # noqa: E402

from benchmarks.common import load_algorithm  # noqa: E402
from benchmarks.sweep_backends import connect_ray, run_local, run_ray, stop_requested  # noqa: E402
from benchmarks.sweep_grid import (Args, Cell, UsageError, build_grid, cell_state, command, comparable,  # noqa: E402
                                   parse_with, unit_command, units)
from benchmarks.sweep_record import Progress, Record  # noqa: E402


# ---- main --------------------------------------------------------------------------------


def sweep_units(cells: list[Cell], args: Args) -> list[list[Cell]]:
    """The sweep's processes (sweep_grid.units) as --batched, --batched-algos and --batched-min-seeds say."""
    on_cpu = args.device == "cpu"
    if args.device == "auto":
        import torch

        on_cpu = not torch.cuda.is_available()
    return units(cells, args.batched_algos if args.batched else (), args.batched_min_seeds if on_cpu else 1)


def request_stop(signum, frame) -> None:
    stop_requested.set()


def main(args: Args, invocation: str = "") -> int:
    """Run the sweep; returns the exit status: 0 all completed, 1 some failed, 130 interrupted.
    invocation: the command line to record in sweep.json."""
    suite_name, description, cells = build_grid(args)
    out = Path(args.out or f"runs/sweeps/{suite_name or 'sweep'}")
    expected = {cell.key: comparable(dataclasses.asdict(parse_with(
        load_algorithm(cell.algo), command(cell, out, args.device)[2:], f"{cell.algo}.py options of {cell.key}")))
        for cell in cells}
    if args.dry_run:
        for unit in sweep_units(cells, args):
            print(shlex.join(unit_command(unit, out, args.device)))
        print(f"{len(cells)} runs into {out}")
        return 0
    gpus: list[int] = []
    if args.backend == "local" and args.device == "cuda":
        import torch

        gpus = list(args.gpus or range(torch.cuda.device_count()))
        if not gpus or max(gpus) >= torch.cuda.device_count():
            raise UsageError(f"--device cuda --gpus {' '.join(map(str, gpus)) or '(all)'}: "
                             f"this machine has {torch.cuda.device_count()} CUDA devices")
    ray = connect_ray(args) if args.backend == "ray" else None
    if ray is not None and args.device.startswith("cuda") and not ray.cluster_resources().get("GPU"):
        ray.shutdown()
        raise UsageError(f"--device {args.device}: the Ray cluster has no GPUs")

    out.mkdir(parents=True, exist_ok=True)
    lock = open(out / ".sweep.lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise UsageError(f"another sweep is running in {out}") from None
    record = Record(out, args, invocation, suite_name, description, cells,
                    {cell.key: shlex.join(unit_command(unit, out, args.device)) for unit in sweep_units(cells, args)
                     for cell in unit})
    states = {cell.key: cell_state(cell.folder(out), expected[cell.key]) for cell in cells}
    todo = [cell for cell in cells if states[cell.key] != "finished"]
    for cell in cells:
        if states[cell.key] == "finished":
            record.cells[cell.key].update(status="completed", exit_code=0)
    record.save()
    changed = sum(state == "changed" for state in states.values())
    print(f"sweep of {len(cells)} runs into {out} ({args.backend} backend): {len(cells) - len(todo)} already "
          f"finished, {len(todo)} to run" + (f", {changed} of them again with changed arguments" if changed else ""),
          flush=True)

    slots = args.workers if ray is None else max(int(ray.cluster_resources().get("CPU", 1) / args.cpus_per_run), 1)
    progress = Progress(len(cells), len(cells) - len(todo), slots)
    # SIGINT stays ignored where it was (a background job of a script), as Python leaves it
    handled = [signal.SIGTERM] + ([signal.SIGINT] if signal.getsignal(signal.SIGINT) != signal.SIG_IGN else [])
    previous = {signum: signal.signal(signum, request_stop) for signum in handled}
    stop_requested.clear()
    try:
        if ray is None:
            run_local(sweep_units(todo, args), args, out, record, progress, gpus)
        else:
            run_ray(ray, sweep_units(todo, args), args, out, record, progress)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if ray is not None:
            ray.shutdown()
        lock.close()
    progress.close()
    if stop_requested.is_set():
        print(f"interrupted: runs stopped; finished runs are kept in {out}; the same command goes on from there",
              file=sys.stderr)
        return 130
    failed = [record.cells[cell.key] for cell in cells if record.cells[cell.key]["status"] != "completed"]
    for cell in failed:
        print(f"failed: {cell['algo']} {cell['env_id']} seed {cell['seed']} (exit status {cell['exit_code']}), "
              f"log {out / cell['folder'] / 'run.log'}", file=sys.stderr)
    print(f"{len(cells) - len(failed)} of {len(cells)} runs completed; record in {record.path}")
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main(tyro.cli(Args), invocation=shlex.join(["python", *sys.argv])))
    except UsageError as error:
        print(f"sweep.py: error: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:  # before any run started
        sys.exit(130)
