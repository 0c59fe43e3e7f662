"""Steps per second of algozoo scripts against stable-baselines3, side by side.

`--algorithm dqn` (the default): algos/dqn.py against stable-baselines3's DQN on
CartPole-v1 with the same hyperparameters (lr 2.5e-4, buffer 10k, batch 128, a gradient
step every 10 env steps, target copy every 500, learning starts at 10k, ε 1 → 0.05 over
half the run, MLP 120-84, one env), 50,000 steps a run.

`--algorithm dqn_atari`: algos/dqn_atari.py against stable-baselines3's DQN with its
AtariWrapper on ALE/Breakout-v5 with dqn_atari.py's hyperparameters
(benchmarks/sb3_atari.py) except learning starts at 2,000 and a buffer of 100,000, 10,000
steps a run: 2,000 gradient steps on the Nature CNN, batch 32.

`--algorithm ddpg`: algos/ddpg.py against stable-baselines3's DDPG on Pendulum-v1 with the
same hyperparameters (lr 1e-3 for actor and critic, buffer 1M, batch 256, γ 0.98, τ 0.005,
uniformly random actions for the first 1,000 steps, then Gaussian noise of σ 0.1 half
action ranges, a critic step, an actor step and a target update every env step, MLP
256-256 for actor and critic, one env), 10,000 steps a run.

Both implementations run on the CPU for the same number of steps, alternating run by run
so that both see the same machine load, each run in a fresh Python process with each
library's own torch thread setting (OMP_NUM_THREADS sets it for both). SPS is env steps
over the wall time of the training loop: stable-baselines3's `learn()`, and the algozoo
script's loop without its final evaluation (periodic evaluation is off, as
stable-baselines3 does none). It also times the script's two halves apart, for the
largest ratio to stable-baselines3 that plumbing alone could give: for ddpg its gradient
step alone on a fixed batch with no env, the most env steps per second any loop that makes
one gradient step per env step can reach here; for dqn its loop with no gradient steps
(acting, stepping, storing, logging) and its gradient steps alone (sampling SB3's replay
buffer included), added up at the run's one gradient step per 10 env steps.

    python -m benchmarks.speed                      # prints a table, the medians and their ratio
    python -m benchmarks.speed --algorithm ddpg
    python -m benchmarks.speed --algorithm dqn_atari --vector-envs 0
"""

import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Callable, Literal

import gymnasium as gym
import numpy as np
import torch
import tyro
from stable_baselines3 import DDPG, DQN
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.type_aliases import ReplayBufferSamples

from benchmarks import sb3_atari, sb3_reference
from benchmarks.common import ROOT, load_algorithm


@dataclass(frozen=True)
class Comparison:
    """One algozoo script against its stable-baselines3 counterpart."""

    env_id: str
    steps: int
    """environment steps per run unless --steps says otherwise"""
    algozoo_args: dict
    """fields of the script's Args beyond those every run sets"""
    sb3_model: Callable[[gym.Env], BaseAlgorithm]
    sb3_env: Callable[[str], gym.Env] = gym.make
    """the env stable-baselines3 trains on, from env_id"""


# Huber loss and gradient clipping at norm 10 are stable-baselines3's DQN defaults; dqn.py
# is given the same.
DQN_SHARED = dict(learning_rate=2.5e-4, buffer_size=10_000, batch_size=128, gamma=0.99, max_grad_norm=10.0)


def sb3_ddpg(env: gym.Env) -> DDPG:
    settings = load_algorithm("ddpg").Args(**COMPARISONS["ddpg"].algozoo_args)
    return sb3_reference.sb3_ddpg(settings, env, seed=1, device="cpu")


def sb3_dqn_atari(env) -> BaseAlgorithm:
    comparison = COMPARISONS["dqn_atari"]
    settings = load_algorithm("dqn_atari").Args(total_timesteps=comparison.steps, **comparison.algozoo_args)
    return sb3_atari.sb3_dqn(settings, env, seed=1, device="cpu")


