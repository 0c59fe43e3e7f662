"""Steps per second of Atari env copies, the ways dqn_atari.py could step them.

Each contender steps `--num-envs` copies of one game with uniformly random actions, with the
same preprocessing (sticky actions as the id defines them, up to 30 no-ops, frame skip 4 with
max-pooling, 84×84 grayscale, 4 stacked frames):

- gymnasium's SyncVectorEnv and AsyncVectorEnv of dqn_atari.py's own `make_env` (Python
  wrappers; `--vector-env sync` and `async`),
- dqn_atari.py's `AleVectorEnv`: ale-py's C++ threads with the stack, episode statistics and
  FIRE after a lost life in NumPy (`--vector-env ale`, the default from two copies on),
- ale-py's `AtariVectorEnv` alone, stacking in C++ (the cost of the NumPy part),
- envpool (C++ threads), when installed.

Counts copy-steps (agent steps over all copies) per second of stepping, after one reset;
contenders alternate, each repeat in this process.

    python -m benchmarks.atari_envs --num-envs 1 4 8 --steps 2000 --repeats 3
"""

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np
import tyro

from benchmarks.common import load_algorithm


@dataclass
class Args:
    env_id: str = "ALE/Breakout-v5"
    num_envs: list[int] = field(default_factory=lambda: [1, 4, 8])
    """copies stepped together, one row each"""
    steps: int = 2000
    """vector steps a timing (each steps every copy once)"""
    repeats: int = 3
    """timings of each contender, alternating"""


def gymnasium_env(env_id: str, num_envs: int, vector_class: type) -> gym.vector.VectorEnv:
    dqn_atari = load_algorithm("dqn_atari")
    return vector_class([dqn_atari.make_env(env_id, None) for _ in range(num_envs)],
                        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)


def dqn_atari_ale_env(env_id: str, num_envs: int) -> gym.vector.VectorEnv:
    return load_algorithm("dqn_atari").AleVectorEnv(env_id, num_envs, None)


def ale_env(env_id: str, num_envs: int) -> gym.vector.VectorEnv:
    from ale_py.vector_env import AtariVectorEnv

    game = gym.spec(env_id).kwargs  # ale-py's ROM name and the id's sticky actions
    return AtariVectorEnv(game["game"], num_envs, repeat_action_probability=game["repeat_action_probability"],
                          noop_max=30, frameskip=4, stack_num=4, img_height=84, img_width=84, grayscale=True,
                          reward_clipping=False)


def envpool_env(env_id: str, num_envs: int):
    import envpool

    sticky = gym.spec(env_id).kwargs.get("repeat_action_probability", 0.0)
    return envpool.make_gymnasium(env_id.removeprefix("ALE/"), num_envs=num_envs, repeat_action_probability=sticky,
                                  noop_max=30, frame_skip=4, stack_num=4, img_height=84, img_width=84,
                                  episodic_life=False, reward_clip=False)


def contenders() -> dict[str, Callable]:
    found = {
        "gymnasium SyncVectorEnv": lambda env_id, n: gymnasium_env(env_id, n, gym.vector.SyncVectorEnv),
        "gymnasium AsyncVectorEnv": lambda env_id, n: gymnasium_env(env_id, n, gym.vector.AsyncVectorEnv),
        "dqn_atari.py AleVectorEnv": dqn_atari_ale_env,
        "ale-py AtariVectorEnv": ale_env,
    }
    try:
        import envpool  # noqa: F401  (optional: timed only where installed)
        found["envpool"] = envpool_env
    except ImportError:
        pass
    return found


def copy_steps_per_second(env, num_envs: int, steps: int, seed: int) -> float:
    """Copy-steps per second of `steps` random vector steps after one reset."""
    rng = np.random.default_rng(seed)
    env.reset()
    n_actions = int(getattr(env, "single_action_space", env.action_space).n)  # envpool's is one copy's
    actions = rng.integers(n_actions, size=(steps, num_envs))
    start = time.perf_counter()
    for step in range(steps):
        env.step(actions[step])
    return steps * num_envs / (time.perf_counter() - start)


def main(args: Args) -> None:
    makers = contenders()
    print(f"{args.env_id}, {args.steps} vector steps a timing, {args.repeats} timings each, copy-steps per second")
    for num_envs in args.num_envs:
        envs = {name: make(args.env_id, num_envs) for name, make in makers.items()}
        timings: dict[str, list[float]] = {name: [] for name in envs}
        for repeat in range(args.repeats):
            for name, env in envs.items():
                timings[name].append(copy_steps_per_second(env, num_envs, args.steps, seed=repeat))
        for env in envs.values():
            env.close()
        baseline = statistics.median(timings["gymnasium SyncVectorEnv"])
        for name, values in timings.items():
            median = statistics.median(values)
            print(f"{num_envs:>3} copies  {name:<26} {median:>8.0f}  ({median / baseline:.2f}× Sync)   "
                  + " ".join(f"{v:.0f}" for v in values))


if __name__ == "__main__":
    main(tyro.cli(Args))
