"""Learning checks of the tabular learners: real training with a fixed seed, judged by the
exact value of the greedy policy they end with, which no sampling noise can flatter."""

import gymnasium as gym
import pytest
import torch

from benchmarks.common import load_algorithm

FROZEN_LAKE_STEPS = 50_000


def exact_frozen_lake_value(value_iteration, policy: torch.Tensor) -> float:
    """Success probability of a stationary policy (16,) within FrozenLake-v1's 100-step limit."""
    env = gym.make("FrozenLake-v1")
    tables = value_iteration.mdp_tables(env.unwrapped.P, 16, 4, torch.device("cpu"))
    initial = torch.as_tensor(env.unwrapped.initial_state_distrib, dtype=torch.float64)
    return float(initial @ value_iteration.time_limited_values(tables, policy.cpu(), env.spec.max_episode_steps))


@pytest.fixture(scope="module")
def frozen_lake_optimum(value_iteration, tmp_path_factory) -> float:
    args = value_iteration.Args(eval_episodes=1, log_dir=str(tmp_path_factory.mktemp("plan")))
    return value_iteration.train(args)["exact_value"]


def test_q_table_reaches_the_frozen_lake_optimum(q_table, value_iteration, frozen_lake_optimum, tmp_path):
    result = q_table.train(q_table.Args(total_timesteps=FROZEN_LAKE_STEPS, eval_episodes=100, log_dir=str(tmp_path),
                                        progress=False))
    learned = exact_frozen_lake_value(value_iteration, result["q_table"].argmax(dim=1))
    assert frozen_lake_optimum == pytest.approx(0.740, abs=0.001)
    assert learned >= frozen_lake_optimum - 0.05, learned


def test_q_table_walks_the_cliff_edge(q_table, tmp_path):
    result = q_table.train(q_table.Args(env_id="CliffWalking-v1", total_timesteps=50_000, eval_episodes=5,
                                        log_dir=str(tmp_path), progress=False))
    assert result["eval_returns"] == [-13.0] * 5


def test_deep_q_table_learns_frozen_lake(deep_q_table, value_iteration, tmp_path):
    result = deep_q_table.train(deep_q_table.Args(total_timesteps=FROZEN_LAKE_STEPS, eval_episodes=100,
                                                  log_dir=str(tmp_path), progress=False))
    assert exact_frozen_lake_value(value_iteration, result["q_table"].argmax(dim=1)) >= 0.6


@pytest.mark.parametrize("script", ["q_table", "deep_q_table"])
def test_same_seed_gives_the_same_episodic_returns_on_cpu(script, tmp_path):
    module = load_algorithm(script)

    def returns(seed: int) -> list[float]:
        args = module.Args(seed=seed, num_envs=4, total_timesteps=4000, eval_episodes=1, device="cpu",
                           log_dir=str(tmp_path), progress=False)
        return module.train(args)["episodic_returns"]

    first = returns(3)
    assert len(first) > 100 and first == returns(3) and first != returns(4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("script", ["value_iteration", "q_table", "deep_q_table"])
def test_cuda_run_keeps_the_table_on_the_gpu(script, tmp_path):
    module = load_algorithm(script)
    overrides = {} if script == "value_iteration" else {"num_envs": 2, "total_timesteps": 2000, "progress": False}
    result = module.train(module.Args(device="cuda", eval_episodes=2, log_dir=str(tmp_path), **overrides))
    assert result["status"] == "completed" and result["q_table"].is_cuda


def test_deep_q_table_replay_keeps_values_within_the_rewards_range(deep_q_table, tmp_path):
    # FrozenLake pays 0 or 1 per episode, so every TD target and every average of targets
    # lies in [0, 1]: with α ≤ 1 no Q-value may leave it, however often a minibatch repeats a pair
    result = deep_q_table.train(deep_q_table.Args(learning_rate=0.5, buffer_size=10_000, batch_size=32,
                                                  total_timesteps=16_000, eval_episodes=1, log_dir=str(tmp_path),
                                                  progress=False))
    assert result["status"] == "completed"
    assert 0.0 <= result["q_table"].min() and result["q_table"].max() <= 1.0 + 1e-6, result["q_table"].abs().max()
