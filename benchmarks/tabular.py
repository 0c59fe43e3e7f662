"""The tabular learners on their envs over several seeds, against value iteration's policy.

For envs with a known model (FrozenLake, Taxi, CliffWalking) each learned greedy policy is
also valued exactly under the time limit, as value_iteration.py values its own.

    python -m benchmarks.tabular --seeds 1 2 3 4 5 --workers 2
"""

import os
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import gymnasium as gym
import torch
import tyro

from benchmarks.common import load_algorithm

# Per env: the arguments both learners run with (the rest are their defaults).
SETTINGS: dict[str, dict] = {
    "FrozenLake-v1": {},
    "Taxi-v4": {"learning_rate": 0.5, "end_learning_rate": 0.05, "total_timesteps": 300_000},
    "CliffWalking-v1": {"total_timesteps": 50_000},
    "MountainCar-v0": {"bins": (51, 51), "action_repeat": 10, "gamma": 1.0, "learning_rate": 0.5,
                       "end_learning_rate": 0.01, "total_timesteps": 100_000},
}


@dataclass
class Args:
    algorithms: tuple[str, ...] = ("q_table", "deep_q_table")
    """files in algos/, without .py"""
    env_ids: tuple[str, ...] = tuple(SETTINGS)
    """envs to run, each with its settings above"""
    seeds: tuple[int, ...] = (1, 2, 3, 4, 5)
    """seeds per algorithm and env"""
    workers: int = os.cpu_count() or 1
    """runs at the same time, one torch thread each"""


def exact_greedy_value(env_id: str, q_table: torch.Tensor, gamma: float | None = None) -> float:
    """Expected return within the time limit of the greedy policy of q_table (S, A), or of value
    iteration's (the optimal policy of the discounted problem) when q_table is None (planned with gamma)."""
    value_iteration = load_algorithm("value_iteration")
    env = value_iteration.make_env(env_id, None)
    tables = value_iteration.mdp_tables(env.unwrapped.P, env.observation_space.n, env.action_space.n, torch.device("cpu"))
    if q_table is None:
        q_table, _ = value_iteration.q_value_iteration(tables, gamma, tolerance=1e-10, max_iterations=100_000)
    initial = torch.as_tensor(env.unwrapped.initial_state_distrib, dtype=torch.float64)
    return float(initial @ value_iteration.time_limited_values(tables, q_table.argmax(dim=1).cpu(),
                                                              env.spec.max_episode_steps))


def run(algorithm: str, env_id: str, seed: int) -> dict:
    torch.set_num_threads(1)
    module = load_algorithm(algorithm)
    with tempfile.TemporaryDirectory() as log_dir:
        start = time.perf_counter()
        result = module.train(module.Args(env_id=env_id, seed=seed, log_dir=log_dir, progress=False, **SETTINGS[env_id]))
        seconds = time.perf_counter() - start
    has_model = hasattr(gym.make(env_id).unwrapped, "P")
    return {"algorithm": algorithm, "env_id": env_id, "seed": seed, "eval_mean": result["eval_mean"],
            "exact": exact_greedy_value(env_id, result["q_table"]) if has_model else None,
            "steps": result["global_step"], "seconds": seconds}


def mean_std(values: list[float]) -> str:
    return f"{statistics.mean(values):.3f} ± {statistics.pstdev(values):.3f}"


def main(args: Args) -> None:
    jobs = [(algorithm, env_id, seed) for env_id in args.env_ids for algorithm in args.algorithms for seed in args.seeds]
    with ProcessPoolExecutor(args.workers) as pool:
        results = list(pool.map(run, *zip(*jobs)))
    for r in results:
        print(f"{r['algorithm']} {r['env_id']} seed {r['seed']}: greedy {r['eval_mean']:.3f}"
              + (f", exact {r['exact']:.4f}" if r["exact"] is not None else "") + f", {r['seconds']:.0f} s")
    print("\n| script | env | greedy eval, 1000 episodes (mean ± std over seeds) | exact value of the greedy policy "
          "| value iteration's policy | steps | wall time a run |\n|---|---|---|---|---|---|---|")
    for env_id in args.env_ids:
        has_model = hasattr(gym.make(env_id).unwrapped, "P")
        planned = f"{exact_greedy_value(env_id, None, SETTINGS[env_id].get('gamma', 0.99)):.4f}" if has_model else "–"
        for algorithm in args.algorithms:
            rows = [r for r in results if r["algorithm"] == algorithm and r["env_id"] == env_id]
            exact = mean_std([r["exact"] for r in rows]) if has_model else "–"
            print(f"| {algorithm}.py | {env_id} | {mean_std([r['eval_mean'] for r in rows])} | {exact} | {planned} "
                  f"| {rows[0]['steps']:,} | {statistics.median(r['seconds'] for r in rows):.0f} s |")


if __name__ == "__main__":
    main(tyro.cli(Args))
