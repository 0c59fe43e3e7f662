"""benchmarks/batched.py with ddpg.py: members of DDPG in one process, each its own run of the
script's algorithm. Its losses and targets against the script's own, the members' independence,
the stored transitions, member options, learning, and the command line."""

import copy

import numpy as np
import pytest
import torch

from benchmarks import batched
from benchmarks.members import MemberReplayBuffer, Samples, StackedAdam, StackedNetworks
from tests.helpers import member_transitions_are_real, read_summary, run_dirs
from tests.test_ddpg_transitions import DRIFT, drift_step, pendulum_dynamics

OBS_DIM, ACTION_LOW, ACTION_HIGH, HIDDEN = 3, np.array([-2.0, 0.0]), np.array([2.0, 1.0]), (16, 16)


def member_networks(ddpg, seeds: list[int]) -> tuple[list[torch.nn.Module], list[torch.nn.Module]]:
    """Actors and critics as the script starts them for each seed."""
    actors, critics = [], []
    for seed in seeds:
        torch.manual_seed(seed)
        actors.append(ddpg.Actor(OBS_DIM, ACTION_LOW, ACTION_HIGH, HIDDEN))
        critics.append(ddpg.QNetwork(OBS_DIM, len(ACTION_LOW), HIDDEN))
    return actors, critics


def minibatches(n_members: int, batch: int, seed: int = 0) -> Samples:
    """A random minibatch per member, fields (N, batch, ...) as MemberReplayBuffer.sample gives them."""
    generator = torch.Generator().manual_seed(seed)
    buffer = MemberReplayBuffer(n_members, batch, (OBS_DIM,), (len(ACTION_LOW),), torch.float32, torch.device("cpu"),
                                seed)
    buffer.observations.copy_(torch.randn(buffer.observations.shape, generator=generator))
    buffer.next_observations.copy_(torch.randn(buffer.observations.shape, generator=generator))
    buffer.actions.copy_(torch.rand(buffer.actions.shape, generator=generator) * 2 - 1)
    buffer.rewards.copy_(torch.randn(buffer.rewards.shape, generator=generator))
    buffer.dones.copy_((torch.rand(buffer.dones.shape, generator=generator) < 0.3).float())
    return Samples(buffer.observations, buffer.actions, buffer.next_observations, buffer.dones[..., None],
                   buffer.rewards[..., None])


def member_data(data: Samples, i: int) -> Samples:
    return Samples(*(field[i] for field in data))


def test_critic_and_actor_losses_and_td_targets_of_each_member_are_the_script_s_own(ddpg):
    actors, critics = member_networks(ddpg, [1, 2, 3])
    target_actors, target_critics = member_networks(ddpg, [11, 12, 13])
    actor, qf = StackedNetworks(actors), StackedNetworks(critics)
    target_actor, target_qf = StackedNetworks(target_actors), StackedNetworks(target_critics)
    data, gammas = minibatches(3, 32), torch.tensor([0.99, 0.9, 0.5])
    critic_gradients_of, actor_gradients_of = batched.ddpg_gradients(ddpg, actor, qf, compile=False)
    critic_gradients, (critic_losses, qf_values) = critic_gradients_of(
        qf.params, target_actor.params, target_qf.params, actor.buffers, qf.buffers, data, gammas)
    actor_gradients, actor_losses = actor_gradients_of(actor.params, qf.params, actor.buffers, qf.buffers,
                                                       data.observations)

    def member_target(target_actor_params, target_qf_params, actor_buffers, qf_buffers, rewards, next_obs, dones, gamma):
        return ddpg.td_target(actor.function(target_actor_params, actor_buffers),
                              qf.function(target_qf_params, qf_buffers), rewards, next_obs, dones, gamma)

    td_targets = torch.func.vmap(member_target)(target_actor.params, target_qf.params, actor.buffers, qf.buffers,
                                                data.rewards.flatten(1), data.next_observations,
                                                data.dones.flatten(1), gammas)
    for i in range(3):
        # the networks are views of the stacks: the script's own functions on them are the reference
        one, gamma = member_data(data, i), float(gammas[i])
        critic = copy.deepcopy(critics[i])
        loss, expected_q = ddpg.critic_loss(critic, target_actors[i], target_critics[i], one, gamma)
        loss.backward()
        torch.testing.assert_close(critic_losses[i], loss, atol=1e-6, rtol=1e-6)
        torch.testing.assert_close(qf_values[i], expected_q, atol=1e-6, rtol=1e-6)
        for name, parameter in critic.named_parameters():
            torch.testing.assert_close(critic_gradients[name][i], parameter.grad, atol=1e-6, rtol=1e-5)
        expected_target = ddpg.td_target(target_actors[i], target_critics[i], one.rewards.flatten(),
                                         one.next_observations, one.dones.flatten(), gamma)
        torch.testing.assert_close(td_targets[i], expected_target, atol=1e-6, rtol=1e-6)

        member_actor = copy.deepcopy(actors[i])
        loss = ddpg.actor_loss(member_actor, critics[i], one.observations)
        loss.backward(inputs=list(member_actor.parameters()))
        torch.testing.assert_close(actor_losses[i], loss, atol=1e-6, rtol=1e-6)
        for name, parameter in member_actor.named_parameters():
            torch.testing.assert_close(actor_gradients[name][i], parameter.grad, atol=1e-6, rtol=1e-5)


