"""How a sweep (benchmarks/sweep.py) runs its cells: each the real script in a process of its own,
or a cell's seeds as members of one process of benchmarks/batched.py; at most --workers processes
at a time on this machine (spread over its GPUs), or as Ray tasks."""

import contextlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from benchmarks.sweep_grid import Args, Cell, UsageError, clear_for_retry, log_tail, unit_command
from benchmarks.sweep_record import Progress, Record

# Set by SIGINT (Ctrl-C) and SIGTERM while runs go on; the backends then stop their runs.
stop_requested = threading.Event()


# ---- GPUs --------------------------------------------------------------------------------


def pick_gpu(load: dict[int, int], runs_per_gpu: int) -> int | None:
    """The least-loaded GPU with room for one more run (the first listed on a tie), or None
    when every GPU already holds runs_per_gpu runs. load: GPU index -> runs on it now."""
    free = [gpu for gpu in load if load[gpu] < runs_per_gpu]
    return min(free, key=lambda gpu: load[gpu]) if free else None


# ---- running one cell --------------------------------------------------------------------


def launch(argv: list[str], log_path: str, environment: dict[str, str]) -> subprocess.Popen:
    """Start a run in a session of its own, so that a Ctrl-C reaches only the sweep, which then
    stops each run's whole process group; stdout and stderr go to log_path after the command."""
    with open(log_path, "w") as log:
        log.write(shlex.join(argv) + "\n")
        log.flush()
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, **environment})


def stop(process: subprocess.Popen, grace: float = 5.0) -> None:
    """SIGTERM to the run's process group, SIGKILL after `grace` seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def run_to_end(argv: list[str], log_path: str, environment: dict[str, str]) -> tuple[int, float]:
    """(exit status, wall seconds) of one run, started and awaited here: the body of a Ray task.
    A cancelled task stops its run before it goes."""
    start = time.perf_counter()
    process = launch(argv, log_path, environment)
    try:
        return process.wait(), time.perf_counter() - start
    except BaseException:
        stop(process)
        raise


def outcome(cell: Cell, out: Path, exit_code: int, alone: bool = True) -> tuple[str, dict, str]:
    """(status, record changes, one-line note) of a run whose process ended with exit_code. A member
    of a batched process completed when its own summary says so: another member's failure sets the
    process's exit status."""
    folder = cell.folder(out)
    summaries = [json.loads(path.read_text()) for path in sorted(folder.glob("*/summary.json"))]
    summary = summaries[-1] if summaries else {}
    if (exit_code == 0 or not alone) and summary.get("status") == "completed":
        mean, std = summary.get("eval_mean"), summary.get("eval_std")
        protocol = summary.get("eval_policy", "greedy")
        note = f"{protocol} eval {mean:.3g} ± {std:.3g}" if mean is not None else "completed"
        return "completed", {"exit_code": 0, "log_tail": ""}, note
    tail = log_tail(folder / "run.log")
    cause = f"killed by signal {-exit_code}" if exit_code < 0 else f"exit status {exit_code}"
    last = tail.splitlines()[-1] if tail else "(empty log)"
    return "failed", {"exit_code": exit_code, "log_tail": tail}, f"{cause}: {last}"


def unit_log(unit: list[Cell], out: Path) -> Path:
    """Where a process writes its log: its first cell's run.log (shared() copies it to the others')."""
    return unit[0].folder(out) / "run.log"


def start_unit(unit: list[Cell], out: Path, record: Record, progress: Progress) -> None:
    for cell in unit:
        clear_for_retry(cell.folder(out))
        record.update(cell, status="running", attempts=record.cells[cell.key]["attempts"] + 1)
        progress.started(cell)


def end_unit(unit: list[Cell], out: Path, record: Record, progress: Progress, exit_code: int, seconds: float) -> None:
    for cell in unit[1:]:
        shutil.copyfile(unit_log(unit, out), cell.folder(out) / "run.log")
    for cell in unit:
        status, changes, note = outcome(cell, out, exit_code, alone=len(unit) == 1)
        record.update(cell, status=status, wall_seconds=seconds, **changes)
        progress.ended(cell, status, seconds, note)


def interrupt_unit(unit: list[Cell], out: Path, record: Record, **changes) -> None:
    for cell in unit[1:]:
        with contextlib.suppress(FileNotFoundError):
            shutil.copyfile(unit_log(unit, out), cell.folder(out) / "run.log")
    for cell in unit:
        record.update(cell, status="interrupted", log_tail=log_tail(cell.folder(out) / "run.log"), **changes)


