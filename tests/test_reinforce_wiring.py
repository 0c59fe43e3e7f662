"""reinforce.py's training loop is wired as REINFORCE says: each gradient step is the
gradient of −mean_t[A_t log π(a_t|s_t)] − c · mean entropy over exactly the episodes handed
to that update, with A_t their discounted reward-to-go normalized over the batch (the
episodes themselves are checked against the env in test_reinforce_training.py)."""

import numpy as np
import pytest
import torch

from tests.wiring import assert_tensors_close, recording, with_parameters


def discounted_reward_to_go(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """G_t = Σ_k γ^k r_{t+k} to the end of one episode."""
    discounts = gamma ** np.arange(len(rewards))
    return np.array([np.sum(rewards[t:] * discounts[:len(rewards) - t]) for t in range(len(rewards))])


@pytest.mark.parametrize("anneal_lr", [False, True])
def test_each_update_is_the_score_function_gradient_of_its_own_episodes(reinforce, tmp_path, monkeypatch, anneal_lr):
    gamma, ent_coef = 0.9, 0.05
    batches = []
    episode_batch = reinforce.episode_batch

    def recording_episode_batch(episodes, gamma):
        batches.append(list(episodes))
        return episode_batch(episodes, gamma)

    monkeypatch.setattr(reinforce, "episode_batch", recording_episode_batch)
    args = reinforce.Args(env_id="CartPole-v1", max_episode_steps=15, num_envs=4, total_timesteps=1500,
                          episodes_per_update=5, gamma=gamma, ent_coef=ent_coef, anneal_lr=anneal_lr,
                          hidden_sizes=(16,), eval_episodes=1, eval_frequency=1500, device="cpu",
                          log_dir=str(tmp_path), progress=False)
    with recording(monkeypatch) as record:
        result = reinforce.train(args)
    policy = result["policy"]
    steps = record.steps_of(policy.parameters())
    assert len(steps) == len(batches) == result["gradient_steps"] > 15

    for k, (step, episodes) in enumerate(zip(steps, batches)):
        assert len(episodes) >= 5
        returns = np.concatenate([discounted_reward_to_go(episode.rewards, gamma) for episode in episodes])
        advantages = torch.as_tensor((returns - returns.mean()) / (returns.std() + 1e-8), dtype=torch.float32)
        observations = torch.as_tensor(np.concatenate([episode.observations for episode in episodes]))
        actions = torch.as_tensor(np.concatenate([episode.actions for episode in episodes]))
        parameters = [p.clone().requires_grad_() for p in step.before]
        log_probs = torch.log_softmax(with_parameters(policy, parameters)(observations), dim=1)
        entropy = -(log_probs.exp() * log_probs).sum(dim=1).mean()
        loss = -(log_probs.gather(1, actions[:, None]).squeeze(1) * advantages).mean() - ent_coef * entropy
        expected = torch.autograd.grad(loss, parameters)
        assert_tensors_close(step.grads, list(expected), f"gradient of update {k}")
        if k + 1 < len(steps):
            assert_tensors_close(steps[k + 1].before, step.after, f"policy between updates {k} and {k + 1}")
    assert_tensors_close(list(policy.parameters()), steps[-1].after, "policy after the run")
