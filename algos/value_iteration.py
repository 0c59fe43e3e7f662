"""Q-value iteration (Bellman 1957): the planning oracle for small discrete MDPs.

With the model known, as gymnasium's toy-text envs expose it in `env.unwrapped.P`, the
optimal Q-values are the fixed point of Q(s, a) = Σ_s' p(s' | s, a) [r + γ (1 − terminal)
max_a' Q(s', a')]; iterating that update from Q = 0 converges to it for γ < 1 (and for
γ = 1 where every policy ends its episodes). No env is stepped to learn: the env serves to
read the model and to evaluate the greedy policy.

The time limit is not in the model: planning solves the discounted infinite-horizon
problem, whose optimal policy is the greedy one, stationary like those q_table.py and the
DQN family learn (their observations carry no clock). It is not always the best stationary
policy within the env's time limit: on FrozenLake8x8-v1 (200 steps) the greedy policy of
γ = 0.999 succeeds 0.886 of the time, that of γ = 0.99 0.863. Its value under the limit is
computed exactly, by following it for max_episode_steps steps through the transition
table; beside it, the best *time-dependent* policy, found by backward induction over those
steps, gives the optimum under the limit, which no policy passes.

    python algos/value_iteration.py --env-id FrozenLake-v1
    python algos/value_iteration.py --env-id ThreeStateMDP-v0 --gamma 0.9
"""

import difflib
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from typing import Callable

import gymnasium as gym
import numpy as np
import torch
import tyro
from torch.utils.tensorboard import SummaryWriter

NO_LIMIT_CAP = 500


@dataclass
class Args:
    gamma: float = 0.99  # discount factor
    tolerance: float = 1e-10  # stop when no Q-value changes by more than this in one sweep
    max_iterations: int = 100_000  # stop after this many sweeps even if not converged

    env_id: str = "FrozenLake-v1"  # gymnasium id of an env whose unwrapped env exposes its transition table P
    seed: int = 1  # seed of the evaluation episodes
    exp_name: str = os.path.basename(__file__).removesuffix(".py")  # name of this experiment, part of the run folder's name
    max_episode_steps: int | None = None  # time limit in steps; None keeps the registered one, or 500 where there is none
    device: str = "auto"  # torch device of the tables: auto (CUDA if present, else CPU), cpu, cuda or cuda:N
    capture_video: bool = False  # record evaluation episodes as mp4 into {video_dir}/{run_name}/
    save_model: bool = False  # save the Q table into the run folder
    model_path: str | None = None  # evaluate a Q table saved by --save-model instead of planning
    eval_episodes: int = 1000  # greedy episodes simulated in the env
    log_dir: str = "runs"  # folder of the run folders (TensorBoard logs, summary.json, model)
    video_dir: str = "videos"  # folder of the video folders


# ---- environment -------------------------------------------------------------------------


class ThreeStateMDP(gym.Env):
    """The 3-state MDP of Géron, Hands-On Machine Learning, ch. 18. Not every action is
    possible in every state: P[s][a] is empty for an impossible one, and stepping it fails."""

    observation_space = gym.spaces.Discrete(3)
    action_space = gym.spaces.Discrete(3)
    metadata = {"render_modes": []}

    def __init__(self, render_mode: str | None = None):
        probabilities = [[[0.7, 0.3, 0.0], [1.0, 0.0, 0.0], [0.8, 0.2, 0.0]],
                         [[0.0, 1.0, 0.0], None, [0.0, 0.0, 1.0]],
                         [None, [0.8, 0.1, 0.1], None]]
        rewards = [[[10, 0, 0], [0, 0, 0], [0, 0, 0]],
                   [[0, 0, 0], [0, 0, 0], [0, 0, -50]],
                   [[0, 0, 0], [40, 0, 0], [0, 0, 0]]]
        self.P = {s: {a: [] if probabilities[s][a] is None else
                      [(p, s2, float(rewards[s][a][s2]), False) for s2, p in enumerate(probabilities[s][a]) if p > 0]
                      for a in range(3)} for s in range(3)}
        self.initial_state_distrib = np.array([1.0, 0.0, 0.0])
        self.state = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[int, dict]:
        super().reset(seed=seed)
        self.state = 0
        return self.state, {}

    def step(self, action: int) -> tuple[int, float, bool, bool, dict]:
        outcomes = self.P[self.state][int(action)]
        if not outcomes:
            raise ValueError(f"action {action} is not possible in state {self.state}")
        p, next_state, reward, terminated = outcomes[self.np_random.choice(len(outcomes), p=[o[0] for o in outcomes])]
        self.state = next_state
        return next_state, reward, terminated, False, {}


