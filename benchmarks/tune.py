"""Hyperparameter search over any algos/ script's options: an optuna study whose trials run the
real script, one process per seed, as benchmarks/sweep.py runs a cell.

    python benchmarks/tune.py --algorithm q_table --env-id FrozenLake-v1 --trials 30
    python benchmarks/tune.py --algorithm dqn --env-id MountainCar-v0 --seeds 1 2 --workers 2 \\
        --space 'learning_rate=1e-4:1e-2:log' 'train_frequency=1,2,4,8'
    python benchmarks/tune.py --algorithm dqn --env-id MountainCar-v0 --backend ray --ray-address auto --workers 16

The space of an algorithm × env comes from benchmarks/tuning.toml (its fixed options and
its ranges), and --space adds to it or replaces its entries: NAME=LOW:HIGH (uniform),
NAME=LOW:HIGH:log (log-uniform), NAME=A,B,C (choices); an int option draws ints. A trial's value
is the mean (or --objective iqm) of its seeds' final evaluations; each evaluation a run
makes on the way (eval/episodic_return, every --eval-frequency steps) goes to the pruner, which
stops a trial that trails the others at the same step. Runs are processes of this machine or
Ray tasks (--backend ray), whose evaluations stream back as they come. The study lives in SQLite under --out:
the same command again continues it, counting the trials that finished; Ctrl-C stops the running
trials and keeps the finished ones; a run that fails or stops on a non-finite loss makes its trial
failed, and the study goes on. At the end: trials.csv, history.png, importances.png, and
best.toml, the best options as an entry for a suite file.
"""

import contextlib
import csv
import dataclasses
import difflib
import json
import math
import shlex
import signal
import struct
import sys
import threading
import time
import typing
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Literal

if __package__ in (None, ""):  # run as `python benchmarks/tune.py`: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tyro  # noqa: E402
from tensorboard.compat.proto.event_pb2 import Event  # noqa: E402

from benchmarks import sweep_backends, sweep_grid  # noqa: E402
from benchmarks.common import ROOT, load_algorithm  # noqa: E402
from benchmarks.sweep_backends import child_environment, connect_ray, launch, stop  # noqa: E402
from benchmarks.sweep_grid import (SWEEP_FLAGS, Cell, UsageError, available_algorithms, command,  # noqa: E402
                                   log_tail, parse_with, suite_options, tomllib)

SPACE_FILE = ROOT / "benchmarks" / "tuning.toml"
POLL_SECONDS = 0.5


@dataclass
class Args:
    algorithm: str  # the script to tune: a file of algos/, without .py
    env_id: str  # gymnasium id of the env
    space: tuple[str, ...] = ()  # NAME=LOW:HIGH[:log] or NAME=A,B,C, added to (or replacing) the space file's entries
    space_file: str = str(SPACE_FILE)  # TOML file with a table per algorithm and env: fixed `args` and a `space`
    extra: str = ""  # more fixed options of every run, as on the script's command line
    trials: int = 20  # trials the study holds when done; those it finished before count
    seeds: tuple[int, ...] = (1, 2)  # the seeds of every trial
    objective: Literal["mean", "iqm"] = "mean"  # of the seeds' final greedy evaluations (iqm: interquartile mean)
    pruner: Literal["median", "halving", "none"] = "median"  # optuna's MedianPruner, SuccessiveHalvingPruner, or none
    startup_trials: int = 5  # trials that the median pruner lets finish before it prunes
    workers: int = 1  # trials at a time, each running its seeds one after the other
    threads_per_run: int = 1  # torch/OpenMP threads of each run (its OMP_NUM_THREADS)
    backend: Literal["local", "ray"] = "local"  # runs as processes of this machine, or as Ray tasks
    ray_address: str | None = None  # with --backend ray: the cluster to join, auto or HOST:PORT; None starts a local Ray instance
    cpus_per_run: float = 1.0  # with --backend ray: CPUs each run's task asks for
    device: str = "cpu"  # --device of each run, where the script has one
    sampler_seed: int = 0  # seed of optuna's TPE sampler
    out: str | None = None  # folder of the study (default runs/tune/{algorithm}/{env id})
    study_name: str | None = None  # default {algorithm}-{env id}


class TrialFailed(Exception):
    """A run of the trial exited with an error or stopped early; the trial is recorded as failed."""


# ---- the search space --------------------------------------------------------------------


@dataclass
class Dimension:
    name: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: list | None = None
    integer: bool = False

    def suggest(self, trial) -> object:
        if self.choices is not None:
            return trial.suggest_categorical(self.name, self.choices)
        if self.integer:
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, log=self.log)


