"""ddpg.py's training loop is wired as DDPG says: each critic step descends the squared TD
error whose target reads the target actor and the target critic, each actor step climbs
the critic just updated on the same batch, both target networks follow by Polyak averaging
after each actor step, and the Ornstein–Uhlenbeck noise has the size its help text gives.
Short runs on tiny networks, each step recomputed from the definition."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tests.wiring import assert_tensors_close, polyak, recording, with_parameters


@pytest.mark.parametrize("policy_frequency", [1, 2])
def test_critic_and_actor_steps_follow_ddpg_and_the_targets_follow_by_polyak(ddpg, tmp_path, monkeypatch, policy_frequency):
    gamma, tau = 0.9, 0.3
    args = ddpg.Args(
        env_id="Pendulum-v1", total_timesteps=200, learning_starts=100, train_frequency=1,
        policy_frequency=policy_frequency, gamma=gamma, tau=tau, batch_size=16, buffer_size=1000, hidden_sizes=(16,),
        eval_episodes=1, eval_frequency=200, device="cpu", log_dir=str(tmp_path), progress=False,
    )
    with recording(monkeypatch) as record:
        result = ddpg.train(args)
    actor, qf = result["actor"], result["qf"]
    critic_steps, actor_steps = record.steps_of(qf.parameters()), record.steps_of(actor.parameters())
    assert len(critic_steps) == len(record.batches) == result["gradient_steps"] == 100
    assert len(actor_steps) == result["target_updates"] == 100 // policy_frequency

    # the target networks start as copies of the online ones
    target_actor, target_qf, actor_now = actor_steps[0].before, critic_steps[0].before, actor_steps[0].before
    actor_updates = iter(actor_steps)
    for k, (critic, batch) in enumerate(zip(critic_steps, record.batches), start=1):
        parameters = [p.clone().requires_grad_() for p in critic.before]
        q_values = with_parameters(qf, parameters)(batch.observations, batch.actions).squeeze(1)
        with torch.no_grad():
            next_actions = with_parameters(actor, target_actor)(batch.next_observations)
            next_q = with_parameters(qf, target_qf)(batch.next_observations, next_actions).squeeze(1)
            td_target = batch.rewards.flatten() + gamma * (1.0 - batch.dones.flatten()) * next_q
        expected = torch.autograd.grad(F.mse_loss(q_values, td_target), parameters)
        assert_tensors_close(critic.grads, list(expected), f"critic gradient of step {k}")
        if k % policy_frequency:
            continue
        step = next(actor_updates)
        assert_tensors_close(step.before, actor_now, f"actor before its step {k}")
        parameters = [p.clone().requires_grad_() for p in step.before]
        actions = with_parameters(actor, parameters)(batch.observations)
        actor_loss = -with_parameters(qf, critic.after)(batch.observations, actions).mean()
        expected = torch.autograd.grad(actor_loss, parameters)
        assert_tensors_close(step.grads, list(expected), f"actor gradient of step {k}")
        actor_now = step.after
        target_actor, target_qf = polyak(target_actor, step.after, tau), polyak(target_qf, critic.after, tau)
    assert_tensors_close(list(result["target_actor"].parameters()), target_actor, "target actor after the run")
    assert_tensors_close(list(result["target_qf"].parameters()), target_qf, "target critic after the run")
    assert_tensors_close(list(actor.parameters()), actor_now, "actor after the run")


def test_ou_noise_has_the_standard_deviation_its_docstring_gives_at_each_step_of_an_episode(ddpg):
    # ornstein_uhlenbeck_noise's docstring: at step t of an episode the noise's standard deviation is
    # σ √(dt (1 − (1 − θ dt)^(2t)) / (1 − (1 − θ dt)²)); with the defaults θ = 0.15,
    # dt = 0.01 that is 0.1 σ at the first step, tending to σ / √(θ (2 − θ dt)) ≈ 1.83 σ.
    sigma, theta, dt = 0.3, 0.15, 0.01
    state, rng = np.zeros((4000, 1)), np.random.default_rng(0)
    draws = np.stack([ddpg.ornstein_uhlenbeck_noise(state, sigma, theta, dt, rng) for _ in range(3000)])[:, :, 0]
    decay = (1 - theta * dt) ** 2
    for t in (1, 10, 100, 1000, 3000):
        expected = sigma * np.sqrt(dt * (1 - decay**t) / (1 - decay))
        assert draws[t - 1].std() == pytest.approx(expected, rel=0.05), t
    assert draws[0].std() == pytest.approx(0.1 * sigma, rel=0.05)
    assert draws[-1].std() == pytest.approx(sigma / np.sqrt(theta * (2 - theta * dt)), rel=0.05)
