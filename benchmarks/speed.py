"""Steps per second of algos/dqn.py against stable-baselines3's DQN, side by side.

Both train CartPole-v1 on the CPU with the same hyperparameters (lr 2.5e-4, buffer 10k,
batch 128, a gradient step every 10 env steps, target copy every 500, learning starts at
10k, ε 1 → 0.05 over half the run, MLP 120-84, one env), for the same number of steps,
alternating run by run so that both see the same machine load. SPS is env steps over the
wall time of the training loop: stable-baselines3's `learn()`, and dqn.py's loop without
its final evaluation (periodic evaluation is off, as stable-baselines3 does none).

    python benchmarks/speed.py            # prints a table, the medians and their ratio
"""

import statistics
import tempfile
import time
from dataclasses import dataclass

import gymnasium as gym
import torch
import tyro
from stable_baselines3 import DQN

from benchmarks.common import load_algorithm

# max_grad_norm 10 is stable-baselines3's DQN default; dqn.py is given the same clipping.
SHARED = dict(learning_rate=2.5e-4, buffer_size=10_000, batch_size=128, gamma=0.99, max_grad_norm=10.0)


@dataclass
class Args:
    steps: int = 50_000
    """environment steps per run"""
    repeats: int = 3
    """runs of each implementation, alternating"""
    vector_envs: int = 8
    """also time dqn.py with this many env copies (0 skips it)"""
    threads: int = 0
    """torch threads for both (0 keeps torch's default)"""


def algozoo_sps(steps: int, num_envs: int, log_dir: str) -> float:
    dqn = load_algorithm("dqn")
    args = dqn.Args(
        env_id="CartPole-v1", num_envs=num_envs, total_timesteps=steps, device="cpu", progress=False,
        eval_frequency=steps, eval_episodes=1, log_dir=log_dir, seed=1,
        train_frequency=10, target_network_frequency=500, learning_starts=10_000,
        start_e=1.0, end_e=0.05, exploration_fraction=0.5, hidden_sizes=(120, 84), **SHARED,
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


def main(args: Args) -> None:
    if args.threads:
        torch.set_num_threads(args.threads)
    rows: dict[str, list[float]] = {"algozoo dqn.py": [], "stable-baselines3 DQN": []}
    with tempfile.TemporaryDirectory() as log_dir:
        for repeat in range(args.repeats):
            rows["algozoo dqn.py"].append(algozoo_sps(args.steps, 1, log_dir))
            rows["stable-baselines3 DQN"].append(sb3_sps(args.steps))
            print(f"repeat {repeat + 1}: " + ", ".join(f"{name} {sps[-1]:.0f}" for name, sps in rows.items()), flush=True)
        if args.vector_envs:
            rows[f"algozoo dqn.py, {args.vector_envs} envs"] = [
                algozoo_sps(args.steps, args.vector_envs, log_dir) for _ in range(args.repeats)
            ]
    print(f"\nCartPole-v1, {args.steps} steps per run, {args.repeats} runs each, torch threads {torch.get_num_threads()}")
    print(f"{'implementation':<28} {'median SPS':>10}   runs")
    for name, sps in rows.items():
        print(f"{name:<28} {statistics.median(sps):>10.0f}   " + " ".join(f"{s:.0f}" for s in sps))
    ratio = statistics.median(rows["algozoo dqn.py"]) / statistics.median(rows["stable-baselines3 DQN"])
    print(f"ratio dqn.py / stable-baselines3 (one env): {ratio:.2f}x")


if __name__ == "__main__":
    main(tyro.cli(Args))