def parse_value(text: str) -> object:
    for kind in (int, float):
        with contextlib.suppress(ValueError):
            return kind(text)
    return {"true": True, "false": False}.get(text.lower(), text)


def dimension_from_text(spec: str) -> Dimension:
    """NAME=LOW:HIGH, NAME=LOW:HIGH:log or NAME=A,B,C."""
    name, equals, body = spec.partition("=")
    if not equals or not name or not body:
        raise UsageError(f"--space {spec!r}: expected NAME=LOW:HIGH[:log] or NAME=A,B,C")
    name = name.strip().lstrip("-").replace("-", "_")
    if ":" in body:
        parts = body.split(":")
        if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] != "log"):
            raise UsageError(f"--space {spec!r}: a range is LOW:HIGH or LOW:HIGH:log")
        try:
            low, high = float(parts[0]), float(parts[1])
        except ValueError:
            raise UsageError(f"--space {spec!r}: LOW and HIGH must be numbers") from None
        return Dimension(name, low, high, log=len(parts) == 3)
    return Dimension(name, choices=[parse_value(choice) for choice in body.split(",") if choice])


def dimension_from_table(name: str, table: dict, where: str) -> Dimension:
    if not isinstance(table, dict) or not ({"low", "high"} <= set(table) or "choices" in table):
        raise UsageError(f"{where}: {name} needs low and high, or choices")
    if "choices" in table:
        return Dimension(name, choices=list(table["choices"]))
    return Dimension(name, float(table["low"]), float(table["high"]), log=bool(table.get("log", False)))


def load_space(args: Args) -> tuple[list[str], dict[str, Dimension]]:
    """(fixed options, dimensions by option name) of args.algorithm on args.env_id: the space file's
    entry, then --extra and --space on top of it."""
    fixed: list[str] = []
    dimensions: dict[str, Dimension] = {}
    path = Path(args.space_file)
    if path.exists():
        try:
            entries = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as err:
            raise UsageError(f"{path}: {err}") from None
        entry = entries.get(args.algorithm, {}).get(args.env_id, {})
        where = f"{path.name} [{args.algorithm}.{args.env_id}]"
        fixed = suite_options(entry.get("args", {}))
        for name, table in entry.get("space", {}).items():
            dimensions[name] = dimension_from_table(name, table, where)
    elif args.space_file != str(SPACE_FILE):
        raise UsageError(f"--space-file {args.space_file!r}: no such file")
    fixed += shlex.split(args.extra)
    for spec in args.space:
        dimension = dimension_from_text(spec)
        dimensions[dimension.name] = dimension
    return fixed, dimensions


