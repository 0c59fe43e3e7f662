"""DQN from pixels (Mnih et al. 2015, "Human-level control through deep reinforcement learning").

DQN (algos/dqn.py) on Atari games: the state is the last four 84×84 grayscale frames, the
Q-network is the paper's convolutional one, and the replay buffer keeps each frame once.
ε-greedy actions go into the buffer; every `train_frequency` steps a minibatch regresses
Q(s, a) onto the TD target

    y = r + γ (1 − done) max_a' Q_target(s', a')

by one Adam step on the Huber loss of Q(s, a) − y (the paper's error clipping), where done
is a termination or a lost life, and rewards are clipped to [−1, 1] for learning only.
Every `target_network_frequency` steps the target network trails the online one:
θ_target ← θ_target + τ (θ − θ_target) (τ = 1 copies it).

    python algos/dqn_atari.py --env-id ALE/Breakout-v5
"""

import difflib
import importlib.util
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
from stable_baselines3.common.type_aliases import ReplayBufferSamples
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

try:  # ale-py's wheels carry the game ROMs; without it, check_args says how to install it
    import ale_py

    gym.register_envs(ale_py)
    ale_py.ALEInterface.setLoggerMode(ale_py.LoggerMode.Error)  # no banner on stderr
except ImportError:
    ale_py = None

FRAME_STACK = 4  # frames per state


@dataclass
class Args:
    learning_rate: float = 1e-4  # Adam learning rate
    buffer_size: int = 1_000_000  # replay buffer capacity in transitions (one 84×84 frame each)
    gamma: float = 0.99  # discount factor
    tau: float = 1.0  # target update rate: 1.0 copies the online network, < 1 is Polyak averaging
    target_network_frequency: int = 1_000  # environment steps between target network updates
    batch_size: int = 32  # transitions per gradient step
    start_e: float = 1.0  # ε at the start of the schedule
    end_e: float = 0.01  # ε at the end of the schedule and after
    exploration_fraction: float = 0.10  # fraction of total_timesteps over which ε falls linearly from start_e to end_e
    learning_starts: int = 80_000  # environment steps of random actions before the first gradient step
    train_frequency: int = 4  # environment steps between rounds of gradient steps
    gradient_steps: int = 1  # gradient steps per round, each on its own minibatch
    loss: Literal["mse", "huber"] = "huber"  # TD loss: Huber (smooth L1, the paper's error clipping) or mean squared error
    max_grad_norm: float | None = 10.0  # clip the gradient's global norm to this value; None does not clip
    eval_epsilon: float = 0.05  # ε of the evaluation policy (the paper's protocol; 0 is greedy)

    env_id: str = "ALE/Breakout-v5"  # an Atari game id of ale-py: ALE/{Game}-v5 or {Game}NoFrameskip-v4
    total_timesteps: int = 10_000_000  # agent steps (4 frames each) over all copies; 0 only evaluates (e.g. a --model-path)
    num_envs: int = 1  # number of environment copies stepped together
    seed: int = 1  # seed of python, numpy, torch and the environments
    exp_name: str = os.path.basename(__file__).removesuffix(".py")  # name of this experiment, part of the run folder's name
    vector_env: Literal["auto", "ale", "sync", "async"] = "auto"  # copies in ale-py's C++ threads (AleVectorEnv) or gymnasium's Sync/AsyncVectorEnv; auto: ale from 2 copies on
    max_episode_steps: int | None = None  # time limit in agent steps per game; None keeps the game's (108,000 frames)
    device: str = "auto"  # torch device: auto (CUDA if present, else CPU), cpu, cuda, cuda:N or mps
    torch_deterministic: bool = True  # make cuDNN deterministic
    capture_video: bool = False  # record evaluation episodes as mp4 into {video_dir}/{run_name}/
    save_model: bool = False  # save the Q-network into the run folder at the end
    model_path: str | None = None  # load Q-network weights saved by --save-model before training or evaluating
    eval_episodes: int = 10  # games (all lives) per evaluation
    eval_frequency: int = 250_000  # agent steps between evaluations (there is always one at the end)
    log_dir: str = "runs"  # folder of the run folders (TensorBoard logs, summary.json, model)
    video_dir: str = "videos"  # folder of the video folders
    progress: bool = True  # progress bar on a terminal, plain periodic lines otherwise


