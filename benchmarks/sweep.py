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

import contextlib
import dataclasses
import difflib
import fcntl
import importlib.metadata
import io
import json
import os
import platform
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

if __package__ in (None, ""):  # run as `python benchmarks/sweep.py`: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tyro  # noqa: E402

from benchmarks.common import ALGOS, ROOT, load_algorithm  # noqa: E402

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

SUITES = ROOT / "benchmarks" / "suites"
# Set by SIGINT (Ctrl-C) and SIGTERM while runs go on; the backends then stop their runs.
stop_requested = threading.Event()
SWEEP_FLAGS = ("env_id", "seed", "log_dir", "device")
LOG_TAIL_LINES = 20


@dataclass
class Args:
    suite: str | None = None
    """benchmarks/suites/NAME.toml (e.g. classic) or a .toml path: seeds, budgets and options per algorithm × env"""
    algos: tuple[str, ...] = ()
    """files in algos/, without .py; with --suite, keeps only these of the suite's cells"""
    env_ids: tuple[str, ...] = ()
    """gymnasium env ids; empty takes each algorithm's default env; with --suite, keeps only these"""
    seeds: tuple[int, ...] = ()
    """seeds of every cell; overrides --num-seeds and the suite's counts"""
    num_seeds: int | None = None
    """seeds 1..N of every cell; None takes the suite's counts, or 3 without a suite"""
    extra: str = ""
    """options for every run that has them, one string after an equals sign: --extra='--total-timesteps 20000'"""
    out: str | None = None
    """output folder; None is runs/sweeps/{suite name}, or runs/sweeps/sweep without a suite"""
    workers: int = os.cpu_count() or 1
    """runs at the same time on the local backend; the CPUs of a local Ray instance, in runs"""
    threads_per_run: int = 1
    """torch/OpenMP threads of each run (its OMP_NUM_THREADS)"""
    device: str = "cpu"
    """device of every run: cpu, cuda (spread over --gpus), cuda:N, mps or auto"""
    gpus: tuple[int, ...] = ()
    """with --device cuda on the local backend: indices of the GPUs to spread runs over; empty takes all"""
    runs_per_gpu: int = 1
    """with --device cuda: runs that share one GPU at a time (on Ray, each asks for 1/K of a GPU)"""
    backend: Literal["local", "ray"] = "local"
    """local: a pool of subprocesses on this machine; ray: one Ray task per run"""
    ray_address: str | None = None
    """with --backend ray: the cluster to join, auto or HOST:PORT; None starts a local Ray instance"""
    cpus_per_run: float = 1.0
    """with --backend ray: CPUs each task asks for"""
    dry_run: bool = False
    """print the grid's commands and exit without running anything"""


class UsageError(Exception):
    """Bad input: reported as one line on stderr with exit status 2."""


# ---- the grid: suite, options, commands --------------------------------------------------


@dataclass
class Cell:
    """One run of the grid."""

    algo: str
    env_id: str
    seed: int
    options: list[str] = field(default_factory=list)
    """the suite's and --extra's options for this script, without the sweep's own"""
    reference: str = ""
    threshold: float | None = None

    @property
    def key(self) -> str:
        return f"{self.algo} {self.env_id} seed {self.seed}"

    def folder(self, out: Path) -> Path:
        return out / "runs" / self.algo / self.env_id.replace("/", "_") / f"seed_{self.seed}"


def available_algorithms() -> list[str]:
    return sorted(path.stem for path in ALGOS.glob("*.py") if not path.name.startswith("_"))


def option_groups(tokens: list[str]) -> list[tuple[str, list[str]]]:
    """Split a command line into (field name, tokens) per option:
    ['--bins', '6', '6', '--no-progress'] -> [('bins', ['--bins', '6', '6']), ('no_progress', ['--no-progress'])]."""
    groups: list[tuple[str, list[str]]] = []
    for token in tokens:
        if token.startswith("--"):
            flag, equals, value = token.partition("=")
            groups.append((flag[2:].replace("-", "_"), [flag, value] if equals else [flag]))
        elif groups:
            groups[-1][1].append(token)
        else:
            raise UsageError(f"--extra: {token!r} is not an option (options start with --)")
    return groups