COMPARISONS = {
    "dqn": Comparison(
        "CartPole-v1", 50_000,
        algozoo_args=dict(
            train_frequency=10, target_network_frequency=500, learning_starts=10_000,
            start_e=1.0, end_e=0.05, exploration_fraction=0.5, hidden_sizes=(120, 84), tau=1.0, loss="huber",
            **DQN_SHARED,
        ),
        sb3_model=lambda env: DQN(
            "MlpPolicy", env, train_freq=10, gradient_steps=1, target_update_interval=500,
            learning_starts=10_000, exploration_initial_eps=1.0, exploration_final_eps=0.05,
            exploration_fraction=0.5, policy_kwargs=dict(net_arch=[120, 84]), device="cpu", seed=1, **DQN_SHARED,
        ),
    ),
    "ddpg": Comparison(
        "Pendulum-v1", 10_000,
        # stable-baselines3's DDPG is built from these same Args (benchmarks/sb3_reference.py)
        algozoo_args=dict(train_frequency=1, policy_frequency=1, noise="normal", exploration_noise=0.1,
                          hidden_sizes=(256, 256), learning_rate=1e-3, buffer_size=1_000_000, batch_size=256,
                          gamma=0.98, tau=0.005, learning_starts=1_000),
        sb3_model=sb3_ddpg,
    ),
    "dqn_atari": Comparison(
        "ALE/Breakout-v5", 10_000, algozoo_args=dict(learning_starts=2_000, buffer_size=100_000),
        sb3_model=sb3_dqn_atari, sb3_env=lambda env_id: sb3_atari.sb3_atari_env(env_id, seed=1),
    ),
}


@dataclass
class Args:
    algorithm: Literal["dqn", "ddpg", "dqn_atari"] = "dqn"
    """which comparison: dqn.py vs DQN on CartPole-v1, ddpg.py vs DDPG on Pendulum-v1, dqn_atari.py vs DQN on Breakout"""
    steps: int | None = None
    """environment steps per run; None: 50,000 for dqn, 10,000 for ddpg and dqn_atari"""
    repeats: int = 3
    """runs of each implementation, alternating"""
    vector_envs: int = 8
    """also time the algozoo script with this many env copies (0 skips it)"""
    only: Literal["", "algozoo", "sb3", "no-learning", "gradient-steps"] = ""
    """internal: time one run of one implementation in this process and print its SPS"""
    num_envs: int = 1
    """internal: env copies for --only algozoo"""


def algozoo_sps(algorithm: str, steps: int, num_envs: int, learning: bool = True) -> float:
    """SPS of one run of the script; with learning False, learning never starts (no gradient step)."""
    module, comparison = load_algorithm(algorithm), COMPARISONS[algorithm]
    algozoo_args = {**comparison.algozoo_args, **({} if learning else {"learning_starts": steps})}
    with tempfile.TemporaryDirectory() as log_dir:
        args = module.Args(
            env_id=comparison.env_id, num_envs=num_envs, total_timesteps=steps, device="cpu", progress=False,
            eval_frequency=steps, eval_episodes=1, log_dir=log_dir, seed=1, **algozoo_args,
        )
        return module.train(args)["sps"]


def dqn_gradient_steps(steps: int) -> int:
    """Gradient steps in a dqn.py speed run of `steps` env steps."""
    settings = COMPARISONS["dqn"].algozoo_args
    return max(steps - settings["learning_starts"], 0) // settings["train_frequency"]


def sb3_sps(algorithm: str, steps: int) -> float:
    comparison = COMPARISONS[algorithm]
    model = comparison.sb3_model(comparison.sb3_env(comparison.env_id))
    start = time.perf_counter()
    model.learn(steps)
    return steps / (time.perf_counter() - start)


