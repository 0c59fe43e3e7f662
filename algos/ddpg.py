"""DDPG (Lillicrap et al. 2016, "Continuous control with deep reinforcement learning").

Deterministic policy gradient with replay, for bounded Box action spaces. An actor μ(s),
squashed by tanh into the env's action bounds, acts with exploration noise (Gaussian or
Ornstein–Uhlenbeck) added and the sum clipped to the bounds; transitions go into a replay
buffer. On each minibatch the critic takes an Adam step on (Q(s, a) − y)² toward

    y = r + γ (1 − terminated) Q_target(s', μ_target(s'))

and every `policy_frequency` critic steps the actor takes one up Q(s, μ(s)) and both target
networks trail their online networks: θ_target ← θ_target + τ (θ − θ_target).

    python algos/ddpg.py --env-id Pendulum-v1
"""

import copy
import difflib
import json
import os
import random
import sys
import time
from dataclasses import asdict, dataclass
from typing import Callable, Iterable, Literal

import gymnasium as gym
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import tyro
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.type_aliases import ReplayBufferSamples
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm


@dataclass
class Args:
    learning_rate: float = 1e-3  # Adam learning rate of the actor and of the critic
    buffer_size: int = 1_000_000  # replay buffer capacity in transitions
    gamma: float = 0.98  # discount factor
    tau: float = 0.005  # target update rate: 1.0 copies the online networks, < 1 is Polyak averaging
    batch_size: int = 256  # transitions per gradient step
    learning_starts: int = 1_000  # environment steps of uniformly random actions before the first gradient step
    train_frequency: int = 1  # environment steps between gradient steps of the critic
    policy_frequency: int = 1  # critic gradient steps per actor gradient step and target update (delayed actor updates)
    noise: Literal["normal", "ou"] = "normal"  # exploration noise: independent Gaussian or Ornstein–Uhlenbeck (correlated in time)
    exploration_noise: float = 0.1  # noise scale σ in half action ranges (high − low) / 2; ou's std grows to 1.83 σ in an episode (default θ, dt)
    ou_theta: float = 0.15  # Ornstein–Uhlenbeck rate of reversion to 0, per unit of time
    ou_dt: float = 0.01  # Ornstein–Uhlenbeck time per environment step
    hidden_sizes: tuple[int, ...] = (256, 256)  # widths of the hidden layers of the actor and of the critic

    env_id: str = "Pendulum-v1"  # gymnasium id of an environment with a bounded 1-D Box action space
    total_timesteps: int = 30_000  # environment steps over all copies; 0 only evaluates (e.g. a --model-path)
    num_envs: int = 1  # number of environment copies stepped together
    seed: int = 1  # seed of python, numpy, torch and the environments
    exp_name: str = os.path.basename(__file__).removesuffix(".py")  # name of this experiment, part of the run folder's name
    async_envs: bool = False  # step the copies in subprocesses (gymnasium AsyncVectorEnv) instead of in this one
    max_episode_steps: int | None = None  # time limit in steps per episode; None keeps the env's registered limit
    device: str = "auto"  # torch device: auto (CUDA if present, else CPU), cpu, cuda, cuda:N or mps
    torch_deterministic: bool = True  # make cuDNN deterministic
    capture_video: bool = False  # record evaluation episodes as mp4 into {video_dir}/{run_name}/
    save_model: bool = False  # save the actor and the critic into the run folder at the end
    model_path: str | None = None  # load actor and critic weights saved by --save-model before training or evaluating
    eval_episodes: int = 10  # greedy (noise-free) episodes per evaluation
    eval_frequency: int = 10_000  # environment steps between evaluations (there is always one at the end)
    log_dir: str = "runs"  # folder of the run folders (TensorBoard logs, summary.json, model)
    video_dir: str = "videos"  # folder of the video folders
    progress: bool = True  # progress bar on a terminal, plain periodic lines otherwise


def make_env(env_id: str, max_episode_steps: int | None, render_mode: str | None = None) -> Callable[[], gym.Env]:
    def thunk() -> gym.Env:
        env = gym.make(env_id, max_episode_steps=max_episode_steps, render_mode=render_mode)
        space = env.observation_space
        if space.dtype != np.float32:  # MuJoCo's float64, an integer Box: the networks compute in float32
            float32_space = gym.spaces.Box(space.low.astype(np.float32), space.high.astype(np.float32))
            env = gym.wrappers.TransformObservation(env, lambda obs: obs.astype(np.float32), float32_space)
        return gym.wrappers.RecordEpisodeStatistics(env)

    return thunk


