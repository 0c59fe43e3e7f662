"""The DQN-family scripts through their real command line: runs, run folders, models, videos,
bad input."""

import pytest
import torch

from tests.conftest import DQN_FAMILY
from tests.helpers import assert_rejected, only_run_dir, read_summary, run_script, scalars, text_tags

SHORT_RUN = [
    "--total-timesteps", "1200", "--learning-starts", "200", "--train-frequency", "10",
    "--target-network-frequency", "100", "--eval-frequency", "600", "--eval-episodes", "2",
    "--buffer-size", "1000", "--batch-size", "32",
]
SUMMARY_KEYS = {
    "status", "eval_mean", "eval_std", "eval_returns", "global_step", "gradient_steps", "target_updates",
    "train_seconds", "sps", "run_dir", "model_file", "args",
}
SCALAR_TAGS = {
    "charts/episodic_return", "charts/episodic_length", "charts/SPS", "charts/epsilon",
    "losses/td_loss", "losses/q_values", "eval/episodic_return",
}


@pytest.fixture(params=DQN_FAMILY)
def script(request) -> str:
    return request.param


def test_help_lists_every_option_with_its_docstring(script):
    result = run_script(script, "--help", cwd=".")
    assert result.returncode == 0
    for option in ("--env-id", "--num-envs", "--total-timesteps", "--device", "--model-path", "--loss", "--tau"):
        assert option in result.stdout
    assert "replay buffer capacity in transitions" in result.stdout


@pytest.mark.parametrize("num_envs", ["1", "4"])
def test_short_run_trains_updates_target_and_evaluates(script, tmp_path, num_envs):
    result = run_script(script, *SHORT_RUN, "--num-envs", num_envs, "--log-dir", "runs", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    # not a terminal: plain progress lines instead of a bar
    assert "step 600/1200" in result.stdout and "step 1200/1200" in result.stdout
    run_dir = only_run_dir(tmp_path / "runs")
    assert run_dir.name.startswith(f"CartPole-v1__{script}__1__")
    summary = read_summary(run_dir)
    assert set(summary) == SUMMARY_KEYS
    assert summary["status"] == "completed" and summary["global_step"] == 1200
    # both step counts are over all env copies, so 4 copies do the same number of updates
    assert summary["gradient_steps"] == (1200 - 200) // 10
    assert summary["target_updates"] == (1200 - 200) // 100
    assert len(summary["eval_returns"]) == 2
    tags = scalars(run_dir)
    assert SCALAR_TAGS <= set(tags)
    assert len(tags["eval/episodic_return"]) == 2  # at 600 steps and at the end
    assert "hyperparameters/text_summary" in text_tags(run_dir)
    assert list(run_dir.glob("events.out.tfevents.*"))


def test_saved_model_reloads_and_evaluates_alone(script, tmp_path):
    trained = run_script(script, *SHORT_RUN, "--save-model", "--no-progress", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    assert "step " not in trained.stdout and "greedy evaluation" in trained.stdout
    first = read_summary(only_run_dir(tmp_path / "runs"))
    assert first["model_file"] and (tmp_path / first["model_file"]).is_file()

    evaluated = run_script(
        script, "--model-path", first["model_file"], "--total-timesteps", "0", "--eval-episodes", "2",
        "--log-dir", "eval_runs", "--no-progress", cwd=tmp_path,
    )
    assert evaluated.returncode == 0, evaluated.stderr
    second = read_summary(only_run_dir(tmp_path / "eval_runs"))
    assert second["global_step"] == 0 and second["gradient_steps"] == 0
    # the same greedy network on the same evaluation seeds gives the same returns
    assert second["eval_returns"] == first["eval_returns"]


def test_capture_video_writes_an_mp4_of_evaluation(script, tmp_path):
    result = run_script(
        script, "--total-timesteps", "0", "--eval-episodes", "1", "--capture-video", "--no-progress", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    run_dir = only_run_dir(tmp_path / "runs")
    videos = list((tmp_path / "videos" / run_dir.name).glob("*.mp4"))
    assert videos and videos[0].stat().st_size > 1000


@pytest.fixture
def cartpole_model(tmp_path, dqn_family):
    """A model file of the script under test, saved for CartPole-v1."""
    args = dqn_family.Args(total_timesteps=0, eval_episodes=1, save_model=True, log_dir=str(tmp_path / "model"), progress=False)
    return dqn_family.train(args)["model_file"]


BAD_INPUT = {
    "unknown env id": (["--env-id", "CartPole-v9"], "did you mean CartPole-v1"),
    "box action space": (["--env-id", "Pendulum-v1"], "ddpg.py"),
    "no env copies": (["--num-envs", "0"], "--num-envs must be positive"),
    "no gradient steps": (["--gradient-steps", "0"], "--gradient-steps must be positive"),
    "negative steps": (["--total-timesteps", "-5"], "--total-timesteps must be >= 0"),
    "batch over buffer": (["--batch-size", "256", "--buffer-size", "100"], "larger than --buffer-size"),
    "missing device": (["--device", "cuda" if not torch.cuda.is_available() else "cuda:99"], "not available"),
    "unknown device": (["--device", "tpu"], "unknown device"),
    "missing model": (["--model-path", "nowhere/model.pt"], "no such file"),
    "not a model": (["--model-path", "pyproject.toml"], "not a model saved by {script}.py"),
}


@pytest.mark.parametrize("cli_args, message", BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_is_one_line_and_exit_status_2(script, tmp_path, cli_args, message):
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    result = run_script(script, *cli_args, "--capture-video", cwd=tmp_path)
    assert_rejected(result, message.format(script=script), tmp_path)


def test_model_of_another_env_is_rejected(tmp_path, dqn_family, cartpole_model):
    script = dqn_family.SCRIPT[: -len(".py")]
    result = run_script(script, "--env-id", "Acrobot-v1", "--model-path", cartpole_model, cwd=tmp_path)
    assert_rejected(result, "was trained on CartPole-v1, not Acrobot-v1", tmp_path)


def test_model_of_a_sibling_script_is_rejected(tmp_path, dqn):
    args = dqn.Args(total_timesteps=0, eval_episodes=1, save_model=True, log_dir=str(tmp_path / "model"), progress=False)
    model_file = dqn.train(args)["model_file"]
    result = run_script("dueling_dqn", "--model-path", model_file, cwd=tmp_path)
    assert_rejected(result, "not a model saved by dueling_dqn.py", tmp_path)


def test_non_finite_loss_stops_training_and_keeps_the_logs(script, tmp_path):
    # Adam moves each weight by about the learning rate: 1e30 overflows float32 in a step or two.
    result = run_script(script, *SHORT_RUN, "--learning-rate", "1e30", "--no-progress", cwd=tmp_path)
    assert result.returncode == 1
    assert "non-finite loss at step" in result.stderr and "Traceback" not in result.stderr
    run_dir = only_run_dir(tmp_path / "runs")
    summary = read_summary(run_dir)
    assert summary["status"].startswith("non-finite loss at step") and summary["eval_mean"] is None
    assert 200 < summary["global_step"] < 1200
    assert "charts/episodic_return" in scalars(run_dir)
