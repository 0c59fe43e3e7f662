"""value_iteration.py, q_table.py and deep_q_table.py through their real command line."""

import pytest
import torch

from tests.helpers import assert_rejected, only_run_dir, read_summary, run_script, scalars, text_tags

LEARNERS = ["q_table", "deep_q_table"]
SHORT_RUN = ["--total-timesteps", "2000", "--eval-frequency", "1000", "--eval-episodes", "5"]
LEARNER_TAGS = {
    "charts/episodic_return", "charts/episodic_length", "charts/SPS", "charts/epsilon", "charts/learning_rate",
    "losses/td_error", "eval/episodic_return",
}


@pytest.fixture(params=LEARNERS)
def learner(request) -> str:
    return request.param


def test_value_iteration_prints_the_geron_table_policy_and_values(tmp_path):
    result = run_script("value_iteration", "--env-id", "ThreeStateMDP-v0", "--gamma", "0.9", "--eval-episodes", "20",
                        cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "18.91891892" in result.stdout and "50.13365013" in result.stdout and "-inf" in result.stdout
    assert "greedy policy: [0 0 1]" in result.stdout
    summary = read_summary(only_run_dir(tmp_path / "runs"))
    assert summary["status"] == "completed" and summary["converged"] and len(summary["eval_returns"]) == 20


def test_value_iteration_saves_and_evaluates_its_table_without_planning(tmp_path):
    planned = run_script("value_iteration", "--env-id", "Taxi-v4", "--eval-episodes", "20", "--save-model", cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    first = read_summary(only_run_dir(tmp_path / "runs"))
    assert first["exact_value"] == pytest.approx(7.93, abs=0.01)
    assert "losses/bellman_residual" in scalars(tmp_path / first["run_dir"])
    loaded = run_script("value_iteration", "--env-id", "Taxi-v4", "--eval-episodes", "20", "--model-path",
                        first["model_file"], "--log-dir", "eval_runs", cwd=tmp_path)
    assert loaded.returncode == 0, loaded.stderr
    second = read_summary(only_run_dir(tmp_path / "eval_runs"))
    assert second["sweeps"] == 0 and second["eval_returns"] == first["eval_returns"]


@pytest.mark.parametrize("num_envs", ["1", "4"])
def test_short_run_learns_logs_and_evaluates(learner, tmp_path, num_envs):
    result = run_script(learner, *SHORT_RUN, "--num-envs", num_envs, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "step 1000/2000" in result.stdout and "step 2000/2000" in result.stdout
    run_dir = only_run_dir(tmp_path / "runs")
    assert run_dir.name.startswith(f"FrozenLake-v1__{learner}__1__")
    summary = read_summary(run_dir)
    assert summary["status"] == "completed" and summary["global_step"] == 2000 and len(summary["eval_returns"]) == 5
    tags = scalars(run_dir)
    assert LEARNER_TAGS <= set(tags)
    assert len(tags["eval/episodic_return"]) == 2  # at 1000 steps and at the end
    assert "hyperparameters/text_summary" in text_tags(run_dir)


def test_saved_table_reloads_and_evaluates_alone(learner, tmp_path):
    trained = run_script(learner, "--env-id", "CliffWalking-v1", *SHORT_RUN, "--save-model", "--no-progress", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    first = read_summary(only_run_dir(tmp_path / "runs"))
    evaluated = run_script(learner, "--env-id", "CliffWalking-v1", "--model-path", first["model_file"],
                           "--total-timesteps", "0", "--eval-episodes", "5", "--log-dir", "eval_runs", cwd=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr
    second = read_summary(only_run_dir(tmp_path / "eval_runs"))
    assert second["global_step"] == 0 and second["eval_returns"] == first["eval_returns"]


def test_binned_mountain_car_draws_value_and_policy(learner, tmp_path):
    result = run_script(learner, "--env-id", "MountainCar-v0", "--bins", "51", "51", "--action-repeat", "10",
                        "--total-timesteps", "2000", "--eval-episodes", "2", "--no-progress", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    picture = only_run_dir(tmp_path / "runs") / "value_policy.png"
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and picture.stat().st_size > 10_000


def test_capture_video_writes_an_mp4_of_evaluation(tmp_path):
    result = run_script("q_table", "--total-timesteps", "0", "--eval-episodes", "1", "--capture-video", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    run_dir = only_run_dir(tmp_path / "runs")
    videos = list((tmp_path / "videos" / run_dir.name).glob("*.mp4"))
    assert videos and videos[0].stat().st_size > 1000


LEARNER_BAD_INPUT = {
    "box observations without bins": (["--env-id", "MountainCar-v0"], "add --bins"),
    "unbounded observations": (["--env-id", "CartPole-v1", "--bins", "10"], "--obs-low and --obs-high"),
    "bins per dimension": (["--env-id", "MountainCar-v0", "--bins", "5", "5", "5"], "one per observation dimension"),
    "bins of discrete observations": (["--bins", "5"], "leave out --bins"),
    "box action space": (["--env-id", "Pendulum-v1", "--bins", "5"], "ddpg.py"),
    "unknown env id": (["--env-id", "FrozenLake-v9"], "did you mean FrozenLake-v1"),
    "no env copies": (["--num-envs", "0"], "--num-envs must be positive"),
    "missing device": (["--device", "cuda" if not torch.cuda.is_available() else "cuda:99"], "not available"),
    "missing model": (["--model-path", "nowhere/model.pt"], "no such file"),
    "not a model": (["--model-path", "pyproject.toml"], "not a model saved by {script}.py"),
}


@pytest.mark.parametrize("cli_args, message", LEARNER_BAD_INPUT.values(), ids=LEARNER_BAD_INPUT.keys())
def test_learner_bad_input_is_one_line_and_exit_status_2(learner, tmp_path, cli_args, message):
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    result = run_script(learner, *cli_args, "--capture-video", cwd=tmp_path)
    assert_rejected(result, message.format(script=learner), tmp_path)


def test_deep_q_table_batch_over_buffer_is_rejected(tmp_path):
    result = run_script("deep_q_table", "--buffer-size", "10", "--batch-size", "32", cwd=tmp_path)
    assert_rejected(result, "larger than --buffer-size", tmp_path)


def test_table_of_other_bins_is_rejected(tmp_path, q_table):
    args = q_table.Args(env_id="MountainCar-v0", bins=(5,), total_timesteps=0, eval_episodes=1, save_model=True,
                        log_dir=str(tmp_path / "model"), progress=False)
    model_file = q_table.train(args)["model_file"]
    result = run_script("q_table", "--env-id", "MountainCar-v0", "--bins", "6", "--model-path", model_file, cwd=tmp_path)
    assert_rejected(result, "use the --bins it was trained with", tmp_path)


PLANNER_BAD_INPUT = {
    "no transition table": (["--env-id", "CartPole-v1"], "no transition table P"),
    "box action space": (["--env-id", "Pendulum-v1"], "ddpg.py"),
    "unknown env id": (["--env-id", "Taxi-v3"], "did you mean Taxi-v4"),
    "discount above one": (["--gamma", "1.5"], "--gamma must be in [0, 1]"),
    "not a model": (["--model-path", "pyproject.toml"], "not a model saved by value_iteration.py"),
}


@pytest.mark.parametrize("cli_args, message", PLANNER_BAD_INPUT.values(), ids=PLANNER_BAD_INPUT.keys())
def test_planner_bad_input_is_one_line_and_exit_status_2(tmp_path, cli_args, message):
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    result = run_script("value_iteration", *cli_args, "--capture-video", cwd=tmp_path)
    assert_rejected(result, message, tmp_path)
