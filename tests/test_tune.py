"""benchmarks/tune.py through its real command line, on q_table.py and FrozenLake-v1 (a few
seconds a trial): a search that finds a better setting than its worst, pruning, resuming a
study that was stopped, and bad input."""

import csv
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tyro

from benchmarks import tune
from benchmarks.common import ROOT
from benchmarks.sweep_grid import tomllib
from tests.helpers import closed_port, run_benchmark

pytest.importorskip("optuna", reason="benchmarks/tune.py needs optuna (pip install -e '.[tune]')")

# 10,000 steps with an evaluation every 2,500: a trial takes a few seconds and reports three evaluations
# on the way; the final greedy success rate ranges from 0 to 0.74 over the learning rates searched
QUICK = ["--algorithm", "q_table", "--env-id", "FrozenLake-v1", "--seeds", "1",
         "--extra=--total-timesteps 10000 --eval-frequency 2500 --eval-episodes 100"]


def run_tune(*cli_args: str, cwd: Path, quick: list[str] = QUICK) -> subprocess.CompletedProcess:
    return run_benchmark("tune", *quick, *cli_args, cwd=cwd, timeout=300)


def trials(out: Path) -> list[dict]:
    with open(out / "trials.csv") as file:
        return list(csv.DictReader(file))


def test_search_finds_a_better_setting_than_its_worst_and_writes_its_outputs(tmp_path):
    result = run_tune("--trials", "5", "--pruner", "none", "--out", "study",
                  "--space", "learning_rate=0.001:1.0:log", "end_e=0.0,0.5", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = trials(tmp_path / "study")
    values = [float(row["value"]) for row in rows if row["state"] == "COMPLETE"]
    assert len(rows) == 5 and len(values) == 5
    assert max(values) > min(values) + 0.1, values
    entry = tomllib.loads((tmp_path / "study" / "best.toml").read_text())["q_table"]["FrozenLake-v1"]
    best = max(rows, key=lambda row: float(row["value"]))
    assert entry["args"]["learning_rate"] == pytest.approx(float(best["params_learning_rate"]))
    assert entry["args"]["total_timesteps"] == 10000
    assert (tmp_path / "study" / "history.png").stat().st_size > 0
    assert (tmp_path / "study" / "importances.png").stat().st_size > 0
    # each trial ran the real script, its run folder where a sweep's would be
    summaries = list((tmp_path / "study" / "trials").glob("*/runs/q_table/FrozenLake-v1/seed_1/*/summary.json"))
    assert len(summaries) == 5
    assert f"best trial {best['number']}" in result.stdout


@pytest.mark.parametrize("backend", ["local", "ray"])
def test_the_pruner_stops_a_trial_that_trails_at_an_evaluation(tmp_path, backend):
    if backend == "ray":
        pytest.importorskip("ray", reason="Ray is not installed (pip install 'ray[default]')")
    # A learning rate of 0 leaves the table at zero, so its evaluations trail the learning trial's
    # from the first on which it succeeds. TPE's draws with sampler seed 0: 0.5, then 0.
    (tmp_path / "space.toml").write_text("""
[q_table.FrozenLake-v1]
args = { exploration_fraction = 0.5, end_e = 0.0 }
[q_table.FrozenLake-v1.space]
learning_rate = { choices = [0.0, 0.5] }
""")
    # 100,000 steps, so that a pruned run is still going when the tuner, polling every half second, stops it
    # (10,000 steps could end inside a poll, or while the tuner waits for a busy CPU)
    longer = [*QUICK[:-1], "--extra=--total-timesteps 100000 --eval-frequency 2500 --eval-episodes 100"]
    result = run_tune("--trials", "2", "--startup-trials", "1", "--sampler-seed", "0", "--space-file", "space.toml",
                      "--out", "study", "--backend", backend, cwd=tmp_path, quick=longer)
    assert result.returncode == 0, result.stderr
    rows = trials(tmp_path / "study")
    assert [float(row["params_learning_rate"]) for row in rows] == [0.5, 0.0]
    assert [row["state"] for row in rows] == ["COMPLETE", "PRUNED"]
    assert int(rows[1]["last_step"]) <= 10000
    if backend == "local":  # stopped before its run's end: no summary (a Ray task's stop: the test below)
        run = tmp_path / "study" / "trials" / "0001" / "runs" / "q_table" / "FrozenLake-v1" / "seed_1"
        assert run.exists() and not list(run.glob("*/summary.json"))


def test_a_ray_run_streams_its_evaluations_and_stops_when_cancelled(tmp_path):
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'ray[default]')")
    folder = tmp_path / "run"
    # 2,000,000 steps: about two minutes, so the run is still going when it is cancelled
    argv = [sys.executable, str(ROOT / "algos" / "q_table.py"), "--env-id", "FrozenLake-v1", "--total-timesteps",
            "2000000", "--eval-frequency", "2500", "--eval-episodes", "10", "--log-dir", str(folder), "--no-progress"]

    def running() -> bool:
        return subprocess.run(["pgrep", "-f", str(folder)], capture_output=True).returncode == 0

    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, logging_level="error")
    try:
        items, stop_run = tune.RayRuns(ray, 1.0).follow(argv, folder, {"OMP_NUM_THREADS": "1"})
        kinds = []
        for item in items:
            kinds.append(item[0])
            if item[0] == "eval":
                break
        assert kinds[0] == "running" and kinds[-1] == "eval" and running()
        stop_run()
        deadline = time.monotonic() + 30
        while running() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not running() and not list(folder.glob("*/summary.json"))
    finally:
        ray.shutdown()


