"""Results of a sweep (benchmarks/sweep.py's output folder): a markdown table, CSV files and
learning-curve plots, read from the runs' summary.json files and TensorBoard events;
nothing is re-run.

    python benchmarks/report.py                     # runs/sweeps/classic -> benchmarks/results/classic/
    python benchmarks/report.py --sweep runs/sweeps/cartpole --results /tmp/cartpole

Writes into the results folder:
- results.md: per algorithm × env, the final greedy evaluation (mean ± std over seeds), the
  interquartile mean of the seeds with a 95% bootstrap confidence interval, the seeds that
  reach the suite's threshold, steps, median wall time and SPS, the suite's reference
  numbers; then every run that is missing or failed, and the plots.
- results.csv: the same, unrounded; runs.csv: one row per run.
- curves_{env}.png: evaluation return against env steps and against wall time, one line per
  algorithm, its mean over seeds with a band of ± one std.

Works on a partial sweep: a row covers the seeds that completed, the list names the others.
"""

import csv
import io
import json
import os
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

if __package__ in (None, ""):  # run as `python benchmarks/report.py`: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import matplotlib  # noqa: E402
import numpy as np  # noqa: E402
import tyro  # noqa: E402
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the file-only backend)

EVAL_TAG = "eval/episodic_return"


@dataclass
class Args:
    sweep: str = "runs/sweeps/classic"
    """a sweep's output folder (sweep.py's --out)"""
    results: str | None = None
    """folder for the table, the CSV files and the plots; None is benchmarks/results/{suite name}"""
    bootstrap_samples: int = 10_000
    """resamples of the seeds for the confidence interval of the interquartile mean"""
    confidence: float = 0.95
    """coverage of the confidence interval"""
    seed: int = 0
    """seed of the bootstrap"""


class UsageError(Exception):
    """Bad input: reported as one line on stderr with exit status 2."""


# ---- statistics --------------------------------------------------------------------------


def interquartile_mean(values: np.ndarray) -> np.ndarray:
    """Mean of the middle half of the last axis: floor(n/4) values cut from each end of the
    sorted values, as scipy's trim_mean(values, 0.25) (rliable's IQM). (..., n) -> (...)."""
    n = values.shape[-1]
    cut = n // 4
    return np.sort(values, axis=-1)[..., cut:n - cut].mean(axis=-1)