def check_space(args: Args, fixed: list[str], dimensions: dict[str, Dimension]) -> object:
    """The script's Args for the fixed options; every dimension names an option the script has and
    a non-empty range of its type. Marks int options' dimensions as integer."""
    if args.algorithm not in available_algorithms():
        close = difflib.get_close_matches(args.algorithm, available_algorithms(), n=1)
        raise UsageError(f"unknown algorithm {args.algorithm!r}" + (f"; did you mean {close[0]}?" if close else ""))
    module = load_algorithm(args.algorithm)
    script_args = parse_with(module, ["--env-id", args.env_id, *fixed], f"{args.algorithm}.py options")
    hints = typing.get_type_hints(module.Args)
    if not dimensions:
        raise UsageError(f"no search space for {args.algorithm} on {args.env_id}: give --space or an entry "
                         f"[{args.algorithm}.{args.env_id}.space] in {args.space_file}")
    for name, dimension in dimensions.items():
        if name not in hints or name in SWEEP_FLAGS:
            close = difflib.get_close_matches(name, list(hints), n=1)
            raise UsageError(f"--space: {args.algorithm}.py has no option --{name.replace('_', '-')}"
                             + (f"; did you mean --{close[0].replace('_', '-')}?" if close else ""))
        if dimension.choices is not None:
            if not dimension.choices:
                raise UsageError(f"--space: {name} has no choices")
            continue
        if not dimension.low < dimension.high:
            raise UsageError(f"--space: {name}'s range {dimension.low:g}:{dimension.high:g} is empty or inverted")
        if dimension.log and dimension.low <= 0:
            raise UsageError(f"--space: {name}'s log range needs LOW > 0, got {dimension.low:g}")
        dimension.integer = hints[name] is int
        if dimension.integer and not (dimension.low.is_integer() and dimension.high.is_integer()):
            raise UsageError(f"--space: {name} is an int option; its range {dimension.low:g}:{dimension.high:g} is not")
    for name in ("trials", "workers", "threads_per_run"):
        if getattr(args, name) <= 0:
            raise UsageError(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    if args.cpus_per_run <= 0:
        raise UsageError(f"--cpus-per-run must be positive, got {args.cpus_per_run}")
    if args.startup_trials < 0:
        raise UsageError(f"--startup-trials must be >= 0, got {args.startup_trials}")
    if not args.seeds:
        raise UsageError("--seeds: give at least one seed")
    return script_args


# ---- one trial ---------------------------------------------------------------------------


class Evaluations:
    """The eval/episodic_return points of a running script's TensorBoard event file, read as they
    come. Each call reads the records written since the last one, up to the file's size at the call:
    a script that writes faster than this reads (q_table.py logs thousands of episodes a second)
    cannot keep a call from returning, as it kept TensorBoard's own EventAccumulator reading on."""

    def __init__(self, run_folder: Path):
        self.run_folder, self.path, self.offset = run_folder, None, 0

    def new(self) -> list[tuple[int, float]]:
        """The (step, value) pairs written since the last call."""
        if self.path is None:
            self.path = next(iter(sorted(self.run_folder.glob("*/events.out.tfevents.*"))), None)
            if self.path is None:
                return []
        with open(self.path, "rb") as file:
            file.seek(self.offset)
            data = file.read()
        points, position = [], 0
        # a TFRecord: length (8 bytes), its checksum (4), the event, the event's checksum (4)
        while position + 12 <= len(data):
            (length,) = struct.unpack_from("<Q", data, position)
            if position + 16 + length > len(data):  # a record still being written
                break
            event = Event.FromString(data[position + 12:position + 12 + length])
            points += [(event.step, value.simple_value) for value in event.summary.value
                       if value.tag == "eval/episodic_return"]
            position += 16 + length
        self.offset += position
        return points


def follow_run(argv: list[str], run_folder: Path, environment: dict[str, str]) -> Iterator[tuple]:
    """One seed's run of the script, as it goes: ("eval", step, value) for each periodic evaluation,
    ("running",) at every poll between them, and last ("end", exit status, summary or None, log tail).
    Closing the generator, or cancelling the Ray task that runs it, stops the run."""
    run_folder.mkdir(parents=True, exist_ok=True)
    process = launch(argv, str(run_folder / "run.log"), environment)
    evaluations = Evaluations(run_folder)
    try:
        while process.poll() is None:
            time.sleep(POLL_SECONDS)
            for step, value in evaluations.new():
                yield "eval", step, value
            yield ("running",)
        summary_path = next(run_folder.glob("*/summary.json"), None)
        summary = None if summary_path is None else json.loads(summary_path.read_text())
        yield "end", process.returncode, summary, log_tail(run_folder / "run.log")
    finally:
        if process.poll() is None:
            stop(process)


class LocalRuns:
    """Runs as processes of this machine."""

    def follow(self, argv: list[str], run_folder: Path, environment: dict[str, str]) -> tuple[Iterator[tuple], Callable]:
        """The run's items (follow_run's) and a function that stops it."""
        items = follow_run(argv, run_folder, environment)
        return items, items.close


class RayRuns:
    """Runs as Ray tasks of --cpus-per-run CPUs each, their items streamed back as they come; the run
    folders are written where the tasks run (a filesystem the nodes share keeps them in one place)."""

    def __init__(self, ray, cpus_per_run: float):
        # the tasks' code travels with them: a worker need not find these modules on its own path
        for module in (sys.modules[__name__], sweep_backends, sweep_grid):
            ray.cloudpickle.register_pickle_by_value(module)
        self.ray, self.task = ray, ray.remote(follow_run).options(num_cpus=cpus_per_run, max_retries=0)

    def follow(self, argv: list[str], run_folder: Path, environment: dict[str, str]) -> tuple[Iterator[tuple], Callable]:
        references = self.task.remote(argv, run_folder, environment)

        def items() -> Iterator[tuple]:
            try:
                for reference in references:
                    yield self.ray.get(reference)
            except self.ray.exceptions.RayError as err:
                raise TrialFailed(f"its Ray task failed: {str(err).splitlines()[0]}") from None

        return items(), lambda: self.ray.cancel(references)


def aggregate(values: list[float], objective: str) -> float:
    if objective == "iqm" and len(values) >= 4:
        ordered, cut = sorted(values), len(values) // 4
        values = ordered[cut:len(ordered) - cut]
    return sum(values) / len(values)


class Objective:
    """A trial: its options drawn from the space, then each seed's run of the real script in turn."""

    def __init__(self, args: Args, fixed: list[str], dimensions: dict[str, Dimension], total_timesteps: int,
                 out: Path, stop_requested: threading.Event, runs: LocalRuns | RayRuns):
        self.args, self.fixed, self.dimensions, self.runs = args, fixed, dimensions, runs
        self.total_timesteps, self.out, self.stop_requested = max(total_timesteps, 1), out, stop_requested
        self.environment = child_environment(args)  # --threads-per-run torch threads, unbuffered output

    def __call__(self, trial) -> float:
        try:
            return self.run_trial(trial)
        except TrialFailed as failure:
            trial.set_user_attr("failure", str(failure))
            raise

    def run_trial(self, trial) -> float:
        import optuna

        params = {name: dimension.suggest(trial) for name, dimension in self.dimensions.items()}
        trial_out = self.out / "trials" / f"{trial.number:04d}"
        finals = []
        for index, seed in enumerate(self.args.seeds):
            cell = Cell(self.args.algorithm, self.args.env_id, seed, [*self.fixed, *suite_options(params)])
            argv = [*command(cell, trial_out, self.args.device), "--no-progress"]
            items, stop_run = self.runs.follow(argv, cell.folder(trial_out), self.environment)
            exit_status, summary, tail = None, None, ""
            for item in items:
                if self.stop_requested.is_set():
                    stop_run()
                    trial.set_user_attr("interrupted", True)
                    raise TrialFailed("interrupted")
                if item[0] == "eval":
                    _, step, value = item
                    trial.report(value, index * self.total_timesteps + step)
                    if trial.should_prune():
                        stop_run()
                        raise optuna.TrialPruned(f"seed {seed}: {value:g} at step {step}")
                elif item[0] == "end":
                    _, exit_status, summary, tail = item
            if exit_status != 0 or summary is None or summary["status"] != "completed":
                raise TrialFailed(f"seed {seed} exited with {exit_status}: {tail.splitlines()[-1] if tail else ''}")
            finals.append(summary["eval_mean"])
            trial.set_user_attr(f"seed_{seed}", summary["eval_mean"])
        value = aggregate(finals, self.args.objective)
        if not math.isfinite(value):
            raise TrialFailed(f"non-finite value {value}")
        return value


# ---- the study ---------------------------------------------------------------------------


def finished(study) -> int:
    """Trials that count towards --trials: completed, pruned, or failed on their own (not interrupted)."""
    import optuna

    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL)
    return sum(trial.state in states and not trial.user_attrs.get("interrupted") for trial in study.trials)