class FireOnLifeStart(gym.Wrapper):
    """Presses FIRE at the start of a game and after each lost life, in games that wait for it
    (Breakout serves the ball on FIRE), and reports info["life_lost"] for the learner."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self.fire = env.unwrapped.get_action_meanings()[1] == "FIRE"
        self.lives = 0

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        if self.fire:
            obs, _, _, _, info = self.env.step(1)
        self.lives = info["lives"]
        return obs, {**info, "life_lost": False}

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        life_lost = info["lives"] < self.lives
        self.lives = info["lives"]
        if life_lost and self.fire and not (terminated or truncated):
            obs, fire_reward, terminated, truncated, info = self.env.step(1)
            reward += fire_reward
        return obs, reward, terminated, truncated, {**info, "life_lost": life_lost}


def make_env(env_id: str, max_episode_steps: int | None, render_mode: str | None = None,
             clip_rewards: bool = True) -> Callable[[], gym.Env]:
    """A thunk of the paper's preprocessing: up to 30 no-op actions at the start of a game, each
    action repeated for 4 frames with the last two max-pooled, 84×84 grayscale, FIRE at the start
    of each life, the last FRAME_STACK frames as the observation (FRAME_STACK, 84, 84) uint8.
    Episodes are whole games; the episode statistics count unclipped rewards."""

    def thunk() -> gym.Env:
        env = gym.make(env_id, frameskip=1, render_mode=render_mode)  # AtariPreprocessing skips frames itself
        env = gym.wrappers.AtariPreprocessing(env, noop_max=30, frame_skip=4, screen_size=84)
        env = FireOnLifeStart(env)
        if max_episode_steps is not None:
            env = gym.wrappers.TimeLimit(env, max_episode_steps)
        env = gym.wrappers.RecordEpisodeStatistics(env)
        if clip_rewards:
            env = gym.wrappers.ClipReward(env, -1.0, 1.0)
        return gym.wrappers.FrameStackObservation(env, FRAME_STACK)

    return thunk


def lost_lives(infos: dict) -> np.ndarray:
    """Which copies lost a life on this step, (num_envs,) bool, a game's last step included."""
    if "final_info" not in infos:
        return infos["life_lost"]
    return np.where(infos["_final_info"], infos["final_info"]["life_lost"], infos["life_lost"])


class QNetwork(nn.Sequential):
    """The Nature DQN network: maps stacked frames (batch, FRAME_STACK, 84, 84) uint8 to action
    values (batch, n_actions); frames are scaled to [0, 1] on the network's device."""

    def __init__(self, n_actions: int):
        super().__init__(
            nn.Conv2d(FRAME_STACK, 32, kernel_size=8, stride=4), nn.ReLU(),
            nn.Conv2d(32, 64, kernel_size=4, stride=2), nn.ReLU(),
            nn.Conv2d(64, 64, kernel_size=3, stride=1), nn.ReLU(),
            nn.Flatten(), nn.Linear(64 * 7 * 7, 512), nn.ReLU(),
            nn.Linear(512, n_actions))

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return super().forward(frames.float() / 255.0)


def greedy_policy(q_network: QNetwork, device: torch.device) -> Callable[[np.ndarray], np.ndarray]:
    """A function from observations (n, FRAME_STACK, 84, 84) to argmax_a Q(obs, a), shape (n,)."""
    return torch.no_grad()(lambda obs: q_network(torch.as_tensor(obs, device=device)).argmax(dim=1).cpu().numpy())


