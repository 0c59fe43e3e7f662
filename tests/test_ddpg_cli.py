"""algos/ddpg.py through its real command line: runs, run folders, models, videos, bad input.

One run goes through a fresh interpreter (run_script), to show the script stands alone; the
others go through the same command line in this process (run_script_in_process), without
the seconds each fresh interpreter spends importing torch.
"""

import gymnasium as gym
import numpy as np
import pytest
import torch

from tests.helpers import (assert_rejected, only_run_dir, read_summary, run_script, run_script_in_process, scalars,
                           text_tags)

SHORT_RUN = [
    "--total-timesteps", "600", "--learning-starts", "200", "--train-frequency", "2", "--policy-frequency", "2",
    "--eval-frequency", "300", "--eval-episodes", "2", "--max-episode-steps", "50", "--buffer-size", "1000",
    "--batch-size", "32", "--hidden-sizes", "32", "32",
]
SUMMARY_KEYS = {
    "status", "eval_mean", "eval_std", "eval_returns", "global_step", "gradient_steps", "target_updates",
    "train_seconds", "sps", "run_dir", "model_file", "args",
}
SCALAR_TAGS = {
    "charts/episodic_return", "charts/episodic_length", "charts/SPS",
    "losses/qf_loss", "losses/actor_loss", "losses/qf_values", "eval/episodic_return",
}


def test_help_lists_every_option_with_its_docstring(tmp_path):
    result = run_script_in_process("ddpg", "--help", cwd=tmp_path)
    assert result.returncode == 0
    for option in ("--env-id", "--num-envs", "--total-timesteps", "--device", "--model-path", "--tau",
                   "--policy-frequency", "--noise", "--exploration-noise", "--ou-theta", "--learning-starts"):
        assert option in result.stdout
    help_text = " ".join(line.strip(" │") for line in result.stdout.splitlines())
    assert "in half action ranges" in help_text and "grows to 1.83 σ in an episode" in help_text