gym.register("ThreeStateMDP-v0", entry_point=ThreeStateMDP, max_episode_steps=100)


def make_env(env_id: str, max_episode_steps: int | None, render_mode: str | None = None) -> gym.Env:
    if max_episode_steps is None and gym.spec(env_id).max_episode_steps is None:
        max_episode_steps = NO_LIMIT_CAP
    return gym.make(env_id, max_episode_steps=max_episode_steps, render_mode=render_mode)


# ---- the model as tables -----------------------------------------------------------------


def mdp_tables(P: dict, n_states: int, n_actions: int, device: torch.device) -> dict[str, torch.Tensor]:
    """The model of gymnasium's P[s][a] = [(probability, next_state, reward, terminated), ...]:
    `rewards` (S, A) expected reward, `continues` (S, A, S') probability of reaching s'
    without terminating, `possible` (S, A) whether a has any outcome in s."""
    rewards = torch.zeros(n_states, n_actions, dtype=torch.float64)
    continues = torch.zeros(n_states, n_actions, n_states, dtype=torch.float64)
    possible = torch.zeros(n_states, n_actions, dtype=torch.bool)
    for s in range(n_states):
        for a in range(n_actions):
            for probability, next_state, reward, terminated in P[s][a]:
                possible[s, a] = True
                rewards[s, a] += probability * reward
                if not terminated:
                    continues[s, a, next_state] += probability
    return {"rewards": rewards.to(device), "continues": continues.to(device), "possible": possible.to(device)}


# ---- the algorithm -----------------------------------------------------------------------


def q_value_iteration(
    tables: dict[str, torch.Tensor], gamma: float, tolerance: float, max_iterations: int,
    on_sweep: Callable[[int, float], None] = lambda sweep, residual: None,
) -> tuple[torch.Tensor, int]:
    """Q-values (S, A) of the optimal policy of the discounted infinite-horizon problem, −inf
    where an action is impossible, and the sweeps it took."""
    rewards, continues, possible = tables["rewards"], tables["continues"], tables["possible"]
    q_values = torch.where(possible, 0.0, -torch.inf).to(rewards)
    for sweep in range(1, max_iterations + 1):
        state_values = q_values.max(dim=1).values
        new_q_values = torch.where(possible, rewards + gamma * continues @ state_values, -torch.inf)
        residual = (new_q_values - q_values)[possible].abs().max().item()
        q_values = new_q_values
        on_sweep(sweep, residual)
        if residual <= tolerance:
            break
    return q_values, sweep


def time_limited_values(tables: dict[str, torch.Tensor], policy: torch.Tensor | None, horizon: int) -> torch.Tensor:
    """Exact expected undiscounted return (S,) of at most `horizon` steps: of the stationary
    `policy` (S,) of actions, or of the best time-dependent policy when policy is None."""
    rewards, continues = tables["rewards"], tables["continues"]
    values = torch.zeros(rewards.shape[0], dtype=rewards.dtype, device=rewards.device)
    for _ in range(horizon):  # values = expected return with one more step to go
        q_values = torch.where(tables["possible"], rewards + continues @ values, -torch.inf)
        values = q_values.max(dim=1).values if policy is None else q_values.gather(1, policy[:, None]).squeeze(1)
    return values


