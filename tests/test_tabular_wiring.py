"""The tabular learners' loops are wired as Q-learning says: every update moves the table by
the schedule's α toward the mean target of each pair updated (q_table.py's update is the
reference for deep_q_table.py's SGD step), and the actions follow the ε schedule. Which
transitions they learn from is checked in test_transitions.py."""

import numpy as np
import pytest
import torch

from benchmarks.common import load_algorithm
from tests.wiring import recorded_actions, recording


def expected_alpha(args, step: int) -> float:
    """α of the update at env step `step`: linear from --learning-rate to --end-learning-rate over the run."""
    return args.learning_rate + (args.end_learning_rate - args.learning_rate) * step / args.total_timesteps


def tabular_args(module, tmp_path, **overrides):
    # Taxi pays −1 a step: every update moves the table
    settings = dict(env_id="Taxi-v4", num_envs=4, max_episode_steps=8, total_timesteps=2000, learning_rate=0.5, end_learning_rate=0.1,
                    gamma=0.9, eval_episodes=1, device="cpu", log_dir=str(tmp_path), progress=False)
    return module.Args(**{**settings, **overrides})


def test_q_table_updates_by_the_scheduled_alpha(q_table, tmp_path, monkeypatch):
    updates = []
    update = q_table.q_learning_update

    def recording_update(table, *transitions_gamma_alpha):
        before = table.clone()
        td_errors = update(table, *transitions_gamma_alpha)
        updates.append((before, transitions_gamma_alpha[:-2], table.clone()))
        return td_errors

    monkeypatch.setattr(q_table, "q_learning_update", recording_update)
    args = tabular_args(q_table, tmp_path)
    result = q_table.train(args)
    assert len(updates) == 2000 // 4
    for k, (before, transitions, after) in enumerate(updates):
        expected = before.clone()
        update(expected, *transitions, args.gamma, expected_alpha(args, 4 * k))
        torch.testing.assert_close(after, expected, msg=lambda message: f"update {k}: {message}")
    torch.testing.assert_close(result["q_table"], updates[-1][2])
    assert (updates[-1][2] != 0).sum() > 100


@pytest.mark.parametrize("buffer_size", [None, 1000])
def test_deep_q_table_steps_are_the_tabular_update_at_the_scheduled_alpha(q_table, deep_q_table, tmp_path, monkeypatch,
                                                                         buffer_size):
    batches = []
    step = deep_q_table.q_learning_step

    def recording_step(q_network, optimizer, *batch_and_gamma):
        batches.append(batch_and_gamma[:-1])
        return step(q_network, optimizer, *batch_and_gamma)

    monkeypatch.setattr(deep_q_table, "q_learning_step", recording_step)
    replay = {} if buffer_size is None else {"buffer_size": buffer_size, "batch_size": 16}
    args = tabular_args(deep_q_table, tmp_path, **replay)
    with recording(monkeypatch) as record:
        result = deep_q_table.train(args)
    steps = record.steps
    assert len(steps) == len(batches) == 2000 // 4
    for k, (sgd_step, batch) in enumerate(zip(steps, batches)):
        # the table is the transposed weight (n_actions, n_states) of the one-hot layer
        expected = sgd_step.before[0].T.contiguous()
        q_table.q_learning_update(expected, *batch, args.gamma, expected_alpha(args, 4 * k))
        torch.testing.assert_close(sgd_step.after[0].T, expected, rtol=1e-5, atol=1e-6,
                                   msg=lambda message: f"step {k}: {message}")
    torch.testing.assert_close(result["q_table"], steps[-1].after[0].T)


@pytest.mark.parametrize("script", ["q_table", "deep_q_table"])
def test_actions_follow_the_epsilon_schedule(script, tmp_path, monkeypatch):
    # α = 0 keeps the table at zeros, whose greedy action is 0 everywhere; ε falls from 1 to 0
    # over the first half of the run. An exploring step takes one of FrozenLake's three
    # other actions 3/4 of the time: on average 3ε/4 of the steps are not greedy.
    module = load_algorithm(script)
    sent = recorded_actions(module, monkeypatch)
    args = module.Args(num_envs=1, total_timesteps=4000, learning_rate=0.0, end_learning_rate=0.0, start_e=1.0,
                       end_e=0.0, exploration_fraction=0.5, eval_episodes=1, device="cpu", log_dir=str(tmp_path),
                       progress=False)
    result = module.train(args)
    actions = np.concatenate(sent)
    assert len(actions) == 4000 and not result["q_table"].any()
    not_greedy = actions != 0
    quarters = [not_greedy[i * 500:(i + 1) * 500].mean() for i in range(4)]
    # expected 3ε/4 over each quarter of the schedule: 0.66, 0.47, 0.28, 0.09
    assert 0.56 < quarters[0] < 0.76 and 0.18 < quarters[2] < 0.38 and quarters[3] < 0.16, quarters
    assert quarters[0] > quarters[1] > quarters[2] > quarters[3]
    assert not not_greedy[2000:].any(), "ε is 0 after the schedule: every action is greedy"