def ddpg_gradient_steps_per_second(steps: int) -> float:
    """ddpg.py's gradient step alone, `steps` times: its networks, Adam, TD target and Polyak
    update on one fixed batch of random transitions, with no env, acting or replay buffer.

    With one gradient step per env step, no training loop on this machine can run more env
    steps per second than this, whatever its plumbing costs.
    """
    ddpg, env = load_algorithm("ddpg"), gym.make(COMPARISONS["ddpg"].env_id)
    settings = COMPARISONS["ddpg"].algozoo_args
    low, high = env.action_space.low, env.action_space.high
    obs_dim, action_dim, batch_size = env.observation_space.shape[0], len(low), settings["batch_size"]
    actor, target_actor = (ddpg.Actor(obs_dim, low, high, settings["hidden_sizes"]) for _ in range(2))
    qf, target_qf = (ddpg.QNetwork(obs_dim, action_dim, settings["hidden_sizes"]) for _ in range(2))
    target_actor.requires_grad_(False)
    target_qf.requires_grad_(False)
    online_parameters = [*actor.parameters(), *qf.parameters()]
    target_parameters = [*target_actor.parameters(), *target_qf.parameters()]
    actor_optimizer = torch.optim.Adam(actor.parameters(), lr=settings["learning_rate"], fused=True)
    qf_optimizer = torch.optim.Adam(qf.parameters(), lr=settings["learning_rate"], fused=True)
    data = ReplayBufferSamples(
        observations=torch.randn(batch_size, obs_dim), next_observations=torch.randn(batch_size, obs_dim),
        actions=torch.as_tensor(np.stack([env.action_space.sample() for _ in range(batch_size)])),
        rewards=torch.randn(batch_size, 1), dones=torch.zeros(batch_size, 1),
    )
    start = time.perf_counter()
    for _ in range(steps):
        ddpg.critic_step(qf, target_actor, target_qf, qf_optimizer, data, settings["gamma"])
        ddpg.actor_step(actor, qf, actor_optimizer, data.observations)
        ddpg.soft_update(target_parameters, online_parameters, settings["tau"])
    return steps / (time.perf_counter() - start)


def dqn_gradient_steps_per_second(steps: int) -> float:
    """dqn.py's gradient step alone, `steps` times: a batch sampled from a full replay buffer
    (stable-baselines3's) of random transitions, TD target, Huber loss, gradient clipping,
    Adam, and a hard target copy every 50 gradient steps; no env, acting or storing."""
    dqn, env = load_algorithm("dqn"), gym.make(COMPARISONS["dqn"].env_id)
    settings = COMPARISONS["dqn"].algozoo_args
    obs_dim, n_actions = env.observation_space.shape[0], int(env.action_space.n)
    q_network, target_network = (dqn.QNetwork(obs_dim, n_actions, settings["hidden_sizes"]) for _ in range(2))
    target_network.load_state_dict(q_network.state_dict())
    optimizer = torch.optim.Adam(q_network.parameters(), lr=settings["learning_rate"], fused=True)
    replay_buffer = ReplayBuffer(settings["buffer_size"], env.observation_space, env.action_space, "cpu",
                                 handle_timeout_termination=False)
    rng = np.random.default_rng(0)
    for _ in range(settings["buffer_size"]):
        replay_buffer.add(rng.normal(size=(1, obs_dim)), rng.normal(size=(1, obs_dim)), rng.integers(n_actions, size=1),
                          np.ones(1), rng.random(1) < 0.05, [])
    gradient_steps_per_target_copy = settings["target_network_frequency"] // settings["train_frequency"]
    args = dqn.Args(**settings)
    start = time.perf_counter()
    for step in range(steps):
        dqn.learning_step(q_network, target_network, optimizer, replay_buffer.sample(args.batch_size), args)
        if (step + 1) % gradient_steps_per_target_copy == 0:
            dqn.soft_update(target_network.parameters(), q_network.parameters(), args.tau)
    return steps / (time.perf_counter() - start)