def field_of(name: str, fields: set[str]) -> str | None:
    """The Args field an option sets (--no-progress sets progress), or None."""
    if name in fields:
        return name
    if name.startswith("no_") and name[3:] in fields:
        return name[3:]
    return None


def suite_options(values: dict) -> list[str]:
    """A suite's hyperparameter table as command-line options."""
    tokens: list[str] = []
    for name, value in values.items():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            tokens.append(flag if value else "--no-" + name.replace("_", "-"))
        elif isinstance(value, list):
            tokens += [flag, *map(str, value)]
        else:
            tokens += [flag, str(value)]
    return tokens


def merge_options(fields: set[str], *option_lists: list[str]) -> list[str]:
    """Options of one script from several sources, a later source winning per field."""
    merged: dict[str, list[str]] = {}
    for tokens in option_lists:
        for name, group in option_groups(tokens):
            merged[field_of(name, fields) or name] = group
    return [token for group in merged.values() for token in group]


def read_suite(name: str) -> tuple[str, dict]:
    """(suite name, its contents) from benchmarks/suites/NAME.toml or a path to a .toml file."""
    path = Path(name) if name.endswith(".toml") else SUITES / f"{name}.toml"
    if not path.is_file():
        known = sorted(p.stem for p in SUITES.glob("*.toml"))
        raise UsageError(f"no suite {name!r}: benchmarks/suites/ has {', '.join(known) or 'none'}")
    try:
        suite = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise UsageError(f"suite {path}: {err}") from None
    return path.stem, suite


def suite_cells(suite: dict, path_name: str) -> list[Cell]:
    """The suite's cells: a table per algorithm, in it a table per env with `seeds` (a count
    or a list), optional `args` (the script's options by field name), `reference`, `threshold`."""
    cells = []
    for algo, envs in suite.items():
        if algo == "description":
            continue
        if not isinstance(envs, dict):
            raise UsageError(f"suite {path_name}: {algo} should be a table of envs")
        for env_id, entry in envs.items():
            where = f"suite {path_name}: [{algo}.{env_id}]"
            if not isinstance(entry, dict):
                raise UsageError(f"{where} should be a table")
            unknown = set(entry) - {"seeds", "args", "reference", "threshold"}
            if unknown:
                raise UsageError(f"{where} has {', '.join(sorted(unknown))}; it takes seeds, args, reference "
                                 "and threshold")
            seeds = entry.get("seeds")
            if not (isinstance(seeds, int) and seeds > 0
                    or isinstance(seeds, list) and seeds and all(isinstance(seed, int) for seed in seeds)):
                raise UsageError(f"{where}: seeds should be a positive count or a list of seeds, got {seeds!r}")
            if not (isinstance(entry.get("args", {}), dict) and isinstance(entry.get("reference", ""), str)
                    and isinstance(entry.get("threshold", 0), (int, float))):
                raise UsageError(f"{where}: args should be a table, reference a string, threshold a number")
            for seed in range(1, seeds + 1) if isinstance(seeds, int) else seeds:
                cells.append(Cell(algo, env_id, seed, suite_options(entry.get("args", {})),
                                  entry.get("reference", ""), entry.get("threshold")))
    return cells


def parse_with(module, tokens: list[str], what: str):
    """The script's Args from its command line, as the script itself would parse it."""
    output = io.StringIO()
    try:
        with contextlib.redirect_stderr(output), contextlib.redirect_stdout(output):
            return tyro.cli(module.Args, args=tokens)
    except SystemExit:
        lines = [line.strip(" │╭╮╰╯─") for line in output.getvalue().splitlines()]
        lines = [line for line in lines if line and not line.startswith(("For full", "-", "─"))]
        message = next((line for line in lines if ":" in line), lines[0] if lines else "invalid options")
        raise UsageError(f"{what}: {message}") from None