def mlp(width_in: int, hidden_sizes: tuple[int, ...], width_out: int) -> nn.Sequential:
    widths = (width_in, *hidden_sizes)
    layers: list[nn.Module] = []
    for layer_in, layer_out in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(layer_in, layer_out), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(widths[-1], width_out))


class Actor(nn.Module):
    """Maps observations (batch, obs_dim) to actions (batch, action_dim) inside [low, high]: tanh's
    (−1, 1) stretched onto each dimension's bounds (asymmetric ones too) by action_scale and action_bias."""

    def __init__(self, obs_dim: int, action_low: np.ndarray, action_high: np.ndarray, hidden_sizes: tuple[int, ...]):
        super().__init__()
        self.network = mlp(obs_dim, hidden_sizes, len(action_low))
        self.register_buffer("action_scale", torch.as_tensor((action_high - action_low) / 2.0, dtype=torch.float32))
        self.register_buffer("action_bias", torch.as_tensor((action_high + action_low) / 2.0, dtype=torch.float32))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.network(obs)) * self.action_scale + self.action_bias


class QNetwork(nn.Module):
    """Maps observations (batch, obs_dim) and actions (batch, action_dim) to Q(s, a), shape (batch, 1)."""

    def __init__(self, obs_dim: int, action_dim: int, hidden_sizes: tuple[int, ...]):
        super().__init__()
        self.network = mlp(obs_dim + action_dim, hidden_sizes, 1)

    def forward(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return self.network(torch.cat([obs, actions], dim=1))


# ---- the algorithm -----------------------------------------------------------------------

Policy = Callable[[torch.Tensor], torch.Tensor]  # observations (batch, obs_dim) to actions (batch, action_dim)
QFunction = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # observations and actions to Q(s, a) (batch, 1)


def gaussian_noise(sigma: float, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Independent N(0, σ²) draws, shape (num_envs, action_dim), with no memory from step to step."""
    return sigma * rng.standard_normal(shape)


def ornstein_uhlenbeck_noise(state: np.ndarray, sigma: float, theta: float, dt: float,
                             rng: np.random.Generator) -> np.ndarray:
    """x ← x − θ x dt + σ √dt ε, ε ~ N(0, 1), in place on state (num_envs, action_dim): one process per env copy
    and action dimension, which train() sets back to 0 when its copy's episode ends (its growth: ddpg.md)."""
    state += -theta * state * dt + sigma * np.sqrt(dt) * rng.standard_normal(state.shape)
    return state.copy()


@torch.no_grad()
def td_target(target_actor: Policy, target_qf: QFunction, rewards: torch.Tensor, next_observations: torch.Tensor,
              terminations: torch.Tensor, gamma: float | torch.Tensor) -> torch.Tensor:
    """r + γ (1 − terminated) Q_target(s', μ_target(s')), shape (batch,). A truncated transition has
    terminations = 0 and its true final observation as s', so it bootstraps: the time limit is not in the state."""
    next_q_values = target_qf(next_observations, target_actor(next_observations)).squeeze(1)
    return rewards + gamma * (1.0 - terminations) * next_q_values


def critic_loss(qf: QFunction, target_actor: Policy, target_qf: QFunction, data: ReplayBufferSamples,
                gamma: float | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean squared TD error of a minibatch (batch,), a scalar, and Q(s, a) (batch,): a pure function
    of its inputs, which benchmarks/batched.py maps over the members of a batched run."""
    target = td_target(target_actor, target_qf, data.rewards.flatten(), data.next_observations, data.dones.flatten(), gamma)
    qf_values = qf(data.observations, data.actions).squeeze(1)
    return F.mse_loss(qf_values, target), qf_values


def actor_loss(actor: Policy, qf: QFunction, observations: torch.Tensor) -> torch.Tensor:
    """−mean Q(s, μ(s)) over observations (batch, obs_dim), a scalar: descending it climbs the critic."""
    return -qf(observations, actor(observations)).mean()


def critic_step(qf: QNetwork, target_actor: Actor, target_qf: QNetwork, qf_optimizer: torch.optim.Optimizer,
                data: ReplayBufferSamples, gamma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """One Adam step on critic_loss; returns the loss and Q(s, a) before the step. Raises FloatingPointError,
    and takes no step, when the loss is not finite: a step would spread it into every weight."""
    loss, qf_values = critic_loss(qf, target_actor, target_qf, data, gamma)
    if not torch.isfinite(loss):
        raise FloatingPointError("non-finite loss")
    qf_optimizer.zero_grad()
    loss.backward()
    qf_optimizer.step()
    return loss, qf_values


def actor_step(actor: Actor, qf: QNetwork, actor_optimizer: torch.optim.Optimizer, observations: torch.Tensor) -> torch.Tensor:
    """One Adam step on actor_loss; returns the loss before the step."""
    loss = actor_loss(actor, qf, observations)
    actor_optimizer.zero_grad()
    loss.backward(inputs=list(actor.parameters()))  # the actor's gradients only: the critic's would be discarded
    actor_optimizer.step()
    return loss


@torch.no_grad()
def soft_update(target_parameters: Iterable[torch.Tensor], online_parameters: Iterable[torch.Tensor],
                tau: float | torch.Tensor) -> None:
    """θ_target ← θ_target + τ (θ − θ_target) for each pair of tensors: Polyak averaging; τ = 1 copies.
    τ is a number, or a tensor that broadcasts against a pair (one τ per member of a batched run)."""
    for target, online in zip(target_parameters, online_parameters):
        target.lerp_(online, tau)


def train(args: Args) -> dict:
    """Train (and evaluate) as args say; returns summary.json's contents plus the objects `actor`, `qf`,
    `target_actor`, `target_qf`, `replay_buffer` and the list `episodic_returns` of training episodes."""
    check_args(args)
    device = resolve_device(args.device)
    seed_everything(args.seed, args.torch_deterministic)
    envs = make_vector_env(args)
    action_space, obs_dim = envs.single_action_space, envs.single_observation_space.shape[0]
    actor = Actor(obs_dim, action_space.low, action_space.high, args.hidden_sizes).to(device)
    qf = QNetwork(obs_dim, action_space.shape[0], args.hidden_sizes).to(device)
    if args.model_path is not None:
        load_model(actor, qf, args.model_path, args, device)
    target_actor, target_qf = copy.deepcopy(actor).requires_grad_(False), copy.deepcopy(qf).requires_grad_(False)
    actor_optimizer = torch.optim.Adam(actor.parameters(), lr=args.learning_rate, fused=True)  # fused: one kernel
    qf_optimizer = torch.optim.Adam(qf.parameters(), lr=args.learning_rate, fused=True)
    replay_buffer = ReplayBuffer(args.buffer_size, envs.single_observation_space, action_space, device,
                                 n_envs=args.num_envs, handle_timeout_termination=False)
    policy = deterministic_policy(actor, device)
    run = Run(args, policy)
    rng = np.random.default_rng(args.seed)
    noise_shape = (args.num_envs, *action_space.shape)
    ou_state = np.zeros(noise_shape)
    action_scale = (action_space.high - action_space.low) / 2.0
    global_step = 0
    obs, _ = envs.reset(seed=args.seed)
    try:
        while global_step < args.total_timesteps:
            if global_step < args.learning_starts:
                actions = rng.uniform(action_space.low, action_space.high, size=noise_shape)
            else:
                noise = (gaussian_noise(args.exploration_noise, noise_shape, rng) if args.noise == "normal" else
                         ornstein_uhlenbeck_noise(ou_state, args.exploration_noise, args.ou_theta, args.ou_dt, rng))
                actions = np.clip(policy(obs) + noise * action_scale, action_space.low, action_space.high)
            actions = actions.astype(action_space.dtype)  # what the env steps with is what the buffer stores
            next_obs, rewards, terminations, truncations, infos = envs.step(actions)
            global_step += args.num_envs
            ou_state[terminations | truncations] = 0.0  # each episode's noise process starts at 0

            # a finished episode's transition ends in its true final observation, not the next episode's first
            real_next_obs = next_obs
            if "final_obs" in infos:  # a copy only on the steps where an episode ended
                real_next_obs = next_obs.copy()
                for i in np.flatnonzero(infos["_final_obs"]):
                    real_next_obs[i] = infos["final_obs"][i]
            replay_buffer.add(obs, real_next_obs, actions, rewards, terminations, [])
            obs = next_obs
            run.record_episodes(global_step, infos)

            # train_frequency counts all copies' steps; each policy_frequency-th critic step also moves actor and targets
            if global_step > args.learning_starts:
                for _ in range(crossings(global_step, args.num_envs, args.train_frequency)):
                    data = replay_buffer.sample(args.batch_size)
                    run.critic_losses = critic_step(qf, target_actor, target_qf, qf_optimizer, data, args.gamma)
                    run.gradient_steps += 1
                    if run.gradient_steps % args.policy_frequency == 0:
                        run.actor_loss = actor_step(actor, qf, actor_optimizer, data.observations)
                        soft_update(target_actor.parameters(), actor.parameters(), args.tau)
                        soft_update(target_qf.parameters(), qf.parameters(), args.tau)
                        run.target_updates += 1
            run.log(global_step)
    except FloatingPointError as error:  # stop; the logs so far stay
        run.status = f"{error} at step {global_step}"
    model = {"hidden_sizes": list(args.hidden_sizes), "actor": actor.state_dict(), "qf": qf.state_dict()}
    envs.close()
    return run.finish(global_step, model, actor=actor, qf=qf, target_actor=target_actor, target_qf=target_qf,
                      replay_buffer=replay_buffer)


# ==== bookkeeping: nothing below this line is the algorithm ===============================

SCRIPT = os.path.basename(__file__)  # in messages and saved models


class Run:
    """A run's folder, TensorBoard log, progress, evaluations and summary.json."""

    def __init__(self, args: Args, policy: Callable[[np.ndarray], np.ndarray]):
        self.args, self.policy = args, policy
        self.name = unique_run_name(args)
        self.dir = os.path.join(args.log_dir, self.name)
        # a queue that holds a log point's episodes: with the default of 10, adding an event
        # waits for TensorBoard's writer thread (benchmarks/results/speed.md)
        self.writer = SummaryWriter(self.dir, max_queue=100_000)
        self.writer.add_text("hyperparameters", "|param|value|\n|-|-|\n"
                             + "\n".join(f"|{k}|{v}|" for k, v in asdict(args).items()))
        self.eval_env = make_env(args.env_id, args.max_episode_steps, "rgb_array" if args.capture_video else None)()
        if args.capture_video:
            self.eval_env = gym.wrappers.RecordVideo(
                self.eval_env, os.path.join(args.video_dir, self.name), name_prefix="eval",
                episode_trigger=lambda episode: episode % args.eval_episodes == 0)
        self.bar = tqdm(total=args.total_timesteps, unit="step", disable=not (args.progress and sys.stderr.isatty()))
        self.plain_progress = args.progress and self.bar.disable
        self.status, self.gradient_steps, self.target_updates = "completed", 0, 0
        self.critic_losses: tuple[torch.Tensor, torch.Tensor] | None = None
        self.actor_loss: torch.Tensor | None = None
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

    def log(self, global_step: int) -> None:
        """After each env step: every 1,000 steps TensorBoard and the progress bar; every tenth of
        the run a plain progress line; every eval_frequency steps an evaluation."""
        args, last_return = self.args, self.episodic_returns[-1] if self.episodic_returns else None
        if crossings(global_step, args.num_envs, 1000) or global_step >= args.total_timesteps:
            self.write_episodes()
            sps = int(global_step / (time.perf_counter() - self.start_time))
            self.writer.add_scalar("charts/SPS", sps, global_step)
            if self.critic_losses is not None:
                self.writer.add_scalar("losses/qf_loss", self.critic_losses[0].item(), global_step)
                self.writer.add_scalar("losses/qf_values", self.critic_losses[1].mean().item(), global_step)
            if self.actor_loss is not None:
                self.writer.add_scalar("losses/actor_loss", self.actor_loss.item(), global_step)
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
        """Undiscounted returns of eval_episodes noise-free episodes, shape (eval_episodes,)."""
        return evaluate(self.policy, self.eval_env, self.args.eval_episodes, self.args.seed + 100_000)

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
            "gradient_steps": self.gradient_steps,
            "target_updates": self.target_updates,
            "train_seconds": train_seconds,
            "sps": global_step / train_seconds if global_step else 0.0,
            "run_dir": self.dir,
            "model_file": model_file,
            "args": asdict(args),
        }
        write_json_atomically(os.path.join(self.dir, "summary.json"), summary)
        return {**summary, "episodic_returns": self.episodic_returns, **objects}


def evaluate(policy: Callable[[np.ndarray], np.ndarray], env: gym.Env, episodes: int, seed: int) -> np.ndarray:
    """Undiscounted returns of `episodes` episodes of a deterministic policy, shape (episodes,)."""
    returns = np.zeros(episodes)
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        done = False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(policy(obs[None])[0])
            returns[episode] += float(reward)
            done = terminated or truncated
    return returns


def deterministic_policy(actor: Actor, device: torch.device) -> Callable[[np.ndarray], np.ndarray]:
    """A function from observations (n, obs_dim) to the actor's actions μ(obs), shape (n, action_dim)."""
    if device.type == "cpu":
        return numpy_deterministic_policy(actor)  # the same function, without torch's per-call overhead
    return torch.no_grad()(lambda obs: actor(torch.as_tensor(obs, dtype=torch.float32, device=device)).cpu().numpy())


def numpy_deterministic_policy(actor: Actor) -> Callable[[np.ndarray], np.ndarray]:
    """deterministic_policy on the CPU in NumPy: it reads the actor's weights as views, which every
    optimizer step updates in place, and costs ~20 µs an observation through 256-256 layers
    against torch's ~80."""
    layers = [(m.weight.detach().numpy().T, m.bias.detach().numpy()) for m in actor.network if isinstance(m, nn.Linear)]
    action_scale, action_bias = actor.action_scale.numpy(), actor.action_bias.numpy()

    def numpy_policy(obs: np.ndarray) -> np.ndarray:
        for weight, bias in layers[:-1]:
            obs = np.maximum(obs @ weight + bias, 0.0)
        weight, bias = layers[-1]
        return np.tanh(obs @ weight + bias) * action_scale + action_bias

    return numpy_policy


def crossings(step: int, step_size: int, interval: int) -> int:
    """How many multiples of interval lie in (step - step_size, step]."""
    return step // interval - (step - step_size) // interval


def make_vector_env(args: Args) -> gym.vector.VectorEnv:
    # SAME_STEP autoreset: infos["final_obs"] holds an ending episode's true final observation; every step is a transition
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
    for name in ("num_envs", "buffer_size", "batch_size", "train_frequency", "policy_frequency",
                 "eval_episodes", "eval_frequency"):
        if getattr(args, name) <= 0:
            raise UsageError(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    for name in ("total_timesteps", "learning_starts"):
        if getattr(args, name) < 0:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 0, got {getattr(args, name)}")
    if args.max_episode_steps is not None and args.max_episode_steps <= 0:
        raise UsageError(f"--max-episode-steps must be positive, got {args.max_episode_steps}")
    if args.batch_size > args.buffer_size:
        raise UsageError(f"--batch-size {args.batch_size} is larger than --buffer-size {args.buffer_size}")
    if not 0.0 < args.tau <= 1.0:
        raise UsageError(f"--tau must be in (0, 1], got {args.tau}")
    if args.exploration_noise < 0 or args.ou_theta < 0 or args.ou_dt <= 0:
        raise UsageError("--exploration-noise and --ou-theta must be >= 0 and --ou-dt positive, got "
                         f"{args.exploration_noise}, {args.ou_theta} and {args.ou_dt}")
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
    if isinstance(action_space, gym.spaces.Discrete):
        raise UsageError(f"{SCRIPT} needs a Box action space; {args.env_id} has {action_space}: use dqn.py")
    if not isinstance(action_space, gym.spaces.Box) or len(action_space.shape) != 1:
        raise UsageError(f"{SCRIPT} needs a 1-D Box action space; {args.env_id} has {action_space}")
    if not (np.isfinite(action_space.low).all() and np.isfinite(action_space.high).all()):
        raise UsageError(f"{SCRIPT} needs finite action bounds to scale its tanh actor; "
                         f"{args.env_id} has {action_space}")
    if not isinstance(observation_space, gym.spaces.Box) or len(observation_space.shape) != 1:
        raise UsageError(f"{SCRIPT} needs a 1-D Box observation space; {args.env_id} has {observation_space}")


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


def load_model(actor: Actor, qf: QNetwork, path: str, args: Args, device: torch.device) -> None:
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
    actor.load_state_dict(checkpoint["actor"])
    qf.load_state_dict(checkpoint["qf"])


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
    print(f"greedy evaluation: {result['eval_mean']:.2f} ± {result['eval_std']:.2f} over "
          f"{len(result['eval_returns'])} episodes; run folder {result['run_dir']}")
