"""algos/reinforce.py through its real command line: runs, run folders, models, videos, bad input.

Runs that train go through a fresh interpreter (run_script); bad input, which stops before
training, goes through the same command line in this process (run_script_in_process).
"""

import pytest
import torch

from tests.helpers import (assert_rejected, only_run_dir, read_summary, run_script, run_script_in_process, scalars,
                           text_tags)

SHORT_RUN = ["--total-timesteps", "2000", "--episodes-per-update", "4", "--eval-frequency", "1000", "--eval-episodes", "2"]
SUMMARY_KEYS = {
    "status", "eval_mean", "eval_std", "eval_returns", "eval_policy", "greedy_eval_mean", "global_step", "gradient_steps", "episodes",
    "train_seconds", "sps", "run_dir", "model_file", "args",
}
SCALAR_TAGS = {
    "charts/episodic_return", "charts/episodic_length", "charts/SPS", "charts/mean_abs_return",
    "losses/policy_loss", "losses/entropy", "eval/episodic_return",
}


def test_help_lists_every_option_with_its_docstring():
    result = run_script("reinforce", "--help", cwd=".")
    assert result.returncode == 0
    for option in ("--env-id", "--num-envs", "--total-timesteps", "--device", "--model-path", "--episodes-per-update",
                   "--ent-coef", "--gamma", "--eval-policy"):
        assert option in result.stdout
    assert "finished episodes that trigger a gradient step" in result.stdout