def bootstrap_interval(values: np.ndarray, statistic: Callable[[np.ndarray], np.ndarray], samples: int,
                       confidence: float, rng: np.random.Generator) -> tuple[float, float]:
    """Percentile bootstrap: the statistic of `samples` resamples of values (n,) drawn with
    replacement, and the (1 − confidence)/2 and (1 + confidence)/2 quantiles of those."""
    resamples = values[rng.integers(len(values), size=(samples, len(values)))]
    low, high = np.quantile(statistic(resamples), [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(low), float(high)


def mean_band(curves: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, mean, std) over seeds of curves given as (x, y) each: every curve interpolated
    linearly onto the union of their x within the range that all of them cover."""
    grid = np.unique(np.concatenate([x for x, _ in curves]))
    covered = grid[(grid >= max(x[0] for x, _ in curves)) & (grid <= min(x[-1] for x, _ in curves))]
    grid = covered if covered.size else grid
    ys = np.stack([np.interp(grid, x, y) for x, y in curves])
    return grid, ys.mean(axis=0), ys.std(axis=0)


# ---- reading the sweep -------------------------------------------------------------------


@dataclass
class Run:
    """One cell of the sweep as sweep.json records it, with its summary.json when it completed."""

    cell: dict
    summary: dict | None
    run_dir: Path | None

    @property
    def completed(self) -> bool:
        return self.summary is not None

    def eval_curve(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(env steps, wall seconds since the run started, greedy return) of every evaluation."""
        events = EventAccumulator(str(self.run_dir), size_guidance={"scalars": 0})
        events.Reload()
        if EVAL_TAG not in events.Tags()["scalars"]:
            return np.array([]), np.array([]), np.array([])
        scalars = events.Scalars(EVAL_TAG)
        start = events.FirstEventTimestamp()
        return (np.array([s.step for s in scalars], dtype=float), np.array([s.wall_time - start for s in scalars]),
                np.array([s.value for s in scalars]))


def read_sweep(folder: Path) -> tuple[dict, list[Run]]:
    """sweep.json and a Run per cell; a cell counts as completed when the record says so and
    its run folder holds a summary.json that says so too."""
    record_path = folder / "sweep.json"
    if not record_path.is_file():
        raise UsageError(f"{folder} holds no sweep.json: not a sweep folder (sweep.py --out)")
    record = json.loads(record_path.read_text())
    runs = []
    for cell in record["cells"]:
        summary, run_dir = None, None
        for path in sorted((folder / cell["folder"]).glob("*/summary.json")):
            candidate = json.loads(path.read_text())
            if cell["status"] == "completed" and candidate.get("status") == "completed":
                summary, run_dir = candidate, path.parent
        runs.append(Run(cell, summary, run_dir))
    return record, runs


def missing_note(run: Run) -> str:
    cell = run.cell
    name = f"{cell['algo']}.py, {cell['env_id']}, seed {cell['seed']}"
    last_line = cell["log_tail"].splitlines()[-1] if cell["log_tail"] else ""
    if cell["status"] == "failed":
        return f"{name}: failed, exit status {cell['exit_code']}: {last_line}"
    if cell["status"] == "interrupted":
        return f"{name}: interrupted (the sweep was stopped)"
    if cell["status"] == "running":
        return f"{name}: did not finish (the sweep stopped while it ran)"
    if cell["status"] == "completed":
        return f"{name}: recorded as completed, but its summary.json is missing"
    return f"{name}: not run yet"


# ---- the table ---------------------------------------------------------------------------


def row_numbers(runs: list[Run], args: Args, rng: np.random.Generator) -> dict:
    """The numbers of one algorithm × env over its completed seeds."""
    cell = runs[0].cell
    done = [run for run in runs if run.completed]
    row = {"algorithm": cell["algo"], "env_id": cell["env_id"], "seeds_completed": len(done), "seeds": len(runs),
           "eval_mean": None, "eval_std": None, "iqm": None, "iqm_ci_low": None, "iqm_ci_high": None,
           "threshold": cell.get("threshold"), "seeds_at_threshold": None, "steps": None,
           "wall_seconds_median": None, "sps_median": None, "reference": cell.get("reference", "")}
    if not done:
        return row
    evals = np.array([run.summary["eval_mean"] for run in done], dtype=float)
    low, high = bootstrap_interval(evals, interquartile_mean, args.bootstrap_samples, args.confidence, rng)
    row.update(eval_mean=float(evals.mean()), eval_std=float(evals.std()), iqm=float(interquartile_mean(evals)),
               iqm_ci_low=low, iqm_ci_high=high)
    if row["threshold"] is not None:
        row["seeds_at_threshold"] = int((evals >= row["threshold"]).sum())
    steps = [run.summary["global_step"] for run in done if "global_step" in run.summary]
    walls = [run.cell["wall_seconds"] for run in done if run.cell.get("wall_seconds") is not None]
    sps = [run.summary["sps"] for run in done if "sps" in run.summary]
    row.update(steps=int(statistics.median(steps)) if steps else None,
               wall_seconds_median=statistics.median(walls) if walls else None,
               sps_median=statistics.median(sps) if sps else None)
    return row


def number(value: float, digits: int) -> str:
    return f"{value:,.{digits}f}".replace("-", "−")


def markdown_row(row: dict) -> str:
    if row["eval_mean"] is None:
        evaluation = iqm = "–"
    else:
        digits = 3 if abs(row["eval_mean"]) < 20 else 1
        evaluation = f"{number(row['eval_mean'], digits)} ± {number(row['eval_std'], digits)}"
        iqm = (f"{number(row['iqm'], digits)} [{number(row['iqm_ci_low'], digits)}, "
               f"{number(row['iqm_ci_high'], digits)}]")
    seeds = f"{row['seeds_completed']} of {row['seeds']}"
    threshold = "–" if row["seeds_at_threshold"] is None else \
        f"{row['seeds_at_threshold']} of {row['seeds_completed']} ≥ {row['threshold']:g}".replace("-", "−")
    steps = "–" if row["steps"] is None else f"{row['steps']:,}"
    wall = "–" if row["wall_seconds_median"] is None else f"{row['wall_seconds_median']:.0f} s"
    sps = "–" if row["sps_median"] is None else f"{row['sps_median']:,.0f}"
    cells = [f"{row['algorithm']}.py", row["env_id"], seeds, evaluation, iqm, threshold, steps, wall, sps,
             row["reference"] or "–"]
    return "| " + " | ".join(cells) + " |"


def write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def csv_text(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


# ---- the plots ---------------------------------------------------------------------------


def plot_env(env_id: str, runs: list[Run], path: Path) -> bool:
    """Learning curves of every algorithm on env_id into path; False when no run has any."""
    figure, (by_steps, by_time) = plt.subplots(1, 2, figsize=(12, 4.5))
    drawn = False
    for index, algo in enumerate(dict.fromkeys(run.cell["algo"] for run in runs)):
        color = f"C{index % 10}"
        done = [run for run in runs if run.cell["algo"] == algo and run.completed]
        if done and all("global_step" not in run.summary for run in done):  # a planner: it steps no env to learn
            level = float(np.mean([run.summary["eval_mean"] for run in done]))
            by_steps.axhline(level, linestyle="--", color=color, label=f"{algo}.py ({len(done)} seeds), planned")
            by_time.axhline(level, linestyle="--", color=color)
            drawn = True
            continue
        curves = [curve for curve in map(Run.eval_curve, done) if curve[0].size]
        if not curves:
            continue
        drawn = True
        for axes, x_index in ((by_steps, 0), (by_time, 1)):
            x, mean, std = mean_band([(curve[x_index], curve[2]) for curve in curves])
            axes.plot(x, mean, color=color, marker="o" if x.size == 1 else None,
                      label=f"{algo}.py ({len(curves)} seeds)" if axes is by_steps else None)
            axes.fill_between(x, mean - std, mean + std, color=color, alpha=0.2, linewidth=0)
    by_steps.set(xlabel="environment steps", ylabel="greedy evaluation return", title=f"{env_id}: return vs steps")
    by_time.set(xlabel="wall time of the run (s)", title=f"{env_id}: return vs wall time")
    for axes in (by_steps, by_time):
        axes.grid(alpha=0.3)
    if drawn:
        by_steps.legend(fontsize="small")
        figure.text(0.5, 0.01, "mean over seeds, band ± one std", ha="center", fontsize="small")
        figure.tight_layout(rect=(0, 0.03, 1, 1))
        temporary = path.with_name(path.stem + ".tmp.png")
        figure.savefig(temporary, dpi=100)
        os.replace(temporary, path)
    plt.close(figure)
    return drawn


# ---- main --------------------------------------------------------------------------------


def main(args: Args) -> str:
    """Write the report; returns the markdown."""
    if args.bootstrap_samples <= 0 or not 0 < args.confidence < 1:
        raise UsageError("--bootstrap-samples must be positive and --confidence in (0, 1)")
    record, runs = read_sweep(Path(args.sweep))
    results = Path(args.results or f"benchmarks/results/{record.get('suite') or 'sweep'}")
    results.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)

    groups: dict[tuple[str, str], list[Run]] = {}
    for run in runs:
        groups.setdefault((run.cell["algo"], run.cell["env_id"]), []).append(run)
    rows = [row_numbers(group, args, rng) for group in groups.values()]
    per_run = [{"algorithm": run.cell["algo"], "env_id": run.cell["env_id"], "seed": run.cell["seed"],
                "status": run.cell["status"], "exit_code": run.cell["exit_code"],
                "eval_mean": run.summary["eval_mean"] if run.completed else None,
                "eval_std": run.summary["eval_std"] if run.completed else None,
                "steps": run.summary.get("global_step") if run.completed else None,
                "wall_seconds": run.cell.get("wall_seconds"), "sps": run.summary.get("sps") if run.completed else None,
                "run_dir": str(run.run_dir.relative_to(Path(args.sweep))) if run.completed else ""} for run in runs]

    plots = []
    for env_id in dict.fromkeys(run.cell["env_id"] for run in runs):
        path = results / f"curves_{env_id.replace('/', '_')}.png"
        if plot_env(env_id, [run for run in runs if run.cell["env_id"] == env_id], path):
            plots.append((env_id, path.name))

    machine = record.get("machine", {})
    lines = [f"# Sweep results: {record.get('suite') or 'sweep'}", ""]
    if record.get("description"):
        lines += [record["description"], ""]
    lines += ["| script | env | seeds completed | greedy eval (mean ± std) | IQM [95% CI] | seeds at threshold | steps "
              "| wall time (median) | SPS (median) | reference |",
              "|---|---|---|---|---|---|---|---|---|---|", *map(markdown_row, rows), "",
              f"Greedy eval: each seed's final greedy evaluation (the mean over its evaluation episodes), then "
              f"mean ± std over seeds. IQM: the interquartile mean of those seeds' values (rliable's), with a "
              f"{args.confidence:.0%} percentile-bootstrap confidence interval over seeds ({args.bootstrap_samples:,} "
              f"resamples, seed {args.seed}). Wall time: the whole run, as the sweep timed it; SPS: env steps per "
              f"second of the training loop.", ""]
    if record.get("command"):
        lines += [f"Command: `{record['command']}`", ""]
    if machine:
        lines += [f"Machine: {machine.get('cpu')}, {machine.get('cpu_count')} CPUs, {machine.get('platform')}; "
                  f"Python {machine.get('python')}, torch {machine.get('torch')}; {machine.get('backend')} backend, "
                  f"{machine.get('workers')} runs at a time, device {machine.get('device')}.", ""]
    missing = [missing_note(run) for run in runs if not run.completed]
    lines += ["## Missing or failed runs", ""] + ([f"- {note}" for note in missing] or ["None: every run completed."])
    lines += [""] + [f"![{env_id}]({name})" for env_id, name in plots]
    markdown = "\n".join(lines).rstrip() + "\n"

    write_atomically(results / "results.md", markdown)
    write_atomically(results / "results.csv", csv_text(rows))
    write_atomically(results / "runs.csv", csv_text(per_run))
    print(markdown)
    print(f"written to {results}: results.md, results.csv, runs.csv" + "".join(f", {name}" for _, name in plots))
    return markdown


if __name__ == "__main__":
    try:
        main(tyro.cli(Args))
    except UsageError as error:
        print(f"report.py: error: {error}", file=sys.stderr)
        sys.exit(2)