def train(args: Args) -> dict:
    """Plan (or load) and evaluate as args say; returns summary.json's contents plus the
    tensors `q_table` (S, A) and `policy` (S,)."""
    check_args(args)
    device = resolve_device(args.device)
    eval_env = make_env(args.env_id, args.max_episode_steps, render_mode="rgb_array" if args.capture_video else None)
    n_states, n_actions = int(eval_env.observation_space.n), int(eval_env.action_space.n)
    horizon = eval_env.spec.max_episode_steps
    tables = mdp_tables(eval_env.unwrapped.P, n_states, n_actions, device)
    q_table = None if args.model_path is None else load_model(args.model_path, args, (n_states, n_actions), device)
    run = Run(args, eval_env)
    sweeps = 0
    if q_table is None:
        q_table, sweeps = q_value_iteration(tables, args.gamma, args.tolerance, args.max_iterations, run.log_sweep)
    policy = q_table.argmax(dim=1)
    # the greedy policy's return within the time limit, computed exactly, beside the optimum under that limit
    initial = torch.as_tensor(eval_env.unwrapped.initial_state_distrib, dtype=torch.float64, device=device)
    exact_value = float(initial @ time_limited_values(tables, policy, horizon))
    time_dependent_optimum = float(initial @ time_limited_values(tables, None, horizon))
    summary = run.finish(q_table, policy, sweeps, exact_value, time_dependent_optimum, horizon)
    return {**summary, "q_table": q_table, "policy": policy}


# ==== bookkeeping: nothing below this line is the algorithm ===============================

SCRIPT = os.path.basename(__file__)  # in messages and saved models


class Run:
    """A plan's run folder, TensorBoard log, evaluation and summary.json."""

    def __init__(self, args: Args, eval_env: gym.Env):
        self.args = args
        self.name = unique_run_name(args)
        self.dir = os.path.join(args.log_dir, self.name)
        self.writer = SummaryWriter(self.dir)
        self.writer.add_text("hyperparameters", "|param|value|\n|-|-|\n"
                             + "\n".join(f"|{k}|{v}|" for k, v in asdict(args).items()))
        self.eval_env = eval_env
        if args.capture_video:
            self.eval_env = gym.wrappers.RecordVideo(eval_env, os.path.join(args.video_dir, self.name), name_prefix="eval",
                                                     episode_trigger=lambda episode: episode % args.eval_episodes == 0)
        self.plan_seconds = 0.0
        self.start_time = time.perf_counter()

    def log_sweep(self, sweep: int, residual: float) -> None:
        self.writer.add_scalar("losses/bellman_residual", residual, sweep)
        self.plan_seconds = time.perf_counter() - self.start_time

    def finish(self, q_table: torch.Tensor, policy: torch.Tensor, sweeps: int, exact_value: float,
               time_dependent_optimum: float, horizon: int) -> dict:
        """Simulates the greedy policy (S,), saves the Q table (S, A) if asked and writes summary.json;
        returns its contents."""
        args = self.args
        policy_array = policy.cpu().numpy()
        eval_returns = evaluate(lambda obs: policy_array[obs], self.eval_env, args.eval_episodes, args.seed + 100_000)
        self.writer.add_scalar("eval/episodic_return", eval_returns.mean(), sweeps)
        self.eval_env.close()
        model_file = None
        if args.save_model:
            model_file = os.path.join(self.dir, f"{args.exp_name}.pt")
            torch.save({"algorithm": SCRIPT, "env_id": args.env_id, "q_table": q_table.cpu()}, model_file)
        self.writer.close()
        summary = {
            "status": "completed",
            "eval_mean": float(eval_returns.mean()),
            "eval_std": float(eval_returns.std()),
            "eval_returns": eval_returns.tolist(),
            "exact_value": exact_value,
            "time_dependent_optimum": time_dependent_optimum,
            "horizon": horizon,
            "sweeps": sweeps,
            "converged": args.model_path is None and sweeps < args.max_iterations,
            "train_seconds": self.plan_seconds,
            "run_dir": self.dir,
            "model_file": model_file,
            "args": asdict(args),
        }
        write_json_atomically(os.path.join(self.dir, "summary.json"), summary)
        return summary


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