def build_grid(args: Args) -> tuple[str | None, str, list[Cell]]:
    """(suite name, suite description, cells) as the command line asks; checks every cell's
    options against its script's Args before anything runs."""
    if args.num_seeds is not None and args.num_seeds <= 0:
        raise UsageError(f"--num-seeds must be positive, got {args.num_seeds}")
    for name in ("workers", "threads_per_run", "runs_per_gpu"):
        if getattr(args, name) <= 0:
            raise UsageError(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    if args.cpus_per_run <= 0:
        raise UsageError(f"--cpus-per-run must be positive, got {args.cpus_per_run}")
    known = available_algorithms()
    for algo in args.algos:
        if algo not in known:
            close = difflib.get_close_matches(algo, known, n=1)
            raise UsageError(f"unknown algorithm {algo!r}" + (f"; did you mean {close[0]}?" if close else "")
                             + f" (algos/ has {', '.join(known)})")

    suite_name, description = None, ""
    if args.suite is not None:
        suite_name, suite = read_suite(args.suite)
        description = suite.get("description", "")
        cells = suite_cells(suite, suite_name)
        for algo in sorted({cell.algo for cell in cells} - set(known)):
            if not args.algos or algo in args.algos:
                raise UsageError(f"suite {suite_name} names {algo!r}, which is not in algos/")
        cells = [cell for cell in cells if (not args.algos or cell.algo in args.algos)
                 and (not args.env_ids or cell.env_id in args.env_ids)]
    elif args.algos:
        default_envs = {algo: import_algorithm(algo).Args().env_id for algo in args.algos}
        cells = [Cell(algo, env_id, 0) for algo in args.algos for env_id in args.env_ids or [default_envs[algo]]]
    else:
        raise UsageError("empty grid: give --algos (and --env-ids) or --suite")
    if args.seeds or args.num_seeds is not None or args.suite is None:
        seeds = args.seeds or tuple(range(1, (args.num_seeds or 3) + 1))
        unique = {(cell.algo, cell.env_id): cell for cell in cells}
        cells = [dataclasses.replace(cell, seed=seed) for cell in unique.values() for seed in seeds]
    if not cells:
        raise UsageError(f"empty grid: suite {suite_name} has no cell for "
                         f"--algos {' '.join(args.algos) or '(any)'} --env-ids {' '.join(args.env_ids) or '(any)'}")

    modules = {algo: import_algorithm(algo) for algo in sorted({cell.algo for cell in cells})}
    import gymnasium as gym  # after the scripts, which may register envs of their own

    for env_id in dict.fromkeys(cell.env_id for cell in cells):
        if env_id not in gym.registry:
            close = difflib.get_close_matches(env_id, gym.registry.keys(), n=3, cutoff=0.6)
            raise UsageError(f"unknown env id {env_id!r}" + (f"; did you mean {' or '.join(close)}?" if close else ""))

    fields = {algo: {f.name for f in dataclasses.fields(module.Args)} for algo, module in modules.items()}
    extra = option_groups(shlex.split(args.extra))
    for name, group in extra:
        owner = [algo for algo in modules if field_of(name, fields[algo])]
        if not owner:
            raise UsageError(f"--extra: no script in the grid has {group[0]}")
        if field_of(name, fields[owner[0]]) in SWEEP_FLAGS:
            raise UsageError(f"--extra: {group[0]} is set by the sweep (use --env-ids, --seeds, --out, --device)")
    for cell in cells:
        own_extra = [token for name, group in extra if field_of(name, fields[cell.algo]) for token in group]
        cell.options = merge_options(fields[cell.algo], cell.options, own_extra)
        for name, group in option_groups(cell.options):
            if field_of(name, fields[cell.algo]) in SWEEP_FLAGS:
                raise UsageError(f"suite {suite_name}: {group[0]} of {cell.algo} is set by the sweep")
    return suite_name, description, cells


def import_algorithm(algo: str):
    try:
        return load_algorithm(algo)
    except Exception as err:
        raise UsageError(f"algos/{algo}.py does not import: {type(err).__name__}: {err}") from None


def command(cell: Cell, out: Path, device: str) -> list[str]:
    fields = {f.name for f in dataclasses.fields(load_algorithm(cell.algo).Args)}
    tokens = ["--env-id", cell.env_id, "--seed", str(cell.seed), "--log-dir", str(cell.folder(out).resolve())]
    if "device" in fields:
        # a run spread over GPUs sees only its own, through CUDA_VISIBLE_DEVICES
        tokens += ["--device", device]
    return [sys.executable, str(ALGOS / f"{cell.algo}.py"), *tokens, *cell.options]


def comparable(args: dict) -> dict:
    """A run's arguments as summary.json stores them, less where it wrote (so a moved sweep
    folder still counts as finished)."""
    return {name: value for name, value in json.loads(json.dumps(args)).items() if name != "log_dir"}


def cell_state(folder: Path, expected: dict) -> Literal["finished", "changed", "to run"]:
    """finished: a run folder in the cell's folder has a summary.json that says completed with
    these arguments; changed: completed, but with other arguments; else to run."""
    completed = [summary for summary in map(json.loads, map(Path.read_text, sorted(folder.glob("*/summary.json"))))
                 if summary.get("status") == "completed"]
    if any(comparable(summary.get("args", {})) == expected for summary in completed):
        return "finished"
    return "changed" if completed else "to run"


def clear_for_retry(folder: Path) -> None:
    """Empty a cell's folder for a fresh attempt; the earlier attempt's log stays as attempt_N.log."""
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / "run.log").exists():
        attempts = len(list(folder.glob("attempt_*.log")))
        (folder / "run.log").rename(folder / f"attempt_{attempts + 1}.log")
    for path in folder.iterdir():
        if path.is_dir():
            shutil.rmtree(path)


