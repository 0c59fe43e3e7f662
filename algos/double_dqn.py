"""Double DQN (van Hasselt et al. 2016, "Deep Reinforcement Learning with Double Q-learning").

DQN (algos/dqn.py) with one change, in td_target: the online network picks the next action, the
target network values it (DQN's max_a' Q_target(s', a') overestimates from noisy estimates). Every
`train_frequency` steps a minibatch regresses Q(s, a) onto

    y = r + γ (1 − terminated) Q_target(s', argmax_a' Q(s', a'))

by one Adam step on (Q(s, a) − y)², and every `target_network_frequency` steps the target
network trails the online one: θ_target ← θ_target + τ (θ − θ_target) (τ = 1 copies it).

    python algos/double_dqn.py --env-id CartPole-v1
"""

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
    learning_rate: float = 1e-3  # Adam learning rate
    anneal_lr: bool = False  # lower the learning rate linearly from --learning-rate to 0 over --total-timesteps
    buffer_size: int = 100_000  # replay buffer capacity in transitions
    gamma: float = 0.99  # discount factor
    tau: float = 0.005  # target update rate: 1.0 copies the online network, < 1 is Polyak averaging
    target_network_frequency: int = 1  # environment steps between target network updates
    batch_size: int = 64  # transitions per gradient step
    start_e: float = 1.0  # ε at the start of the schedule
    end_e: float = 0.04  # ε at the end of the schedule and after
    exploration_fraction: float = 0.16  # fraction of total_timesteps over which ε falls linearly from start_e to end_e
    learning_starts: int = 1_000  # environment steps of random actions before the first gradient step
    train_frequency: int = 2  # environment steps between rounds of gradient steps
    gradient_steps: int = 1  # gradient steps per round, each on its own minibatch
    loss: Literal["mse", "huber"] = "mse"  # TD loss: mean squared error or Huber (smooth L1)
    max_grad_norm: float | None = None  # clip the gradient's global norm to this value; None does not clip
    hidden_sizes: tuple[int, ...] = (256, 256)  # widths of the Q-network's hidden layers

    env_id: str = "CartPole-v1"  # gymnasium id of an environment with a Discrete action space
    total_timesteps: int = 50_000  # environment steps over all copies; 0 only evaluates (e.g. a --model-path)
    num_envs: int = 1  # number of environment copies stepped together
    seed: int = 1  # seed of python, numpy, torch and the environments
    exp_name: str = os.path.basename(__file__).removesuffix(".py")  # name of this experiment, part of the run folder's name
    async_envs: bool = False  # step the copies in subprocesses (gymnasium AsyncVectorEnv) instead of in this one
    max_episode_steps: int | None = None  # time limit in steps per episode; None keeps the env's registered limit
    device: str = "auto"  # torch device: auto (CUDA if present, else CPU), cpu, cuda, cuda:N or mps
    torch_deterministic: bool = True  # make cuDNN deterministic
    capture_video: bool = False  # record evaluation episodes as mp4 into {video_dir}/{run_name}/
    save_model: bool = False  # save the Q-network into the run folder at the end
    model_path: str | None = None  # load Q-network weights saved by --save-model before training or evaluating
    eval_episodes: int = 10  # greedy episodes per evaluation
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


class QNetwork(nn.Sequential):
    """Maps observations (batch, obs_dim) to action values (batch, n_actions)."""

    def __init__(self, obs_dim: int, n_actions: int, hidden_sizes: tuple[int, ...]):
        widths = (obs_dim, *hidden_sizes)
        layers: list[nn.Module] = []
        for width_in, width_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(width_in, width_out), nn.ReLU()]
        super().__init__(*layers, nn.Linear(widths[-1], n_actions))


def greedy_policy(q_network: QNetwork, device: torch.device) -> Callable[[np.ndarray], np.ndarray]:
    """A function from observations (n, obs_dim) to argmax_a Q(obs, a), shape (n,)."""
    if device.type == "cpu":
        return numpy_greedy_policy(q_network)  # the same function, without torch's per-call overhead
    return torch.no_grad()(lambda obs: q_network(torch.as_tensor(obs, device=device)).argmax(dim=1).cpu().numpy())


# ---- the algorithm -----------------------------------------------------------------------

QFunction = Callable[[torch.Tensor], torch.Tensor]  # observations (batch, obs_dim) to action values (batch, n_actions)


def linear_schedule(start_e: float, end_e: float, duration: int, t: int) -> float:
    """ε after t steps of a linear fall from start_e to end_e over duration steps."""
    if t >= duration:
        return end_e
    return start_e + (end_e - start_e) * t / duration


