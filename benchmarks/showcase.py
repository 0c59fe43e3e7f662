"""The README's gallery: each agent trained by its script with --capture-video, the first episode
of its final greedy evaluation turned into a small looping GIF under videos/showcase/.

    python -m benchmarks.showcase                     # every agent below
    python -m benchmarks.showcase --agents cartpole_dqn mountain_car_q_table
    python -m benchmarks.showcase --agents breakout_dqn_atari --video runs/.../eval-episode-90.mp4  # film a clip already made
"""

import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import tyro
from moviepy import VideoFileClip

from benchmarks.common import ROOT
from benchmarks.sweep_grid import Cell, command, read_suite, suite_options

SHOWCASE = ROOT / "videos" / "showcase"
# name -> the suite cell (algorithm, env id) whose settings it trains with, seed 1: in the classic
# suite, or in the Atari suite for dqn_atari.py
AGENTS: dict[str, tuple[str, str]] = {
    "cartpole_dqn": ("dqn", "CartPole-v1"),
    "acrobot_dqn": ("dqn", "Acrobot-v1"),
    "mountain_car_q_table": ("q_table", "MountainCar-v0"),
    "pendulum_ddpg": ("ddpg", "Pendulum-v1"),
    "mountain_car_continuous_ddpg": ("ddpg", "MountainCarContinuous-v0"),
    "lunar_lander_dueling_dqn": ("dueling_dqn", "LunarLander-v3"),
    "breakout_dqn_atari": ("dqn_atari", "ALE/Breakout-v5"),
}


def suite_of(script: str) -> str:
    return "atari" if script == "dqn_atari" else "classic"


@dataclass
class Args:
    agents: tuple[str, ...] = tuple(AGENTS)
    """names of the agents to train and film"""
    width: int = 300
    """GIF width in pixels (the height follows)"""
    fps: int = 25
    """GIF frames per second (the env's own frames are subsampled to it)"""
    video: str | None = None
    """an mp4 the one agent of --agents already filmed (its final evaluation's first episode): made
    into its GIF without training again"""


def film(name: str, args: Args) -> Path:
    """Train the agent with its script, then write its GIF; returns the GIF's path."""
    if args.video:
        return to_gif(Path(args.video), name, args)
    script, env_id = AGENTS[name]
    _, suite = read_suite(suite_of(script))
    cell = Cell(script, env_id, seed=1, options=suite_options(suite[script][env_id].get("args", {})))
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run([*command(cell, Path(folder), "cpu"), "--capture-video", "--video-dir", f"{folder}/videos",
                        "--no-progress"], check=True, stdout=subprocess.DEVNULL)
        final = sorted(Path(folder, "videos").rglob("*.mp4"), key=lambda path: int(path.stem.rsplit("-", 1)[-1]))[-1]
        return to_gif(final, name, args)


def to_gif(video: Path, name: str, args: Args) -> Path:
    gif = SHOWCASE / f"{name}.gif"
    with VideoFileClip(str(video)) as clip:
        clip.resized(width=args.width).write_gif(str(gif), fps=min(args.fps, clip.fps), logger=None)
    return gif


def main(args: Args) -> int:
    unknown = [name for name in args.agents if name not in AGENTS]
    if unknown:
        print(f"showcase: error: unknown agent {', '.join(unknown)}; known: {', '.join(AGENTS)}", file=sys.stderr)
        return 2
    if args.video and len(args.agents) != 1:
        print("showcase: error: --video films one agent: name it with --agents", file=sys.stderr)
        return 2
    SHOWCASE.mkdir(parents=True, exist_ok=True)
    for name in args.agents:
        gif = film(name, args)
        print(f"{name}: {gif.relative_to(ROOT)} ({gif.stat().st_size / 1e3:.0f} kB)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(tyro.cli(Args)))
