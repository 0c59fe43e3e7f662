"""stable-baselines3's DQN on an Atari game with dqn_atari.py's hyperparameters: the same-work
reference for algos/dqn_atari.py.

stable-baselines3 trains on its own `AtariWrapper` (30 no-op starts, 4 frames a step
max-pooled, 84×84 grayscale, a lost life ends its episode, FIRE at each reset, rewards clipped)
and `VecFrameStack` of 4, with the settings of dqn_atari.py's `Args` (learning rate, buffer,
batch, γ, target copy interval, train frequency, ε schedule, learning starts, Huber loss,
gradient norm 10) and `optimize_memory_usage`. Its buffer holds min(buffer size, total steps)
transitions: the same transitions as a larger one in a run that short, and a 1M buffer of
stacked frames is refused here (26.3 GiB for its observations alone). Every
--eval-frequency steps and at the end it is evaluated with dqn_atari.py's own `evaluate`, on
dqn_atari.py's evaluation env and seeds (whole games, unclipped score, ε = 0.05). Writes the
evaluations, the training games' scores (from its Monitor) and the wall time as JSON to --out.

    python -m benchmarks.sb3_atari --env-id ALE/Breakout-v5 --total-timesteps 500000 --seed 1 \\
        --out benchmarks/results/atari/sb3_Breakout-v5_seed1.json
"""

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path

import ale_py
import gymnasium as gym
import torch
import tyro
from stable_baselines3 import DQN
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_atari_env
from stable_baselines3.common.vec_env import VecEnv, VecFrameStack

from benchmarks.common import load_algorithm

gym.register_envs(ale_py)


@dataclass
class Args:
    env_id: str = "ALE/Breakout-v5"
    """an Atari game id of ale-py"""
    total_timesteps: int = 500_000
    """agent steps (4 frames each)"""
    seed: int = 1
    """seed of stable-baselines3 (its network, ε draws and env)"""
    eval_frequency: int = 50_000
    """agent steps between evaluations (there is always one at the end)"""
    eval_episodes: int = 10
    """games per evaluation"""
    device: str = "cpu"
    """torch device of stable-baselines3's networks"""
    out: str | None = None
    """JSON file for the result; None only prints the final evaluation"""


def sb3_atari_env(env_id: str, seed: int) -> VecEnv:
    """One copy of the game under stable-baselines3's AtariWrapper, 4 frames stacked."""
    env = make_atari_env(env_id, n_envs=1, seed=seed, env_kwargs={"frameskip": 1})
    return VecFrameStack(env, 4)


def sb3_dqn(settings, env: VecEnv, seed: int, device: str) -> DQN:
    """stable-baselines3's DQN with the hyperparameters of dqn_atari.py's Args `settings`; its loss
    is always Huber, its optimizer Adam."""
    if settings.loss != "huber" or settings.tau != 1.0:
        raise ValueError("stable-baselines3's DQN has a Huber loss and hard target copies only")
    return DQN(
        "CnnPolicy", env, learning_rate=settings.learning_rate,
        buffer_size=min(settings.buffer_size, max(settings.total_timesteps, settings.batch_size)),
        learning_starts=settings.learning_starts, batch_size=settings.batch_size, tau=1.0, gamma=settings.gamma,
        train_freq=settings.train_frequency, gradient_steps=settings.gradient_steps,
        target_update_interval=settings.target_network_frequency,
        exploration_fraction=settings.exploration_fraction, exploration_initial_eps=settings.start_e,
        exploration_final_eps=settings.end_e, max_grad_norm=settings.max_grad_norm or float("inf"),
        optimize_memory_usage=True, replay_buffer_kwargs={"handle_timeout_termination": False},
        seed=seed, device=device,
    )


class Record(BaseCallback):
    """The training games' scores [(step, score)], from the Monitor under the AtariWrapper (whole
    games, unclipped), and dqn_atari.py's evaluation every `frequency` steps before the last
    [(step, mean score)]."""

    def __init__(self, evaluate, frequency: int, total_timesteps: int):
        super().__init__()
        self.evaluate, self.frequency, self.total_timesteps = evaluate, frequency, total_timesteps
        self.games, self.evaluations = [], []

    def _on_step(self) -> bool:
        self.games += [(self.num_timesteps, float(info["episode"]["r"])) for info in self.locals["infos"]
                       if "episode" in info]
        if self.num_timesteps % self.frequency == 0 and self.num_timesteps < self.total_timesteps:
            self.evaluations.append((self.num_timesteps, float(self.evaluate().mean())))
        return True


def main(args: Args) -> dict:
    dqn_atari = load_algorithm("dqn_atari")
    settings = dqn_atari.Args(env_id=args.env_id, total_timesteps=args.total_timesteps, seed=args.seed)
    eval_env = dqn_atari.make_env(args.env_id, None, clip_rewards=False)()
    model = sb3_dqn(settings, sb3_atari_env(args.env_id, args.seed), args.seed, args.device)
    q_net = model.q_net
    policy = torch.no_grad()(lambda obs: q_net(torch.as_tensor(obs, device=q_net.device)).argmax(dim=1).cpu().numpy())
    evaluate = lambda: dqn_atari.evaluate(policy, eval_env, args.eval_episodes, args.seed + 100_000,
                                          settings.eval_epsilon)
    record = Record(evaluate, args.eval_frequency, args.total_timesteps)
    start = time.perf_counter()
    model.learn(args.total_timesteps, callback=record)
    train_seconds = time.perf_counter() - start
    final = evaluate()
    result = {
        "implementation": "stable-baselines3 DQN", "env_id": args.env_id, "seed": args.seed,
        "total_timesteps": args.total_timesteps, "eval_mean": float(final.mean()), "eval_std": float(final.std()),
        "eval_returns": final.tolist(), "evaluations": record.evaluations + [(args.total_timesteps, float(final.mean()))],
        "training_games": record.games,
        "train_seconds": train_seconds, "sps": args.total_timesteps / train_seconds,
        "settings": dataclasses.asdict(settings),
    }
    print(f"stable-baselines3 DQN, {args.env_id}, seed {args.seed}, {args.total_timesteps} steps: evaluation "
          f"{result['eval_mean']:.1f} ± {result['eval_std']:.1f} (ε = {settings.eval_epsilon}), {train_seconds:.0f} s")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main(tyro.cli(Args))