class FrameReplayBuffer:
    """Replay memory that stores each frame once. Per env copy, a ring of records: a frame, the
    action taken from the state it ends, the clipped reward, done, and how many frames of its
    episode precede it (capped at FRAME_STACK − 1). A state is rebuilt from its record and the
    records before it, repeating an episode's first frame where the episode is younger than the
    stack, as the env's own stack does; the next state is the following record, which at an
    episode's end holds its true final frame (a record that starts no transition). Records live
    on `device`, sampled batches go to `batch_device`."""

    def __init__(self, capacity: int, num_envs: int, device: torch.device, batch_device: torch.device):
        self.rows, self.device, self.batch_device = capacity // num_envs + FRAME_STACK, device, batch_device
        zeros = lambda dtype, *shape: torch.zeros((num_envs, self.rows, *shape), dtype=dtype, device=device)
        self.frames = zeros(torch.uint8, 84, 84)
        self.actions, self.rewards = zeros(torch.uint8), zeros(torch.float32)
        self.dones, self.depth, self.acted = zeros(torch.bool), zeros(torch.uint8), zeros(torch.bool)
        self.count = torch.zeros(num_envs, dtype=torch.int64, device=device)  # records written per copy
        self.next_depth = torch.zeros(num_envs, dtype=torch.uint8, device=device)

    def add(self, frames: np.ndarray, actions: np.ndarray, rewards: np.ndarray, dones: np.ndarray) -> None:
        """One step of every copy: the newest frame of each state (num_envs, 84, 84) and the action,
        clipped reward and done (num_envs,) that followed it."""
        self._write(torch.arange(len(frames), device=self.device), frames, actions, rewards, dones, acted=True)

    def add_final_frame(self, copy: int, frame: np.ndarray) -> None:
        """The newest frame (84, 84) of the true final observation of an episode of env copy `copy`."""
        self._write(torch.tensor([copy], device=self.device), frame[None], 0, 0.0, False, acted=False)

    def _write(self, copies: torch.Tensor, frames, actions, rewards, dones, acted: bool) -> None:
        rows = self.count[copies] % self.rows
        as_tensor = lambda x, dtype: torch.as_tensor(np.asarray(x), dtype=dtype, device=self.device)
        self.frames[copies, rows] = as_tensor(frames, torch.uint8)
        self.actions[copies, rows] = as_tensor(actions, torch.uint8)
        self.rewards[copies, rows] = as_tensor(rewards, torch.float32)
        self.dones[copies, rows] = as_tensor(dones, torch.bool)
        depth = self.next_depth[copies]
        self.depth[copies, rows], self.acted[copies, rows] = depth, acted
        self.next_depth[copies] = (depth + 1).clamp(max=FRAME_STACK - 1) if acted else 0
        self.count[copies] += 1

    def sample(self, batch_size: int, generator: torch.Generator) -> ReplayBufferSamples:
        """batch_size transitions drawn uniformly: states (batch, FRAME_STACK, 84, 84) uint8, actions
        (batch, 1) int64, next states, dones (batch, 1) and rewards (batch, 1) float32."""
        # a record k can start a transition once record k + 1 is written, while its stack's oldest
        # record (k − FRAME_STACK + 1 at most) is not overwritten: ages 1 … rows − FRAME_STACK
        sampleable = (self.count - 1).clamp(min=0, max=self.rows - FRAME_STACK)
        copies, rows = self._draw(sampleable, 2 * batch_size, generator)
        keep = self.acted[copies, rows]  # a final frame starts no transition: drawn again (rare)
        while keep.sum() < batch_size:
            more = self._draw(sampleable, 2 * batch_size, generator)
            copies, rows = torch.cat([copies, more[0]]), torch.cat([rows, more[1]])
            keep = self.acted[copies, rows]
        copies, rows = copies[keep][:batch_size], rows[keep][:batch_size]
        next_rows = (rows + 1) % self.rows
        return ReplayBufferSamples(*(tensor.to(self.batch_device) for tensor in (
            self.stack(copies, rows), self.actions[copies, rows, None].long(), self.stack(copies, next_rows),
            self.dones[copies, rows, None].float(), self.rewards[copies, rows, None])))

    def _draw(self, sampleable: torch.Tensor, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """n (copy, row) pairs, uniform over the sampleable records of all copies."""
        total = int(sampleable.sum())
        if total == 0:
            raise ValueError("the replay buffer holds no complete transition yet")
        flat = torch.randint(total, (n,), generator=generator, device=self.device)
        ends = sampleable.cumsum(0)
        copies = torch.searchsorted(ends, flat, right=True)
        ages = 1 + flat - (ends[copies] - sampleable[copies])
        return copies, (self.count[copies] - 1 - ages) % self.rows

    def stack(self, copies: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """The states (batch, FRAME_STACK, 84, 84) that end at these records."""
        back = torch.arange(FRAME_STACK - 1, -1, -1, device=self.device)  # FRAME_STACK − 1, …, 0
        back = torch.minimum(back[None], self.depth[copies, rows, None].long())
        return self.frames[copies[:, None], (rows[:, None] - back) % self.rows]


# ---- the algorithm -----------------------------------------------------------------------

QFunction = Callable[[torch.Tensor], torch.Tensor]  # states (batch, FRAME_STACK, 84, 84) to action values (batch, n_actions)


def linear_schedule(start_e: float, end_e: float, duration: int, t: int) -> float:
    """ε after t steps of a linear fall from start_e to end_e over duration steps."""
    if t >= duration:
        return end_e
    return start_e + (end_e - start_e) * t / duration


def epsilon_greedy(policy: Callable[[np.ndarray], np.ndarray], obs: np.ndarray, epsilon: float, n_actions: int,
                   rng: np.random.Generator) -> np.ndarray:
    """Actions (num_envs,) for states (num_envs, FRAME_STACK, 84, 84): with probability ε, drawn per
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
def td_target(target_network: QFunction, rewards: torch.Tensor, next_observations: torch.Tensor,
              dones: torch.Tensor, gamma: float) -> torch.Tensor:
    """r + γ (1 − done) max_a' Q_target(s', a'), shape (batch,), where done is a termination or a lost
    life. A truncated transition has done = 0 and its true final state as s', so it bootstraps: the
    time limit is not in the state."""
    next_q_values = target_network(next_observations).max(dim=1).values
    return rewards + gamma * (1.0 - dones) * next_q_values


def td_loss(q_network: QFunction, target_network: QFunction, data: ReplayBufferSamples, gamma: float | torch.Tensor,
            loss: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The TD loss of a minibatch (batch,) from the replay buffer, a scalar, and Q(s, a) (batch,)."""
    target = td_target(target_network, data.rewards.flatten(), data.next_observations, data.dones.flatten(), gamma)
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
    n_actions = int(envs.single_action_space.n)
    q_network = QNetwork(n_actions).to(device)
    if args.model_path is not None:
        load_model(q_network, args.model_path, args, device)
    target_network = QNetwork(n_actions).to(device)
    target_network.load_state_dict(q_network.state_dict())
    optimizer = torch.optim.Adam(q_network.parameters(), lr=args.learning_rate, fused=True)  # fused: one kernel
    replay_buffer = FrameReplayBuffer(args.buffer_size, args.num_envs, replay_device(args, device), device)
    policy = greedy_policy(q_network, device)
    run = Run(args, policy, replay_buffer)
    rng = np.random.default_rng(args.seed)
    sample_generator = torch.Generator(replay_buffer.device).manual_seed(args.seed)
    exploration_steps = int(args.exploration_fraction * args.total_timesteps)
    global_step = 0
    obs, _ = envs.reset(seed=args.seed)
    try:
        while global_step < args.total_timesteps:
            epsilon = linear_schedule(args.start_e, args.end_e, exploration_steps, global_step)
            actions = epsilon_greedy(policy, obs, epsilon, n_actions, rng)
            next_obs, rewards, terminations, truncations, infos = envs.step(actions)
            global_step += args.num_envs

            # learning treats a lost life as an end (no bootstrap), though the game goes on
            dones = terminations | lost_lives(infos)
            actions = infos.get("actions", actions)  # AleVectorEnv's, where it pressed FIRE to start a life
            replay_buffer.add(obs[:, -1], actions, rewards, dones)
            # a finished game's last transition ends in its true final frame, not the next game's first
            for i in np.flatnonzero(terminations | truncations):
                replay_buffer.add_final_frame(i, infos["final_obs"][i][-1])
            obs = next_obs
            run.record_episodes(global_step, infos)

            # train_frequency and target_network_frequency count steps over all env copies
            if global_step > args.learning_starts:
                for _ in range(crossings(global_step, args.num_envs, args.train_frequency) * args.gradient_steps):
                    batch = replay_buffer.sample(args.batch_size, sample_generator)
                    run.losses = learning_step(q_network, target_network, optimizer, batch, args)
                    run.gradient_steps += 1
                for _ in range(crossings(global_step, args.num_envs, args.target_network_frequency)):
                    soft_update(target_network.parameters(), q_network.parameters(), args.tau)
                    run.target_updates += 1
            run.log(global_step, epsilon)
    except FloatingPointError as error:  # stop; the logs so far stay
        run.status = f"{error} at step {global_step}"
    model = {"q_network": q_network.state_dict()}
    envs.close()
    return run.finish(global_step, model, q_network=q_network, target_network=target_network,
                      replay_buffer=replay_buffer)


# ==== bookkeeping: nothing below this line is the algorithm ===============================

SCRIPT = os.path.basename(__file__)  # in messages and saved models


class Run:
    """A run's folder, TensorBoard log, progress, evaluations and summary.json."""

    def __init__(self, args: Args, policy: Callable[[np.ndarray], np.ndarray], replay_buffer: FrameReplayBuffer):
        self.args, self.policy = args, policy
        self.name = unique_run_name(args)
        replay_bytes = sum(t.nbytes for t in vars(replay_buffer).values() if isinstance(t, torch.Tensor))
        if args.total_timesteps:
            print(f"replay buffer: {args.buffer_size:,} transitions in {replay_bytes / 1e9:.2f} GB "
                  f"({replay_bytes / (replay_buffer.rows * args.num_envs):.0f} bytes each) on {replay_buffer.device}",
                  flush=True)
        self.dir = os.path.join(args.log_dir, self.name)
        # a queue that holds a log point's episodes: with the default of 10, adding an event
        # waits for TensorBoard's writer thread (benchmarks/results/speed.md)
        self.writer = SummaryWriter(self.dir, max_queue=100_000)
        self.writer.add_text("hyperparameters", "|param|value|\n|-|-|\n"
                             + "\n".join(f"|{k}|{v}|" for k, v in asdict(args).items()))
        self.eval_env = make_env(args.env_id, args.max_episode_steps, "rgb_array" if args.capture_video else None,
                                 clip_rewards=False)()
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
        """Unclipped scores of eval_episodes whole games at ε = eval_epsilon, shape (eval_episodes,)."""
        return evaluate(self.policy, self.eval_env, self.args.eval_episodes, self.args.seed + 100_000,
                        self.args.eval_epsilon)

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


class AleVectorEnv(gym.vector.VectorEnv):
    """make_vector_env's fast path from 2 copies on, where it was measured faster (atari.md).
    Copies of an Atari game stepped in ale-py's C++ threads, preprocessed as make_env does with
    two differences: the no-ops at a game's start follow FIRE, and FIRE at the start of a later
    life is the copy's next step (infos["actions"] holds the actions taken). ale-py does the
    no-ops, frame skip, max-pooling, 84×84 grayscale and FIRE at a game's start; this class the
    frame stack (an episode's first frame repeated, as the replay buffer rebuilds it), reward
    clipping, whole-game episode statistics and the life_lost flag, as make_env's wrappers do."""

    def __init__(self, env_id: str, num_envs: int, max_episode_steps: int | None):
        from ale_py.vector_env import AtariVectorEnv

        game = gym.spec(env_id).kwargs
        max_frames = game["max_num_frames_per_episode"]
        if max_episode_steps is not None:  # an agent step is 4 frames
            max_frames = min(max_frames, 4 * max_episode_steps)
        self.ale = AtariVectorEnv(game["game"], num_envs, repeat_action_probability=game["repeat_action_probability"],
                                  full_action_space=game["full_action_space"], max_num_frames_per_episode=max_frames,
                                  noop_max=30, frameskip=4, img_height=84, img_width=84, stack_num=1,
                                  reward_clipping=False, autoreset_mode=AutoresetMode.SAME_STEP)
        self.num_envs, self.single_action_space = num_envs, self.ale.single_action_space
        self.single_observation_space = gym.spaces.Box(0, 255, (FRAME_STACK, 84, 84), np.uint8)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, num_envs)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, num_envs)
        self.metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}
        self.fire = self.ale.ale.get_action_set()[1] == ale_py.Action.FIRE

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        frames, info = self.ale.reset(seed=seed)  # copy i is seeded with seed + i
        self.stacks = np.repeat(frames, FRAME_STACK, axis=1)  # (num_envs, FRAME_STACK, 84, 84)
        self.lives, self.serve = info["lives"], np.zeros(self.num_envs, dtype=bool)
        self.returns, self.lengths = np.zeros(self.num_envs), np.zeros(self.num_envs, dtype=np.int64)
        return self.stacks, {"life_lost": np.zeros(self.num_envs, dtype=bool)}

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        actions = np.where(self.serve, 1, actions)
        frames, rewards, terminations, truncations, info = self.ale.step(actions)
        ended = terminations | truncations
        self.returns, self.lengths = self.returns + rewards, self.lengths + 1
        self.stacks = np.concatenate([self.stacks[:, 1:], frames], axis=1)  # a new array: returned as is
        life_lost = ~ended & (info["lives"] < self.lives)  # an ended copy's lives are its next game's
        self.lives, self.serve = info["lives"], life_lost & self.fire
        infos = {"life_lost": life_lost, "actions": actions}
        if ended.any():  # frames holds the next episode's first frame there, info["final_obs"] the last
            final_obs = self.stacks.copy()
            final_obs[ended, -1] = info["final_obs"][ended, 0]
            self.stacks[ended] = frames[ended]
            infos |= {"final_obs": final_obs, "_final_obs": ended, "_final_info": ended, "final_info": {
                "episode": {"r": self.returns.copy(), "l": self.lengths.copy()}, "life_lost": life_lost}}
            self.returns[ended], self.lengths[ended] = 0.0, 0
        return self.stacks, np.clip(rewards, -1, 1).astype(np.float32), terminations, truncations, infos

    def close_extras(self, **kwargs) -> None:
        self.ale.close()