def learning_state(ddpg, data: Samples) -> list[list[torch.Tensor]]:
    """Three members after three critic and actor steps on `data`: every stacked tensor they hold."""
    actors, critics = member_networks(ddpg, [1, 2, 3])
    actor, qf = StackedNetworks(actors), StackedNetworks(critics)
    target_actor, target_qf = actor.clone_params(), qf.clone_params()
    learning_rates = torch.tensor([1e-3, 3e-4, 1e-2])
    actor_optimizer, qf_optimizer = StackedAdam(actor.parameter_list(), learning_rates), StackedAdam(
        qf.parameter_list(), learning_rates)
    critic_gradients_of, actor_gradients_of = batched.ddpg_gradients(ddpg, actor, qf, compile=False)
    for _ in range(3):
        gradients, (losses, _) = critic_gradients_of(qf.params, target_actor, target_qf, actor.buffers, qf.buffers,
                                                     data, torch.tensor([0.99, 0.9, 0.95]))
        batched.apply_gradients(qf_optimizer, list(gradients.values()), losses, [actor_optimizer])
        gradients, _ = actor_gradients_of(actor.params, qf.params, actor.buffers, qf.buffers, data.observations)
        actor_optimizer.step(list(gradients.values()))
    return [actor.parameter_list(), qf.parameter_list(), *(
        getattr(optimizer, moments) for optimizer in (actor_optimizer, qf_optimizer)
        for moments in ("exp_avg", "exp_avg_sq"))]


def test_changing_one_member_s_batch_leaves_every_other_member_bit_identical(ddpg):
    data = minibatches(3, 32)
    changed = [field.clone() for field in data]
    changed[0][0] += 1.0  # member 0's observations
    changed[4][0] *= -3.0  # and its rewards
    state, other_state = learning_state(ddpg, data), learning_state(ddpg, Samples(*changed))
    assert not torch.equal(state[0][0][0], other_state[0][0][0]) and not torch.equal(state[1][0][0], other_state[1][0][0])
    for tensors, other_tensors in zip(state, other_state):
        for tensor, other_tensor in zip(tensors, other_tensors):
            assert torch.equal(tensor[1:], other_tensor[1:])


def short_args(ddpg, tmp_path, **overrides):
    settings = dict(total_timesteps=1600, learning_starts=800, train_frequency=2, buffer_size=2000, batch_size=32,
                    hidden_sizes=(32, 32), eval_episodes=1, eval_frequency=2000, log_dir=str(tmp_path),
                    progress=False, device="cpu")
    return ddpg.Args(**{**settings, **overrides})


