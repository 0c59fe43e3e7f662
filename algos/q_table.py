"""Tabular Q-learning (Watkins 1989).

One number Q[s, a] per state and action, moved a step α toward the TD target
r + γ (1 − terminated) max_a' Q[s', a'] after every transition, while ε-greedy actions
explore; α and ε fall linearly over the run. Continuous observations become states by
binning each dimension (--bins), optionally repeating each action a few env steps so that
one decision moves the state across bins (--action-repeat).

    python algos/q_table.py --env-id FrozenLake-v1
    python algos/q_table.py --env-id MountainCar-v0 --bins 51 51 --action-repeat 10
"""

import difflib
import json
import os
import random
import sys
import time
from dataclasses import asdict, dataclass
from typing import Callable

import gymnasium as gym
import matplotlib
import numpy as np
import torch
import tyro
from gymnasium.vector import AutoresetMode
from matplotlib.figure import Figure  # a figure of its own, drawn to a file: no pyplot, no GUI backend
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

NO_LIMIT_CAP = 500


@dataclass
class Args:
    learning_rate: float = 0.1  # α at the start of the run
    end_learning_rate: float = 0.01  # α at the end of the run (linear in between)
    gamma: float = 0.99  # discount factor
    start_e: float = 1.0  # ε at the start of the schedule
    end_e: float = 0.05  # ε at the end of the schedule and after
    exploration_fraction: float = 0.5  # fraction of total_timesteps over which ε falls linearly from start_e to end_e
    bins: tuple[int, ...] | None = None  # bins per dimension of a Box observation (one number: the same for all)
    obs_low: tuple[float, ...] | None = None  # lower edge of the binned range per dimension; None: the space's bound
    obs_high: tuple[float, ...] | None = None  # upper edge of the binned range per dimension; None: the space's bound
    action_repeat: int = 1  # env steps each chosen action is held for (rewards summed)

    env_id: str = "FrozenLake-v1"  # id of an env with Discrete actions and Discrete (with --bins, Box) observations
    total_timesteps: int = 200_000  # agent steps over all copies (--action-repeat env steps each); 0 only evaluates
    num_envs: int = 8  # number of environment copies stepped together
    seed: int = 1  # seed of python, numpy, torch and the environments
    exp_name: str = os.path.basename(__file__).removesuffix(".py")  # name of this experiment, part of the run folder's name
    async_envs: bool = False  # step the copies in subprocesses (gymnasium AsyncVectorEnv) instead of in this one
    max_episode_steps: int | None = None  # time limit in env steps; None keeps the registered one, or 500 where there is none
    device: str = "auto"  # torch device of the table: auto (CUDA if present, else CPU), cpu, cuda, cuda:N or mps
    capture_video: bool = False  # record evaluation episodes as mp4 into {video_dir}/{run_name}/
    save_model: bool = False  # save the Q table into the run folder at the end
    model_path: str | None = None  # load a Q table saved by --save-model before training or evaluating
    eval_episodes: int = 1000  # greedy episodes per evaluation
    eval_frequency: int = 50_000  # agent steps between evaluations (there is always one at the end)
    log_dir: str = "runs"  # folder of the run folders (TensorBoard logs, summary.json, model)
    video_dir: str = "videos"  # folder of the video folders
    progress: bool = True  # progress bar on a terminal, plain periodic lines otherwise


class Discretizer:
    """Maps a Box observation (obs_dim,) to one state index: each dimension falls into one
    of its equal-width bins over [low, high] (values outside go to the edge bins), and the
    bin indices combine row-major into a single integer."""

    def __init__(self, bins: tuple[int, ...], low: np.ndarray, high: np.ndarray):
        self.bins, self.low, self.high = bins, low, high
        self.inner_edges = [np.linspace(lo, hi, n + 1)[1:-1] for lo, hi, n in zip(low, high, bins)]
        self.n_states = int(np.prod(bins))

    def __call__(self, obs: np.ndarray) -> int:
        indices = [int(np.digitize(x, edges)) for x, edges in zip(obs, self.inner_edges)]
        return int(np.ravel_multi_index(indices, self.bins))


class DiscretizeObservation(gym.ObservationWrapper):
    def __init__(self, env: gym.Env, discretizer: Discretizer):
        super().__init__(env)
        self.discretizer = discretizer
        self.observation_space = gym.spaces.Discrete(discretizer.n_states)

    def observation(self, observation: np.ndarray) -> int:
        return self.discretizer(observation)


