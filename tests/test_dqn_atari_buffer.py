"""dqn_atari.py's replay buffer keeps each frame once and rebuilds every stack: trained on a
synthetic game whose frames carry their copy, episode and step numbers, every transition that
train() samples equals the one a plain buffer of stacked observations would hold."""

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


def numbered_vector_env(num_envs: int, time_limit: int, transitions: dict):
    """A vector env of NumberedFrames under the wrappers dqn_atari.py stacks with, which files every
    step's transition as a plain buffer of stacks would hold it into `transitions`, keyed by where
    its state's newest frame comes from."""

    def thunk(copy: int):
        return lambda: gym.wrappers.FrameStackObservation(
            gym.wrappers.RecordEpisodeStatistics(gym.wrappers.TimeLimit(NumberedFrames(copy), time_limit)), 4)

    envs = gym.vector.SyncVectorEnv([thunk(i) for i in range(num_envs)], autoreset_mode=AutoresetMode.SAME_STEP)
    reset, step, last = envs.reset, envs.step, {}

    def recording_reset(**kwargs):
        last["obs"], infos = reset(**kwargs)
        return last["obs"], infos

    def recording_step(actions):
        next_obs, rewards, terminations, truncations, infos = step(actions)
        for i in range(num_envs):
            ended = terminations[i] or truncations[i]
            real_next = infos["final_obs"][i] if ended else next_obs[i]
            life_lost = infos["final_info"]["life_lost"][i] if ended else infos["life_lost"][i]
            key = tuple(last["obs"][i, -1, 0, :3])
            transitions[key] = (last["obs"][i].copy(), int(actions[i]), float(rewards[i]), real_next.copy(),
                                float(terminations[i] or life_lost), bool(truncations[i]))
        last["obs"] = next_obs
        return next_obs, rewards, terminations, truncations, infos

    envs.reset, envs.step = recording_reset, recording_step
    return envs


@pytest.mark.parametrize("num_envs", [1, 4])
def test_every_sampled_transition_is_the_one_a_buffer_of_stacks_would_hold(dqn_atari, tmp_path, monkeypatch, num_envs):
    transitions: dict = {}
    monkeypatch.setattr(dqn_atari, "make_vector_env", lambda args: numbered_vector_env(args.num_envs, 9, transitions))
    # a buffer of 60 transitions wraps around several times in 400 steps
    args = dqn_atari.Args(total_timesteps=400, learning_starts=40, buffer_size=60, batch_size=16, train_frequency=1,
                          num_envs=num_envs, eval_episodes=1, eval_frequency=400, max_episode_steps=20,
                          device="cpu", log_dir=str(tmp_path), progress=False)
    with recording(monkeypatch, dqn_atari.FrameReplayBuffer) as record:
        dqn_atari.train(args)

    assert len(record.batches) == 360  # one per step after learning_starts, over all copies
    kinds = {"truncated": 0, "terminated": 0, "life lost": 0, "first frame": 0}
    for batch in record.batches:
        for b in range(args.batch_size):
            obs, next_obs = batch.observations[b].numpy(), batch.next_observations[b].numpy()
            key = tuple(obs[-1, 0, :3])
            expected_obs, action, reward, expected_next, done, truncated = transitions[key]
            np.testing.assert_array_equal(obs, expected_obs, err_msg=f"state of {key}")
            np.testing.assert_array_equal(next_obs, expected_next, err_msg=f"next state of {key}")
            assert batch.actions[b, 0].item() == action and batch.rewards[b, 0].item() == reward
            assert batch.dones[b, 0].item() == done, key
            for stack in (obs, next_obs):
                assert len(set(stack[:, 0, EPISODE])) == 1, f"a stack of {key} mixes two episodes"
            kinds["truncated"] += truncated
            kinds["terminated"] += done and next_obs[-1, 0, STEP] % 7 != 0
            kinds["life lost"] += done and next_obs[-1, 0, STEP] % 7 == 0
            kinds["first frame"] += obs[0, 0, STEP] == obs[-1, 0, STEP] == 0
    assert all(count > 10 for count in kinds.values()), kinds


def test_a_transition_costs_one_frame_and_a_few_bytes(dqn_atari):
    capacity = 10_000
    for num_envs in (1, 4):
        buffer = dqn_atari.FrameReplayBuffer(capacity, num_envs, torch.device("cpu"), torch.device("cpu"))
        held = sum(t.nbytes for t in vars(buffer).values() if isinstance(t, torch.Tensor))
        assert held <= (capacity + 4 * num_envs) * (84 * 84 + 8) + 1000, held
