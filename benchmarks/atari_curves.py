"""Learning curves of dqn_atari.py beside stable-baselines3's DQN on one game, same budget.

Reads a dqn_atari.py run folder (its TensorBoard events and summary.json), or the JSON this
script wrote from one, and the JSON of `python -m benchmarks.sb3_atari`; writes the run's
figures in that JSON's format (so both are kept side by side), and plots the training games'
scores (the mean of the last 100 games) and the evaluations of both against agent steps.

    python -m benchmarks.atari_curves --run runs/ALE_Breakout-v5__dqn_atari__1__... \\
        --sb3 benchmarks/results/atari/sb3_Breakout-v5_seed1.json --out-dir benchmarks/results/atari
"""

import json
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
import tyro
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the file-only backend)


@dataclass
class Args:
    run: str
    """a dqn_atari.py run folder, or a dqn_atari_{game}_seed{seed}.json written from one"""
    sb3: str | None = None
    """the JSON of benchmarks/sb3_atari.py on the same game and budget; None plots the run alone"""
    out_dir: str = "benchmarks/results/atari"
    """folder of the outputs: dqn_atari_{game}_seed{seed}.json and curves_{game}_seed{seed}.png"""
    window: int = 100
    """training games per point of the smoothed curve"""


def run_figures(run_dir: Path) -> dict:
    """A dqn_atari.py run in benchmarks/sb3_atari.py's format."""
    summary = json.loads((run_dir / "summary.json").read_text())
    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    events.Reload()
    scalars = lambda tag: [(event.step, event.value) for event in events.Scalars(tag)]
    settings = summary["args"]
    return {
        "implementation": "algozoo dqn_atari.py", "env_id": settings["env_id"], "seed": settings["seed"],
        "total_timesteps": summary["global_step"], "eval_mean": summary["eval_mean"], "eval_std": summary["eval_std"],
        "eval_returns": summary["eval_returns"], "evaluations": scalars("eval/episodic_return"),
        "training_games": scalars("charts/episodic_return"), "train_seconds": summary["train_seconds"],
        "sps": summary["sps"], "settings": settings,
    }


def smoothed(games: list, window: int) -> tuple[np.ndarray, np.ndarray]:
    """(steps, mean score of the last `window` games) at each game's end."""
    steps, scores = np.array([g[0] for g in games]), np.array([g[1] for g in games], dtype=float)
    cumulative = np.concatenate([[0.0], np.cumsum(scores)])
    counts = np.minimum(np.arange(1, len(scores) + 1), window)
    return steps, (cumulative[1:] - cumulative[np.arange(1, len(scores) + 1) - counts]) / counts


def main(args: Args) -> None:
    run = Path(args.run)
    ours = json.loads(run.read_text()) if run.is_file() else run_figures(run)
    game = ours["env_id"].split("/")[-1]
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"dqn_atari_{game}_seed{ours['seed']}.json").write_text(json.dumps(ours, indent=1))
    results = [ours] + ([json.loads(Path(args.sb3).read_text())] if args.sb3 else [])
    figure, axis = plt.subplots(figsize=(7, 4))
    for result, color in zip(results, ("tab:blue", "tab:orange")):
        steps, scores = smoothed(result["training_games"], args.window)
        axis.plot(steps, scores, color=color, label=f"{result['implementation']}: training games, last {args.window}")
        eval_steps, eval_means = zip(*result["evaluations"])
        axis.plot(eval_steps, eval_means, "o--", color=color, label="evaluations (ε = 0.05)")
    axis.set_xlabel("agent steps (4 frames each)")
    axis.set_ylabel("game score")
    axis.set_title(f"{ours['env_id']}, seed {ours['seed']}")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(out / f"curves_{game}_seed{ours['seed']}.png", dpi=100)
    for result in results:
        print(f"{result['implementation']}: evaluation {result['eval_mean']:.1f} ± {result['eval_std']:.1f}, "
              f"{result['train_seconds']:.0f} s, {result['sps']:.0f} SPS; evaluations "
              + ", ".join(f"{step // 1000}k {mean:.1f}" for step, mean in result["evaluations"]))


if __name__ == "__main__":
    main(tyro.cli(Args))
