"""Every training script writes each finished training episode to TensorBoard, in order, though
it writes them in batches at its log points (every 1,000 steps) and once more at the end."""

import dataclasses
from pathlib import Path

import pytest

from benchmarks.common import load_algorithm
from tests.helpers import scalars

TRAINING_SCRIPTS = ["q_table", "deep_q_table", "dqn", "double_dqn", "dueling_dqn", "reinforce", "ddpg"]


@pytest.mark.parametrize("num_envs", [1, 4])
@pytest.mark.parametrize("script", TRAINING_SCRIPTS)
def test_every_training_episode_reaches_tensorboard_in_order(script, num_envs, tmp_path):
    module = load_algorithm(script)
    # 50-step episodes: more than one log point's worth of them in every env; small networks, as
    # the logging does not depend on their size
    small = {"hidden_sizes": (32, 32)} if "hidden_sizes" in {f.name for f in dataclasses.fields(module.Args)} else {}
    result = module.train(module.Args(total_timesteps=2500, num_envs=num_envs, max_episode_steps=50,
                                      eval_episodes=1, log_dir=str(tmp_path), progress=False, **small))
    tags = scalars(Path(result["run_dir"]))
    assert len(result["episodic_returns"]) >= 40
    assert tags["charts/episodic_return"] == pytest.approx(result["episodic_returns"])
    assert len(tags["charts/episodic_length"]) == len(result["episodic_returns"])