class ActionRepeat(gym.Wrapper):
    def __init__(self, env: gym.Env, repeat: int):
        super().__init__(env)
        self.repeat = repeat

    def step(self, action):
        total_reward = 0.0
        for _ in range(self.repeat):
            obs, reward, terminated, truncated, info = self.env.step(action)
            total_reward += float(reward)
            if terminated or truncated:
                break
        return obs, total_reward, terminated, truncated, info


def make_discretizer(args: Args, observation_space: gym.Space) -> Discretizer | None:
    if not isinstance(observation_space, gym.spaces.Box):
        return None
    dims = observation_space.shape[0]
    bins = args.bins * dims if len(args.bins) == 1 else args.bins
    low = np.array(args.obs_low if args.obs_low is not None else observation_space.low, dtype=np.float64)
    high = np.array(args.obs_high if args.obs_high is not None else observation_space.high, dtype=np.float64)
    return Discretizer(bins, low, high)


def make_env(args: Args, discretizer: Discretizer | None, render_mode: str | None = None,
             statistics: bool = True) -> Callable[[], gym.Env]:
    def thunk() -> gym.Env:
        max_episode_steps = args.max_episode_steps
        if max_episode_steps is None and gym.spec(args.env_id).max_episode_steps is None:
            max_episode_steps = NO_LIMIT_CAP
        env = gym.make(args.env_id, max_episode_steps=max_episode_steps, render_mode=render_mode)
        if args.action_repeat > 1:
            env = ActionRepeat(env, args.action_repeat)
        if discretizer is not None:
            env = DiscretizeObservation(env, discretizer)
        return gym.wrappers.RecordEpisodeStatistics(env) if statistics else env

    return thunk


# ---- the algorithm -----------------------------------------------------------------------


def linear_schedule(start: float, end: float, duration: int, t: int) -> float:
    """The value after t steps of a linear change from start to end over duration steps."""
    if t >= duration:
        return end
    return start + (end - start) * t / duration


def epsilon_greedy(q_table: torch.Tensor, obs: np.ndarray, epsilon: float, rng: np.random.Generator) -> np.ndarray:
    """Actions (num_envs,) for states (num_envs,): with probability ε, drawn per copy, a uniformly
    random action, otherwise argmax_a Q[s, a]."""
    actions = q_table[torch.as_tensor(obs, device=q_table.device)].argmax(dim=1).cpu().numpy()
    explore = rng.random(len(obs)) < epsilon
    actions[explore] = rng.integers(q_table.shape[1], size=int(explore.sum()))
    return actions


def q_learning_update(q_table: torch.Tensor, obs: torch.Tensor, actions: torch.Tensor, rewards: torch.Tensor,
                      next_obs: torch.Tensor, terminations: torch.Tensor, gamma: float, alpha: float) -> torch.Tensor:
    """Q[s, a] += α (r + γ (1 − terminated) max_a' Q[s', a'] − Q[s, a]) in place for a batch
    of transitions (batch,); returns their TD errors (batch,).

    A truncated transition has terminated = 0 and next_obs = its true final state, so it
    bootstraps. Copies of a vector env that update the same (s, a) in one step have their TD
    errors averaged: one step of α toward the mean of their targets, the same on every
    device, where a plain indexed write would keep one of them, whichever the device wrote last.
    """
    td_targets = rewards + gamma * (1.0 - terminations) * q_table[next_obs].max(dim=1).values
    flat_index = obs * q_table.shape[1] + actions
    td_errors = td_targets - q_table.view(-1)[flat_index]
    error_sums = torch.zeros_like(q_table).view(-1).index_add_(0, flat_index, td_errors)
    counts = torch.zeros_like(q_table).view(-1).index_add_(0, flat_index, torch.ones_like(td_errors))
    q_table.view(-1).add_(alpha * error_sums / counts.clamp(min=1.0))
    return td_errors