def log_tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return ""
    return "\n".join(lines[-LOG_TAIL_LINES:])


# ---- GPUs --------------------------------------------------------------------------------


def pick_gpu(load: dict[int, int], runs_per_gpu: int) -> int | None:
    """The least-loaded GPU with room for one more run (the first listed on a tie), or None
    when every GPU already holds runs_per_gpu runs. load: GPU index -> runs on it now."""
    free = [gpu for gpu in load if load[gpu] < runs_per_gpu]
    return min(free, key=lambda gpu: load[gpu]) if free else None


# ---- the record: sweep.json --------------------------------------------------------------


def write_json_atomically(path: Path, data: dict) -> None:
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(json.dumps(data, indent=2))
    os.replace(temporary, path)


def machine(args: Args) -> dict:
    cpu = platform.processor()
    if Path("/proc/cpuinfo").exists():
        names = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("model name")]
        cpu = names[0] if names else cpu
    return {"platform": platform.platform(), "cpu": cpu, "cpu_count": os.cpu_count(),
            "python": platform.python_version(), "torch": importlib.metadata.version("torch"),
            "backend": args.backend, "workers": args.workers, "device": args.device}


class Record:
    """OUT/sweep.json: the sweep's cells and what became of each."""

    def __init__(self, out: Path, args: Args, invocation: str, suite_name: str | None, description: str,
                 cells: list[Cell]):
        self.path = out / "sweep.json"
        earlier = {}
        if self.path.exists():
            earlier = {(c["algo"], c["env_id"], c["seed"]): c for c in json.loads(self.path.read_text())["cells"]}
        self.data = {"suite": suite_name, "description": description, "command": invocation,
                     "machine": machine(args)}
        self.cells: dict[str, dict] = {}
        current: dict[tuple[str, str, int], dict] = {}
        for cell in cells:
            before = earlier.get((cell.algo, cell.env_id, cell.seed), {})
            entry = {"algo": cell.algo, "env_id": cell.env_id, "seed": cell.seed, "reference": cell.reference,
                     "threshold": cell.threshold, "folder": str(cell.folder(out).relative_to(out)),
                     "command": shlex.join(command(cell, out, args.device)), "status": "pending",
                     "exit_code": None, "log_tail": "", "wall_seconds": before.get("wall_seconds"),
                     "attempts": before.get("attempts", 0)}
            self.cells[cell.key] = current[cell.algo, cell.env_id, cell.seed] = entry
        # a sweep narrowed by --algos/--env-ids/--seeds leaves the other cells' records as they
        # were, and every earlier cell keeps its place in the record (and so in the report)
        self.data["cells"] = [current.pop(key, entry) for key, entry in earlier.items()] + list(current.values())

    def update(self, cell: Cell, **changes) -> None:
        self.cells[cell.key].update(changes)
        self.save()

    def save(self) -> None:
        write_json_atomically(self.path, self.data)