def make_pruner(args: Args):
    import optuna

    if args.pruner == "none":
        return optuna.pruners.NopPruner()
    if args.pruner == "halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=args.startup_trials)


def best_entry(args: Args, fixed: list[str], best_params: dict, value: float) -> str:
    """The best trial as a suite-file entry (benchmarks/suites/*.toml)."""
    module = load_algorithm(args.algorithm)
    tuned = parse_with(module, ["--env-id", args.env_id, *fixed, *suite_options(best_params)], "best options")
    defaults = module.Args(env_id=args.env_id)
    lines = [f"# {args.objective} {value:g} over seeds {' '.join(map(str, args.seeds))} (benchmarks/tune.py)",
             f'[{args.algorithm}."{args.env_id}"]' if "/" in args.env_id else f"[{args.algorithm}.{args.env_id}]",
             "seeds = 5", f"[{args.algorithm}.{args.env_id}.args]"]
    for field in dataclasses.fields(tuned):
        value_ = getattr(tuned, field.name)
        if field.name in SWEEP_FLAGS or value_ == getattr(defaults, field.name):
            continue
        lines.append(f"{field.name} = {toml_value(value_)}")
    return "\n".join(lines) + "\n"


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)


def write_trials_csv(study, path: Path) -> None:
    """A row per trial: number, state, value, seconds, params_NAME per option, then each seed's final
    evaluation (seed_N) and how far a pruned trial got (its last reported step)."""
    params = sorted({name for trial in study.trials for name in trial.params})
    seeds = sorted({name for trial in study.trials for name in trial.user_attrs if name.startswith("seed_")})
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["number", "state", "value", "seconds", *(f"params_{name}" for name in params), *seeds,
                         "last_step"])
        for trial in study.trials:
            seconds = (trial.datetime_complete - trial.datetime_start).total_seconds() if trial.datetime_complete else ""
            writer.writerow([trial.number, trial.state.name, "" if trial.value is None else trial.value, seconds,
                             *(trial.params.get(name, "") for name in params),
                             *(trial.user_attrs.get(name, "") for name in seeds),
                             trial.last_step if trial.last_step is not None else ""])


