"""REINFORCE (Williams 1992, "Simple statistical gradient-following algorithms for
connectionist reinforcement learning"): Monte-Carlo policy gradient.

On-policy: whole episodes from the current policy, used once and thrown away (no replay buffer).
--num-envs copies play episodes with actions drawn from π_θ(a|s); once --episodes-per-update
of them have finished, one gradient step raises log π_θ(a_t|s_t) in proportion to the
reward-to-go G_t = Σ_k γ^k r_{t+k} of each of their steps, normalized over the batch. A
categorical policy serves Discrete actions, a diagonal Gaussian with a state-independent
log-std serves Box actions (clipped to the bounds on their way to the env).

    python algos/reinforce.py --env-id CartPole-v1
"""

import difflib
import json
import os
import random
import sys
import time
from dataclasses import asdict, dataclass
from typing import Callable, Literal, NamedTuple

import gymnasium as gym
import numpy as np
import torch
import torch.nn as nn
import tyro
from gymnasium.vector import AutoresetMode
from torch.distributions import Categorical, Distribution, Independent, Normal
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm


@dataclass
class Args:
    learning_rate: float = 1e-2  # Adam learning rate
    anneal_lr: bool = False  # lower the learning rate linearly from --learning-rate to 0 over --total-timesteps
    gamma: float = 0.99  # discount factor of the reward-to-go
    episodes_per_update: int = 16  # finished episodes that trigger a gradient step (all episodes finished by then go in)
    ent_coef: float = 0.0  # weight of the policy's mean entropy, added to the objective to keep exploring
    hidden_sizes: tuple[int, ...] = (64, 64)  # widths of the policy network's hidden layers

    env_id: str = "CartPole-v1"  # gymnasium id of an environment with a Discrete or 1-D Box action space
    total_timesteps: int = 100_000  # environment steps over all copies; 0 only evaluates (e.g. a --model-path)
    num_envs: int = 8  # number of environment copies stepped together
    seed: int = 1  # seed of python, numpy, torch and the environments
    exp_name: str = os.path.basename(__file__).removesuffix(".py")  # name of this experiment, part of the run folder's name
    async_envs: bool = False  # step the copies in subprocesses (gymnasium AsyncVectorEnv) instead of in this one
    max_episode_steps: int | None = None  # time limit in steps per episode; None keeps the env's registered limit
    device: str = "auto"  # torch device: auto (CUDA if present, else CPU), cpu, cuda, cuda:N or mps
    torch_deterministic: bool = True  # make cuDNN deterministic
    capture_video: bool = False  # record evaluation episodes as mp4 into {video_dir}/{run_name}/
    save_model: bool = False  # save the policy network into the run folder at the end
    model_path: str | None = None  # load policy weights saved by --save-model before training or evaluating
    eval_episodes: int = 10  # episodes per evaluation
    eval_policy: Literal["greedy", "sampled"] = "greedy"  # evaluate the most probable (Discrete) or mean (Box) action, or actions drawn from π as in training
    eval_frequency: int = 10_000  # environment steps between evaluations (there is always one at the end)
    log_dir: str = "runs"  # folder of the run folders (TensorBoard logs, summary.json, model)
    video_dir: str = "videos"  # folder of the video folders
    progress: bool = True  # progress bar on a terminal, plain periodic lines otherwise


def make_env(env_id: str, max_episode_steps: int | None, render_mode: str | None = None) -> Callable[[], gym.Env]:
    def thunk() -> gym.Env:
        env = gym.make(env_id, max_episode_steps=max_episode_steps, render_mode=render_mode)
        return gym.wrappers.RecordEpisodeStatistics(env)

    return thunk


def mlp(width_in: int, hidden_sizes: tuple[int, ...], width_out: int) -> nn.Sequential:
    # tanh, the hidden activation of stable-baselines3's on-policy methods (A2C, PPO)
    widths = (width_in, *hidden_sizes)
    layers: list[nn.Module] = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(a, b), nn.Tanh()]
    return nn.Sequential(*layers, nn.Linear(widths[-1], width_out))