@pytest.mark.parametrize("num_envs", [1, 4])
def test_every_stored_transition_of_every_member_is_real(ddpg, tmp_path, num_envs):
    # Drift terminates when |x| > 1; an 8-step limit truncates the rest
    args = short_args(ddpg, tmp_path, env_id=DRIFT, max_episode_steps=8, num_envs=num_envs)
    summaries = batched.train_ddpg(ddpg, "ddpg", args, [{"seed": 1}, {"seed": 2, "noise": "ou"}])
    buffer = summaries[0]["replay_buffer"]
    for member, summary in enumerate(summaries):
        assert int(buffer.size[member]) == 1600 and summary["gradient_steps"] == 400
        terminations = member_transitions_are_real(buffer, member, drift_step)
        truncations = len(summary["episodic_returns"]) - terminations
        assert terminations > 30 and truncations > 30
    assert not torch.equal(buffer.observations[0, :50], buffer.observations[1, :50])


def test_pendulum_time_limits_are_no_terminations(ddpg, tmp_path):
    args = short_args(ddpg, tmp_path, env_id="Pendulum-v1", max_episode_steps=15, num_envs=2)
    summaries = batched.train_ddpg(ddpg, "ddpg", args, [{"seed": 1}, {"seed": 2}])
    buffer = summaries[0]["replay_buffer"]
    for member, summary in enumerate(summaries):
        assert member_transitions_are_real(buffer, member, pendulum_dynamics()) == 0
        assert len(summary["episodic_returns"]) == 2 * (800 // 15) and int(buffer.size[member]) == 1600


def test_members_with_their_own_hyperparameters(ddpg, tmp_path):
    args = short_args(ddpg, tmp_path, env_id="Pendulum-v1", total_timesteps=1000, learning_starts=500)
    members = [{"seed": 1, "learning_rate": 0.0}, {"seed": 1}, {"seed": 2, "tau": 1.0, "exploration_noise": 0.5}]
    summaries = batched.train_ddpg(ddpg, "ddpg", args, members)
    torch.manual_seed(1)  # learning rate 0: the actor and the critic stay as seed 1 starts them
    initial_actor = ddpg.Actor(3, np.array([-2.0]), np.array([2.0]), (32, 32))
    initial_qf = ddpg.QNetwork(3, 1, (32, 32))
    for name, initial in (("actor", initial_actor), ("qf", initial_qf)):
        for parameter, start in zip(summaries[0][name].parameters(), initial.parameters()):
            assert torch.equal(parameter, start)
        for parameter, start in zip(summaries[1][name].parameters(), initial.parameters()):
            assert not torch.equal(parameter, start)
    assert [s["args"]["learning_rate"] for s in summaries] == [0.0, 1e-3, 1e-3]
    assert summaries[2]["args"]["tau"] == 1.0 and summaries[2]["args"]["exploration_noise"] == 0.5
    # the same seed, the same random warm-up: members 0 and 1 store the same first transitions
    buffer = summaries[0]["replay_buffer"]
    assert torch.equal(buffer.actions[0, :500], buffer.actions[1, :500])
    assert not torch.equal(buffer.actions[0, :500], buffer.actions[2, :500])


def test_a_member_whose_loss_is_not_finite_stops_and_the_others_go_on(ddpg, tmp_path):
    args = short_args(ddpg, tmp_path, env_id="Pendulum-v1", total_timesteps=1000, learning_starts=300)
    summaries = batched.train_ddpg(ddpg, "ddpg", args, [{"seed": 1, "learning_rate": 1e30}, {"seed": 2}])
    assert summaries[0]["status"].startswith("non-finite loss at step ")
    assert summaries[0]["global_step"] < 1000 and summaries[0]["eval_returns"] == []
    assert summaries[1]["status"] == "completed" and summaries[1]["global_step"] == 1000
    assert read_summary(tmp_path / summaries[0]["run_dir"].split("/")[-1])["status"] == summaries[0]["status"]


def test_members_learn_pendulum_in_one_process(ddpg, tmp_path):
    # test_ddpg_training's quick settings, five seeds compiled as the command line runs them; uniformly
    # random torques average about −1360 over these evaluation episodes
    args = ddpg.Args(env_id="Pendulum-v1", total_timesteps=5000, learning_starts=1000, hidden_sizes=(64, 64),
                     batch_size=128, learning_rate=2e-3, tau=0.01, eval_frequency=5000, log_dir=str(tmp_path),
                     progress=False, device="cpu")
    summaries = batched.train_ddpg(ddpg, "ddpg", args, [{"seed": seed} for seed in range(1, 6)], compile=True)
    finals = [summary["eval_mean"] for summary in summaries]
    assert sum(final >= -300 for final in finals) >= 4, finals


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("compile", [False, True])
def test_cuda_members_train_with_networks_and_buffer_on_the_gpu(ddpg, tmp_path, compile):
    args = short_args(ddpg, tmp_path, env_id="Pendulum-v1", device="cuda")
    summaries = batched.train_ddpg(ddpg, "ddpg", args, [{"seed": 1}, {"seed": 2, "noise": "ou"}], compile=compile)
    assert [summary["status"] for summary in summaries] == ["completed", "completed"]
    assert all(summary["gradient_steps"] == 400 for summary in summaries)
    assert summaries[0]["replay_buffer"].observations.is_cuda
    assert all(next(summary["actor"].parameters()).is_cuda and next(summary["qf"].parameters()).is_cuda
               for summary in summaries)


def test_command_line_runs_ddpg_members(tmp_path, capsys):
    assert batched.main(["--algorithm", "ddpg", "--seeds", "3", "4", "--total-timesteps", "400", "--learning-starts",
                         "200", "--hidden-sizes", "16", "--batch-size", "16", "--eval-episodes", "1", "--log-dir",
                         str(tmp_path / "runs"), "--no-compile", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert out.count("greedy evaluation") == 2 and "seed 3:" in out and "seed 4:" in out
    folders = run_dirs(tmp_path / "runs")
    assert [folder.name.split("__")[1:3] for folder in folders] == [["ddpg", "3"], ["ddpg", "4"]]
    assert all(read_summary(folder)["global_step"] == 400 for folder in folders)
    for argv, message in ((["--env-id", "CartPole-v1"], "needs a Box action space"),
                          (["--exploration-noise", "-1"], "--exploration-noise and --ou-theta must be >= 0")):
        assert batched.main(["--algorithm", "ddpg", *argv, "--log-dir", str(tmp_path / "bad")]) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], lines
    assert not (tmp_path / "bad").exists()


def test_each_member_s_ou_noise_restarts_with_its_own_episodes(ddpg, tmp_path):
    # No gradient step keeps μ at the initial actor, so an action minus μ(obs) is the member's noise itself:
    # one step of σ √dt ε at an episode's start, then ρ times the last noise plus a fresh one, ρ = 1 − θ dt
    args = short_args(ddpg, tmp_path, env_id=DRIFT, max_episode_steps=8, total_timesteps=4000, buffer_size=4000,
                      learning_starts=0, train_frequency=10**9, noise="ou", exploration_noise=0.1, ou_dt=0.5)
    summaries = batched.train_ddpg(ddpg, "ddpg", args, [{"seed": 1}, {"seed": 2}])
    buffer, step_std = summaries[0]["replay_buffer"], 0.1 * np.sqrt(0.5) * np.array([2.0, 1.0])
    for member, summary in enumerate(summaries):
        observations = buffer.observations[member, :4000]
        with torch.no_grad():
            residuals = (buffer.actions[member, :4000] - summary["actor"](observations)).numpy()
        starts = np.ones(4000, dtype=bool)
        starts[1:] = (buffer.next_observations[member, :3999] != observations[1:]).any(dim=-1).numpy()
        assert summary["gradient_steps"] == 0 and starts.sum() > 400
        np.testing.assert_allclose(residuals[starts].std(axis=0), step_std, rtol=0.1)
        continuing = ~starts[1:]
        innovations = residuals[1:][continuing] - (1 - 0.15 * 0.5) * residuals[:-1][continuing]
        np.testing.assert_allclose(innovations.std(axis=0), step_std, rtol=0.1)
