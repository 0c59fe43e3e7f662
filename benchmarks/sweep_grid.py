"""The grid of a sweep (benchmarks/sweep.py): its command line, the cells of algorithms × envs ×
seeds from the options or a suite file, each cell's command, and whether an earlier sweep has
already finished it."""

import contextlib
import dataclasses
import difflib
import io
import json
import os
import shlex
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import tyro

from benchmarks.common import ALGOS, ROOT, load_algorithm

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

SUITES = ROOT / "benchmarks" / "suites"
SWEEP_FLAGS = ("env_id", "seed", "log_dir", "device")
# the scripts benchmarks/batched.py can run as members of one process, and those a sweep batches by default:
# not ddpg, whose 256-256 networks keep a CPU busy either way and ran slower batched (benchmarks/results/batched.md)
BATCHABLE_ALGORITHMS = ("dqn", "double_dqn", "dueling_dqn", "ddpg")
BATCHED_ALGORITHMS = ("dqn", "double_dqn", "dueling_dqn")
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
    batched: bool = True
    """run the seeds of a cell (same algorithm, env and options) as one process of benchmarks/batched.py, one
    member per seed, for the algorithms of --batched-algos; --no-batched: a process per seed"""
    batched_algos: tuple[str, ...] = BATCHED_ALGORITHMS
    """with --batched, the algorithms whose cells run batched: any of dqn, double_dqn, dueling_dqn, ddpg"""
    batched_min_seeds: int = 16
    """with --batched and --device cpu, a cell of fewer seeds runs a process per seed: on a 2-core CPU 4 seeds
    ran slower batched, 16 faster (benchmarks/results/batched.md); on any other device every cell batches"""
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

    def folder(self, out: Path, seed: str | None = None) -> Path:
        """The cell's folder; with seed="{seed}", the template of its seeds' folders."""
        return out / "runs" / self.algo / self.env_id.replace("/", "_") / f"seed_{self.seed if seed is None else seed}"


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
    for name in ("workers", "threads_per_run", "runs_per_gpu", "batched_min_seeds"):
        if getattr(args, name) <= 0:
            raise UsageError(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    if args.cpus_per_run <= 0:
        raise UsageError(f"--cpus-per-run must be positive, got {args.cpus_per_run}")
    for algo in args.batched_algos:
        if algo not in BATCHABLE_ALGORITHMS:
            raise UsageError(f"--batched-algos: {algo!r} does not run batched; choose from {', '.join(BATCHABLE_ALGORITHMS)}")
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


def units(cells: list[Cell], batched_algos: tuple[str, ...], min_seeds: int = 1) -> list[list[Cell]]:
    """The processes of a sweep: each cell alone, but for the algorithms of `batched_algos` the seeds of one
    algorithm, env and options together, as members of one process of benchmarks/batched.py, where they
    are at least `min_seeds`."""
    groups: dict[tuple, list[Cell]] = {}
    for cell in cells:
        together = cell.algo in batched_algos
        groups.setdefault((cell.algo, cell.env_id, tuple(cell.options)) if together else (cell.key,), []).append(cell)
    return [unit for group in groups.values()
            for unit in ([group] if len(group) >= min_seeds else [[cell] for cell in group])]


def unit_command(unit: list[Cell], out: Path, device: str) -> list[str]:
    """The command of one process: the script's for a cell alone, else benchmarks/batched.py's, which
    writes each seed's run into that seed's own cell folder."""
    if len(unit) == 1:
        return command(unit[0], out, device)
    cell = unit[0]
    return [sys.executable, str(ROOT / "benchmarks" / "batched.py"), "--algorithm", cell.algo, "--env-id",
            cell.env_id, "--seeds", *(str(member.seed) for member in unit),
            "--log-dir", str(cell.folder(out.resolve(), seed="{seed}")), "--device", device, *cell.options]


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