def evaluate(policy: Callable[[np.ndarray], np.ndarray], env: gym.Env, episodes: int, seed: int,
             epsilon: float) -> np.ndarray:
    """Undiscounted returns of `episodes` episodes of the ε-greedy policy, shape (episodes,); the
    same seed gives the same episodes."""
    returns, rng = np.zeros(episodes), np.random.default_rng(seed)
    n_actions = int(env.action_space.n)
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        done = False
        while not done:
            action = epsilon_greedy(policy, obs[None], epsilon, n_actions, rng)[0]
            obs, reward, terminated, truncated, _ = env.step(int(action))
            returns[episode] += float(reward)
            done = terminated or truncated
    return returns


def crossings(step: int, step_size: int, interval: int) -> int:
    """How many multiples of interval lie in (step - step_size, step]."""
    return step // interval - (step - step_size) // interval


def make_vector_env(args: Args) -> gym.vector.VectorEnv:
    # SAME_STEP autoreset puts an ending episode's true final observation in infos["final_obs"]
    # on the step that ends it: every step is one valid transition per copy.
    if args.vector_env == "ale" or (args.vector_env == "auto" and args.num_envs > 1):
        return AleVectorEnv(args.env_id, args.num_envs, args.max_episode_steps)  # the fast path
    vector_env_class = gym.vector.AsyncVectorEnv if args.vector_env == "async" else gym.vector.SyncVectorEnv
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
    for name in ("start_e", "end_e", "eval_epsilon"):
        if not 0.0 <= getattr(args, name) <= 1.0:
            raise UsageError(f"--{name.replace('_', '-')} must be in [0, 1], got {getattr(args, name)}")
    if ale_py is None or importlib.util.find_spec("cv2") is None:
        raise UsageError(f"{SCRIPT} needs ale-py and opencv, which are not installed: pip install -e \".[atari]\"")
    if args.env_id not in gym.registry:
        close = difflib.get_close_matches(args.env_id, gym.registry.keys(), n=3, cutoff=0.6)
        raise UsageError(f"unknown env id {args.env_id!r}" + (f"; did you mean {' or '.join(close)}?" if close else ""))
    if not str(gym.spec(args.env_id).entry_point).startswith("ale_py"):
        raise UsageError(f"{SCRIPT} needs an Atari game such as ALE/Breakout-v5; for {args.env_id} use dqn.py")


