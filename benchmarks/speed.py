"""Steps per second of algos/dqn.py against stable-baselines3's DQN, side by side.

Both train CartPole-v1 on the CPU with the same hyperparameters (lr 2.5e-4, buffer 10k,
batch 128, a gradient step every 10 env steps, target copy every 500, learning starts at
10k, ε 1 → 0.05 over half the run, MLP 120-84, one env), for the same number of steps,
alternating run by run so that both see the same machine load, each run in a fresh Python
process with each library's own torch thread setting. SPS is env steps over the
wall time of the training loop: stable-baselines3's `learn()`, and dqn.py's loop without
its final evaluation (periodic evaluation is off, as stable-baselines3 does none).

    python -m benchmarks.speed            # prints a table, the medians and their ratio
"""

import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Literal

import gymnasium as gym
import torch
import tyro
from stable_baselines3 import DQN

from benchmarks.common import ROOT, load_algorithm

# Huber loss and gradient clipping at norm 10 are stable-baselines3's DQN defaults; dqn.py
# is given the same.
SHARED = dict(learning_rate=2.5e-4, buffer_size=10_000, batch_size=128, gamma=0.99, max_grad_norm=10.0)


@dataclass
class Args:
    steps: int = 50_000
    """environment steps per run"""
    repeats: int = 3
    """runs of each implementation, alternating"""
    vector_envs: int = 8
    """also time dqn.py with this many env copies (0 skips it)"""
    only: Literal["", "algozoo", "sb3"] = ""
    """internal: time one run of one implementation in this process and print its SPS"""
    num_envs: int = 1
    """internal: env copies for --only algozoo"""


def algozoo_sps(steps: int, num_envs: int) -> float:
    dqn = load_algorithm("dqn")
    with tempfile.TemporaryDirectory() as log_dir:
        args = dqn.Args(
            env_id="CartPole-v1", num_envs=num_envs, total_timesteps=steps, device="cpu", progress=False,
            eval_frequency=steps, eval_episodes=1, log_dir=log_dir, seed=1,
            train_frequency=10, target_network_frequency=500, learning_starts=10_000,
            start_e=1.0, end_e=0.05, exploration_fraction=0.5, hidden_sizes=(120, 84), tau=1.0, loss="huber",
            **SHARED,
        )
        return dqn.train(args)["sps"]


def sb3_sps(steps: int) -> float:
    model = DQN(
        "MlpPolicy", gym.make("CartPole-v1"), train_freq=10, gradient_steps=1, target_update_interval=500,
        learning_starts=10_000, exploration_initial_eps=1.0, exploration_final_eps=0.05,
        exploration_fraction=0.5, policy_kwargs=dict(net_arch=[120, 84]), device="cpu", seed=1, **SHARED,
    )
    start = time.perf_counter()
    model.learn(steps)
    return steps / (time.perf_counter() - start)


def timed_run(implementation: str, steps: int, num_envs: int = 1) -> tuple[float, int]:
    """SPS and torch thread count of one run in a fresh Python process."""
    command = [sys.executable, "-m", "benchmarks.speed", "--only", implementation,
               "--steps", str(steps), "--num-envs", str(num_envs)]
    output = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    sps, threads = output.split()[-2:]
    return float(sps), int(threads)


def main(args: Args) -> None:
    if args.only:
        sps = algozoo_sps(args.steps, args.num_envs) if args.only == "algozoo" else sb3_sps(args.steps)
        print(sps, torch.get_num_threads())
        return
    runs = {"algozoo dqn.py": ("algozoo", 1), "stable-baselines3 DQN": ("sb3", 1)}
    if args.vector_envs:
        runs[f"algozoo dqn.py, {args.vector_envs} envs"] = ("algozoo", args.vector_envs)
    sps: dict[str, list[float]] = {name: [] for name in runs}
    threads: dict[str, int] = {}
    for repeat in range(args.repeats):
        for name, (implementation, num_envs) in runs.items():
            run_sps, threads[name] = timed_run(implementation, args.steps, num_envs)
            sps[name].append(run_sps)
        print(f"repeat {repeat + 1}: " + ", ".join(f"{name} {values[-1]:.0f}" for name, values in sps.items()), flush=True)
    print(f"\nCartPole-v1, CPU, {args.steps} steps per run, {args.repeats} runs each, one fresh process a run")
    print(f"{'implementation':<28} {'torch threads':>13} {'median SPS':>10}   runs")
    for name, values in sps.items():
        print(f"{name:<28} {threads[name]:>13} {statistics.median(values):>10.0f}   " + " ".join(f"{v:.0f}" for v in values))
    ratio = statistics.median(sps["algozoo dqn.py"]) / statistics.median(sps["stable-baselines3 DQN"])
    print(f"ratio dqn.py / stable-baselines3 (one env): {ratio:.2f}x")


if __name__ == "__main__":
    main(tyro.cli(Args))