# ---- progress ----------------------------------------------------------------------------


class Progress:
    """Runs done / running / failed and an ETA: one line rewritten in place on a terminal,
    a plain line per event otherwise."""

    def __init__(self, total: int, done: int, slots: int):
        self.total, self.done, self.failed, self.running, self.slots = total, done, 0, {}, slots
        self.durations: list[float] = []
        self.tty = sys.stdout.isatty()
        self.drawn = 0.0

    def eta(self) -> float | None:
        if not self.durations:
            return None
        mean = sum(self.durations) / len(self.durations)
        waiting = self.total - self.done - self.failed - len(self.running)
        now = time.monotonic()
        left = waiting * mean + sum(max(mean - (now - start), 0.0) for start in self.running.values())
        return left / max(min(self.slots, waiting + len(self.running)), 1)

    def status(self) -> str:
        eta = self.eta()
        eta_text = "ETA unknown" if eta is None else f"ETA {eta / 60:.0f} min" if eta >= 90 else f"ETA {eta:.0f} s"
        return (f"{self.done}/{self.total} done, {len(self.running)} running, {self.failed} failed, "
                + (eta_text if self.done + self.failed < self.total else "finished"))

    def show(self, event: str | None = None) -> None:
        if self.tty:
            print("\r\033[K" + (event + "\n" if event else "") + self.status(), end="", flush=True)
            self.drawn = time.monotonic()
        elif event:
            print(f"{event} [{self.status()}]", flush=True)

    def tick(self) -> None:
        """Redraw the terminal's line once a second, for a live ETA."""
        if self.tty and time.monotonic() - self.drawn >= 1.0:
            self.show()

    def started(self, cell: Cell) -> None:
        self.running[cell.key] = time.monotonic()
        self.show(f"start  {cell.key}")

    def ended(self, cell: Cell, status: str, seconds: float, note: str) -> None:
        self.running.pop(cell.key, None)
        if status == "completed":
            self.done += 1
            self.durations.append(seconds)
        elif status == "failed":
            self.failed += 1
        self.show(f"{status:<10}{cell.key} after {seconds:.0f} s: {note}")

    def close(self) -> None:
        if self.tty:
            print(flush=True)


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


def outcome(cell: Cell, out: Path, exit_code: int) -> tuple[str, dict, str]:
    """(status, record changes, one-line note) of a run that ended with exit_code."""
    folder = cell.folder(out)
    summaries = [json.loads(path.read_text()) for path in sorted(folder.glob("*/summary.json"))]
    summary = summaries[-1] if summaries else {}
    if exit_code == 0 and summary.get("status") == "completed":
        mean, std = summary.get("eval_mean"), summary.get("eval_std")
        note = f"greedy eval {mean:.3g} ± {std:.3g}" if mean is not None else "completed"
        return "completed", {"exit_code": 0, "log_tail": ""}, note
    tail = log_tail(folder / "run.log")
    cause = f"killed by signal {-exit_code}" if exit_code < 0 else f"exit status {exit_code}"
    last = tail.splitlines()[-1] if tail else "(empty log)"
    return "failed", {"exit_code": exit_code, "log_tail": tail}, f"{cause}: {last}"


def child_environment(args: Args) -> dict[str, str]:
    threads = str(args.threads_per_run)
    return {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "PYTHONUNBUFFERED": "1"}