def write_outputs(study, args: Args, fixed: list[str], out: Path) -> None:
    import matplotlib
    import optuna

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)

    write_trials_csv(study, out / "trials.csv")
    completed = [trial for trial in study.trials if trial.state == optuna.trial.TrialState.COMPLETE]
    if not completed:
        print(f"tune: no trial completed; trials in {out / 'trials.csv'}")
        return
    (out / "best.toml").write_text(best_entry(args, fixed, study.best_params, study.best_value))
    optuna.visualization.matplotlib.plot_optimization_history(study)
    plt.gcf().set_size_inches(8, 5)
    plt.savefig(out / "history.png", dpi=100, bbox_inches="tight")
    plt.close("all")
    if len(completed) >= 2 and len(study.best_params) >= 1:
        try:
            optuna.visualization.matplotlib.plot_param_importances(study)
            plt.gcf().set_size_inches(8, 5)
            plt.savefig(out / "importances.png", dpi=100, bbox_inches="tight")
        except (RuntimeError, ValueError) as err:  # every completed trial had the same value, or too few
            print(f"tune: no importances plot: {err}")
        plt.close("all")
    print(f"best trial {study.best_trial.number}: {args.objective} {study.best_value:g} with "
          + ", ".join(f"{name} {value!r}" for name, value in study.best_params.items()))
    print(f"study in {out}: trials.csv, history.png, best.toml")


def main(args: Args) -> int:
    """Run the study; returns the exit status: 0 done, 130 interrupted."""
    fixed, dimensions = load_space(args)
    script_args = check_space(args, fixed, dimensions)
    try:
        import optuna
    except ImportError:
        raise UsageError('benchmarks/tune.py needs optuna: pip install -e ".[tune]"') from None
    ray = connect_ray(args) if args.backend == "ray" else None
    out = Path(args.out or Path("runs") / "tune" / args.algorithm / args.env_id.replace("/", "_"))
    out.mkdir(parents=True, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # a failed trial's cause is in its own line (report_trial)
    study = optuna.create_study(
        study_name=args.study_name or f"{args.algorithm}-{args.env_id}", storage=f"sqlite:///{out.resolve() / 'study.db'}",
        load_if_exists=True, direction="maximize", sampler=optuna.samplers.TPESampler(seed=args.sampler_seed),
        pruner=make_pruner(args))
    remaining = args.trials - finished(study)
    print(f"tune: {args.algorithm} on {args.env_id}, {finished(study)} trials finished, {max(remaining, 0)} to run, "
          f"seeds {' '.join(map(str, args.seeds))}, into {out}", flush=True)
    stop_requested = threading.Event()
    runs = LocalRuns() if ray is None else RayRuns(ray, args.cpus_per_run)
    objective = Objective(args, fixed, dimensions, script_args.total_timesteps, out.resolve(), stop_requested, runs)

    def request_stop(signum, frame) -> None:
        stop_requested.set()

    def stop_if_requested(study, trial) -> None:
        # here, not in the signal handler: optuna stops a study only from a trial's thread
        if stop_requested.is_set():
            study.stop()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if remaining > 0:
            study.optimize(objective, n_trials=remaining, n_jobs=args.workers, catch=(TrialFailed,),
                           callbacks=[report_trial, stop_if_requested])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if ray is not None:
            ray.shutdown()
    write_outputs(study, args, fixed, out)
    if stop_requested.is_set():
        print(f"tune: interrupted; {finished(study)} trials kept in {out / 'study.db'}", file=sys.stderr)
        return 130
    return 0


def report_trial(study, trial) -> None:
    value = "" if trial.value is None else f" {trial.value:g}"
    failure = f" ({trial.user_attrs['failure']})" if "failure" in trial.user_attrs else ""
    print(f"trial {trial.number}: {trial.state.name.lower()}{value}{failure} "
          + ", ".join(f"{name} {value!r}" for name, value in trial.params.items()), flush=True)


if __name__ == "__main__":
    try:
        sys.exit(main(tyro.cli(Args)))
    except UsageError as error:
        print(f"tune: error: {error}", file=sys.stderr)
        sys.exit(2)