def epsilon_greedy(policy: Callable[[np.ndarray], np.ndarray], obs: np.ndarray, epsilon: float, n_actions: int,
                   rng: np.random.Generator) -> np.ndarray:
    """Actions (num_envs,) for observations (num_envs, obs_dim): with probability ε, drawn per
    copy, a uniformly random action, otherwise the greedy one. ε: a number, or one per copy (num_envs,)."""
    explore = rng.random(len(obs)) < epsilon
    n_explore = np.count_nonzero(explore)
    if n_explore == len(obs):  # every copy explores: the network is not needed
        return rng.integers(n_actions, size=len(obs))
    actions = policy(obs)
    if n_explore:
        actions[explore] = rng.integers(n_actions, size=n_explore)
    return actions


@torch.no_grad()
def td_target(q_network: QFunction, target_network: QFunction, rewards: torch.Tensor, next_observations: torch.Tensor,
              terminations: torch.Tensor, gamma: float) -> torch.Tensor:
    """r + γ (1 − terminated) Q_target(s', argmax_a' Q(s', a')), shape (batch,). A truncated transition has
    terminations = 0 and its true final observation as s', so it bootstraps: the time limit is not in the state."""
    next_actions = q_network(next_observations).argmax(dim=1, keepdim=True)
    next_q_values = target_network(next_observations).gather(1, next_actions).squeeze(1)
    return rewards + gamma * (1.0 - terminations) * next_q_values