def replay_device(args: Args, device: torch.device) -> torch.device:
    """The device of the replay buffer: the training device when the buffer fits in its free
    memory with 2 GB to spare, else the CPU (its batches then move to the device)."""
    needed = (args.buffer_size + FRAME_STACK * args.num_envs) * (84 * 84 + 8)
    if device.type == "cuda" and torch.cuda.mem_get_info(device)[0] > needed + 2e9:
        return device
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    if needed > 0.9 * memory:
        raise UsageError(f"a replay buffer of {args.buffer_size:,} transitions needs {needed / 1e9:.1f} GB and this "
                         f"machine has {memory / 1e9:.1f} GB: lower --buffer-size")
    return torch.device("cpu") if device.type == "cuda" else device


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
    q_network.load_state_dict(checkpoint["q_network"])


def unique_run_name(args: Args) -> str:
    # ALE/Breakout-v5 -> ALE_Breakout-v5: one folder per run, as benchmarks/ expects
    run_name = base_name = f"{args.env_id.replace('/', '_')}__{args.exp_name}__{args.seed}__{int(time.time())}"
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
    print(f"evaluation (ε = {result['args']['eval_epsilon']}): {result['eval_mean']:.2f} ± {result['eval_std']:.2f} over "
          f"{len(result['eval_returns'])} episodes; run folder {result['run_dir']}")