# ---- backends ----------------------------------------------------------------------------


def run_local(cells: list[Cell], args: Args, out: Path, record: Record, progress: Progress, gpus: list[int]) -> None:
    """At most --workers runs at a time (and --runs-per-gpu per GPU), polled until all end."""
    waiting = list(cells)
    running: dict[str, tuple[Cell, subprocess.Popen, float, int | None]] = {}
    load = {gpu: 0 for gpu in gpus}
    while (waiting or running) and not stop_requested.is_set():
        while waiting and len(running) < args.workers:
            gpu = pick_gpu(load, args.runs_per_gpu) if gpus else None
            if gpus and gpu is None:
                break
            cell = waiting.pop(0)
            environment = child_environment(args)
            if gpu is not None:
                load[gpu] += 1
                environment["CUDA_VISIBLE_DEVICES"] = str(gpu)
            clear_for_retry(cell.folder(out))
            record.update(cell, status="running", attempts=record.cells[cell.key]["attempts"] + 1)
            process = launch(command(cell, out, args.device), str(cell.folder(out) / "run.log"), environment)
            running[cell.key] = (cell, process, time.perf_counter(), gpu)
            progress.started(cell)
        for key, (cell, process, start, gpu) in list(running.items()):
            if process.poll() is None:
                continue
            del running[key]
            if gpu is not None:
                load[gpu] -= 1
            seconds = time.perf_counter() - start
            status, changes, note = outcome(cell, out, process.returncode)
            record.update(cell, status=status, wall_seconds=seconds, **changes)
            progress.ended(cell, status, seconds, note)
        progress.tick()
        stop_requested.wait(0.2)
    for cell, process, _, _ in running.values():
        stop(process)
        record.update(cell, status="interrupted", exit_code=process.returncode,
                      log_tail=log_tail(cell.folder(out) / "run.log"))


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


def run_ray(ray, cells: list[Cell], args: Args, out: Path, record: Record, progress: Progress) -> None:
    """Every run as a Ray task asking for --cpus-per-run CPUs and 1/--runs-per-gpu of a GPU on cuda."""
    gpu_share = 1.0 / args.runs_per_gpu if args.device.startswith("cuda") else 0.0
    task = ray.remote(run_to_end).options(num_cpus=args.cpus_per_run, num_gpus=gpu_share, max_retries=0)
    pending = {}
    for cell in cells:
        clear_for_retry(cell.folder(out))
        record.update(cell, status="running", attempts=record.cells[cell.key]["attempts"] + 1)
        argv = command(cell, out, args.device)
        pending[task.remote(argv, str(cell.folder(out) / "run.log"), child_environment(args))] = cell
        progress.started(cell)
    while pending and not stop_requested.is_set():
        ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
        for ref in ready:
            cell = pending.pop(ref)
            try:
                exit_code, seconds = ray.get(ref)
            except ray.exceptions.RayError as err:
                exit_code, seconds = -signal.SIGKILL, 0.0
                with open(cell.folder(out) / "run.log", "a") as log:
                    log.write(f"\nRay: {str(err).splitlines()[0]}\n")
            status, changes, note = outcome(cell, out, exit_code)
            record.update(cell, status=status, wall_seconds=seconds, **changes)
            progress.ended(cell, status, seconds, note)
        progress.tick()
    if pending:
        # a cancelled task (not forced) gets a KeyboardInterrupt, on which it stops its run
        for ref in pending:
            ray.cancel(ref)
        with contextlib.suppress(Exception):
            ray.wait(list(pending), num_returns=len(pending), timeout=10.0)
        for cell in pending.values():
            record.update(cell, status="interrupted", log_tail=log_tail(cell.folder(out) / "run.log"))


# ---- main --------------------------------------------------------------------------------


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
        for cell in cells:
            print(shlex.join(command(cell, out, args.device)))
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
    record = Record(out, args, invocation, suite_name, description, cells)
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
            run_local(todo, args, out, record, progress, gpus)
        else:
            run_ray(ray, todo, args, out, record, progress)
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