def td_loss(q_network: QFunction, target_network: QFunction, data: ReplayBufferSamples, gamma: float | torch.Tensor,
            loss: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The TD loss of a minibatch (batch,) from the replay buffer, a scalar, and Q(s, a) (batch,): a pure
    function of its inputs, which benchmarks/batched.py maps over the members of a batched run."""
    target = td_target(q_network, target_network, data.rewards.flatten(), data.next_observations, data.dones.flatten(), gamma)
    q_taken = q_network(data.observations).gather(1, data.actions).squeeze(1)
    return (F.mse_loss if loss == "mse" else F.smooth_l1_loss)(q_taken, target), q_taken


def learning_step(q_network: nn.Module, target_network: nn.Module, optimizer: torch.optim.Optimizer,
                  data: ReplayBufferSamples, args: Args) -> tuple[torch.Tensor, torch.Tensor]:
    """One gradient step on td_loss; returns the loss (a scalar) and Q(s, a) (batch,) before the step.
    Raises FloatingPointError, and takes no step, when the loss is not finite: a step would spread it
    into every weight."""
    loss, q_taken = td_loss(q_network, target_network, data, args.gamma, args.loss)
    if not torch.isfinite(loss):
        raise FloatingPointError("non-finite loss")
    optimizer.zero_grad()
    loss.backward()
    if args.max_grad_norm is not None:
        nn.utils.clip_grad_norm_(q_network.parameters(), args.max_grad_norm)
    optimizer.step()
    return loss, q_taken


@torch.no_grad()
def soft_update(target_parameters: Iterable[torch.Tensor], online_parameters: Iterable[torch.Tensor],
                tau: float | torch.Tensor) -> None:
    """θ_target ← θ_target + τ (θ − θ_target) for each pair of tensors: Polyak averaging; τ = 1 copies.
    τ is a number, or a tensor that broadcasts against a pair (one τ per member of a batched run)."""
    for target, online in zip(target_parameters, online_parameters):
        target.lerp_(online, tau)


def train(args: Args) -> dict:
    """Train (and evaluate) as args say; returns summary.json's contents plus the objects
    `q_network`, `target_network`, `replay_buffer` and the list `episodic_returns` of
    training episodes."""
    check_args(args)
    device = resolve_device(args.device)
    seed_everything(args.seed, args.torch_deterministic)
    envs = make_vector_env(args)
    n_actions, obs_dim = int(envs.single_action_space.n), envs.single_observation_space.shape[0]
    q_network = QNetwork(obs_dim, n_actions, args.hidden_sizes).to(device)
    if args.model_path is not None:
        load_model(q_network, args.model_path, args, device)
    target_network = QNetwork(obs_dim, n_actions, args.hidden_sizes).to(device)
    target_network.load_state_dict(q_network.state_dict())
    optimizer = torch.optim.Adam(q_network.parameters(), lr=args.learning_rate, fused=True)  # fused: one kernel
    replay_buffer = ReplayBuffer(args.buffer_size, envs.single_observation_space, envs.single_action_space, device,
                                 n_envs=args.num_envs, handle_timeout_termination=False)
    policy = greedy_policy(q_network, device)
    run = Run(args, policy)
    rng = np.random.default_rng(args.seed)
    exploration_steps = int(args.exploration_fraction * args.total_timesteps)
    global_step = 0
    obs, _ = envs.reset(seed=args.seed)
    try:
        while global_step < args.total_timesteps:
            epsilon = linear_schedule(args.start_e, args.end_e, exploration_steps, global_step)
            actions = epsilon_greedy(policy, obs, epsilon, n_actions, rng)
            next_obs, rewards, terminations, truncations, infos = envs.step(actions)
            global_step += args.num_envs

            # a finished episode's transition ends in its true final observation, not the next episode's first
            real_next_obs = next_obs
            if "final_obs" in infos:  # a copy only on the steps where an episode ended
                real_next_obs = next_obs.copy()
                for i in np.flatnonzero(infos["_final_obs"]):
                    real_next_obs[i] = infos["final_obs"][i]
            replay_buffer.add(obs, real_next_obs, actions, rewards, terminations, [])
            obs = next_obs
            run.record_episodes(global_step, infos)

            # train_frequency and target_network_frequency count steps over all env copies
            if global_step > args.learning_starts:
                if args.anneal_lr:
                    optimizer.param_groups[0]["lr"] = args.learning_rate * (1.0 - global_step / args.total_timesteps)
                for _ in range(crossings(global_step, args.num_envs, args.train_frequency) * args.gradient_steps):
                    batch = replay_buffer.sample(args.batch_size)
                    run.losses = learning_step(q_network, target_network, optimizer, batch, args)
                    run.gradient_steps += 1
                for _ in range(crossings(global_step, args.num_envs, args.target_network_frequency)):
                    soft_update(target_network.parameters(), q_network.parameters(), args.tau)
                    run.target_updates += 1
            run.log(global_step, epsilon)
    except FloatingPointError as error:  # stop; the logs so far stay
        run.status = f"{error} at step {global_step}"
    model = {"hidden_sizes": list(args.hidden_sizes), "q_network": q_network.state_dict()}
    envs.close()
    return run.finish(global_step, model, q_network=q_network, target_network=target_network,
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
        self.losses: tuple[torch.Tensor, torch.Tensor] | None = None
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

    def log(self, global_step: int, epsilon: float) -> None:
        """After each env step: every 1,000 steps TensorBoard and the progress bar; every tenth of
        the run a plain progress line; every eval_frequency steps an evaluation."""
        args, last_return = self.args, self.episodic_returns[-1] if self.episodic_returns else None
        if crossings(global_step, args.num_envs, 1000) or global_step >= args.total_timesteps:
            self.write_episodes()
            sps = int(global_step / (time.perf_counter() - self.start_time))
            self.writer.add_scalar("charts/SPS", sps, global_step)
            self.writer.add_scalar("charts/epsilon", epsilon, global_step)
            if self.losses is not None:
                self.writer.add_scalar("losses/td_loss", self.losses[0].item(), global_step)
                self.writer.add_scalar("losses/q_values", self.losses[1].mean().item(), global_step)
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
    """Undiscounted returns of `episodes` episodes of a greedy policy, shape (episodes,)."""
    returns = np.zeros(episodes)
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        done = False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(int(policy(obs[None])[0]))
            returns[episode] += float(reward)
            done = terminated or truncated
    return returns


def numpy_greedy_policy(q_network: QNetwork) -> Callable[[np.ndarray], np.ndarray]:
    """greedy_policy on the CPU in NumPy: it reads the network's weights as views, which every
    optimizer step updates in place, and costs ~15 µs an observation against torch's ~100."""
    layers = [(m.weight.detach().numpy().T, m.bias.detach().numpy())
              for m in q_network if isinstance(m, nn.Linear)]

    def numpy_greedy(obs: np.ndarray) -> np.ndarray:
        for weight, bias in layers[:-1]:
            obs = np.maximum(obs @ weight + bias, 0.0)
        weight, bias = layers[-1]
        return (obs @ weight + bias).argmax(axis=1)

    return numpy_greedy


def crossings(step: int, step_size: int, interval: int) -> int:
    """How many multiples of interval lie in (step - step_size, step]."""
    return step // interval - (step - step_size) // interval


def make_vector_env(args: Args) -> gym.vector.VectorEnv:
    # SAME_STEP autoreset puts an ending episode's true final observation in infos["final_obs"]
    # on the step that ends it: every step is one valid transition per copy.
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
    for name in ("num_envs", "buffer_size", "batch_size", "train_frequency", "gradient_steps",
                 "target_network_frequency", "eval_episodes", "eval_frequency"):
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


def load_model(q_network: nn.Module, path: str, args: Args, device: torch.device) -> None:
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
    q_network.load_state_dict(checkpoint["q_network"])


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