def test_a_failing_trial_is_recorded_as_failed_and_the_study_goes_on(tmp_path):
    # q_table.py refuses --eval-episodes 0 with exit status 2
    result = run_tune("--trials", "3", "--sampler-seed", "0", "--pruner", "none", "--out", "study",
                  "--space", "eval_episodes=100,0", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = trials(tmp_path / "study")
    assert len(rows) == 3 and {row["params_eval_episodes"] for row in rows} == {"0", "100"}
    for row in rows:
        assert row["state"] == ("FAIL" if row["params_eval_episodes"] == "0" else "COMPLETE")
        assert f"trial {row['number']}: {row['state'].lower()}" in result.stdout


def test_a_stopped_study_resumes_without_repeating_finished_trials(tmp_path):
    # two trials at a time: the Ctrl-C reaches the main thread while the trials run in others
    command = [sys.executable, str(ROOT / "benchmarks" / "tune.py"), *QUICK, "--pruner", "none", "--out", "study",
               "--space", "learning_rate=0.01:1.0:log", "--workers", "2"]
    process = subprocess.Popen([*command, "--trials", "50"], cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    seen = []
    while len(seen) < 2:  # two trials finished, a third running
        line = process.stdout.readline()
        assert line, process.stderr.read()
        seen += [line] if line.startswith("trial ") else []
    time.sleep(1.0)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130 and "interrupted" in stderr, stderr
    first = {row["number"]: row for row in trials(tmp_path / "study") if row["state"] == "COMPLETE"}
    assert len(first) >= 2

    again = subprocess.run([*command, "--trials", str(len(first) + 1)], cwd=tmp_path, capture_output=True, text=True,
                           timeout=120)
    assert again.returncode == 0, again.stderr
    assert f"{len(first)} trials finished, 1 to run" in again.stdout
    rows = trials(tmp_path / "study")
    complete = {row["number"]: row for row in rows if row["state"] == "COMPLETE"}
    assert len(complete) == len(first) + 1
    for number, row in first.items():  # the finished trials kept their values
        assert complete[number]["value"] == row["value"]


@pytest.mark.parametrize("cli_args, message", [
    (["--algorithm", "q_tabel"], "unknown algorithm 'q_tabel'; did you mean q_table?"),
    (["--space", "learning_rate=1.0:0.1"], "learning_rate's range 1:0.1 is empty or inverted"),
    (["--space", "learning_rat=0.1:1.0"], "q_table.py has no option --learning-rat; did you mean --learning-rate?"),
    (["--space", "learning_rate=0:1:log"], "log range needs LOW > 0"),
    (["--space", "learning_rate"], "expected NAME=LOW:HIGH[:log] or NAME=A,B,C"),
    (["--space", "total_timesteps=1000.5:2000"], "total_timesteps is an int option"),
    (["--trials", "0"], "--trials must be positive"),
    (["--extra=--gamma x"], "q_table.py options"),
    (["--space-file", "missing.toml"], "--space-file 'missing.toml': no such file"),
    (["--cpus-per-run", "0"], "--cpus-per-run must be positive"),
    (["--backend", "ray", "--ray-address", "127.0.0.1:{port}"], "cannot reach a Ray cluster at 127.0.0.1:"),
])
def test_bad_input_is_refused_before_anything_is_written(tmp_path, cli_args, message, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if "ray" in cli_args:
        pytest.importorskip("ray", reason="Ray is not installed (pip install 'ray[default]')")
        cli_args = [arg.format(port=closed_port()) for arg in cli_args]
    with pytest.raises(tune.UsageError, match=re.escape(message)):
        tune.main(tyro.cli(tune.Args, args=[*QUICK, "--out", "study", *cli_args]))
    assert not (tmp_path / "study").exists()


def test_bad_input_on_the_command_line_is_one_line_and_exit_status_2(tmp_path):
    result = run_benchmark("tune", *QUICK, "--out", "study", "--space", "learning_rate=1.0:0.1", cwd=tmp_path, timeout=60)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and "empty or inverted" in lines[0], result.stderr
    assert not (tmp_path / "study").exists()
