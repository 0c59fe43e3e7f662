"""One algorithm on one env over several seeds: the final evaluation (greedy, or as the script's
--eval-policy says, with the greedy one beside it) and the wall time of each run, then how many
seeds reach a threshold.

    python -m benchmarks.seeds --algorithm dqn --env-id CartPole-v1 --seeds 1 2 3 4 5 --threshold 475
    python -m benchmarks.seeds --algorithm dqn --env-id LunarLander-v3 --workers 2 \\
        --extra="--total-timesteps 100000 --batch-size 128"
"""

import shlex
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import torch
import tyro

from benchmarks.common import load_algorithm


@dataclass
class Args:
    algorithm: str = "dqn"
    """file name in algos/, without .py"""
    env_id: str = "CartPole-v1"
    """gymnasium env id"""
    seeds: tuple[int, ...] = (1, 2, 3, 4, 5)
    """seeds to run"""
    threshold: float = 475.0
    """final evaluation mean that counts as solved"""
    extra: str = ""
    """more options of the algorithm's own command line, as one string after an equals sign (--extra='--batch-size 128')"""
    workers: int = 1
    """runs at the same time; with more than one, each gets one torch thread"""


def run(args: Args, seed: int) -> tuple[float, float, float, int, str, float]:
    """(evaluation mean, its std, wall seconds, env steps, evaluation protocol, greedy evaluation mean)
    of one seed."""
    if args.workers > 1:
        torch.set_num_threads(1)
    module = load_algorithm(args.algorithm)
    with tempfile.TemporaryDirectory() as log_dir:
        defaults = module.Args(env_id=args.env_id, seed=seed, log_dir=log_dir, progress=False)
        algorithm_args = tyro.cli(module.Args, args=shlex.split(args.extra), default=defaults)
        start = time.perf_counter()
        result = module.train(algorithm_args)
    seconds = time.perf_counter() - start
    protocol = result.get("eval_policy", "greedy")
    return (result["eval_mean"], result["eval_std"], seconds, result["global_step"], protocol,
            result.get("greedy_eval_mean", result["eval_mean"]))


def main(args: Args) -> None:
    with ProcessPoolExecutor(args.workers) as pool:
        results = list(pool.map(run, [args] * len(args.seeds), args.seeds))
    steps, protocol = results[0][3], results[0][4]
    print(f"{args.algorithm}.py on {args.env_id}, {steps} steps a run" + (f", {args.extra}" if args.extra else ""))
    if protocol == "greedy":
        print("| seed | greedy eval (mean ± std) | wall time |\n|---|---|---|")
    else:
        print(f"| seed | {protocol} eval (mean ± std) | greedy eval (mean) | wall time |\n|---|---|---|---|")
    for seed, (mean, std, seconds, _, _, greedy) in zip(args.seeds, results):
        beside = "" if protocol == "greedy" else f" {greedy:.1f} |"
        print(f"| {seed} | {mean:.1f} ± {std:.1f} |{beside} {seconds:.0f} s |")
    means = [mean for mean, *_ in results]
    solved = sum(mean >= args.threshold for mean in means)
    print(f"\nover seeds: {statistics.mean(means):.1f} ± {statistics.pstdev(means):.1f}; "
          f"{solved} of {len(results)} seeds reach {args.threshold:g}")


if __name__ == "__main__":
    main(tyro.cli(Args))
