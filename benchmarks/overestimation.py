"""How far the DQN family's Q-values overestimate, during training: at each evaluation, the
mean of max_a Q(s, a) over the states the greedy policy visits, against the discounted
return actually collected from those states.

Only states of the first `--head-steps` steps of each evaluation episode count: from
there the env's time limit is far enough away that the collected return misses little
(CartPole: at most γ^400 · 100 ≈ 1.8 from step 100 of 500), while the network, which
sees no clock, values every state as if no limit came. The algorithm files are not
changed for this: their `evaluate` and `greedy_policy` are wrapped from outside.

    python -m benchmarks.overestimation --seeds 1 2 3
"""

import os
import statistics
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
import torch
import tyro

from benchmarks.common import ROOT, load_algorithm

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the file-only backend)


@dataclass
class Args:
    algorithms: tuple[str, ...] = ("dqn", "double_dqn", "dueling_dqn")
    """files in algos/ (the DQN family), without .py"""
    env_id: str = "CartPole-v1"
    """gymnasium env id"""
    seeds: tuple[int, ...] = (1, 2, 3)
    """seeds per algorithm"""
    total_timesteps: int = 50_000
    """env steps a run (the scripts' default budget)"""
    eval_frequency: int = 2500
    """env steps between measurements"""
    head_steps: int = 100
    """states from this many first steps of each evaluation episode are measured"""
    workers: int = os.cpu_count() or 1
    """runs at the same time, one torch thread each"""
    out: Path = ROOT / "benchmarks" / "results" / "overestimation.png"
    """where the plot goes"""


def discounted_returns(rewards: list[float], gamma: float) -> np.ndarray:
    """G_t = Σ_k γ^k r_{t+k} for every step t of one episode, shape (steps,)."""
    returns = np.zeros(len(rewards))
    following = 0.0
    for t in reversed(range(len(rewards))):
        following = rewards[t] + gamma * following
        returns[t] = following
    return returns


def measure(algorithm: str, env_id: str, seed: int, total_timesteps: int, eval_frequency: int, head_steps: int) -> dict:
    """Train one run; returns its steps and, per evaluation, mean max-Q and mean measured
    discounted return over the measured states."""
    torch.set_num_threads(1)
    module = load_algorithm(algorithm)
    args = module.Args(env_id=env_id, seed=seed, total_timesteps=total_timesteps, eval_frequency=eval_frequency,
                       device="cpu", progress=False)
    networks, q_estimates, measured = [], [], []
    greedy_policy, evaluate = module.greedy_policy, module.evaluate

    def keeping_greedy_policy(q_network, device):
        networks.append(q_network)
        return greedy_policy(q_network, device)

    def measuring_evaluate(policy, env, episodes, eval_seed):
        returns, states, collected = [], [], []
        for episode in range(episodes):
            obs, _ = env.reset(seed=eval_seed + episode)
            observations, rewards, done = [], [], False
            while not done:
                observations.append(obs)
                obs, reward, terminated, truncated, _ = env.step(int(policy(obs[None])[0]))
                rewards.append(float(reward))
                done = terminated or truncated
            returns.append(sum(rewards))
            states += observations[:head_steps]
            collected += discounted_returns(rewards, args.gamma)[:head_steps].tolist()
        with torch.no_grad():
            q_values = networks[0](torch.as_tensor(np.array(states), dtype=torch.float32))
        q_estimates.append(q_values.max(dim=1).values.mean().item())
        measured.append(float(np.mean(collected)))
        return np.array(returns)

    module.greedy_policy, module.evaluate = keeping_greedy_policy, measuring_evaluate
    try:
        with tempfile.TemporaryDirectory() as log_dir:
            args.log_dir = log_dir
            total = module.train(args)["global_step"]
    finally:
        module.greedy_policy, module.evaluate = greedy_policy, evaluate
    steps = list(range(eval_frequency, total, eval_frequency)) + [total]
    return {"algorithm": algorithm, "seed": seed, "steps": steps, "q_estimate": q_estimates, "measured": measured}


def main(args: Args) -> None:
    jobs = [(algorithm, args.env_id, seed, args.total_timesteps, args.eval_frequency, args.head_steps)
            for algorithm in args.algorithms for seed in args.seeds]
    with ProcessPoolExecutor(args.workers) as pool:
        runs = list(pool.map(measure, *zip(*jobs)))
    fig, ax = plt.subplots(figsize=(7, 4.5), constrained_layout=True)
    print("| algorithm | seed | final mean max-Q | final measured discounted return | overestimation |\n|---|---|---|---|---|")
    for color, algorithm in zip(("tab:red", "tab:blue", "tab:green"), args.algorithms):
        mine = [run for run in runs if run["algorithm"] == algorithm]
        steps = mine[0]["steps"]
        for key, style, label in (("q_estimate", "-", "mean max-Q"), ("measured", "--", "measured discounted return")):
            values = np.array([run[key] for run in mine])
            ax.plot(steps, values.mean(axis=0), style, color=color, label=f"{algorithm}: {label}")
            ax.fill_between(steps, values.min(axis=0), values.max(axis=0), color=color, alpha=0.15)
        for run in mine:
            q, g = run["q_estimate"][-1], run["measured"][-1]
            print(f"| {algorithm} | {run['seed']} | {q:.1f} | {g:.1f} | {q - g:+.1f} |")
        gaps = [run["q_estimate"][-1] - run["measured"][-1] for run in mine]
        print(f"| {algorithm} | mean | | | {statistics.mean(gaps):+.1f} |")
    ax.set(xlabel="environment steps", ylabel=f"value of the first {args.head_steps} steps' states",
           title=f"{args.env_id}, {len(args.seeds)} seeds: mean, band min–max")
    ax.legend(fontsize=8)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=100)
    print(f"\nplot: {args.out}")


if __name__ == "__main__":
    main(tyro.cli(Args))
