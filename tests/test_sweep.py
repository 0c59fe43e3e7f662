"""benchmarks/sweep.py through its real command line: a tiny grid (q_table and dqn on
CartPole-v1, two seeds, 400 steps) on the local backend with q_table's runs failing on a bad
option, then its resume on Ray with the option fixed; Ctrl-C; bad input; and
benchmarks/report.py on what each wrote."""

import csv
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks import report, sweep, sweep_backends, sweep_grid
from benchmarks.common import ROOT
from tests.helpers import assert_rejected, closed_port, run_benchmark

TINY_SUITE = """
[q_table.CartPole-v1]
seeds = 2
[q_table.CartPole-v1.args]
total_timesteps = 400
eval_frequency = 200
eval_episodes = {q_table_episodes}
bins = [1, 1, 6, 6]
obs_low = [-2.4, -3.0, -0.21, -3.0]
obs_high = [2.4, 3.0, 0.21, 3.0]

[dqn.CartPole-v1]
seeds = 2
[dqn.CartPole-v1.args]
total_timesteps = 400
eval_frequency = 200
eval_episodes = 2
learning_starts = 100
hidden_sizes = [16]
buffer_size = 1000
"""
BROKEN = TINY_SUITE.format(q_table_episodes=0)  # q_table.py exits with status 2
FIXED = TINY_SUITE.format(q_table_episodes=2)
# A run that ends in seconds beside one that would take hours.
SHORT_AND_LONG_SUITE = """
[value_iteration.FrozenLake-v1]
seeds = 1
args = { eval_episodes = 10 }

[q_table.FrozenLake-v1]
seeds = 1
args = { total_timesteps = 1_000_000_000 }
"""


def write_suite(folder: Path, name: str, text: str) -> str:
    path = folder / f"{name}.toml"
    path.write_text(text)
    return str(path)


def cells(out: Path) -> dict[tuple[str, int], dict]:
    return {(cell["algo"], cell["seed"]): cell for cell in json.loads((out / "sweep.json").read_text())["cells"]}


def run_folder(out: Path, algo: str, seed: int, env_id: str = "CartPole-v1") -> Path:
    (folder,) = [path for path in (out / "runs" / algo / env_id / f"seed_{seed}").iterdir() if path.is_dir()]
    return folder


