"""dqn_atari.py's replay buffer keeps each frame once and rebuilds every stack: trained on a
synthetic game whose frames carry their copy, episode and step numbers, every transition that
train() samples equals the one a plain buffer of stacked observations would hold."""

from collections.abc import Callable, Hashable

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode

from tests.wiring import recording

COPY, EPISODE, STEP = 0, 1, 2  # pixels of a synthetic frame's first row that say where it comes from


class NumberedFrames(gym.Env):
    """84×84 frames that carry (copy, episode, step) in their first pixels; a game ends by
    termination at random, loses a life every seventh step, pays a reward of its step number."""

    observation_space = gym.spaces.Box(0, 255, (84, 84), np.uint8)
    action_space = gym.spaces.Discrete(4)

    def __init__(self, copy: int):
        self.copy, self.episode, self.t = copy, -1, 0

    def frame(self) -> np.ndarray:
        frame = np.full((84, 84), 7, np.uint8)
        frame[0, COPY], frame[0, EPISODE], frame[0, STEP] = self.copy, self.episode % 256, self.t
        return frame

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.episode, self.t = self.episode + 1, 0
        return self.frame(), {"life_lost": False}

    def step(self, action):
        self.t += 1
        terminated = bool(self.np_random.random() < 0.08)
        return self.frame(), float(self.t), terminated, False, {"life_lost": self.t % 7 == 0}


def numbered_vector_env(num_envs: int, time_limit: int) -> gym.vector.VectorEnv:
    """A vector env of NumberedFrames under the wrappers dqn_atari.py stacks with."""

    def thunk(copy: int):
        return lambda: gym.wrappers.FrameStackObservation(
            gym.wrappers.RecordEpisodeStatistics(gym.wrappers.TimeLimit(NumberedFrames(copy), time_limit)), 4)

    return gym.vector.SyncVectorEnv([thunk(i) for i in range(num_envs)], autoreset_mode=AutoresetMode.SAME_STEP)


def filing_transitions(envs: gym.vector.VectorEnv, transitions: dict, key: Callable[[np.ndarray], Hashable]):
    """envs, filing every step's transitions as a plain buffer of stacks would hold them into
    transitions[key(state)], a list: (state, action taken, reward, next state, done, truncated,
    whether the env took another action than the one asked)."""
    reset, step, last = envs.reset, envs.step, {}

    def filing_reset(**kwargs):
        last["obs"], infos = reset(**kwargs)
        return last["obs"], infos

    def filing_step(actions):
        next_obs, rewards, terminations, truncations, infos = step(actions)
        taken = infos.get("actions", actions)
        for i in range(envs.num_envs):
            ended = terminations[i] or truncations[i]
            real_next = infos["final_obs"][i] if ended else next_obs[i]
            life_lost = infos["final_info"]["life_lost"][i] if ended else infos["life_lost"][i]
            transitions.setdefault(key(last["obs"][i]), []).append((
                last["obs"][i].copy(), int(taken[i]), float(rewards[i]), real_next.copy(),
                float(terminations[i] or life_lost), bool(truncations[i]), bool(taken[i] != actions[i])))
        last["obs"] = next_obs
        return next_obs, rewards, terminations, truncations, infos

    envs.reset, envs.step = filing_reset, filing_step
    return envs


def filed_transitions(batches: list, transitions: dict, key: Callable[[np.ndarray], Hashable]) -> list[tuple]:
    """The filed transition that each sampled one is, asserting that there is one."""
    found = []
    for batch in batches:
        for b in range(len(batch.actions)):
            sampled = (batch.observations[b].numpy(), batch.actions[b, 0].item(), batch.rewards[b, 0].item(),
                       batch.next_observations[b].numpy(), batch.dones[b, 0].item())
            candidates = transitions[key(sampled[0])]
            same = [[np.array_equal(x, y) for x, y in zip(sampled, filed)] for filed in candidates]
            matches = [filed for filed, fields in zip(candidates, same) if all(fields)]
            assert matches, ("a sampled transition differs from the env's in (state, action, reward, next state, "
                             f"done): {same[0]}")
            found.append(matches[0])
    return found


