"""benchmarks/report.py: its statistics on values with known answers, and the whole report
on a synthetic sweep folder (summary.json files and TensorBoard events written here)."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from torch.utils.tensorboard import SummaryWriter

from benchmarks.report import bootstrap_interval, interquartile_mean, mean_band
from tests.helpers import assert_rejected, run_benchmark


def test_interquartile_mean_cuts_a_quarter_from_each_end():
    assert interquartile_mean(np.array([1.0, 2.0, 3.0, 4.0, 1000.0])) == 3.0  # floor(5/4) = 1 cut each side
    assert interquartile_mean(np.arange(1.0, 9.0)) == 4.5  # mean of 3, 4, 5, 6
    assert interquartile_mean(np.array([1.0, 2.0, 9.0])) == 4.0  # three values: nothing to cut
    assert interquartile_mean(np.array([[4.0, 1.0, 3.0, 2.0], [0.0, 0.0, 8.0, 8.0]])).tolist() == [2.5, 4.0]


def test_bootstrap_interval_known_answers():
    rng = np.random.default_rng(0)
    assert bootstrap_interval(np.full(5, 7.0), interquartile_mean, 1000, 0.95, rng) == (7.0, 7.0)
    # two values: a resample's mean is 0, 0.5 or 1 with chances 1/4, 1/2, 1/4, so the 2.5% and
    # 97.5% quantiles are the extremes
    mean = lambda resamples: resamples.mean(axis=-1)  # noqa: E731
    assert bootstrap_interval(np.array([0.0, 1.0]), mean, 10_000, 0.95, rng) == (0.0, 1.0)
    # [1, 2, 3, 10]: the IQM of a resample is 1 (or 10) when three of its four draws are 1
    # (or 10), a chance of 13/256 = 5.1% each, more than the 2.5% in each tail
    assert bootstrap_interval(np.array([1.0, 2.0, 3.0, 10.0]), interquartile_mean, 10_000, 0.95, rng) == (1.0, 10.0)
    # many normal draws: the interval of the mean is the normal one, mean ± 1.96 σ/√n
    values = rng.normal(5.0, 2.0, size=400)
    low, high = bootstrap_interval(values, mean, 10_000, 0.95, rng)
    half_width = 1.96 * values.std() / np.sqrt(len(values))
    assert low == pytest.approx(values.mean() - half_width, abs=0.1 * half_width)
    assert high == pytest.approx(values.mean() + half_width, abs=0.1 * half_width)


def test_bootstrap_interval_is_seeded():
    values = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0])
    first = bootstrap_interval(values, interquartile_mean, 500, 0.95, np.random.default_rng(3))
    assert first == bootstrap_interval(values, interquartile_mean, 500, 0.95, np.random.default_rng(3))
    assert first[0] < interquartile_mean(values) < first[1]


def test_mean_band_interpolates_onto_the_range_all_seeds_cover():
    x, mean, std = mean_band([(np.array([0.0, 10.0, 20.0]), np.array([0.0, 10.0, 20.0])),
                              (np.array([5.0, 15.0]), np.array([10.0, 10.0]))])
    assert x.tolist() == [5.0, 10.0, 15.0]
    assert mean.tolist() == [7.5, 10.0, 12.5] and std.tolist() == [2.5, 0.0, 2.5]


def fake_run(sweep: Path, algo: str, seed: int, status: str, summary: dict | None = None,
             evals: list[tuple[int, float]] = (), **cell) -> dict:
    """A sweep.json cell, with a run folder holding summary.json and TensorBoard eval events."""
    folder = f"runs/{algo}/Env-v0/seed_{seed}"
    if summary is not None:
        run_dir = sweep / folder / f"Env-v0__{algo}__{seed}__1700000000"
        writer = SummaryWriter(str(run_dir))
        for step, value in evals:
            writer.add_scalar("eval/episodic_return", value, step)
        writer.close()
        (run_dir / "summary.json").write_text(json.dumps({"status": "completed", **summary}))
    return {"algo": algo, "env_id": "Env-v0", "seed": seed, "folder": folder, "status": status,
            "exit_code": 0 if status == "completed" else None, "log_tail": "", "wall_seconds": None,
            "reference": "", "threshold": None, **cell}


@pytest.fixture
def synthetic_sweep(tmp_path) -> Path:
    """a.py: four seeds with final evaluations 1, 2, 3, 10 (mean 4, std √12.5, IQM 2.5);
    b.py: one completed seed, one failed, one not run; c.py: a planner, one evaluation each."""
    sweep = tmp_path / "sweep"
    cells = [fake_run(sweep, "a", seed, "completed",
                      {"eval_mean": value, "eval_std": 0.5, "global_step": 1000, "sps": 100.0 * seed},
                      [(500, value / 2), (1000, value)], wall_seconds=[10, 20, 30, 1000][seed - 1],
                      reference="ref A", threshold=2.5)
             for seed, value in zip((1, 2, 3, 4), (1.0, 2.0, 3.0, 10.0))]
    cells += [fake_run(sweep, "b", 1, "completed", {"eval_mean": 5.0, "eval_std": 0.0, "global_step": 800, "sps": 50.0},
                       [(400, 1.0), (800, 5.0)], wall_seconds=12.0),
              fake_run(sweep, "b", 2, "failed", exit_code=1,
                       log_tail="step 200\nb.py: non-finite loss at step 300; logs kept in somewhere"),
              fake_run(sweep, "b", 3, "pending")]
    cells += [fake_run(sweep, "c", seed, "completed", {"eval_mean": -13.0, "eval_std": 0.0}, [(16, -13.0)])
              for seed in (1, 2)]
    (sweep / "sweep.json").write_text(json.dumps({"suite": "synthetic", "description": "known answers",
                                                  "command": "python benchmarks/sweep.py --suite synthetic",
                                                  "machine": {"cpu": "test CPU", "cpu_count": 2}, "cells": cells}))
    return sweep


def test_report_on_a_synthetic_sweep(synthetic_sweep, tmp_path):
    result = run_benchmark("report", "--sweep", str(synthetic_sweep), "--results", "results", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    results = tmp_path / "results"
    markdown = (results / "results.md").read_text()
    assert ("| a.py | Env-v0 | 4 of 4 | 4.000 ± 3.536 | 2.500 [1.000, 10.000] | 2 of 4 ≥ 2.5 | 1,000 | 25 s | 250 "
            "| ref A |") in markdown
    assert "| b.py | Env-v0 | 1 of 3 | 5.000 ± 0.000 | 5.000 [5.000, 5.000] | – | 800 | 12 s | 50 | – |" in markdown
    assert "| c.py | Env-v0 | 2 of 2 | −13.000 ± 0.000 | −13.000 [−13.000, −13.000] | – | – | – | – | – |" in markdown
    assert "- b.py, Env-v0, seed 2: failed, exit status 1: b.py: non-finite loss at step 300" in markdown
    assert "- b.py, Env-v0, seed 3: not run yet" in markdown
    assert "`python benchmarks/sweep.py --suite synthetic`" in markdown and "test CPU, 2 CPUs" in markdown
    with open(results / "results.csv") as file:
        rows = {row["algorithm"]: row for row in csv.DictReader(file)}
    a = rows["a"]
    assert (float(a["eval_mean"]), float(a["iqm"]), float(a["iqm_ci_low"]), float(a["iqm_ci_high"])) == (4, 2.5, 1, 10)
    assert float(a["eval_std"]) == pytest.approx(12.5 ** 0.5)
    assert (a["seeds_at_threshold"], a["wall_seconds_median"], a["sps_median"]) == ("2", "25.0", "250.0")
    with open(results / "runs.csv") as file:
        assert [(row["algorithm"], row["seed"], row["status"]) for row in csv.DictReader(file)][4:7] == [
            ("b", "1", "completed"), ("b", "2", "failed"), ("b", "3", "pending")]
    plot = results / "curves_Env-v0.png"
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "![Env-v0](curves_Env-v0.png)" in markdown


def test_a_folder_without_sweep_json_is_rejected(tmp_path):
    result = run_benchmark("report", "--sweep", "nowhere", cwd=tmp_path, timeout=60)
    assert_rejected(result, "nowhere holds no sweep.json: not a sweep folder", tmp_path)
    assert not (tmp_path / "benchmarks").exists()