def train(args: Args) -> dict:
    """Train (and evaluate) as args say; returns summary.json's contents plus the tensor
    `q_table` (n_states, n_actions) and the list `episodic_returns` of training episodes."""
    check_args(args)
    device = resolve_device(args.device)
    seed_everything(args.seed)
    probe = gym.make(args.env_id)
    discretizer = make_discretizer(args, probe.observation_space)
    probe.close()
    envs = make_vector_env(args, discretizer)
    n_states, n_actions = int(envs.single_observation_space.n), int(envs.single_action_space.n)
    # Zeros: optimistic where rewards are negative (every untried action looks best), and
    # neutral where they are not.
    q_table = torch.zeros(n_states, n_actions, device=device)
    if args.model_path is not None:
        q_table = load_model(args.model_path, args, (n_states, n_actions), device)
    run = Run(args, q_table, discretizer)
    rng = np.random.default_rng(args.seed)
    exploration_steps = int(args.exploration_fraction * args.total_timesteps)
    global_step = 0
    obs, _ = envs.reset(seed=args.seed)
    try:
        while global_step < args.total_timesteps:
            epsilon = linear_schedule(args.start_e, args.end_e, exploration_steps, global_step)
            alpha = linear_schedule(args.learning_rate, args.end_learning_rate, args.total_timesteps, global_step)
            actions = epsilon_greedy(q_table, obs, epsilon, rng)
            next_obs, rewards, terminations, truncations, infos = envs.step(actions)
            global_step += args.num_envs

            # a finished episode's transition ends in its true final state, not the next episode's first
            real_next_obs = next_obs
            if "final_obs" in infos:  # a copy only on the steps where an episode ended
                real_next_obs = next_obs.copy()
                for i in np.flatnonzero(infos["_final_obs"]):
                    real_next_obs[i] = infos["final_obs"][i]
            run.td_errors = q_learning_update(
                q_table, torch.as_tensor(obs, device=device), torch.as_tensor(actions, device=device),
                torch.as_tensor(rewards, dtype=torch.float32, device=device),
                torch.as_tensor(real_next_obs, device=device),
                torch.as_tensor(terminations, dtype=torch.float32, device=device), args.gamma, alpha)
            obs = next_obs
            run.record_episodes(global_step, infos)
            run.log(global_step, epsilon, alpha)
    except FloatingPointError as error:  # stop; the logs so far stay
        run.status = f"{error} at step {global_step}"
    envs.close()
    return run.finish(global_step, {"q_table": q_table.cpu()}, q_table=q_table)


# ==== bookkeeping: nothing below this line is the algorithm ===============================

SCRIPT = os.path.basename(__file__)  # in messages and saved models