@pytest.mark.parametrize("num_envs", [1, 4])
def test_every_sampled_transition_is_the_one_a_buffer_of_stacks_would_hold(dqn_atari, tmp_path, monkeypatch, num_envs):
    transitions: dict = {}
    key = lambda obs: tuple(obs[-1, 0, :3])  # where a state's newest frame comes from
    monkeypatch.setattr(dqn_atari, "make_vector_env",
                        lambda args: filing_transitions(numbered_vector_env(args.num_envs, 9), transitions, key))
    # a buffer of 60 transitions wraps around several times in 400 steps
    args = dqn_atari.Args(total_timesteps=400, learning_starts=40, buffer_size=60, batch_size=16, train_frequency=1,
                          num_envs=num_envs, eval_episodes=1, eval_frequency=400, max_episode_steps=20,
                          device="cpu", log_dir=str(tmp_path), progress=False)
    with recording(monkeypatch, dqn_atari.FrameReplayBuffer) as record:
        dqn_atari.train(args)

    assert len(record.batches) == 360  # one per step after learning_starts, over all copies
    kinds = {"truncated": 0, "terminated": 0, "life lost": 0, "first frame": 0}
    for obs, _, _, next_obs, done, truncated, _ in filed_transitions(record.batches, transitions, key):
        for stack in (obs, next_obs):
            assert len(set(stack[:, 0, EPISODE])) == 1, "a stack mixes two episodes"
        kinds["truncated"] += truncated
        kinds["terminated"] += done and next_obs[-1, 0, STEP] % 7 != 0
        kinds["life lost"] += done and next_obs[-1, 0, STEP] % 7 == 0
        kinds["first frame"] += obs[0, 0, STEP] == obs[-1, 0, STEP] == 0
    assert all(count > 10 for count in kinds.values()), kinds


def test_sampled_breakout_transitions_of_ale_copies_are_the_ones_they_took(dqn_atari, tmp_path, monkeypatch):
    # Four Breakout copies stepped by AleVectorEnv (--num-envs > 1), random actions throughout: each
    # sampled transition is one the copies took, with FIRE where the env served a ball instead
    # of the action asked, done where a life was lost, and bootstrapping where time ran out.
    transitions: dict = {}
    key = lambda obs: obs.tobytes()
    make_vector_env, made = dqn_atari.make_vector_env, []

    def filed_make_vector_env(args):
        made.append(make_vector_env(args))
        return filing_transitions(made[-1], transitions, key)

    monkeypatch.setattr(dqn_atari, "make_vector_env", filed_make_vector_env)
    args = dqn_atari.Args(total_timesteps=800, learning_starts=400, buffer_size=600, batch_size=16, num_envs=4,
                          start_e=1.0, end_e=1.0, eval_episodes=1, eval_frequency=800, max_episode_steps=60,
                          device="cpu", log_dir=str(tmp_path), progress=False)
    with recording(monkeypatch, dqn_atari.FrameReplayBuffer) as record:
        dqn_atari.train(args)

    assert isinstance(made[0], dqn_atari.AleVectorEnv), "--num-envs 4 steps ale-py's copies"
    sampled = filed_transitions(record.batches, transitions, key)
    assert len(sampled) == 100 * 16
    served = sum(other for *_, other in sampled)
    done = sum(done and not truncated for _, _, _, _, done, truncated, _ in sampled)  # lost lives, game ends
    truncated = sum(truncated for _, _, _, _, _, truncated, _ in sampled)
    assert served >= 5 and done >= 5 and truncated >= 5, (served, done, truncated)


def test_a_transition_costs_one_frame_and_a_few_bytes(dqn_atari):
    capacity = 10_000
    for num_envs in (1, 4):
        buffer = dqn_atari.FrameReplayBuffer(capacity, num_envs, torch.device("cpu"), torch.device("cpu"))
        held = sum(t.nbytes for t in vars(buffer).values() if isinstance(t, torch.Tensor))
        assert held <= (capacity + 4 * num_envs) * (84 * 84 + 8) + 1000, held
