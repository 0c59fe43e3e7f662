"""A short seeded run of every algorithm file, reduced to what it did: its training episodes'
returns and its final greedy evaluation. Saved before a change to the code and compared
after it, on the same machine, it shows whether the change left the algorithms' behaviour
as it was (float results differ between CPUs, so a fingerprint belongs to one machine).

    python -m benchmarks.fingerprint --save /tmp/before.json     # before the change
    python -m benchmarks.fingerprint --compare /tmp/before.json  # after it: exit status 1 on a difference
"""

import dataclasses
import hashlib
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import tyro

from benchmarks.common import load_algorithm

# Per algorithm file: runs of a few seconds that still take every path of its loop (learning
# starts, target updates, several env copies, evaluation).
RUNS: dict[str, list[dict]] = {
    "value_iteration": [{"env_id": "FrozenLake-v1"}, {"env_id": "Taxi-v4", "eval_episodes": 20}],
    "q_table": [{"total_timesteps": 20_000}, {"env_id": "Taxi-v4", "total_timesteps": 20_000, "num_envs": 1}],
    "deep_q_table": [{"total_timesteps": 20_000}, {"total_timesteps": 8_000, "buffer_size": 5_000, "batch_size": 16}],
    "dqn": [{"total_timesteps": 6_000, "learning_starts": 1_000, "eval_episodes": 3},
            {"total_timesteps": 6_000, "learning_starts": 1_000, "num_envs": 4, "target_network_frequency": 100,
             "tau": 1.0, "eval_episodes": 3}],
    "double_dqn": [{"total_timesteps": 6_000, "learning_starts": 1_000, "eval_episodes": 3}],
    "dueling_dqn": [{"total_timesteps": 6_000, "learning_starts": 1_000, "eval_episodes": 3}],
    "ddpg": [{"total_timesteps": 3_000, "learning_starts": 1_000, "eval_episodes": 2},
             {"total_timesteps": 3_000, "learning_starts": 1_000, "num_envs": 2, "noise": "ou", "eval_episodes": 2}],
    "reinforce": [{"total_timesteps": 6_000, "eval_episodes": 3},
                  {"env_id": "Pendulum-v1", "total_timesteps": 4_000, "num_envs": 2, "eval_episodes": 2}],
}


@dataclass
class Args:
    save: str | None = None
    """write the fingerprints to this JSON file"""
    compare: str | None = None
    """compare with fingerprints saved by --save; exit status 1 if any differs"""
    algorithms: tuple[str, ...] = tuple(RUNS)
    """files in algos/, without .py"""
    seed: int = 1
    """seed of every run"""


def fingerprint(algorithm: str, overrides: dict, seed: int) -> dict:
    """Run algos/{algorithm}.py's train() on one CPU thread and reduce its result."""
    module = load_algorithm(algorithm)
    with tempfile.TemporaryDirectory() as log_dir:
        run_options = {"seed": seed, "log_dir": log_dir, "progress": False, "device": "cpu"}
        fields = {field.name for field in dataclasses.fields(module.Args)}
        result = module.train(module.Args(**{k: v for k, v in run_options.items() if k in fields}, **overrides))
    returns = np.asarray(result.get("episodic_returns", []), dtype=np.float64)
    return {
        "algorithm": algorithm,
        "args": overrides,
        "episodes": int(returns.size),
        "returns_sha256": hashlib.sha256(returns.tobytes()).hexdigest()[:16],
        "last_returns": returns[-3:].tolist(),
        "eval_mean": result["eval_mean"],
    }


def line(entry: dict) -> str:
    last = ", ".join(f"{value:g}" for value in entry["last_returns"])
    return (f"{entry['algorithm']} {json.dumps(entry['args'])}: {entry['episodes']} episodes "
            f"(sha {entry['returns_sha256']}, last {last or '–'}), greedy eval {entry['eval_mean']:.4f}")


def main(args: Args) -> int:
    unknown = [name for name in args.algorithms if name not in RUNS]
    if unknown:
        print(f"fingerprint: error: no runs for {', '.join(unknown)}; known: {', '.join(RUNS)}", file=sys.stderr)
        return 2
    saved = None
    if args.compare is not None:
        try:
            saved = {(entry["algorithm"], json.dumps(entry["args"])): entry
                     for entry in json.loads(Path(args.compare).read_text())}
        except (OSError, ValueError, KeyError, TypeError) as err:
            print(f"fingerprint: error: --compare {args.compare!r} is not a saved fingerprint file "
                  f"({type(err).__name__})", file=sys.stderr)
            return 2
    torch.set_num_threads(1)
    prints, differ = [], 0
    for algorithm in args.algorithms:
        for overrides in RUNS[algorithm]:
            entry = fingerprint(algorithm, overrides, args.seed)
            prints.append(entry)
            verdict = ""
            if saved is not None:
                before = saved.get((algorithm, json.dumps(overrides)))
                same = before is not None and all(before[key] == entry[key] for key in
                                                  ("episodes", "returns_sha256", "eval_mean"))
                differ += not same
                verdict = "  same" if same else ("  DIFFERS from " + line(before) if before else "  (not saved)")
            print(line(entry) + verdict, flush=True)
    if args.save is not None:
        Path(args.save).write_text(json.dumps(prints, indent=1))
    if saved is not None:
        print(f"{len(prints) - differ} of {len(prints)} runs as saved")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(tyro.cli(Args)))
