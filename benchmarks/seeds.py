"""One algorithm with its default hyperparameters on one env over several seeds: the final
greedy evaluation and the wall time of each run, then how many seeds reach a threshold.

    python -m benchmarks.seeds --algorithm dqn --env-id CartPole-v1 --seeds 1 2 3 4 5 --threshold 475
"""

import tempfile
import time
from dataclasses import dataclass

import tyro

from benchmarks.common import load_algorithm


@dataclass
class Args:
    algorithm: str = "dqn"
    """file name in algos/, without .py"""
    env_id: str = "CartPole-v1"
    """gymnasium env id"""
    seeds: tuple[int, ...] = (1, 2, 3, 4, 5)
    """seeds to run, one after the other"""
    threshold: float = 475.0
    """greedy evaluation mean that counts as solved"""


def main(args: Args) -> None:
    module = load_algorithm(args.algorithm)
    results = []
    with tempfile.TemporaryDirectory() as log_dir:
        for seed in args.seeds:
            start = time.perf_counter()
            result = module.train(module.Args(env_id=args.env_id, seed=seed, log_dir=log_dir, progress=False))
            results.append((seed, result["eval_mean"], result["eval_std"], time.perf_counter() - start))
            print(f"seed {seed}: greedy {result['eval_mean']:.1f} ± {result['eval_std']:.1f}, "
                  f"{results[-1][3]:.0f} s", flush=True)
    steps = result["global_step"]
    print(f"\n{args.algorithm}.py on {args.env_id}, default hyperparameters, {steps} steps a run")
    print("| seed | greedy eval (mean ± std) | wall time |\n|---|---|---|")
    for seed, mean, std, seconds in results:
        print(f"| {seed} | {mean:.1f} ± {std:.1f} | {seconds:.0f} s |")
    solved = sum(mean >= args.threshold for _, mean, _, _ in results)
    print(f"\n{solved} of {len(results)} seeds reach {args.threshold:g}")


if __name__ == "__main__":
    main(tyro.cli(Args))
