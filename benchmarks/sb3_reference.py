"""stable-baselines3's DDPG on the settings of a suite cell of ddpg.py: the same-work reference.

Reads the suite's entry for the env (its `args` over ddpg.py's defaults), trains
stable-baselines3's DDPG with the same hyperparameters (learning rate, buffer, batch, γ, τ,
random steps before learning, a critic step, an actor step and a target update every
--train-frequency env steps, Gaussian or Ornstein–Uhlenbeck noise of the same σ in half
action ranges, the same hidden layers), and evaluates its deterministic policy with
ddpg.py's own `evaluate` on ddpg.py's evaluation seeds. Prints one line and writes it as
JSON to --out.

    python -m benchmarks.sb3_reference --env-id Hopper-v5 --seed 1 --out benchmarks/results/mujoco/sb3_Hopper-v5_seed1.json
"""

import dataclasses
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np
import tyro
from stable_baselines3 import DDPG
from stable_baselines3.common.noise import NormalActionNoise, OrnsteinUhlenbeckActionNoise

from benchmarks.common import load_algorithm
from benchmarks.sweep_grid import UsageError, parse_with, read_suite, suite_options


@dataclass
class Args:
    env_id: str = "Hopper-v5"
    """env of the suite's ddpg entry"""
    seed: int = 1
    """seed of stable-baselines3 (its networks, noise, random actions and env)"""
    suite: str = "classic"
    """benchmarks/suites/NAME.toml whose [ddpg.ENV] entry gives the settings"""
    device: str = "cpu"
    """torch device of stable-baselines3's networks"""
    out: str | None = None
    """JSON file for the result; None only prints it"""


def sb3_ddpg(settings, env: gym.Env, seed: int, device: str) -> DDPG:
    """stable-baselines3's DDPG with the hyperparameters of ddpg.py's Args `settings`.

    stable-baselines3 adds its action noise to actions rescaled to [-1, 1], so its σ is in
    half action ranges, as ddpg.py's --exploration-noise is. Its DDPG updates the actor and
    the targets after every critic step, which is ddpg.py's --policy-frequency 1.
    """
    if settings.policy_frequency != 1 or settings.num_envs != 1:
        raise UsageError("stable-baselines3's DDPG has no delayed actor and runs one env here: the entry needs "
                         "policy_frequency = 1 and num_envs = 1")
    shape = env.action_space.shape
    if settings.noise == "normal":
        noise = NormalActionNoise(np.zeros(shape), settings.exploration_noise * np.ones(shape))
    else:
        noise = OrnsteinUhlenbeckActionNoise(np.zeros(shape), settings.exploration_noise * np.ones(shape),
                                             theta=settings.ou_theta, dt=settings.ou_dt)
    return DDPG(
        "MlpPolicy", env, learning_rate=settings.learning_rate, buffer_size=settings.buffer_size,
        learning_starts=settings.learning_starts, batch_size=settings.batch_size, tau=settings.tau,
        gamma=settings.gamma, train_freq=settings.train_frequency, gradient_steps=1, action_noise=noise,
        policy_kwargs=dict(net_arch=list(settings.hidden_sizes)), device=device, seed=seed,
    )


def main(args: Args) -> dict:
    ddpg = load_algorithm("ddpg")
    suite_name, suite = read_suite(args.suite)
    entry = suite.get("ddpg", {}).get(args.env_id)
    if entry is None:
        raise UsageError(f"suite {suite_name} has no [ddpg.{args.env_id}] entry")
    settings = parse_with(ddpg, suite_options(entry.get("args", {})), f"suite {suite_name}: [ddpg.{args.env_id}]")
    settings = dataclasses.replace(settings, env_id=args.env_id, seed=args.seed)
    env = gym.make(args.env_id, max_episode_steps=settings.max_episode_steps)
    model = sb3_ddpg(settings, env, args.seed, args.device)
    start = time.perf_counter()
    model.learn(settings.total_timesteps)
    train_seconds = time.perf_counter() - start
    eval_env = gym.make(args.env_id, max_episode_steps=settings.max_episode_steps)
    eval_returns = ddpg.evaluate(lambda obs: model.predict(obs, deterministic=True)[0], eval_env,
                                 settings.eval_episodes, args.seed + 100_000)
    result = {
        "implementation": "stable-baselines3 DDPG", "env_id": args.env_id, "seed": args.seed,
        "total_timesteps": settings.total_timesteps, "eval_mean": float(eval_returns.mean()),
        "eval_std": float(eval_returns.std()), "eval_returns": eval_returns.tolist(),
        "train_seconds": train_seconds, "settings": dataclasses.asdict(settings),
    }
    print(f"stable-baselines3 DDPG, {args.env_id}, seed {args.seed}, {settings.total_timesteps} steps: greedy "
          f"{result['eval_mean']:.1f} ± {result['eval_std']:.1f} over {len(eval_returns)} episodes, "
          f"{train_seconds:.0f} s of training")
    if args.out is not None:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    try:
        main(tyro.cli(Args))
    except UsageError as error:
        print(f"sb3_reference: error: {error}", file=sys.stderr)
        sys.exit(2)