class CategoricalPolicy(nn.Module):
    """π(a|s) = softmax(logits(s))_a over Discrete actions."""

    def __init__(self, obs_dim: int, n_actions: int, hidden_sizes: tuple[int, ...]):
        super().__init__()
        self.net = mlp(obs_dim, hidden_sizes, n_actions)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Logits, shape (batch, n_actions), of observations (batch, obs_dim)."""
        return self.net(obs)

    def distribution(self, logits: torch.Tensor) -> Distribution:
        return Categorical(logits=logits, validate_args=False)


class GaussianPolicy(nn.Module):
    """π(a|s) = N(a; μ(s), diag(σ²)) over Box actions: the network gives the mean μ(s); one
    learned log σ per action dimension, the same in every state, sets the exploration."""

    def __init__(self, obs_dim: int, action_dim: int, hidden_sizes: tuple[int, ...]):
        super().__init__()
        self.net = mlp(obs_dim, hidden_sizes, action_dim)
        self.log_std = nn.Parameter(torch.zeros(action_dim))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Mean actions, shape (batch, action_dim), of observations (batch, obs_dim)."""
        return self.net(obs)

    def distribution(self, mean: torch.Tensor) -> Distribution:
        # Independent sums the per-dimension log-densities: log_prob and entropy have shape (batch,).
        return Independent(Normal(mean, self.log_std.exp(), validate_args=False), 1, validate_args=False)


Policy = CategoricalPolicy | GaussianPolicy


def to_env_actions(actions: np.ndarray, action_space: gym.spaces.Space) -> np.ndarray:
    """Actions as the env takes them: a Box action clipped to the bounds. The update keeps the unclipped
    sample, whose probability is what log π is about: to the policy the clipping is part of the env."""
    if isinstance(action_space, gym.spaces.Box):
        return np.clip(actions, action_space.low, action_space.high)
    return actions


# ---- the algorithm -----------------------------------------------------------------------


class Episode(NamedTuple):
    """One finished episode of one env copy: observations (T, obs_dim), actions (T,) or
    (T, action_dim), rewards (T,), step t's reward following step t's action."""

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray


def reward_to_go(rewards: np.ndarray, episode_ends: np.ndarray, gamma: float) -> np.ndarray:
    """G_t = r_t + γ r_{t+1} + γ² r_{t+2} + … up to the end of t's episode, shape (T,), for rewards (T,) of
    several episodes one after another; episode_ends (T,) is True on the last step of each, where the sum restarts."""
    returns = np.zeros(len(rewards), dtype=np.float64)
    g = 0.0
    for t in reversed(range(len(rewards))):
        g = rewards[t] + gamma * g * (not episode_ends[t])
        returns[t] = g
    return returns