class Run:
    """A run's folder, TensorBoard log, progress, evaluations and summary.json."""

    def __init__(self, args: Args, q_table: torch.Tensor, discretizer: Discretizer | None):
        self.args, self.q_table, self.discretizer = args, q_table, discretizer
        self.name = unique_run_name(args)
        self.dir = os.path.join(args.log_dir, self.name)
        # a queue that holds a log point's episodes: with the default of 10, adding an event
        # waits for TensorBoard's writer thread (benchmarks/results/speed.md)
        self.writer = SummaryWriter(self.dir, max_queue=100_000)
        self.writer.add_text("hyperparameters", "|param|value|\n|-|-|\n"
                             + "\n".join(f"|{k}|{v}|" for k, v in asdict(args).items()))
        self.eval_env = make_env(args, discretizer, render_mode="rgb_array" if args.capture_video else None,
                                 statistics=False)()
        if args.capture_video:
            self.eval_env = gym.wrappers.RecordVideo(
                self.eval_env, os.path.join(args.video_dir, self.name), name_prefix="eval",
                episode_trigger=lambda episode: episode % args.eval_episodes == 0)
        self.bar = tqdm(total=args.total_timesteps, unit="step", disable=not (args.progress and sys.stderr.isatty()))
        self.plain_progress = args.progress and self.bar.disable
        self.status = "completed"
        self.td_errors = torch.zeros(0)
        self.episodic_returns: list[float] = []
        self.unlogged_episodes: list[tuple[int, float, int]] = []
        self.start_time = time.perf_counter()

    def record_episodes(self, global_step: int, infos: dict) -> None:
        if "final_info" in infos:
            episode = infos["final_info"]["episode"]
            for i in np.flatnonzero(infos["_final_obs"]):
                self.episodic_returns.append(float(episode["r"][i]))
                self.unlogged_episodes.append((global_step, float(episode["r"][i]), int(episode["l"][i])))

    def write_episodes(self) -> None:
        # at the log points rather than as episodes end: each event wakes TensorBoard's writer thread
        for step, episodic_return, episodic_length in self.unlogged_episodes:
            self.writer.add_scalar("charts/episodic_return", episodic_return, step)
            self.writer.add_scalar("charts/episodic_length", episodic_length, step)
        self.unlogged_episodes.clear()

    def log(self, global_step: int, epsilon: float, alpha: float) -> None:
        """After each env step: every 1,000 steps TensorBoard, the progress bar and a check that the
        table is finite (FloatingPointError if not); every tenth of the run a plain progress line;
        every eval_frequency steps an evaluation."""
        args, last_return = self.args, self.episodic_returns[-1] if self.episodic_returns else None
        if crossings(global_step, args.num_envs, 1000) or global_step >= args.total_timesteps:
            self.write_episodes()
            sps = int(global_step / (time.perf_counter() - self.start_time))
            self.writer.add_scalar("charts/SPS", sps, global_step)
            self.writer.add_scalar("charts/epsilon", epsilon, global_step)
            self.writer.add_scalar("charts/learning_rate", alpha, global_step)
            self.writer.add_scalar("losses/td_error", self.td_errors.abs().mean().item(), global_step)
            if not torch.isfinite(self.q_table).all():
                raise FloatingPointError("non-finite Q-value")
            self.bar.update(global_step - self.bar.n)
            self.bar.set_postfix(SPS=sps, episodic_return=last_return)
        if self.plain_progress and crossings(global_step, args.num_envs, max(args.total_timesteps // 10, 1)):
            print(f"{self.name}: step {global_step}/{args.total_timesteps}, "
                  f"SPS {global_step / (time.perf_counter() - self.start_time):.0f}, "
                  f"episodic return {last_return}", flush=True)
        if crossings(global_step, args.num_envs, args.eval_frequency) and global_step < args.total_timesteps:
            self.writer.add_scalar("eval/episodic_return", self.evaluate().mean(), global_step)
            self.writer.flush()  # on disk at once, for whoever follows the run (benchmarks/tune.py prunes on it)

    def evaluate(self) -> np.ndarray:
        """Undiscounted returns of eval_episodes greedy episodes, shape (eval_episodes,)."""
        return evaluate(frozen_greedy_policy(self.q_table), self.eval_env, self.args.eval_episodes,
                        self.args.seed + 100_000)

    def finish(self, global_step: int, model: dict, **objects) -> dict:
        """The final evaluation, the model file and summary.json; returns the summary with the
        training episodes' returns and `objects` added."""
        args = self.args
        self.write_episodes()
        train_seconds = time.perf_counter() - self.start_time
        self.bar.close()
        eval_returns = self.evaluate() if self.status == "completed" else np.array([])
        if eval_returns.size:
            self.writer.add_scalar("eval/episodic_return", eval_returns.mean(), global_step)
        self.eval_env.close()
        picture_file = None
        if self.status == "completed" and self.discretizer is not None and len(self.discretizer.bins) == 2:
            picture_file = os.path.join(self.dir, "value_policy.png")
            q_array = self.q_table.cpu().numpy()
            plot_value_and_policy(q_array, self.discretizer, greedy_trajectory(q_array, args, self.discretizer,
                                                                               args.seed + 100_000), picture_file)
        model_file = None
        if args.save_model and self.status == "completed":
            model_file = os.path.join(self.dir, f"{args.exp_name}.pt")
            torch.save({"algorithm": SCRIPT, "env_id": args.env_id, **model}, model_file)
        self.writer.close()
        summary = {
            "status": self.status,
            "eval_mean": float(eval_returns.mean()) if eval_returns.size else None,
            "eval_std": float(eval_returns.std()) if eval_returns.size else None,
            "eval_returns": eval_returns.tolist(),
            "global_step": global_step,
            "train_seconds": train_seconds,
            "sps": global_step / train_seconds if global_step else 0.0,
            "run_dir": self.dir,
            "model_file": model_file,
            "picture_file": picture_file,
            "args": asdict(args),
        }
        write_json_atomically(os.path.join(self.dir, "summary.json"), summary)
        return {**summary, "episodic_returns": self.episodic_returns, **objects}


def frozen_greedy_policy(q_table: torch.Tensor) -> Callable[[np.ndarray], np.ndarray]:
    """The greedy policy of the table as it is now, as a lookup from states (n,) to actions (n,):
    one NumPy index per evaluation step instead of a few torch calls."""
    actions = q_table.argmax(dim=1).cpu().numpy()
    return lambda obs: actions[obs]


def evaluate(policy: Callable[[np.ndarray], np.ndarray], env: gym.Env, episodes: int, seed: int) -> np.ndarray:
    """Undiscounted returns of `episodes` episodes of a greedy policy, shape (episodes,)."""
    returns = np.zeros(episodes)
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        done = False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(int(policy(np.array([obs]))[0]))
            returns[episode] += float(reward)
            done = terminated or truncated
    return returns


def bin_centers(discretizer: Discretizer, dimension: int) -> np.ndarray:
    """The centres of one dimension's bins, shape (bins[dimension],)."""
    edges = np.linspace(discretizer.low[dimension], discretizer.high[dimension], discretizer.bins[dimension] + 1)
    return (edges[:-1] + edges[1:]) / 2


def plot_value_and_policy(q_table: np.ndarray, discretizer: Discretizer, trajectory: np.ndarray, path: str) -> None:
    """For a 2-D observation: max_a Q and argmax_a Q over the bins, with a greedy episode's
    observations (steps, 2) drawn on both."""
    shape = discretizer.bins
    x, y = bin_centers(discretizer, 0), bin_centers(discretizer, 1)
    fig = Figure(figsize=(11, 4.5), constrained_layout=True)
    axes = fig.subplots(1, 2)
    action_colors = matplotlib.colormaps["tab10"].resampled(q_table.shape[1])
    panels = [("greedy value max_a Q", q_table.max(axis=1), "viridis"),
              ("greedy action argmax_a Q", q_table.argmax(axis=1), action_colors)]
    for ax, (title, values, colormap) in zip(axes, panels):
        image = ax.pcolormesh(x, y, values.reshape(shape).T, cmap=colormap, shading="nearest")
        fig.colorbar(image, ax=ax, ticks=range(q_table.shape[1]) if "action" in title else None)
        ax.plot(trajectory[:, 0], trajectory[:, 1], "r-", linewidth=2, label="greedy episode")
        ax.plot(trajectory[0, 0], trajectory[0, 1], "wo", markeredgecolor="r")
        ax.set(title=title, xlabel="observation[0]", ylabel="observation[1]")
    axes[0].legend(loc="lower left")
    fig.savefig(path, dpi=100)


def greedy_trajectory(q_table: np.ndarray, args: Args, discretizer: Discretizer, seed: int) -> np.ndarray:
    """The raw observations (steps + 1, obs_dim) of one greedy episode."""
    env = make_env(args, None, statistics=False)()
    obs, _ = env.reset(seed=seed)
    trajectory, done = [obs], False
    while not done:
        obs, _, terminated, truncated, _ = env.step(int(q_table[discretizer(obs)].argmax()))
        trajectory.append(obs)
        done = terminated or truncated
    env.close()
    return np.array(trajectory)


def crossings(step: int, step_size: int, interval: int) -> int:
    """How many multiples of interval lie in (step - step_size, step]."""
    return step // interval - (step - step_size) // interval


def make_vector_env(args: Args, discretizer: Discretizer | None) -> gym.vector.VectorEnv:
    # SAME_STEP autoreset: infos["final_obs"] holds an ending episode's true final state; every step is a transition
    vector_env_class = gym.vector.AsyncVectorEnv if args.async_envs else gym.vector.SyncVectorEnv
    return vector_env_class([make_env(args, discretizer) for _ in range(args.num_envs)],
                            autoreset_mode=AutoresetMode.SAME_STEP)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class UsageError(Exception):
    """Bad input: reported as one line on stderr with exit status 2."""


def check_args(args: Args) -> None:
    for name in ("num_envs", "eval_episodes", "eval_frequency", "action_repeat"):
        if getattr(args, name) <= 0:
            raise UsageError(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    if args.total_timesteps < 0:
        raise UsageError(f"--total-timesteps must be >= 0, got {args.total_timesteps}")
    if args.max_episode_steps is not None and args.max_episode_steps <= 0:
        raise UsageError(f"--max-episode-steps must be positive, got {args.max_episode_steps}")
    if args.env_id not in gym.registry:
        close = difflib.get_close_matches(args.env_id, gym.registry.keys(), n=3, cutoff=0.6)
        raise UsageError(f"unknown env id {args.env_id!r}" + (f"; did you mean {' or '.join(close)}?" if close else ""))
    try:
        probe = gym.make(args.env_id)
    except gym.error.DependencyNotInstalled as err:
        extra = next((name for name in ("box2d", "mujoco") if f"gymnasium[{name}]" in str(err)), None)
        hint = f'pip install -e ".[{extra}]"' if extra else str(err).splitlines()[0]
        raise UsageError(f"{args.env_id} needs a package that is not installed: {hint}") from None
    action_space, observation_space = probe.action_space, probe.observation_space
    probe.close()
    if not isinstance(action_space, gym.spaces.Discrete):
        raise UsageError(f"{SCRIPT} needs a Discrete action space; {args.env_id} has {action_space}: use ddpg.py")
    if isinstance(observation_space, gym.spaces.Discrete):
        if args.bins is not None or args.obs_low is not None or args.obs_high is not None:
            raise UsageError(f"{args.env_id} already has Discrete observations: leave out --bins, --obs-low, --obs-high")
        return
    if not isinstance(observation_space, gym.spaces.Box) or len(observation_space.shape) != 1:
        raise UsageError(f"{SCRIPT} needs a Discrete or 1-D Box observation space; {args.env_id} has {observation_space}")
    dims = observation_space.shape[0]
    if args.bins is None:
        raise UsageError(f"{args.env_id} has continuous observations ({observation_space}): add --bins, "
                         f"e.g. --bins {' '.join(['20'] * dims)}")
    if len(args.bins) not in (1, dims) or min(args.bins) <= 0:
        raise UsageError(f"--bins needs one positive count or {dims} (one per observation dimension), got {args.bins}")
    for name, given, bound in (("obs-low", args.obs_low, observation_space.low),
                               ("obs-high", args.obs_high, observation_space.high)):
        if given is not None and len(given) != dims:
            raise UsageError(f"--{name} needs {dims} values (one per observation dimension), got {len(given)}")
        if not np.all(np.isfinite(given if given is not None else bound)):
            raise UsageError(f"{args.env_id} has unbounded observations ({observation_space}): "
                             f"give the binned range with --obs-low and --obs-high")
    low = np.array(args.obs_low if args.obs_low is not None else observation_space.low)
    high = np.array(args.obs_high if args.obs_high is not None else observation_space.high)
    if np.any(low >= high):
        raise UsageError(f"the binned range is empty in some dimension: low {low.tolist()}, high {high.tolist()}")


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UsageError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and (not torch.cuda.is_available() or (device.index or 0) >= torch.cuda.device_count()):
        raise UsageError(f"device {name!r} is not available: this machine has {torch.cuda.device_count()} CUDA devices")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise UsageError("device 'mps' is not available on this machine")
    return device


def load_model(path: str, args: Args, shape: tuple[int, int], device: torch.device) -> torch.Tensor:
    try:
        checkpoint = torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise UsageError(f"--model-path {path!r}: no such file") from None
    except Exception as err:
        raise UsageError(f"--model-path {path!r} is not a model saved by {SCRIPT} ({type(err).__name__})") from None
    if not isinstance(checkpoint, dict) or checkpoint.get("algorithm") != SCRIPT:
        raise UsageError(f"--model-path {path!r} is not a model saved by {SCRIPT}")
    if checkpoint["env_id"] != args.env_id:
        raise UsageError(f"--model-path {path!r} was trained on {checkpoint['env_id']}, not {args.env_id}")
    if tuple(checkpoint["q_table"].shape) != shape:
        raise UsageError(f"--model-path {path!r} has {checkpoint['q_table'].shape[0]} states, not {shape[0]}: "
                         "use the --bins it was trained with")
    return checkpoint["q_table"]


def unique_run_name(args: Args) -> str:
    run_name = base_name = f"{args.env_id}__{args.exp_name}__{args.seed}__{int(time.time())}"
    copies = 0
    while os.path.exists(os.path.join(args.log_dir, run_name)):  # same run started within a second
        copies += 1
        run_name = f"{base_name}_{copies}"
    return run_name


def write_json_atomically(path: str, data: dict) -> None:
    with open(path + ".tmp", "w") as file:
        json.dump(data, file, indent=2)
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    try:
        result = train(tyro.cli(Args))
    except UsageError as error:
        print(f"{SCRIPT}: error: {error}", file=sys.stderr)
        sys.exit(2)
    if result["status"] != "completed":
        print(f"{SCRIPT}: {result['status']}; logs kept in {result['run_dir']}", file=sys.stderr)
        sys.exit(1)
    print(f"greedy evaluation: {result['eval_mean']:.3f} ± {result['eval_std']:.3f} over "
          f"{len(result['eval_returns'])} episodes; run folder {result['run_dir']}")
