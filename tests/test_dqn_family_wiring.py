"""The DQN family's training loops are wired as their algorithms say: each gradient step is
recomputed from the definition (which network picks and which values the next action, the
loss and its sign), the target network is checked against the Polyak recursion, and the
actions against the ε schedule. Short runs on tiny networks: a few seconds each."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tests.wiring import assert_tensors_close, polyak, recording, with_parameters

# max_a' Q_target(s', a') for DQN; Q_target(s', argmax_a' Q(s', a')) for Double and Dueling
NEXT_VALUES = {
    "dqn": lambda online, target, next_obs: target(next_obs).max(dim=1).values,
    "double_dqn": lambda online, target, next_obs: target(next_obs).gather(
        1, online(next_obs).argmax(dim=1, keepdim=True)).squeeze(1),
}
NEXT_VALUES["dueling_dqn"] = NEXT_VALUES["double_dqn"]


def script_name(module) -> str:
    return module.__name__.removeprefix("algozoo_")


def expected_gradient(module, q_network, parameters: list, target: list, batch, gamma: float) -> tuple[list, int]:
    """The gradient of the batch's mean squared TD error at these online parameters, recomputed
    from the algorithm's definition, and how many of its next states the online and the target
    network would act on differently."""
    parameters = [p.clone().requires_grad_() for p in parameters]
    q_taken = with_parameters(q_network, parameters)(batch.observations).gather(1, batch.actions).squeeze(1)
    with torch.no_grad():
        online, target_values = with_parameters(q_network, parameters), with_parameters(q_network, target)
        bootstrap = NEXT_VALUES[script_name(module)](online, target_values, batch.next_observations)
        disagreements = (online(batch.next_observations).argmax(dim=1)
                         != target_values(batch.next_observations).argmax(dim=1)).sum().item()
        td_target = batch.rewards.flatten() + gamma * (1.0 - batch.dones.flatten()) * bootstrap
    return list(torch.autograd.grad(F.mse_loss(q_taken, td_target), parameters)), disagreements


def test_each_gradient_step_descends_its_batchs_td_loss_and_the_target_follows_by_polyak(dqn_family, tmp_path, monkeypatch):
    # a large learning rate, not annealed, and a slow target keep the two networks apart, so that
    # reading one where the other belongs changes the gradient
    gamma, tau = 0.9, 0.05
    args = dqn_family.Args(
        total_timesteps=300, learning_starts=100, train_frequency=1, target_network_frequency=1, gamma=gamma, tau=tau,
        learning_rate=0.01, anneal_lr=False, batch_size=16, buffer_size=1000, hidden_sizes=(16,), eval_episodes=1,
        eval_frequency=300, device="cpu", log_dir=str(tmp_path), progress=False,
    )
    with recording(monkeypatch) as record:
        result = dqn_family.train(args)
    q_network, target_network = result["q_network"], result["target_network"]
    steps = record.steps_of(q_network.parameters())
    assert len(steps) == len(record.batches) == result["gradient_steps"] == result["target_updates"] == 200

    target = steps[0].before  # the target network starts as a copy of the online one
    disagreements = 0  # next states where the online and the target network prefer different actions
    for k, (step, batch) in enumerate(zip(steps, record.batches)):
        expected, disagree = expected_gradient(dqn_family, q_network, step.before, target, batch, gamma)
        assert_tensors_close(step.grads, expected, f"gradient of step {k}")
        disagreements += disagree
        target = polyak(target, step.after, tau)
    assert_tensors_close(list(target_network.parameters()), target, "target network after the run")
    assert disagreements > 100, "the check needs batches where Double DQN's target differs from DQN's"
    # the network trained is the one returned, evaluated and saved
    assert_tensors_close(list(q_network.parameters()), steps[-1].after, "online network after the run")


def test_each_round_of_gradient_steps_takes_that_many_steps_each_on_a_minibatch_of_its_own(dqn_family, tmp_path,
                                                                                         monkeypatch):
    gamma = 0.9
    args = dqn_family.Args(
        total_timesteps=300, learning_starts=100, train_frequency=4, gradient_steps=3, target_network_frequency=1000,
        tau=1.0, gamma=gamma, learning_rate=0.01, batch_size=16, buffer_size=1000, hidden_sizes=(16,), eval_episodes=1,
        eval_frequency=300, device="cpu", log_dir=str(tmp_path), progress=False,
    )
    with recording(monkeypatch) as record:
        result = dqn_family.train(args)
    q_network = result["q_network"]
    steps = record.steps_of(q_network.parameters())
    # rounds at env steps 104, 108, …, 300: 50 rounds of 3 steps, the target never copied
    assert len(steps) == len(record.batches) == result["gradient_steps"] == 150 and result["target_updates"] == 0
    initial = steps[0].before
    for k, (step, batch) in enumerate(zip(steps, record.batches)):
        expected, _ = expected_gradient(dqn_family, q_network, step.before, initial, batch, gamma)
        assert_tensors_close(step.grads, expected, f"gradient of step {k}")
        if k:  # a step starts from the one before it, on a minibatch drawn anew
            assert_tensors_close(step.before, steps[k - 1].after, f"parameters before step {k}")
            assert not torch.equal(batch.observations, record.batches[k - 1].observations)


@pytest.mark.parametrize("anneal_lr", [False, True])
def test_each_gradient_step_takes_the_learning_rate_of_its_env_step(dqn_family, tmp_path, monkeypatch, anneal_lr):
    # --anneal-lr: learning_rate (1 - step / total_timesteps) at env step `step`, so 0 at the end
    args = dqn_family.Args(
        total_timesteps=300, learning_starts=100, train_frequency=1, learning_rate=0.01, anneal_lr=anneal_lr,
        batch_size=16, buffer_size=1000, hidden_sizes=(16,), eval_episodes=1, eval_frequency=300, device="cpu",
        log_dir=str(tmp_path), progress=False,
    )
    with recording(monkeypatch) as record:
        result = dqn_family.train(args)
    steps = record.steps_of(result["q_network"].parameters())
    # one gradient step at each of env steps 101, …, 300
    expected = [0.01 * (1 - step / 300) if anneal_lr else 0.01 for step in range(101, 301)]
    assert [step.lr for step in steps] == pytest.approx(expected, rel=1e-12)


def test_a_hard_target_update_copies_the_online_network_every_nth_step(dqn_family, tmp_path, monkeypatch):
    args = dqn_family.Args(
        total_timesteps=300, learning_starts=100, train_frequency=1, target_network_frequency=50, tau=1.0,
        batch_size=16, buffer_size=1000, hidden_sizes=(16,), eval_episodes=1, eval_frequency=300, device="cpu",
        log_dir=str(tmp_path), progress=False,
    )
    with recording(monkeypatch) as record:
        result = dqn_family.train(args)
    steps = record.steps_of(result["q_network"].parameters())
    # gradient steps at env steps 101..300, copies at 150, 200, 250 and 300: the last one
    # copies the network of the last gradient step
    assert len(steps) == 200 and result["target_updates"] == 4
    assert_tensors_close(list(result["target_network"].parameters()), steps[-1].after, "target after the last copy")
    assert not torch.equal(steps[-1].before[0], steps[-2].before[0])


def test_actions_follow_the_epsilon_schedule(dqn_family, tmp_path):
    # No gradient step is taken, so the greedy action is the initial network's all along;
    # ε falls from 1 to 0 over the first 1,000 of 2,000 steps. An exploring step takes
    # CartPole's other action half the time: on average ε/2 of the steps are not greedy.
    args = dqn_family.Args(
        total_timesteps=2000, learning_starts=2000, start_e=1.0, end_e=0.0, exploration_fraction=0.5,
        buffer_size=2000, batch_size=32, hidden_sizes=(16,), eval_episodes=1, eval_frequency=2000, device="cpu",
        log_dir=str(tmp_path), progress=False,
    )
    result = dqn_family.train(args)
    buffer = result["replay_buffer"]
    observations, actions = torch.as_tensor(buffer.observations[:2000, 0]), buffer.actions[:2000, 0, 0]
    with torch.no_grad():
        greedy = result["q_network"](observations).argmax(dim=1).numpy()
    not_greedy = actions != greedy
    quarters = [not_greedy[i * 250:(i + 1) * 250].mean() for i in range(4)]
    # expected ε/2 over each quarter of the schedule: 0.44, 0.31, 0.19, 0.06
    assert 0.33 < quarters[0] < 0.55 and 0.08 < quarters[2] < 0.3 and quarters[3] < 0.14, quarters
    assert quarters[0] > quarters[1] > quarters[2] > quarters[3]
    assert not not_greedy[1000:].any(), "ε is 0 after the schedule: every action is greedy"
    assert np.isin(actions, [0, 1]).all()