@pytest.mark.parametrize("num_envs", ["1", "4"])
def test_short_run_trains_logs_and_evaluates(tmp_path, num_envs):
    result = run_script("reinforce", *SHORT_RUN, "--num-envs", num_envs, "--log-dir", "runs", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    # not a terminal: plain progress lines instead of a bar
    assert "step 1000/2000" in result.stdout and "step 2000/2000" in result.stdout
    run_dir = only_run_dir(tmp_path / "runs")
    assert run_dir.name.startswith("CartPole-v1__reinforce__1__")
    summary = read_summary(run_dir)
    assert set(summary) == SUMMARY_KEYS
    assert summary["status"] == "completed" and summary["global_step"] == 2000
    # short CartPole episodes: at least 4 per update, and fewer than 4 left over at the end
    assert summary["episodes"] // 4 >= summary["gradient_steps"] > (summary["episodes"] - 4 - int(num_envs)) / 4
    assert len(summary["eval_returns"]) == 2
    tags = scalars(run_dir)
    assert SCALAR_TAGS <= set(tags)
    assert len(tags["losses/policy_loss"]) == summary["gradient_steps"]
    assert tags["charts/learning_rate"] == pytest.approx([0.01] * summary["gradient_steps"])  # not annealed by default
    assert len(tags["eval/episodic_return"]) == 2  # at 1000 steps and at the end
    assert "hyperparameters/text_summary" in text_tags(run_dir)


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_saved_model_reloads_and_evaluates_alone(tmp_path, env_id):
    trained = run_script("reinforce", "--env-id", env_id, *SHORT_RUN, "--num-envs", "2", "--save-model", "--no-progress",
                         cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    assert "step " not in trained.stdout and "greedy evaluation" in trained.stdout
    first = read_summary(only_run_dir(tmp_path / "runs"))
    assert first["status"] == "completed" and first["gradient_steps"] > 0
    assert first["model_file"] and (tmp_path / first["model_file"]).is_file()

    evaluated = run_script(
        "reinforce", "--env-id", env_id, "--model-path", first["model_file"], "--total-timesteps", "0",
        "--eval-episodes", "2", "--log-dir", "eval_runs", "--no-progress", cwd=tmp_path,
    )
    assert evaluated.returncode == 0, evaluated.stderr
    second = read_summary(only_run_dir(tmp_path / "eval_runs"))
    assert second["global_step"] == 0 and second["gradient_steps"] == 0
    # the same greedy policy on the same evaluation seeds gives the same returns
    assert second["eval_returns"] == first["eval_returns"]


def test_capture_video_writes_an_mp4_of_evaluation(tmp_path):
    result = run_script(
        "reinforce", "--total-timesteps", "0", "--eval-episodes", "1", "--capture-video", "--no-progress", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    run_dir = only_run_dir(tmp_path / "runs")
    videos = list((tmp_path / "videos" / run_dir.name).glob("*.mp4"))
    assert videos and videos[0].stat().st_size > 1000


@pytest.fixture(scope="module")
def models(tmp_path_factory, reinforce, dqn) -> dict[str, str]:
    """Model files: reinforce.py's for CartPole-v1 (default and other hidden sizes), one with
    NaN weights, and dqn.py's."""
    log_dir = tmp_path_factory.mktemp("models")
    files = {}
    for name, module, settings in [
        ("cartpole", reinforce, {}), ("hidden 32", reinforce, {"hidden_sizes": (32,)}), ("dqn", dqn, {}),
    ]:
        args = module.Args(total_timesteps=0, eval_episodes=1, save_model=True, log_dir=str(log_dir), progress=False,
                           **settings)
        files[name] = module.train(args)["model_file"]
    checkpoint = torch.load(files["cartpole"], weights_only=True)
    checkpoint["policy"]["net.0.weight"][0, 0] = float("nan")
    files["nan"] = str(log_dir / "nan.pt")
    torch.save(checkpoint, files["nan"])
    return files


BAD_INPUT = {
    "unknown env id": (["--env-id", "CartPole-v9"], "did you mean CartPole-v1"),
    "discrete observations": (["--env-id", "FrozenLake-v1"], "use q_table.py"),
    "tuple observations": (["--env-id", "Blackjack-v1"], "needs a 1-D Box observation space"),
    "no env copies": (["--num-envs", "0"], "--num-envs must be positive"),
    "no episodes per update": (["--episodes-per-update", "0"], "--episodes-per-update must be positive"),
    "negative steps": (["--total-timesteps", "-5"], "--total-timesteps must be >= 0"),
    "gamma over 1": (["--gamma", "1.5"], "--gamma must be in [0, 1]"),
    "missing device": (["--device", "cuda" if not torch.cuda.is_available() else "cuda:99"], "not available"),
    "unknown device": (["--device", "tpu"], "unknown device"),
    "missing model": (["--model-path", "nowhere/model.pt"], "no such file"),
    "not a model": (["--model-path", "pyproject.toml"], "not a model saved by reinforce.py"),
    "model of another env": (["--env-id", "Acrobot-v1", "--model-path", "{cartpole}"], "trained on CartPole-v1, not Acrobot-v1"),
    "model of other hidden sizes": (["--model-path", "{hidden 32}"], "has --hidden-sizes 32"),
    "model of dqn.py": (["--model-path", "{dqn}"], "not a model saved by reinforce.py"),
}


@pytest.mark.parametrize("cli_args, message", BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_is_one_line_and_exit_status_2(tmp_path, models, cli_args, message):
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    cli_args = [arg.format(**models) for arg in cli_args]
    result = run_script_in_process("reinforce", *cli_args, "--capture-video", cwd=tmp_path)
    assert_rejected(result, message, tmp_path)


def test_non_finite_loss_stops_training_and_keeps_the_logs(tmp_path):
    # Adam moves each weight by about the learning rate: log σ = 1e30 makes σ infinite.
    result = run_script_in_process("reinforce", "--env-id", "Pendulum-v1", "--num-envs", "2", "--episodes-per-update", "2",
                                   "--total-timesteps", "2000", "--learning-rate", "1e30", "--no-progress", cwd=tmp_path)
    assert result.returncode == 1
    assert "non-finite loss at step" in result.stderr and result.stdout == ""
    run_dir = only_run_dir(tmp_path / "runs")
    summary = read_summary(run_dir)
    assert summary["status"].startswith("non-finite loss at step") and summary["eval_mean"] is None
    assert summary["gradient_steps"] >= 1 and summary["global_step"] < 2000
    assert "charts/episodic_return" in scalars(run_dir)


def test_policy_with_non_finite_output_stops_before_acting(tmp_path, models):
    result = run_script_in_process("reinforce", "--model-path", models["nan"], *SHORT_RUN, "--no-progress", cwd=tmp_path)
    assert result.returncode == 1
    assert "non-finite policy output at step 0" in result.stderr
    assert read_summary(only_run_dir(tmp_path / "runs"))["global_step"] == 0