@pytest.mark.parametrize("num_envs", ["1", "4"])
def test_short_run_trains_updates_targets_and_evaluates(tmp_path, num_envs):
    result = run_script_in_process("ddpg", *SHORT_RUN, "--num-envs", num_envs, "--log-dir", "runs", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    # not a terminal: plain progress lines instead of a bar
    assert "step 300/600" in result.stdout and "step 600/600" in result.stdout
    run_dir = only_run_dir(tmp_path / "runs")
    assert run_dir.name.startswith("Pendulum-v1__ddpg__1__")
    summary = read_summary(run_dir)
    assert set(summary) == SUMMARY_KEYS
    assert summary["status"] == "completed" and summary["global_step"] == 600
    # train_frequency counts steps over all copies: 4 copies make as many critic steps; the
    # actor and the targets follow every second one
    assert summary["gradient_steps"] == (600 - 200) // 2
    assert summary["target_updates"] == (600 - 200) // 4
    assert len(summary["eval_returns"]) == 2
    tags = scalars(run_dir)
    assert SCALAR_TAGS <= set(tags)
    assert len(tags["eval/episodic_return"]) == 2  # at 300 steps and at the end
    copies = int(num_envs)
    assert len(tags["charts/episodic_return"]) == copies * (600 // copies // 50)  # 50-step episodes
    assert "hyperparameters/text_summary" in text_tags(run_dir)


def test_saved_model_reloads_and_evaluates_alone_on_video(tmp_path):
    trained = run_script("ddpg", *SHORT_RUN, "--save-model", "--no-progress", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    assert "step " not in trained.stdout and "greedy evaluation" in trained.stdout
    first = read_summary(only_run_dir(tmp_path / "runs"))
    assert first["model_file"] and (tmp_path / first["model_file"]).is_file()

    evaluated = run_script_in_process(
        "ddpg", "--model-path", first["model_file"], "--total-timesteps", "0", "--eval-episodes", "2",
        "--max-episode-steps", "50", "--hidden-sizes", "32", "32", "--capture-video", "--log-dir", "eval_runs",
        "--no-progress", cwd=tmp_path,
    )
    assert evaluated.returncode == 0, evaluated.stderr
    run_dir = only_run_dir(tmp_path / "eval_runs")
    second = read_summary(run_dir)
    assert second["global_step"] == 0 and second["gradient_steps"] == 0
    # the same actor on the same evaluation seeds gives the same returns
    assert second["eval_returns"] == first["eval_returns"]
    videos = list((tmp_path / "videos" / run_dir.name).glob("*.mp4"))
    assert videos and videos[0].stat().st_size > 1000


def unbounded_pendulum() -> gym.Env:
    env = gym.make("Pendulum-v1")
    env.action_space = gym.spaces.Box(-np.inf, np.inf, (1,), np.float32)
    return env


gym.register("algozoo-tests/UnboundedPendulum-v0", entry_point=unbounded_pendulum)


@pytest.fixture(scope="module")
def models(tmp_path_factory, ddpg, dqn) -> dict[str, str]:
    """Model files: ddpg.py's for Pendulum-v1 (default and other hidden sizes), and dqn.py's."""
    log_dir = tmp_path_factory.mktemp("models")
    files = {}
    for name, module, settings in [
        ("pendulum", ddpg, {}), ("hidden 32", ddpg, {"hidden_sizes": (32,)}), ("dqn", dqn, {}),
    ]:
        args = module.Args(total_timesteps=0, eval_episodes=1, save_model=True, log_dir=str(log_dir), progress=False,
                           **settings)
        files[name] = module.train(args)["model_file"]
    return files


BAD_INPUT = {
    "unknown env id": (["--env-id", "Pendulum-v9"], "did you mean Pendulum-v1"),
    "discrete actions": (["--env-id", "CartPole-v1"], "use dqn.py"),
    "unbounded actions": (["--env-id", "algozoo-tests/UnboundedPendulum-v0"], "needs finite action bounds"),
    "no env copies": (["--num-envs", "0"], "--num-envs must be positive"),
    "no actor steps": (["--policy-frequency", "0"], "--policy-frequency must be positive"),
    "negative steps": (["--total-timesteps", "-5"], "--total-timesteps must be >= 0"),
    "batch over buffer": (["--batch-size", "256", "--buffer-size", "100"], "larger than --buffer-size"),
    "tau 0": (["--tau", "0"], "--tau must be in (0, 1]"),
    "negative noise": (["--exploration-noise", "-0.1"], "--exploration-noise and --ou-theta must be >= 0"),
    "missing device": (["--device", "cuda" if not torch.cuda.is_available() else "cuda:99"], "not available"),
    "unknown device": (["--device", "tpu"], "unknown device"),
    "missing model": (["--model-path", "nowhere/model.pt"], "no such file"),
    "not a model": (["--model-path", "pyproject.toml"], "not a model saved by ddpg.py"),
    "model of another env": (["--env-id", "MountainCarContinuous-v0", "--model-path", "{pendulum}"],
                             "trained on Pendulum-v1, not MountainCarContinuous-v0"),
    "model of other hidden sizes": (["--model-path", "{hidden 32}"], "has --hidden-sizes 32"),
    "model of dqn.py": (["--model-path", "{dqn}"], "not a model saved by ddpg.py"),
}


@pytest.mark.parametrize("cli_args, message", BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_is_one_line_and_exit_status_2(tmp_path, models, cli_args, message):
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    cli_args = [arg.format(**models) for arg in cli_args]
    result = run_script_in_process("ddpg", *cli_args, "--capture-video", cwd=tmp_path)
    assert_rejected(result, message, tmp_path)


def test_non_finite_loss_stops_training_and_keeps_the_logs(tmp_path):
    # Adam moves each weight by about the learning rate: 1e30 overflows float32 in a step or two.
    result = run_script_in_process("ddpg", *SHORT_RUN, "--learning-rate", "1e30", "--no-progress", cwd=tmp_path)
    assert result.returncode == 1
    assert "non-finite loss at step" in result.stderr and result.stdout == ""
    run_dir = only_run_dir(tmp_path / "runs")
    summary = read_summary(run_dir)
    assert summary["status"].startswith("non-finite loss at step") and summary["eval_mean"] is None
    assert 200 < summary["global_step"] < 600
    assert "charts/episodic_return" in scalars(run_dir)