def child_environment(args: Args) -> dict[str, str]:
    threads = str(args.threads_per_run)
    return {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "PYTHONUNBUFFERED": "1"}


# ---- backends ----------------------------------------------------------------------------


def run_local(units: list[list[Cell]], args: Args, out: Path, record: Record, progress: Progress,
              gpus: list[int]) -> None:
    """At most --workers processes at a time (and --runs-per-gpu per GPU), polled until all end."""
    waiting = list(units)
    running: dict[int, tuple[list[Cell], subprocess.Popen, float, int | None]] = {}
    load = {gpu: 0 for gpu in gpus}
    while (waiting or running) and not stop_requested.is_set():
        while waiting and len(running) < args.workers:
            gpu = pick_gpu(load, args.runs_per_gpu) if gpus else None
            if gpus and gpu is None:
                break
            unit = waiting.pop(0)
            environment = child_environment(args)
            if gpu is not None:
                load[gpu] += 1
                environment["CUDA_VISIBLE_DEVICES"] = str(gpu)
            start_unit(unit, out, record, progress)
            process = launch(unit_command(unit, out, args.device), str(unit_log(unit, out)), environment)
            running[id(unit)] = (unit, process, time.perf_counter(), gpu)
        for key, (unit, process, start, gpu) in list(running.items()):
            if process.poll() is None:
                continue
            del running[key]
            if gpu is not None:
                load[gpu] -= 1
            end_unit(unit, out, record, progress, process.returncode, time.perf_counter() - start)
        progress.tick()
        stop_requested.wait(0.2)
    for unit, process, _, _ in running.values():
        stop(process)
        interrupt_unit(unit, out, record, exit_code=process.returncode)


def connect_ray(args: Args):
    """Import Ray and join (or start) the cluster; any failure is a UsageError."""
    try:
        import ray
    except ImportError:
        raise UsageError("--backend ray needs Ray: pip install 'ray[default]'") from None
    if args.ray_address not in (None, "auto"):
        # ray.init retries an unreachable address for minutes; a plain connection says at once
        host, _, port = args.ray_address.split("://")[-1].rpartition(":")
        try:
            socket.create_connection((host, int(port)), timeout=5).close()
        except (OSError, ValueError) as err:
            raise UsageError(f"cannot reach a Ray cluster at {args.ray_address}: {err}") from None
    try:
        if args.ray_address is None:
            ray.init(num_cpus=max(int(args.workers * args.cpus_per_run), 1), include_dashboard=False,
                     log_to_driver=False, logging_level="error")
        else:
            ray.init(address=args.ray_address, log_to_driver=False, logging_level="error")
    except (ConnectionError, RuntimeError, ValueError) as err:
        raise UsageError(f"cannot join the Ray cluster at {args.ray_address}: {str(err).splitlines()[0]}") from None
    return ray


def run_ray(ray, units: list[list[Cell]], args: Args, out: Path, record: Record, progress: Progress) -> None:
    """Every process as a Ray task asking for --cpus-per-run CPUs and 1/--runs-per-gpu of a GPU on cuda."""
    gpu_share = 1.0 / args.runs_per_gpu if args.device.startswith("cuda") else 0.0
    # the task's code travels with it: a worker need not find this module on its own path
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    task = ray.remote(run_to_end).options(num_cpus=args.cpus_per_run, num_gpus=gpu_share, max_retries=0)
    pending = {}
    for unit in units:
        start_unit(unit, out, record, progress)
        argv = unit_command(unit, out, args.device)
        pending[task.remote(argv, str(unit_log(unit, out)), child_environment(args))] = unit
    while pending and not stop_requested.is_set():
        ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
        for ref in ready:
            unit = pending.pop(ref)
            try:
                exit_code, seconds = ray.get(ref)
            except ray.exceptions.RayError as err:
                exit_code, seconds = -signal.SIGKILL, 0.0
                with open(unit_log(unit, out), "a") as log:
                    log.write(f"\nRay: {str(err).splitlines()[0]}\n")
            end_unit(unit, out, record, progress, exit_code, seconds)
        progress.tick()
    if pending:
        # a cancelled task (not forced) gets a KeyboardInterrupt, on which it stops its run
        for ref in pending:
            ray.cancel(ref)
        with contextlib.suppress(Exception):
            ray.wait(list(pending), num_returns=len(pending), timeout=10.0)
        for unit in pending.values():
            interrupt_unit(unit, out, record)
