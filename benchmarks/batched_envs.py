"""Copy-steps per second of the env backends of a batched run (benchmarks/batched.py).

Each backend steps the env copies of N members, one copy each, through benchmarks/members.py's
MemberEnvs (what a batched run steps, with its float32 observations, NEXT_STEP bookkeeping and
episode statistics) with uniformly random actions:

- sync: gymnasium's SyncVectorEnv of the script's own make_env,
- numpy: the env's own NumPy vector implementation, where it has one (CartPole-v1),
- envpool: envpool's C++ copies, when installed (pip install 'algozoo[envpool]').

Counts copy-steps (agent steps over all copies) per second of stepping, after one reset;
backends alternate, each repeat in this process.

    python -m benchmarks.batched_envs --env-ids CartPole-v1 Pendulum-v1 HalfCheetah-v5 --members 16 64 256
"""

import statistics
import time
from dataclasses import dataclass, field
from types import ModuleType

import gymnasium as gym
import numpy as np
import tyro

from benchmarks.batched import UsageError, env_backend
from benchmarks.common import load_algorithm
from benchmarks.members import MemberEnvs


@dataclass
class Args:
    env_ids: list[str] = field(default_factory=lambda: ["CartPole-v1", "Acrobot-v1", "Pendulum-v1", "HalfCheetah-v5"])
    """gymnasium ids of the envs, one table each"""
    members: list[int] = field(default_factory=lambda: [16, 64, 256])
    """copies stepped together (one per member), one row each"""
    steps: int = 500
    """vector steps a timing (each steps every copy once)"""
    repeats: int = 3
    """timings of each backend, alternating"""


def backends(env_id: str) -> list[str]:
    """The backends that can step env_id here."""
    found = []
    for backend in ("sync", "numpy", "envpool"):
        try:
            found.append(env_backend(backend, env_id, n_copies=1))
        except UsageError:
            pass
    return found


def script_for(env_id: str) -> ModuleType:
    """The script whose make_env the "sync" backend steps: dqn.py for discrete actions, else ddpg.py."""
    with gym.make(env_id) as env:
        return load_algorithm("dqn" if isinstance(env.action_space, gym.spaces.Discrete) else "ddpg")


def copy_steps_per_second(env_id: str, n_members: int, backend: str, steps: int) -> float:
    module = script_for(env_id)
    envs = MemberEnvs(module, [module.Args(env_id=env_id, seed=seed) for seed in range(1, n_members + 1)], backend)
    actions = [np.stack([envs.single_action_space.sample() for _ in range(n_members)]) for _ in range(16)]
    envs.reset()
    start = time.perf_counter()
    for t in range(steps):
        envs.step(actions[t % len(actions)])
    seconds = time.perf_counter() - start
    envs.close()
    return steps * n_members / seconds


def main(args: Args) -> None:
    for env_id in args.env_ids:
        names = backends(env_id)
        print(f"\n{env_id}: copy-steps per second (median of {args.repeats})\n")
        print("| copies | " + " | ".join(names) + " |")
        print("|-" * (len(names) + 1) + "|")
        for n in args.members:
            timings: dict[str, list[float]] = {name: [] for name in names}
            for _ in range(args.repeats):
                for name in names:
                    timings[name].append(copy_steps_per_second(env_id, n, name, args.steps))
            print(f"| {n} | " + " | ".join(f"{statistics.median(timings[name]):,.0f}" for name in names) + " |",
                  flush=True)


if __name__ == "__main__":
    main(tyro.cli(Args))