GRADIENT_STEPS_ALONE = {"dqn": dqn_gradient_steps_per_second, "ddpg": ddpg_gradient_steps_per_second}


def timed_run(algorithm: str, implementation: str, steps: int, num_envs: int = 1) -> tuple[float, int]:
    """SPS and torch thread count of one run in a fresh Python process."""
    command = [sys.executable, "-m", "benchmarks.speed", "--algorithm", algorithm, "--only", implementation,
               "--steps", str(steps), "--num-envs", str(num_envs)]
    output = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    sps, threads = output.split()[-2:]
    return float(sps), int(threads)


def main(args: Args) -> None:
    steps = args.steps or COMPARISONS[args.algorithm].steps
    if args.only:
        if args.only == "algozoo":
            sps = algozoo_sps(args.algorithm, steps, args.num_envs)
        elif args.only == "no-learning":
            sps = algozoo_sps(args.algorithm, steps, args.num_envs, learning=False)
        elif args.only == "gradient-steps":
            sps = GRADIENT_STEPS_ALONE[args.algorithm](steps)
        else:
            sps = sb3_sps(args.algorithm, steps)
        print(sps, torch.get_num_threads())
        return
    script, sb3_name = f"{args.algorithm}.py", f"stable-baselines3 {args.algorithm.removesuffix('_atari').upper()}"
    # name: (implementation, env copies, steps a run: env steps, or gradient steps when alone)
    gradient_steps = dqn_gradient_steps(steps) if args.algorithm == "dqn" else steps
    runs = {f"algozoo {script}": ("algozoo", 1, steps), sb3_name: ("sb3", 1, steps)}
    if args.vector_envs:
        runs[f"algozoo {script}, {args.vector_envs} envs"] = ("algozoo", args.vector_envs, steps)
    if args.algorithm == "dqn":
        runs[f"{script} without gradient steps"] = ("no-learning", 1, steps)
    if args.algorithm in GRADIENT_STEPS_ALONE:
        runs[f"{script} gradient steps alone"] = ("gradient-steps", 1, max(gradient_steps, 1))
    sps: dict[str, list[float]] = {name: [] for name in runs}
    threads: dict[str, int] = {}
    for repeat in range(args.repeats):
        for name, (implementation, num_envs, run_steps) in runs.items():
            run_sps, threads[name] = timed_run(args.algorithm, implementation, run_steps, num_envs)
            sps[name].append(run_sps)
        print(f"repeat {repeat + 1}: " + ", ".join(f"{name} {values[-1]:.0f}" for name, values in sps.items()), flush=True)
    env_id = COMPARISONS[args.algorithm].env_id
    print(f"\n{env_id}, CPU, {steps} steps per run, {args.repeats} runs each, one fresh process a run")
    print(f"{'implementation':<32} {'torch threads':>13} {'median SPS':>10}   runs")
    for name, values in sps.items():
        print(f"{name:<32} {threads[name]:>13} {statistics.median(values):>10.0f}   " + " ".join(f"{v:.0f}" for v in values))
    median = {name: statistics.median(values) for name, values in sps.items()}
    print(f"ratio {script} / stable-baselines3 (one env): {median[f'algozoo {script}'] / median[sb3_name]:.2f}x")
    if args.algorithm == "ddpg":
        ceiling = median[f"{script} gradient steps alone"] / median[sb3_name]
        print(f"ceiling: {script}'s gradient steps alone / stable-baselines3: {ceiling:.2f}x")
    elif args.algorithm == "dqn":
        seconds_per_env_step = (1 / median[f"{script} without gradient steps"]
                                + gradient_steps / steps / median[f"{script} gradient steps alone"])
        ceiling = 1 / seconds_per_env_step / median[sb3_name]
        print(f"ceiling: {script} without gradient steps plus its gradient steps alone / stable-baselines3: "
              f"{ceiling:.2f}x")


if __name__ == "__main__":
    main(tyro.cli(Args))