def episode_batch(episodes: list[Episode], gamma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The steps of whole episodes, concatenated: observations, actions and reward-to-go. A truncated episode
    counts as ended at the cut, the return the time-limited task pays: with no value function there is nothing to
    bootstrap from, so a step near the cut gets less than the same state early in an episode (reinforce.md)."""
    rewards = np.concatenate([episode.rewards for episode in episodes])
    episode_ends = np.zeros(len(rewards), dtype=bool)
    episode_ends[np.cumsum([len(episode.rewards) for episode in episodes]) - 1] = True
    return (
        np.concatenate([episode.observations for episode in episodes]),
        np.concatenate([episode.actions for episode in episodes]),
        reward_to_go(rewards, episode_ends, gamma),
    )


def policy_loss(policy: Policy, observations: torch.Tensor, actions: torch.Tensor, advantages: torch.Tensor,
                ent_coef: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(−mean_t[A_t log π(a_t|s_t)] − ent_coef · mean entropy, mean entropy), both scalars: the
    loss's gradient is minus the REINFORCE estimate of ∇_θ J, averaged over the batch's steps."""
    distribution = policy.distribution(policy(observations))
    entropy = distribution.entropy().mean()
    return -(distribution.log_prob(actions) * advantages).mean() - ent_coef * entropy, entropy


@torch.no_grad()
def sample_actions(policy: Policy, obs: np.ndarray, device: torch.device) -> np.ndarray:
    """Actions drawn from π(·|s) for observations (num_envs, obs_dim): shape (num_envs,) or
    (num_envs, action_dim). Raises FloatingPointError when the policy's output is not finite."""
    output = policy(torch.as_tensor(obs, dtype=torch.float32, device=device))
    if not torch.isfinite(output).all():
        raise FloatingPointError("non-finite policy output")
    return policy.distribution(output).sample().cpu().numpy()


def learning_step(policy: Policy, optimizer: torch.optim.Optimizer, episodes: list[Episode], args: Args,
                  device: torch.device) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """One gradient step on whole finished episodes. Returns the loss and the mean entropy (scalars)
    and the steps' reward-to-go (T,). Raises FloatingPointError, and takes no step, when the loss
    is not finite: a step would spread it into every weight."""
    observations, actions, returns = episode_batch(episodes, args.gamma)
    # The baseline, the batch's mean return, the same for every action, cuts the gradient's variance and leaves
    # its expectation all but unchanged; the division keeps the step size from CartPole's 100s to Pendulum's −1000s.
    advantages = (returns - returns.mean()) / (returns.std() + 1e-8)
    loss, entropy = policy_loss(policy, torch.as_tensor(observations, dtype=torch.float32, device=device),
                                torch.as_tensor(actions, device=device),
                                torch.as_tensor(advantages, dtype=torch.float32, device=device), args.ent_coef)
    if not torch.isfinite(loss):
        raise FloatingPointError("non-finite loss")
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss, entropy, returns


def train(args: Args) -> dict:
    """Train (and evaluate) as args say; returns summary.json's contents plus the `policy` and the lists
    `episodic_returns` and `episodic_lengths` of training episodes, in the order they finished. Episodes left
    without an update at the end of the budget are dropped: the last update's policy is the final one."""
    check_args(args)
    device = resolve_device(args.device)
    seed_everything(args.seed, args.torch_deterministic)
    envs = make_vector_env(args)
    action_space, obs_dim = envs.single_action_space, envs.single_observation_space.shape[0]
    if isinstance(action_space, gym.spaces.Discrete):
        policy: Policy = CategoricalPolicy(obs_dim, int(action_space.n), args.hidden_sizes).to(device)
    else:
        policy = GaussianPolicy(obs_dim, action_space.shape[0], args.hidden_sizes).to(device)
    if args.model_path is not None:
        load_model(policy, args.model_path, args, device)
    optimizer = torch.optim.Adam(policy.parameters(), lr=args.learning_rate)
    run = Run(args, policy, device, action_space)
    # each copy's running episode as lists of observations, actions, rewards; finished ones wait for an update
    running: list[tuple[list, list, list]] = [([], [], []) for _ in range(args.num_envs)]
    finished: list[Episode] = []
    global_step = 0
    obs, _ = envs.reset(seed=args.seed)
    try:
        while global_step < args.total_timesteps:
            actions = sample_actions(policy, obs, device)
            next_obs, rewards, terminations, truncations, infos = envs.step(to_env_actions(actions, action_space))
            global_step += args.num_envs

            # a copy's step joins its running episode; an ending episode is finished
            for i, (episode_obs, episode_actions, episode_rewards) in enumerate(running):
                episode_obs.append(obs[i])
                episode_actions.append(actions[i])
                episode_rewards.append(rewards[i])
            for i in np.flatnonzero(terminations | truncations):
                finished.append(Episode(*map(np.array, running[i])))
                running[i] = ([], [], [])
            obs = next_obs
            run.record_episodes(global_step, infos)

            # One gradient step on all finished episodes. An episode still running finishes under the updated
            # policy, which also scores its earlier steps: a slight off-policy error, accepted because leaving
            # those episodes out, the long ones, would bias every batch towards short episodes.
            if len(finished) >= args.episodes_per_update:
                if args.anneal_lr:
                    optimizer.param_groups[0]["lr"] = args.learning_rate * (1.0 - global_step / args.total_timesteps)
                loss, entropy, returns = learning_step(policy, optimizer, finished, args, device)
                finished = []
                run.log_update(global_step, optimizer.param_groups[0]["lr"], loss, entropy, returns)
            run.log(global_step)
    except FloatingPointError as error:  # stop; the logs so far stay
        run.status = f"{error} at step {global_step}"
    model = {"hidden_sizes": list(args.hidden_sizes), "policy": policy.state_dict()}
    envs.close()
    return run.finish(global_step, model, policy=policy)


# ==== bookkeeping: nothing below this line is the algorithm ===============================

SCRIPT = os.path.basename(__file__)  # in messages and saved models


def evaluation_policy(policy: Policy, device: torch.device, action_space: gym.spaces.Space,
                      sample_with: torch.Generator | None) -> Callable[[np.ndarray], np.ndarray]:
    """A function from observations (n, obs_dim) to the env actions evaluations take. Greedy when
    sample_with is None: a CategoricalPolicy's most probable action, a GaussianPolicy's mean. Otherwise
    drawn from π with that generator, so that evaluating leaves training's random draws as they were."""

    @torch.no_grad()
    def act(obs: np.ndarray) -> np.ndarray:
        output = policy(torch.as_tensor(obs, dtype=torch.float32, device=device))
        if sample_with is None:
            actions = output.argmax(dim=1) if isinstance(policy, CategoricalPolicy) else output
        elif isinstance(policy, CategoricalPolicy):
            actions = torch.multinomial(output.softmax(dim=1), 1, generator=sample_with).squeeze(1)
        else:
            noise = torch.randn(output.shape, generator=sample_with, device=device)
            actions = output + policy.log_std.exp() * noise
        return to_env_actions(actions.cpu().numpy(), action_space)

    return act


class Run:
    """A run's folder, TensorBoard log, progress, evaluations and summary.json."""

    def __init__(self, args: Args, policy: Policy, device: torch.device, action_space: gym.spaces.Space):
        self.args, self.generator = args, torch.Generator(device)
        self.policies = {"greedy": evaluation_policy(policy, device, action_space, None),
                         "sampled": evaluation_policy(policy, device, action_space, self.generator)}
        self.name = unique_run_name(args)
        self.dir = os.path.join(args.log_dir, self.name)
        # a queue that holds a log point's episodes: with the default of 10, adding an event
        # waits for TensorBoard's writer thread (benchmarks/results/speed.md)
        self.writer = SummaryWriter(self.dir, max_queue=100_000)
        self.writer.add_text("hyperparameters", "|param|value|\n|-|-|\n"
                             + "\n".join(f"|{k}|{v}|" for k, v in asdict(args).items()))
        self.eval_env = gym.make(args.env_id, max_episode_steps=args.max_episode_steps,
                                 render_mode="rgb_array" if args.capture_video else None)
        if args.capture_video:
            self.eval_env = gym.wrappers.RecordVideo(
                self.eval_env, os.path.join(args.video_dir, self.name), name_prefix="eval",
                episode_trigger=lambda episode: episode % args.eval_episodes == 0)
        self.bar = tqdm(total=args.total_timesteps, unit="step", disable=not (args.progress and sys.stderr.isatty()))
        self.plain_progress = args.progress and self.bar.disable
        self.status, self.gradient_steps = "completed", 0
        self.episodic_returns: list[float] = []
        self.episodic_lengths: list[int] = []
        self.unlogged_episodes: list[tuple[int, float, int]] = []
        self.start_time = time.perf_counter()

    def record_episodes(self, global_step: int, infos: dict) -> None:
        if "final_info" in infos:
            episode = infos["final_info"]["episode"]
            for i in np.flatnonzero(infos["_final_obs"]):
                self.episodic_returns.append(float(episode["r"][i]))
                self.episodic_lengths.append(int(episode["l"][i]))
                self.unlogged_episodes.append((global_step, float(episode["r"][i]), int(episode["l"][i])))

    def write_episodes(self) -> None:
        # at the log points rather than as episodes end: each event wakes TensorBoard's writer thread
        for step, episodic_return, episodic_length in self.unlogged_episodes:
            self.writer.add_scalar("charts/episodic_return", episodic_return, step)
            self.writer.add_scalar("charts/episodic_length", episodic_length, step)
        self.unlogged_episodes.clear()

    def log_update(self, global_step: int, learning_rate: float, loss: torch.Tensor, entropy: torch.Tensor,
                   returns: np.ndarray) -> None:
        self.gradient_steps += 1
        self.writer.add_scalar("charts/learning_rate", learning_rate, global_step)
        self.writer.add_scalar("losses/policy_loss", loss.item(), global_step)
        self.writer.add_scalar("losses/entropy", entropy.item(), global_step)
        self.writer.add_scalar("charts/mean_abs_return", np.abs(returns).mean(), global_step)

    def log(self, global_step: int) -> None:
        """After each env step: every 1,000 steps TensorBoard and the progress bar; every tenth of
        the run a plain progress line; every eval_frequency steps an evaluation."""
        args, last_return = self.args, self.episodic_returns[-1] if self.episodic_returns else None
        if crossings(global_step, args.num_envs, 1000) or global_step >= args.total_timesteps:
            self.write_episodes()
            sps = int(global_step / (time.perf_counter() - self.start_time))
            self.writer.add_scalar("charts/SPS", sps, global_step)
            self.bar.update(global_step - self.bar.n)
            self.bar.set_postfix(SPS=sps, episodic_return=last_return)
        if self.plain_progress and crossings(global_step, args.num_envs, max(args.total_timesteps // 10, 1)):
            print(f"{self.name}: step {global_step}/{args.total_timesteps}, "
                  f"SPS {global_step / (time.perf_counter() - self.start_time):.0f}, "
                  f"episodic return {last_return}", flush=True)
        if crossings(global_step, args.num_envs, args.eval_frequency) and global_step < args.total_timesteps:
            self.writer.add_scalar("eval/episodic_return", self.evaluate(args.eval_policy).mean(), global_step)
            self.writer.flush()  # on disk at once, for whoever follows the run (benchmarks/tune.py prunes on it)

    def evaluate(self, protocol: str) -> np.ndarray:
        """Undiscounted returns of eval_episodes episodes of the greedy or sampled policy, shape
        (eval_episodes,). Every evaluation plays the same env seeds and, sampled, the same draws."""
        self.generator.manual_seed(self.args.seed + 100_000)
        return evaluate(self.policies[protocol], self.eval_env, self.args.eval_episodes, self.args.seed + 100_000)

    def finish(self, global_step: int, model: dict, **objects) -> dict:
        """The final evaluation, the model file and summary.json; returns the summary with the
        training episodes' returns and `objects` added."""
        args = self.args
        self.write_episodes()
        train_seconds = time.perf_counter() - self.start_time
        self.bar.close()
        eval_returns = self.evaluate(args.eval_policy) if self.status == "completed" else np.array([])
        # a sampled evaluation keeps the greedy one beside it
        greedy_returns = self.evaluate("greedy") if eval_returns.size and args.eval_policy == "sampled" else eval_returns
        if eval_returns.size:
            self.writer.add_scalar("eval/episodic_return", eval_returns.mean(), global_step)
        self.eval_env.close()
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
            "eval_policy": args.eval_policy,
            "greedy_eval_mean": float(greedy_returns.mean()) if greedy_returns.size else None,
            "global_step": global_step,
            "gradient_steps": self.gradient_steps,
            "episodes": len(self.episodic_returns),
            "train_seconds": train_seconds,
            "sps": global_step / train_seconds if global_step else 0.0,
            "run_dir": self.dir,
            "model_file": model_file,
            "args": asdict(args),
        }
        write_json_atomically(os.path.join(self.dir, "summary.json"), summary)
        return {**summary, "episodic_returns": self.episodic_returns, "episodic_lengths": self.episodic_lengths,
                **objects}


def evaluate(policy: Callable[[np.ndarray], np.ndarray], env: gym.Env, episodes: int, seed: int) -> np.ndarray:
    """Undiscounted returns of `episodes` episodes of `policy`, shape (episodes,)."""
    returns = np.zeros(episodes)
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        done = False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(policy(obs[None])[0])
            returns[episode] += float(reward)
            done = terminated or truncated
    return returns


def crossings(step: int, step_size: int, interval: int) -> int:
    """How many multiples of interval lie in (step - step_size, step]."""
    return step // interval - (step - step_size) // interval


def make_vector_env(args: Args) -> gym.vector.VectorEnv:
    # SAME_STEP autoreset: each step belongs to exactly one episode; NEXT_STEP would spend one per episode on a reset
    vector_env_class = gym.vector.AsyncVectorEnv if args.async_envs else gym.vector.SyncVectorEnv
    return vector_env_class([make_env(args.env_id, args.max_episode_steps) for _ in range(args.num_envs)],
                            autoreset_mode=AutoresetMode.SAME_STEP)


def seed_everything(seed: int, torch_deterministic: bool) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.backends.cudnn.deterministic = torch_deterministic


class UsageError(Exception):
    """Bad input: reported as one line on stderr with exit status 2."""


def check_args(args: Args) -> None:
    for name in ("num_envs", "episodes_per_update", "eval_episodes", "eval_frequency"):
        if getattr(args, name) <= 0:
            raise UsageError(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    if args.total_timesteps < 0:
        raise UsageError(f"--total-timesteps must be >= 0, got {args.total_timesteps}")
    if args.max_episode_steps is not None and args.max_episode_steps <= 0:
        raise UsageError(f"--max-episode-steps must be positive, got {args.max_episode_steps}")
    if not 0.0 <= args.gamma <= 1.0:
        raise UsageError(f"--gamma must be in [0, 1], got {args.gamma}")
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
    if not (isinstance(action_space, gym.spaces.Discrete)
            or (isinstance(action_space, gym.spaces.Box) and len(action_space.shape) == 1)):
        raise UsageError(f"{SCRIPT} needs a Discrete or 1-D Box action space; {args.env_id} has {action_space}")
    if not isinstance(observation_space, gym.spaces.Box) or len(observation_space.shape) != 1:
        raise UsageError(f"{SCRIPT} needs a 1-D Box observation space; {args.env_id} has {observation_space}"
                         + (": use q_table.py" if isinstance(observation_space, gym.spaces.Discrete) else ""))


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


def load_model(policy: nn.Module, path: str, args: Args, device: torch.device) -> None:
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
    if tuple(checkpoint["hidden_sizes"]) != args.hidden_sizes:
        raise UsageError(f"--model-path {path!r} has --hidden-sizes {' '.join(map(str, checkpoint['hidden_sizes']))}")
    policy.load_state_dict(checkpoint["policy"])


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
    greedy = f" (greedy: {result['greedy_eval_mean']:.2f})" if result["eval_policy"] == "sampled" else ""
    print(f"{result['eval_policy']} evaluation: {result['eval_mean']:.2f} ± {result['eval_std']:.2f} over "
          f"{len(result['eval_returns'])} episodes{greedy}; run folder {result['run_dir']}")
