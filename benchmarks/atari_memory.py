"""Memory of a replay buffer of Atari transitions (4 stacked 84×84 frames): dqn_atari.py's
FrameReplayBuffer against stable-baselines3's ReplayBuffer, with and without
`optimize_memory_usage`.

Each buffer is built in a fresh process and filled with --fill transitions of random frames
(a game ends every 500 steps), and the process's peak resident memory is read from the
kernel; the same figure for an empty process (torch and the env imported) is subtracted.
A buffer whose arrays exceed this machine's memory is not built: its size is computed from
its arrays' shapes, which stable-baselines3 allocates in full (`np.zeros`) and fills as it
goes, and marked as computed.

    python -m benchmarks.atari_memory                         # 1,000,000 transitions each
    python -m benchmarks.atari_memory --capacity 100000 --fill 100000
"""

import os
import resource
import subprocess
import sys
from dataclasses import dataclass
from typing import Literal

import gymnasium as gym
import numpy as np
import torch
import tyro
from stable_baselines3.common.buffers import ReplayBuffer

from benchmarks.common import ROOT, load_algorithm

STACKED = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
BUFFERS = {"dqn_atari.py FrameReplayBuffer": "algozoo",
           "stable-baselines3 ReplayBuffer": "sb3",
           "stable-baselines3, optimize_memory_usage": "sb3-optimized"}


@dataclass
class Args:
    capacity: int = 1_000_000
    """transitions a buffer can hold"""
    fill: int | None = None
    """transitions written into it; None fills it"""
    only: Literal["", "empty", "algozoo", "sb3", "sb3-optimized"] = ""
    """internal: build and fill one buffer in this process and print its peak memory in bytes"""


def sb3_bytes(capacity: int, optimized: bool) -> int:
    """Bytes of stable-baselines3's buffer arrays for `capacity` stacked-frame transitions."""
    frames = capacity * STACKED.shape[0] * 84 * 84
    small = capacity * (8 + 4 + 4 + 4)  # action (int64), reward, done, timeout (float32)
    return frames * (1 if optimized else 2) + small


def fill(kind: str, capacity: int, transitions: int) -> None:
    dqn_atari = load_algorithm("dqn_atari")  # in every process, the empty one included
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(1024, 84, 84), dtype=np.uint8)
    if kind == "algozoo":
        buffer = dqn_atari.FrameReplayBuffer(capacity, 1, torch.device("cpu"), torch.device("cpu"))
        for t in range(transitions):
            buffer.add(frames[t % 1024][None], np.array([t % 4]), np.array([1.0]), np.array([t % 500 == 499]))
            if t % 500 == 499:
                buffer.add_final_frame(0, frames[(t + 1) % 1024])
    elif kind in ("sb3", "sb3-optimized"):
        buffer = ReplayBuffer(capacity, STACKED, gym.spaces.Discrete(4), "cpu", optimize_memory_usage=kind != "sb3",
                              handle_timeout_termination=False)
        for t in range(transitions):
            obs = frames[np.arange(t, t + 4) % 1024][None]
            buffer.add(obs, frames[np.arange(t + 1, t + 5) % 1024][None], np.array([t % 4]), np.array([1.0]),
                       np.array([t % 500 == 499]), [])


def peak_bytes(kind: str, args: Args) -> int:
    command = [sys.executable, "-m", "benchmarks.atari_memory", "--only", kind, "--capacity", str(args.capacity),
               "--fill", str(args.fill or args.capacity)]
    return int(subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()[-1])


def main(args: Args) -> None:
    if args.only:
        fill(args.only, args.capacity, args.fill or args.capacity)
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)  # Linux reports kB
        return
    available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    baseline = peak_bytes("empty", args)
    computed = {"algozoo": None, "sb3": sb3_bytes(args.capacity, False), "sb3-optimized": sb3_bytes(args.capacity, True)}
    print(f"{args.capacity:,} transitions of 4 stacked 84×84 frames, filled with {args.fill or args.capacity:,}; "
          f"this machine has {available / 1e9:.1f} GB")
    print(f"{'buffer':<42} {'GB':>6}  {'bytes per transition':>20}")
    for name, kind in BUFFERS.items():
        if computed[kind] is not None and computed[kind] > 0.9 * available:
            size, how = computed[kind], "computed: it would not fit"
        else:
            size, how = peak_bytes(kind, args) - baseline, "measured: peak resident memory"
        print(f"{name:<42} {size / 1e9:>6.2f}  {size / args.capacity:>20,.0f}   {how}")


if __name__ == "__main__":
    main(tyro.cli(Args))