@pytest.fixture(scope="module")
def broken_sweep(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """The tiny grid on the local backend, q_table's two runs failing on a bad option."""
    folder = tmp_path_factory.mktemp("sweep")
    result = run_benchmark("sweep", "--suite", write_suite(folder, "tiny", BROKEN), "--out", "out",
                           "--workers", "2", "--batched-min-seeds", "1", cwd=folder)
    return folder / "out", result


def test_a_failing_run_is_recorded_and_the_others_complete(broken_sweep):
    out, result = broken_sweep
    assert result.returncode == 1, result.stderr
    assert "0 already finished, 4 to run" in result.stdout and "2 of 4 runs completed" in result.stdout
    record = cells(out)
    for seed in (1, 2):
        assert record["dqn", seed]["status"] == "completed"
        assert json.loads((run_folder(out, "dqn", seed) / "summary.json").read_text())["global_step"] == 400
        failed = record["q_table", seed]
        assert failed["status"] == "failed" and failed["exit_code"] == 2
        assert "q_table.py: error: --eval-episodes must be positive, got 0" in failed["log_tail"]
        log = (out / failed["folder"] / "run.log").read_text().splitlines()
        assert log[0] == failed["command"] and "algos/q_table.py" in log[0] and f"--seed {seed}" in log[0]
    assert result.stderr.count("failed: q_table CartPole-v1") == 2
    # dqn's two seeds ran as the members of one batched process, each into its own cell folder
    assert record["dqn", 1]["command"] == record["dqn", 2]["command"]
    assert "benchmarks/batched.py --algorithm dqn" in record["dqn", 1]["command"]
    assert "--seeds 1 2" in record["dqn", 1]["command"]
    for seed in (1, 2):
        assert (out / record["dqn", seed]["folder"] / "run.log").read_text().startswith(record["dqn", 1]["command"])


def test_report_on_a_partial_sweep_names_the_failed_runs(broken_sweep, tmp_path):
    out, _ = broken_sweep
    report.main(report.Args(sweep=str(out), results=str(tmp_path / "results")))
    markdown = (tmp_path / "results" / "results.md").read_text()
    assert "| q_table.py | CartPole-v1 | 0 of 2 | – |" in markdown and "| dqn.py | CartPole-v1 | 2 of 2 |" in markdown
    for seed in (1, 2):
        assert (f"- q_table.py, CartPole-v1, seed {seed}: failed, exit status 2: q_table.py: error: --eval-episodes "
                f"must be positive, got 0") in markdown
    with open(tmp_path / "results" / "results.csv") as file:
        rows = {row["algorithm"]: row for row in csv.DictReader(file)}
    assert rows["q_table"]["seeds_completed"] == "0" and rows["dqn"]["seeds_completed"] == "2"
    assert rows["q_table"]["eval_mean"] == ""
    assert (tmp_path / "results" / "curves_CartPole-v1.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_narrowed_rerun_keeps_the_other_cells_records(broken_sweep, tmp_path):
    """The same sweep again with --algos dqn: nothing to run, and q_table's failed cells and
    the wall times of dqn's stay in sweep.json for the report."""
    out = tmp_path / "out"
    shutil.copytree(broken_sweep[0], out)
    before = cells(out)
    result = run_benchmark("sweep", "--suite", write_suite(tmp_path, "tiny", BROKEN), "--out", "out", "--algos", "dqn",
                           cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 already finished, 0 to run" in result.stdout
    after = cells(out)
    assert list(after) == list(before)  # q_table's cells first, as the suite lists them
    for seed in (1, 2):
        assert after["q_table", seed] == before["q_table", seed]
        assert after["dqn", seed]["status"] == "completed"
        assert after["dqn", seed]["wall_seconds"] == before["dqn", seed]["wall_seconds"] > 0


def test_resume_on_ray_runs_only_the_failed_cells_then_report(broken_sweep, tmp_path):
    """The broken sweep, copied, run again with q_table's option fixed: dqn's finished runs are
    kept as they are, q_table's run again (the log of the failed attempt kept beside)."""
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'ray[default]')")
    out = tmp_path / "out"
    shutil.copytree(broken_sweep[0], out)
    kept = {seed: run_folder(out, "dqn", seed) for seed in (1, 2)}
    kept_times = {seed: (folder / "summary.json").stat().st_mtime_ns for seed, folder in kept.items()}
    result = run_benchmark("sweep", "--suite", write_suite(tmp_path, "tiny", FIXED), "--out", "out", "--workers", "2",
                           "--backend", "ray", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 already finished, 2 to run" in result.stdout and "4 of 4 runs completed" in result.stdout
    record = cells(out)
    for seed in (1, 2):
        assert run_folder(out, "dqn", seed) == kept[seed]
        assert (kept[seed] / "summary.json").stat().st_mtime_ns == kept_times[seed]
        retried = record["q_table", seed]
        assert retried["status"] == "completed" and retried["attempts"] == 2
        assert "--eval-episodes must be positive" in (out / retried["folder"] / "attempt_1.log").read_text()
        summary = json.loads((run_folder(out, "q_table", seed) / "summary.json").read_text())
        assert summary["status"] == "completed" and summary["eval_returns"] and summary["global_step"] == 400

    report.main(report.Args(sweep=str(out), results=str(tmp_path / "results")))
    markdown = (tmp_path / "results" / "results.md").read_text()
    for algo in ("q_table", "dqn"):
        assert f"| {algo}.py | CartPole-v1 | 2 of 2 |" in markdown
    assert "None: every run completed." in markdown
    with open(tmp_path / "results" / "runs.csv") as file:
        runs = list(csv.DictReader(file))
    assert [(run["algorithm"], run["seed"], run["status"], run["steps"]) for run in runs] == [
        ("q_table", "1", "completed", "400"), ("q_table", "2", "completed", "400"),
        ("dqn", "1", "completed", "400"), ("dqn", "2", "completed", "400")]
    assert (tmp_path / "results" / "curves_CartPole-v1.png").stat().st_size > 10_000


def test_ctrl_c_stops_the_runs_and_keeps_the_finished_ones(tmp_path):
    suite = write_suite(tmp_path, "long", SHORT_AND_LONG_SUITE)
    # Ctrl-C as in a terminal's foreground: a test suite started in the background (`&` in a
    # script) hands its children SIGINT ignored, which sweep.py rightly keeps.
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "benchmarks" / "sweep.py"), "--suite", suite, "--out", "out", "--workers", "2"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            record = tmp_path / "out" / "sweep.json"
            if record.exists() and cells(tmp_path / "out")["value_iteration", 1]["status"] == "completed":
                break
            time.sleep(0.2)
        assert cells(tmp_path / "out")["q_table", 1]["status"] == "running"
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    finally:  # a failed check must not leave the sweep's endless run behind
        if process.poll() is None:
            process.terminate()
            process.communicate(timeout=30)
    assert process.returncode == 130, stdout + stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    record = cells(tmp_path / "out")
    assert record["value_iteration", 1]["status"] == "completed" and record["q_table", 1]["status"] == "interrupted"
    assert (run_folder(tmp_path / "out", "value_iteration", 1, "FrozenLake-v1") / "summary.json").exists()
    assert not processes_mentioning(str(tmp_path))


def processes_mentioning(text: str) -> list[str]:
    """Command lines of this machine's processes that contain text (Linux; none elsewhere)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # the process ended meanwhile
            continue
        if text in argv:
            found.append(argv)
    return found


def test_options_go_to_the_scripts_that_have_them(tmp_path, capsys):
    status = sweep.main(sweep.Args(algos=("value_iteration", "q_table"), env_ids=("FrozenLake-v1",), num_seeds=2,
                                   extra="--total-timesteps 1000 --gamma 0.9", out=str(tmp_path / "out"), dry_run=True))
    commands = capsys.readouterr().out.splitlines()[:-1]
    assert status == 0 and len(commands) == 4 and not (tmp_path / "out").exists()
    for line in commands:
        assert "--gamma 0.9" in line and "--device cpu" in line and "--env-id FrozenLake-v1" in line
        assert ("--total-timesteps 1000" in line) == ("algos/q_table.py" in line)
    assert sum("--seed 2 " in line for line in commands) == 2


@pytest.mark.parametrize("batched", [True, False])
def test_the_seeds_of_a_cell_run_as_one_batched_process_unless_told_not_to(tmp_path, capsys, batched):
    status = sweep.main(sweep.Args(algos=("dqn", "q_table"), env_ids=("CartPole-v1",), num_seeds=3, batched=batched,
                                   batched_min_seeds=3, out=str(tmp_path / "out"), dry_run=True))
    commands = capsys.readouterr().out.splitlines()[:-1]
    dqn_commands = [line for line in commands if "dqn" in line]
    assert status == 0 and sum("algos/q_table.py" in line for line in commands) == 3
    if batched:
        (line,) = dqn_commands
        assert "benchmarks/batched.py --algorithm dqn --env-id CartPole-v1 --seeds 1 2 3" in line
        assert str(tmp_path / "out" / "runs" / "dqn" / "CartPole-v1" / "seed_{seed}") in line
    else:
        assert len(dqn_commands) == 3 and all("algos/dqn.py" in line for line in dqn_commands)


@pytest.mark.parametrize("num_seeds, device, batched", [(15, "cpu", False), (16, "cpu", True), (2, "cuda", True)])
def test_on_the_cpu_only_cells_of_at_least_batched_min_seeds_run_batched(tmp_path, capsys, num_seeds, device, batched):
    status = sweep.main(sweep.Args(algos=("dqn",), env_ids=("CartPole-v1",), num_seeds=num_seeds, device=device,
                                   out=str(tmp_path / "out"), dry_run=True))
    commands = capsys.readouterr().out.splitlines()[:-1]
    assert status == 0 and len(commands) == (1 if batched else num_seeds)
    assert all(("benchmarks/batched.py" in line) == batched for line in commands)


def test_the_sweep_batches_only_what_batched_py_runs():
    from benchmarks import batched
    assert sweep_grid.BATCHABLE_ALGORITHMS == batched.ALGORITHMS == tuple(batched.TRAINERS)
    assert set(sweep_grid.BATCHED_ALGORITHMS) <= set(batched.ALGORITHMS)


def test_batched_algos_chooses_which_cells_run_batched(tmp_path, capsys):
    for batched_algos, expected in ((sweep.Args.batched_algos, ["algos/ddpg.py"] * 2),
                                    (("ddpg",), ["benchmarks/batched.py --algorithm ddpg --env-id Pendulum-v1 --seeds 1 2"])):
        status = sweep.main(sweep.Args(algos=("ddpg",), env_ids=("Pendulum-v1",), num_seeds=2, batched_min_seeds=2,
                                       batched_algos=batched_algos, out=str(tmp_path / "out"), dry_run=True))
        commands = capsys.readouterr().out.splitlines()[:-1]
        assert status == 0 and len(commands) == len(expected)
        assert all(text in line for text, line in zip(expected, commands)), commands
    with pytest.raises(sweep.UsageError, match="--batched-algos: 'q_table' does not run batched"):
        sweep.main(sweep.Args(algos=("dqn",), batched_algos=("q_table",), out=str(tmp_path / "bad"), dry_run=True))
    assert not (tmp_path / "bad").exists()


def test_the_suites_cover_every_algorithm_on_its_flagship_env():
    # Atari runs take an hour and a half each here: dqn_atari.py has a suite of its own, of one seed
    suite_name, _, grid = sweep.build_grid(sweep.Args(suite="classic"))
    algorithms = [algo for algo in sweep_grid.available_algorithms() if algo != "dqn_atari"]
    assert suite_name == "classic" and {cell.algo for cell in grid} == set(algorithms)
    for algo in algorithms:
        flagship = sweep_grid.load_algorithm(algo).Args().env_id
        assert sorted(cell.seed for cell in grid if (cell.algo, cell.env_id) == (algo, flagship)) == [1, 2, 3, 4, 5]
    _, _, atari = sweep.build_grid(sweep.Args(suite="atari"))
    assert [(cell.algo, cell.env_id, cell.seed) for cell in atari] == [("dqn_atari", "ALE/Breakout-v5", 1)]


def test_runs_spread_over_gpus_with_room_for_k_each():
    load = {0: 0, 1: 0}
    picks = []
    for _ in range(4):
        gpu = sweep_backends.pick_gpu(load, runs_per_gpu=2)
        load[gpu] += 1
        picks.append(gpu)
    assert picks == [0, 1, 0, 1] and sweep_backends.pick_gpu(load, runs_per_gpu=2) is None
    load[1] -= 1
    assert sweep_backends.pick_gpu(load, runs_per_gpu=2) == 1
    assert sweep_backends.pick_gpu({3: 1, 5: 0, 7: 0}, runs_per_gpu=1) == 5


@pytest.mark.parametrize("cli_args, message", [
    (["--algos", "dqm"], "unknown algorithm 'dqm'; did you mean dqn?"),
    ([], "empty grid: give --algos"),
    (["--suite", "classic", "--algos", "value_iteration", "--env-ids", "CartPole-v1"], "empty grid: suite classic"),
])
def test_bad_input_is_one_line_and_exit_status_2(tmp_path, cli_args, message):
    assert_rejected(run_benchmark("sweep", *cli_args, cwd=tmp_path, timeout=60), message, tmp_path)


@pytest.mark.parametrize("settings, message", [
    ({"env_ids": ("FrozenLak-v1",)}, "unknown env id 'FrozenLak-v1'; did you mean FrozenLake-v1"),
    ({"backend": "ray", "ray_address": "127.0.0.1:{port}"}, "cannot reach a Ray cluster at 127.0.0.1:"),
    ({"extra": "--total-timesteps 5"}, "--extra: no script in the grid has --total-timesteps"),
    ({"extra": "--seed 3"}, "--extra: --seed is set by the sweep"),
    ({"extra": "--gamma x"}, "value_iteration.py options of value_iteration FrozenLake-v1 seed 1: Error parsing"),
])
def test_bad_input_is_caught_before_anything_runs(tmp_path, settings, message):
    if settings.get("backend") == "ray":
        pytest.importorskip("ray", reason="Ray is not installed (pip install 'ray[default]')")
        settings = {**settings, "ray_address": settings["ray_address"].format(port=closed_port())}
    with pytest.raises(sweep.UsageError, match=message):
        sweep.main(sweep.Args(algos=("value_iteration",), out=str(tmp_path / "out"), **settings))
    assert not (tmp_path / "out").exists()
