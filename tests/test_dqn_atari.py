"""dqn_atari.py: the paper's preprocessing, the learning step's wiring, a short Breakout run
through the command line, models, videos and bad input. Its replay buffer has its own file."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tests.helpers import assert_rejected, only_run_dir, read_summary, run_script, scalars
from tests.wiring import assert_tensors_close, recording, with_parameters

NOOP, FIRE = 0, 1


def play(env, policy, max_steps: int = 5000) -> list[tuple[float, bool, bool, dict]]:
    """(reward, terminated, truncated, info) of each step of one game of `policy(step) -> action`."""
    env.reset(seed=3)
    steps = []
    for t in range(max_steps):
        _, reward, terminated, truncated, info = env.step(policy(t))
        steps.append((float(reward), terminated, truncated, info))
        if terminated or truncated:
            return steps
    raise AssertionError(f"the game did not end in {max_steps} steps")


def test_an_observation_is_four_84x84_frames_each_four_game_frames_apart(dqn_atari):
    env = dqn_atari.make_env("ALE/Breakout-v5", None)()
    obs, info = env.reset(seed=1)
    assert obs.shape == (4, 84, 84) and obs.dtype == np.uint8
    assert env.observation_space.shape == (4, 84, 84)
    assert (obs[0] == obs[-1]).all(), "at a game's start the stack repeats its first frame"
    frame = info["episode_frame_number"]
    for t in range(20):
        obs, _, _, _, info = env.step(2 + t % 2)  # RIGHT, LEFT: no life is lost this early
        assert info["episode_frame_number"] == frame + 4 * (t + 1)
    assert not (obs[-1] == obs[-2]).all()
    preprocessing = env.get_wrapper_attr("frame_skip"), env.get_wrapper_attr("noop_max")
    assert preprocessing == (4, 30)


def test_a_lost_life_ends_a_transition_not_the_game_and_fire_serves_each_ball(dqn_atari):
    # A policy that never presses FIRE: the wrapper serves every ball, so the game ends by
    # losing its five lives; each lost life is reported, and only the last step terminates.
    env = dqn_atari.make_env("ALE/Breakout-v5", None)()
    steps = play(env, lambda t: NOOP)
    lost = [t for t, (_, _, _, info) in enumerate(steps) if info["life_lost"]]
    assert len(lost) == 5 and lost[-1] == len(steps) - 1
    assert not any(terminated for _, terminated, _, _ in steps[:-1]) and steps[-1][1]
    assert steps[-1][3]["episode"]["l"] == len(steps)  # an episode is the whole game


def test_rewards_are_clipped_for_learning_and_counted_whole_in_the_score(dqn_atari):
    rng = np.random.default_rng(0)
    random_policy = lambda t: int(rng.integers(6))
    train_steps = play(dqn_atari.make_env("ALE/SpaceInvaders-v5", None)(), random_policy)
    rewards = [reward for reward, _, _, _ in train_steps]
    assert set(rewards) == {0.0, 1.0}
    score = train_steps[-1][3]["episode"]["r"]
    assert score > sum(rewards) > 0  # invaders are worth 5 to 30 points
    eval_steps = play(dqn_atari.make_env("ALE/SpaceInvaders-v5", None, clip_rewards=False)(), random_policy)
    assert max(reward for reward, _, _, _ in eval_steps) >= 5


def test_evaluation_plays_whole_games_with_its_epsilon(dqn_atari):
    env = dqn_atari.make_env("ALE/SpaceInvaders-v5", None, clip_rewards=False)()
    always_fire = lambda obs: np.full(len(obs), FIRE)
    scores = dqn_atari.evaluate(always_fire, env, 2, seed=5, epsilon=0.05)
    assert env.unwrapped.ale.lives() == 0, "an evaluation game goes on across lives"
    assert scores.shape == (2,) and (scores % 5 == 0).all() and (scores > 0).all()
    again = dqn_atari.evaluate(always_fire, env, 2, seed=5, epsilon=0.05)
    assert (again == scores).all(), "the same seed plays the same games"


def play_vector(envs, actions, steps: int) -> list[tuple]:
    """(stack, actions asked, next stack, rewards, terminated, truncated, infos) of each of `steps`
    steps of `envs`, where `actions(t)` gives the actions asked at step t."""
    obs, _ = envs.reset(seed=3)
    record = []
    for t in range(steps):
        asked = actions(t)
        next_obs, rewards, terminations, truncations, infos = envs.step(asked)
        record.append((obs, asked, next_obs, rewards, terminations, truncations, infos))
        obs = next_obs
    return record


def test_the_ale_vector_env_stacks_ale_pys_frames_as_the_replay_buffer_rebuilds_them(dqn_atari):
    # The reference: ale-py's own C++ stack of copies with the same seeds and actions. It pads an
    # episode's first stacks with zeros where the replay buffer, and so the env, repeats the first frame.
    from ale_py.vector_env import AtariVectorEnv

    envs = dqn_atari.AleVectorEnv("ALE/Breakout-v5", 3, max_episode_steps=150)
    reference = AtariVectorEnv("breakout", 3, repeat_action_probability=0.25, max_num_frames_per_episode=600,
                               stack_num=4, reward_clipping=False, autoreset_mode="SameStep")

    def assert_stack(ours: np.ndarray, theirs: np.ndarray, age: int, what: str) -> None:
        shown = min(age + 1, 4)  # frames of the episode in the stack
        np.testing.assert_array_equal(ours[4 - shown:], theirs[4 - shown:], err_msg=what)
        assert (ours[: 4 - shown] == theirs[4 - shown]).all() and not theirs[: 4 - shown].any(), what

    obs, _ = envs.reset(seed=3)
    expected, _ = reference.reset(seed=3)
    assert obs.shape == (3, 4, 84, 84) and obs.dtype == np.uint8
    age, ends, rng = np.zeros(3, dtype=int), {"terminated": 0, "truncated": 0}, np.random.default_rng(0)
    for i in range(3):
        assert_stack(obs[i], expected[i], 0, f"copy {i} at the start")
    for t in range(600):
        obs, rewards, terminations, truncations, infos = envs.step(rng.integers(4, size=3))
        expected, raw_rewards, expected_terminations, expected_truncations, expected_infos = reference.step(
            infos["actions"])
        np.testing.assert_array_equal(rewards, np.clip(raw_rewards, -1, 1))
        assert (terminations == expected_terminations).all() and (truncations == expected_truncations).all()
        age += 1
        for i in np.flatnonzero(terminations | truncations):
            assert_stack(infos["final_obs"][i], expected_infos["final_obs"][i], age[i], f"final of copy {i}, step {t}")
            assert infos["final_info"]["episode"]["l"][i] == age[i]
            assert infos["final_info"]["episode"]["l"][i] == 150 or not truncations[i], "the limit counts agent steps"
            ends["terminated" if terminations[i] else "truncated"] += 1
            age[i] = 0
        for i in range(3):
            assert_stack(obs[i], expected[i], age[i], f"copy {i}, step {t}")
    assert ends["terminated"] >= 2 and ends["truncated"] >= 2, ends
    envs.close()
    reference.close()


def test_the_ale_vector_env_fires_after_each_lost_life_as_the_next_step(dqn_atari):
    # A policy that never presses FIRE: the env serves the ball after each lost life by taking
    # FIRE as the copy's next action, and says so in infos["actions"]; the game ends by its lives.
    envs = dqn_atari.AleVectorEnv("ALE/Breakout-v5", 2, max_episode_steps=None)
    record = play_vector(envs, lambda t: np.full(2, NOOP), 1500)
    for i in range(2):
        lost = [t for t, (*_, infos) in enumerate(record) if infos["life_lost"][i]]
        fired = [t for t, (*_, infos) in enumerate(record) if infos["actions"][i] == FIRE]
        ended = [t for t, (*_, terminations, _, _) in enumerate(record) if terminations[i]]
        assert len(lost) >= 4 and ended, (lost, ended)
        assert fired == [t + 1 for t in lost if t + 1 < len(record)], "FIRE on the step after each lost life"
        first_game = [t for t in lost if t < ended[0]]
        assert len(first_game) == 4, "four lives lost within the game, the fifth ends it"
        episode = record[ended[0]][6]["final_info"]["episode"]
        assert episode["l"][i] == ended[0] + 1, "an episode is the whole game"
        assert not record[ended[0]][6]["life_lost"][i], "a game's end is a termination, not a lost life"
    envs.close()


def test_the_ale_vector_env_clips_rewards_for_learning_and_counts_them_whole_in_the_score(dqn_atari):
    envs = dqn_atari.AleVectorEnv("ALE/SpaceInvaders-v5", 2, max_episode_steps=None)
    rng = np.random.default_rng(0)
    record = play_vector(envs, lambda t: rng.integers(6, size=2), 1500)
    clipped = np.array([rewards for _, _, _, rewards, *_ in record])
    assert set(np.unique(clipped)) == {0.0, 1.0}
    t_end, i = next((t, i) for t, (*_, terminations, _, _) in enumerate(record) for i in np.flatnonzero(terminations))
    score = record[t_end][6]["final_info"]["episode"]["r"][i]
    assert score > clipped[: t_end + 1, i].sum() > 0  # invaders are worth 5 to 30 points
    envs.close()


def test_each_gradient_step_descends_the_clipped_huber_td_loss_and_the_target_is_copied(dqn_atari, tmp_path,
                                                                                       monkeypatch):
    gamma, max_grad_norm = 0.9, 1e-3  # a small norm bound, so that clipping acts on most steps
    args = dqn_atari.Args(total_timesteps=240, learning_starts=80, train_frequency=4, target_network_frequency=40,
                          batch_size=8, buffer_size=500, gamma=gamma, max_grad_norm=max_grad_norm,
                          learning_rate=1e-3, eval_episodes=1, eval_frequency=240, max_episode_steps=50,
                          device="cpu", log_dir=str(tmp_path), progress=False)
    with recording(monkeypatch, dqn_atari.FrameReplayBuffer) as record:
        result = dqn_atari.train(args)
    q_network = result["q_network"]
    steps = record.steps_of(q_network.parameters())
    assert len(steps) == len(record.batches) == result["gradient_steps"] == 40 and result["target_updates"] == 4

    target, clipped = steps[0].before, 0
    for k, (step, batch) in enumerate(zip(steps, record.batches)):
        parameters = [p.clone().requires_grad_() for p in step.before]
        q_taken = with_parameters(q_network, parameters)(batch.observations).gather(1, batch.actions).squeeze(1)
        with torch.no_grad():
            bootstrap = with_parameters(q_network, target)(batch.next_observations).max(dim=1).values
            td_target = batch.rewards.flatten() + gamma * (1.0 - batch.dones.flatten()) * bootstrap
        gradient = torch.autograd.grad(F.smooth_l1_loss(q_taken, td_target), parameters)
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in gradient]))
        clipped += bool(norm > max_grad_norm)
        scale = min(1.0, max_grad_norm / (norm.item() + 1e-6))
        assert_tensors_close(step.grads, [g * scale for g in gradient], f"gradient of step {k}")
        if (80 + 4 * (k + 1)) % 40 == 0:  # a hard copy after the gradient steps at env steps 120, 160, 200, 240
            target = step.after
    assert clipped >= 30, clipped
    assert_tensors_close(list(result["target_network"].parameters()), target, "target network after the run")


SHORT_RUN = ["--total-timesteps", "1000", "--learning-starts", "600", "--buffer-size", "2000",
             "--eval-frequency", "500", "--eval-episodes", "1", "--max-episode-steps", "200"]


def test_a_short_breakout_run_trains_evaluates_and_saves_a_model_that_reloads(tmp_path):
    result = run_script("dqn_atari", *SHORT_RUN, "--save-model", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "replay buffer: 2,000 transitions in 0.01 GB (7064 bytes each) on cpu" in result.stdout
    assert "step 500/1000" in result.stdout and "evaluation (ε = 0.05)" in result.stdout
    run_dir = only_run_dir(tmp_path / "runs")
    assert run_dir.name.startswith("ALE_Breakout-v5__dqn_atari__1__")
    summary = read_summary(run_dir)
    assert summary["status"] == "completed" and summary["global_step"] == 1000
    assert summary["gradient_steps"] == (1000 - 600) // 4 and summary["target_updates"] == 1
    tags = scalars(run_dir)
    assert len(tags["eval/episodic_return"]) == 2 and tags["losses/td_loss"]
    assert tags["charts/episodic_return"], "the 200-step limit ends training episodes"

    evaluated = run_script("dqn_atari", "--model-path", summary["model_file"], "--total-timesteps", "0",
                           "--eval-episodes", "1", "--max-episode-steps", "200", "--capture-video",
                           "--log-dir", "eval_runs", cwd=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr
    second = read_summary(only_run_dir(tmp_path / "eval_runs"))
    assert second["eval_returns"] == summary["eval_returns"]  # the same network, seeds and ε draws
    videos = list((tmp_path / "videos" / only_run_dir(tmp_path / "eval_runs").name).glob("*.mp4"))
    assert videos and videos[0].stat().st_size > 1000


BAD_INPUT = {
    "not an atari game": (["--env-id", "CartPole-v1"], "use dqn.py"),
    "unknown game": (["--env-id", "ALE/Breakoutt-v5"], "did you mean ALE/Breakout-v5"),
    "epsilon over 1": (["--eval-epsilon", "1.5"], "--eval-epsilon must be in [0, 1]"),
    "batch over buffer": (["--batch-size", "64", "--buffer-size", "32"], "larger than --buffer-size"),
    "not a model": (["--model-path", "pyproject.toml"], "not a model saved by dqn_atari.py"),
    "buffer over memory": (["--buffer-size", "100000000"], "needs 706.4 GB and this machine has"),
}


@pytest.mark.parametrize("cli_args, message", BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_is_one_line_and_exit_status_2(tmp_path, cli_args, message):
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    assert_rejected(run_script("dqn_atari", *cli_args, cwd=tmp_path), message, tmp_path)


def test_without_ale_py_the_error_says_how_to_install_it(tmp_path, monkeypatch):
    (tmp_path / "ale_py.py").write_text("raise ImportError('No module named ale_py')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    result = run_script("dqn_atari", cwd=tmp_path)
    assert_rejected(result, 'needs ale-py and opencv, which are not installed: pip install -e ".[atari]"', tmp_path)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_keeps_the_network_and_the_sampled_batches_on_the_gpu(dqn_atari, tmp_path, monkeypatch):
    args = dqn_atari.Args(total_timesteps=200, learning_starts=100, buffer_size=1000, eval_episodes=1,
                          eval_frequency=200, max_episode_steps=50, device="cuda", log_dir=str(tmp_path),
                          progress=False)
    with recording(monkeypatch, dqn_atari.FrameReplayBuffer) as record:
        result = dqn_atari.train(args)
    assert next(result["q_network"].parameters()).is_cuda and result["replay_buffer"].frames.is_cuda
    assert record.batches and all(batch.observations.is_cuda for batch in record.batches)
    assert result["status"] == "completed"