class UsageError(Exception):
    """Bad input: reported as one line on stderr with exit status 2."""


def check_args(args: Args) -> None:
    for name in ("eval_episodes", "max_iterations"):
        if getattr(args, name) <= 0:
            raise UsageError(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    if args.max_episode_steps is not None and args.max_episode_steps <= 0:
        raise UsageError(f"--max-episode-steps must be positive, got {args.max_episode_steps}")
    if not 0.0 <= args.gamma <= 1.0:
        raise UsageError(f"--gamma must be in [0, 1], got {args.gamma}")
    if args.tolerance < 0:
        raise UsageError(f"--tolerance must be >= 0, got {args.tolerance}")
    if args.env_id not in gym.registry:
        close = difflib.get_close_matches(args.env_id, gym.registry.keys(), n=3, cutoff=0.6)
        raise UsageError(f"unknown env id {args.env_id!r}" + (f"; did you mean {' or '.join(close)}?" if close else ""))
    try:
        probe = gym.make(args.env_id)
    except gym.error.DependencyNotInstalled as err:
        extra = next((name for name in ("box2d", "mujoco") if f"gymnasium[{name}]" in str(err)), None)
        hint = f'pip install -e ".[{extra}]"' if extra else str(err).splitlines()[0]
        raise UsageError(f"{args.env_id} needs a package that is not installed: {hint}") from None
    action_space, observation_space, has_model = probe.action_space, probe.observation_space, hasattr(probe.unwrapped, "P")
    probe.close()
    if not isinstance(action_space, gym.spaces.Discrete):
        raise UsageError(f"{SCRIPT} needs a Discrete action space; {args.env_id} has {action_space}: use ddpg.py")
    if not has_model:
        raise UsageError(f"{SCRIPT} plans with a known model, and {args.env_id} exposes no transition table P: "
                         "learn from experience with q_table.py or dqn.py")
    if not isinstance(observation_space, gym.spaces.Discrete):
        raise UsageError(f"{SCRIPT} needs a Discrete observation space; {args.env_id} has {observation_space}")


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UsageError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and (not torch.cuda.is_available() or (device.index or 0) >= torch.cuda.device_count()):
        raise UsageError(f"device {name!r} is not available: this machine has {torch.cuda.device_count()} CUDA devices")
    if device.type not in ("cpu", "cuda"):
        raise UsageError(f"device {name!r} does not support the float64 tables; use cpu or cuda")
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
    if checkpoint["env_id"] != args.env_id or tuple(checkpoint["q_table"].shape) != shape:
        raise UsageError(f"--model-path {path!r} was planned on {checkpoint['env_id']}, not {args.env_id}")
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
    np.set_printoptions(precision=8, suppress=True, linewidth=120, threshold=200)
    print(f"Q table (state × action; -inf: impossible action), after {result['sweeps']} sweeps:\n"
          f"{result['q_table'].cpu().numpy()}")
    print(f"greedy policy: {result['policy'].cpu().numpy()}")
    print(f"state values: {result['q_table'].max(dim=1).values.cpu().numpy()}")
    print(f"greedy policy within the {result['horizon']}-step limit: exact expected return {result['exact_value']:.4f} "
          f"(best time-dependent policy: {result['time_dependent_optimum']:.4f}); simulated "
          f"{result['eval_mean']:.4f} ± {result['eval_std']:.4f} over {len(result['eval_returns'])} episodes")
    print(f"run folder {result['run_dir']}")
