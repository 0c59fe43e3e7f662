"""benchmarks/batched.py: many members of one algorithm in one process, each its own run of the
script's algorithm. The pieces against the scripts' own (TD targets, losses, Adam, clipping), the
members' independence, the stored transitions, learning, and the command line."""

import copy
import math
import sys

import numpy as np
import pytest
import torch

from benchmarks import batched
from benchmarks.members import (MemberReplayBuffer, Samples, StackedAdam, StackedNetworks, UsageError, clip_grad_norms,
                                member_values)
from tests.conftest import DQN_FAMILY
from tests.helpers import cartpole_step, member_transitions_are_real, read_summary, run_dirs

OBS_DIM, N_ACTIONS, HIDDEN = 4, 2, (16, 16)


def member_networks(module, seeds: list[int], hidden: tuple[int, ...] = HIDDEN) -> list[torch.nn.Module]:
    """Q-networks as the scripts start them for each seed."""
    networks = []
    for seed in seeds:
        torch.manual_seed(seed)
        networks.append(module.QNetwork(OBS_DIM, N_ACTIONS, hidden))
    return networks


def minibatches(n_members: int, batch: int, seed: int = 0) -> Samples:
    """A random minibatch per member, fields (N, batch, ...) as MemberReplayBuffer.sample gives them."""
    generator = torch.Generator().manual_seed(seed)
    buffer = MemberReplayBuffer(n_members, batch, (OBS_DIM,), (1,), torch.long, torch.device("cpu"), seed)
    buffer.observations.copy_(torch.randn(buffer.observations.shape, generator=generator))
    buffer.next_observations.copy_(torch.randn(buffer.observations.shape, generator=generator))
    buffer.actions.copy_(torch.randint(N_ACTIONS, buffer.actions.shape, generator=generator))
    buffer.rewards.copy_(torch.randn(buffer.rewards.shape, generator=generator))
    buffer.dones.copy_((torch.rand(buffer.dones.shape, generator=generator) < 0.3).float())
    return Samples(buffer.observations, buffer.actions, buffer.next_observations,
                               buffer.dones[..., None], buffer.rewards[..., None])


def member_data(data: Samples, i: int) -> Samples:
    return Samples(*(field[i] for field in data))


@pytest.fixture(params=DQN_FAMILY)
def family(request):
    return request.param, batched.load_algorithm(request.param)


CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=CUDA)])
def test_td_targets_and_losses_of_each_member_are_the_script_s_own(family, device):
    name, module = family
    networks = [network.to(device) for network in member_networks(module, [1, 2, 3])]
    targets = [network.to(device) for network in member_networks(module, [11, 12, 13])]
    q_network, target_network = StackedNetworks(networks), StackedNetworks(targets)
    data = Samples(*(field.to(device) for field in minibatches(3, 32)))
    gammas = torch.tensor([0.99, 0.9, 0.5], device=device)

    def member_loss(params, target, buffers, one, gamma):
        return module.td_loss(q_network.function(params, buffers), q_network.function(target, buffers), one, gamma,
                              "huber")

    def member_target(params, target, buffers, rewards, next_obs, dones, gamma):
        functions = ((q_network.function(target, buffers),) if name == "dqn"
                     else (q_network.function(params, buffers), q_network.function(target, buffers)))
        return module.td_target(*functions, rewards, next_obs, dones, gamma)

    stacks = (q_network.params, target_network.params, q_network.buffers)
    losses, q_taken = torch.func.vmap(member_loss)(*stacks, data, gammas)
    td_targets = torch.func.vmap(member_target)(*stacks, data.rewards.flatten(1), data.next_observations,
                                                data.dones.flatten(1), gammas)
    for i in range(3):
        # the networks are views of the stacks: the script's own functions on them are the reference
        one, gamma = member_data(data, i), float(gammas[i])
        loss, expected_q = module.td_loss(networks[i], targets[i], one, gamma, "huber")
        torch.testing.assert_close(losses[i], loss, atol=1e-6, rtol=1e-6)
        torch.testing.assert_close(q_taken[i], expected_q, atol=1e-6, rtol=1e-6)
        target_networks = (targets[i],) if name == "dqn" else (networks[i], targets[i])
        expected_target = module.td_target(*target_networks, one.rewards.flatten(), one.next_observations,
                                           one.dones.flatten(), gamma)
        torch.testing.assert_close(td_targets[i], expected_target, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("annealed", [False, True])
def test_the_stacked_adam_step_is_each_member_s_own_adam_step(dqn, annealed):
    networks = member_networks(dqn, [1, 2, 3])
    references = [copy.deepcopy(network) for network in networks]
    learning_rates = [1e-3, 3e-4, 1e-2]
    reference_optimizers = [torch.optim.Adam(network.parameters(), lr=lr, fused=True)
                            for network, lr in zip(references, learning_rates)]
    stacked = StackedNetworks(networks)
    optimizer = StackedAdam(stacked.parameter_list(), torch.tensor(learning_rates))
    generator = torch.Generator().manual_seed(0)
    for k in range(20):
        scale = 1.0 - k / 20 if annealed else 1.0  # as --anneal-lr scales every member's rate
        optimizer.lr_scale = scale
        gradients = [torch.randn(p.shape, generator=generator) for p in stacked.parameter_list()]
        optimizer.step(gradients)
        for i, (network, reference_optimizer) in enumerate(zip(references, reference_optimizers)):
            reference_optimizer.param_groups[0]["lr"] = learning_rates[i] * scale
            for parameter, gradient in zip(network.parameters(), gradients):
                parameter.grad = gradient[i].clone()
            reference_optimizer.step()
    for network, reference in zip(networks, references):
        for parameter, expected in zip(network.parameters(), reference.parameters()):
            torch.testing.assert_close(parameter, expected, atol=1e-6, rtol=0)


def test_each_member_s_gradients_are_clipped_to_its_own_norm(dqn):
    networks = member_networks(dqn, [1, 2, 3])
    gradients = [torch.randn(3, *p.shape) * 10 for p in networks[0].parameters()]
    max_norms = torch.tensor([1.0, math.inf, 0.5])
    clipped = clip_grad_norms(gradients, max_norms)
    for i, max_norm in enumerate([1.0, None, 0.5]):
        reference = copy.deepcopy(networks[i])
        for parameter, gradient in zip(reference.parameters(), gradients):
            parameter.grad = gradient[i].clone()
        if max_norm is not None:
            torch.nn.utils.clip_grad_norm_(reference.parameters(), max_norm)
        for parameter, gradient in zip(reference.parameters(), clipped):
            torch.testing.assert_close(gradient[i], parameter.grad, atol=1e-6, rtol=1e-6)


def learning_step_state(module, data: Samples):
    """Three members after three of their learning steps on `data`."""
    networks = member_networks(module, [1, 2, 3])
    q_network = StackedNetworks(networks)
    targets = q_network.clone_params()
    optimizer = StackedAdam(q_network.parameter_list(), torch.tensor([1e-3, 3e-4, 1e-2]))
    gradients_of = batched.dqn_gradients(module, q_network, "mse", compile=False)
    for _ in range(3):
        batched.dqn_learning_step(gradients_of, q_network, targets, optimizer, data, torch.tensor([0.99, 0.9, 0.95]),
                                  torch.tensor([10.0, math.inf, 1.0]))
    return q_network, optimizer


@pytest.mark.parametrize("name", DQN_FAMILY)
def test_changing_one_member_s_batch_leaves_every_other_member_bit_identical(name):
    module = batched.load_algorithm(name)
    data = minibatches(3, 32)
    changed = [field.clone() for field in data]
    changed[0][0] += 1.0  # member 0's observations
    changed[4][0] *= -3.0  # and its rewards
    q_network, optimizer = learning_step_state(module, data)
    other_q_network, other_optimizer = learning_step_state(module, Samples(*changed))
    first = next(iter(q_network.params))
    assert not torch.equal(q_network.params[first][0], other_q_network.params[first][0])
    for stack, other in ((q_network.parameter_list(), other_q_network.parameter_list()),
                         (optimizer.exp_avg, other_optimizer.exp_avg), (optimizer.exp_avg_sq, other_optimizer.exp_avg_sq)):
        for tensor, other_tensor in zip(stack, other):
            assert torch.equal(tensor[1:], other_tensor[1:])


def test_a_member_s_buffer_holds_only_its_own_transitions():
    buffer = MemberReplayBuffer(3, 10, (2,), (1,), torch.long, torch.device("cpu"), seed=0)
    for t in range(4):
        obs = np.array([[[m, t], [m, t + 0.5]] for m in range(3)], dtype=np.float32)  # (N, num_envs, obs_dim)
        valid = np.array([[True, t % 2 == 0], [True, True], [False, True]])
        buffer.add(obs, obs + 1, np.full((3, 2, 1), t), np.full((3, 2), float(t)), np.zeros((3, 2)), valid)
    assert buffer.size.tolist() == [6, 8, 4]
    for m in range(3):
        assert (buffer.observations[m, :buffer.size[m], 0] == m).all()
    sample = buffer.sample(64)
    for m in range(3):
        assert (sample.observations[m, :, 0] == m).all()
        torch.testing.assert_close(sample.next_observations[m], sample.observations[m] + 1)


def real_transition_count(buffer, member: int) -> int:
    """Every transition of a member's buffer is a real CartPole step (member_transitions_are_real)."""
    return member_transitions_are_real(buffer, member, cartpole_step)


@pytest.mark.parametrize("backend, num_envs", [("sync", 1), ("sync", 4), ("numpy", 1), ("numpy", 4), ("envpool", 1),
                                               ("envpool", 4)])
def test_every_stored_transition_of_every_member_is_real(dqn, tmp_path, backend, num_envs):
    if backend == "envpool":
        pytest.importorskip("envpool", reason="envpool is not installed (pip install 'algozoo[envpool]')")
    # a 15-step limit and ε >= 0.5 make episodes end both ways often
    args = dqn.Args(env_id="CartPole-v1", max_episode_steps=15, num_envs=num_envs, total_timesteps=1600, end_e=0.5,
                    exploration_fraction=1.0, learning_starts=400, buffer_size=4000, batch_size=16, hidden_sizes=(16,),
                    eval_episodes=1, eval_frequency=1600, log_dir=str(tmp_path), device="cpu")
    summaries = batched.train_dqn_family(dqn, "dqn", args, [{"seed": 1}, {"seed": 2}], backend)
    buffer = summaries[0]["replay_buffer"]
    for member, summary in enumerate(summaries):
        terminations = real_transition_count(buffer, member)
        returns = summary["episodic_returns"]  # CartPole pays 1 a step: a return of 15 is a truncation
        truncations = sum(r == 15 for r in returns)
        assert terminations > 10 and truncations > 10
        # every step is one transition, but for the reset steps of NEXT_STEP autoreset
        resets = len(returns) if backend == "numpy" else 0
        assert abs(int(buffer.size[member]) - (1600 - resets)) <= num_envs
    assert not torch.equal(buffer.observations[0, :50], buffer.observations[1, :50])


def test_members_with_their_own_hyperparameters(dqn, tmp_path):
    args = dqn.Args(env_id="CartPole-v1", total_timesteps=1200, learning_starts=200, hidden_sizes=(16,),
                    eval_episodes=1, eval_frequency=1200, log_dir=str(tmp_path), device="cpu")
    members = [{"seed": 1, "learning_rate": 0.0}, {"seed": 1}, {"seed": 2, "tau": 1.0, "max_grad_norm": 0.1}]
    summaries = batched.train_dqn_family(dqn, "dqn", args, members, "sync")
    initial = member_networks(dqn, [1], hidden=(16,))[0]  # learning rate 0: the network stays as seed 1 starts it
    for parameter, start in zip(summaries[0]["q_network"].parameters(), initial.parameters()):
        assert torch.equal(parameter, start)
    for parameter, start in zip(summaries[1]["q_network"].parameters(), initial.parameters()):
        assert not torch.equal(parameter, start)
    assert [s["args"]["learning_rate"] for s in summaries] == [0.0, 1e-3, 1e-3]
    assert summaries[2]["args"]["tau"] == 1.0 and summaries[2]["args"]["max_grad_norm"] == 0.1
    assert len({s["run_dir"] for s in summaries}) == 3


def test_members_take_the_script_s_gradient_steps_per_round(dqn, tmp_path):
    args = dqn.Args(env_id="CartPole-v1", total_timesteps=1200, learning_starts=200, train_frequency=4,
                    gradient_steps=3, hidden_sizes=(16,), eval_episodes=1, eval_frequency=1200, log_dir=str(tmp_path),
                    device="cpu")
    summaries = batched.train_dqn_family(dqn, "dqn", args, [{"seed": 1}, {"seed": 2}], "sync")
    # rounds at env steps 204, 208, …, 1200: 250 rounds of 3 steps, as the script takes them
    assert [s["gradient_steps"] for s in summaries] == [750, 750]
    assert dqn.train(args)["gradient_steps"] == 750


def test_annealing_scales_every_member_s_learning_rate_as_the_script_does(dqn, tmp_path, monkeypatch):
    args = dqn.Args(env_id="CartPole-v1", total_timesteps=1200, learning_starts=200, train_frequency=1, anneal_lr=True,
                    hidden_sizes=(16,), eval_episodes=1, eval_frequency=1200, log_dir=str(tmp_path), device="cpu")
    scales, step = [], StackedAdam.step

    def recording_step(self, grads):
        scales.append(self.lr_scale)
        step(self, grads)

    monkeypatch.setattr(StackedAdam, "step", recording_step)
    batched.train_dqn_family(dqn, "dqn", args, [{"seed": 1, "learning_rate": 1e-3}, {"seed": 2}], "sync")
    # one gradient step at each of env steps 201, …, 1200, at learning_rate (1 - step / 1200) as dqn.py's
    assert scales == pytest.approx([1 - step / 1200 for step in range(201, 1201)], rel=1e-12)


def test_a_member_whose_loss_is_not_finite_stops_and_the_others_go_on(dqn, tmp_path):
    args = dqn.Args(env_id="CartPole-v1", total_timesteps=800, learning_starts=200, hidden_sizes=(16,),
                    eval_episodes=1, eval_frequency=800, log_dir=str(tmp_path), device="cpu")
    summaries = batched.train_dqn_family(dqn, "dqn", args, [{"seed": 1, "learning_rate": 1e30}, {"seed": 2}], "sync")
    assert summaries[0]["status"].startswith("non-finite loss at step ")
    assert summaries[0]["global_step"] < 800 and summaries[0]["eval_returns"] == []
    assert summaries[1]["status"] == "completed" and summaries[1]["global_step"] == 800
    assert read_summary(tmp_path / summaries[0]["run_dir"].split("/")[-1])["status"] == summaries[0]["status"]


def test_only_the_member_options_may_differ(dqn, tmp_path):
    args = dqn.Args(log_dir=str(tmp_path))
    with pytest.raises(UsageError, match="--batch-size is one value for all members"):
        batched.train_dqn_family(dqn, "dqn", args, [{"seed": 1}, {"seed": 2, "batch_size": 32}])
    with pytest.raises(dqn.UsageError, match="--tau must be in"):
        batched.train_dqn_family(dqn, "dqn", args, [{"seed": 1}, {"seed": 2, "tau": 2.0}])
    assert not run_dirs(tmp_path)


def test_member_values_are_per_member(dqn):
    values = member_values([dqn.Args(max_grad_norm=None), dqn.Args(max_grad_norm=2.0)], "max_grad_norm",
                           torch.device("cpu"), missing=math.inf)
    assert values.tolist() == [math.inf, 2.0]


def test_dqn_defaults_learn_cartpole_in_one_process(dqn, tmp_path):
    # the script's defaults, five seeds, compiled as the command line runs them: at least four reach
    # the 475 that marks CartPole-v1 solved
    args = dqn.Args(log_dir=str(tmp_path), device="cpu", progress=False)
    summaries = batched.train_dqn_family(dqn, "dqn", args, [{"seed": seed} for seed in range(1, 6)], compile=True)
    finals = [summary["eval_mean"] for summary in summaries]
    assert sum(final >= 475 for final in finals) >= 4, finals


@CUDA
@pytest.mark.parametrize("compile", [False, True])
def test_cuda_members_train_with_networks_and_buffer_on_the_gpu(dqn, tmp_path, compile):
    args = dqn.Args(env_id="CartPole-v1", total_timesteps=1200, learning_starts=200, hidden_sizes=(16,),
                    eval_episodes=1, eval_frequency=1200, log_dir=str(tmp_path), device="cuda", progress=False)
    summaries = batched.train_dqn_family(dqn, "dqn", args, [{"seed": 1}, {"seed": 2}], compile=compile)
    assert [summary["status"] for summary in summaries] == ["completed", "completed"]
    assert all(summary["gradient_steps"] == 500 for summary in summaries)  # a step every 2 env steps after 200
    assert summaries[0]["replay_buffer"].observations.is_cuda
    assert all(next(summary["q_network"].parameters()).is_cuda for summary in summaries)


def test_command_line_runs_members_and_rejects_bad_input(tmp_path, capsys):
    assert batched.main(["--algorithm", "dqn", "--seeds", "3", "4", "--total-timesteps", "600", "--learning-starts",
                         "200", "--hidden-sizes", "16", "--eval-episodes", "1", "--log-dir", str(tmp_path / "runs"), "--no-compile",
                         "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert out.count("greedy evaluation") == 2 and "seed 3:" in out and "seed 4:" in out
    folders = run_dirs(tmp_path / "runs")
    assert [folder.name.split("__")[2] for folder in folders] == ["3", "4"]
    assert all(read_summary(folder)["global_step"] == 600 for folder in folders)

    for argv, message in ((["--seeds", "1"], "--algorithm is required"),
                          (["--algorithm", "sac"], "does not run batched"),
                          (["--algorithm", "dqn", "--num-envs", "0"], "--num-envs must be positive"),
                          (["--algorithm", "dqn", "--env-id", "Acrobot-v1", "--env-backend", "numpy"],
                           "has no NumPy vector implementation")):
        assert batched.main(argv + ["--log-dir", str(tmp_path / "bad")]) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and message in lines[0] and "Traceback" not in lines[0], lines
    assert not (tmp_path / "bad").exists()


def test_numpy_backend_exists_only_where_the_env_has_it():
    assert batched.env_backend("auto", "CartPole-v1", 16) == "numpy"
    assert batched.env_backend("sync", "CartPole-v1", 16) == "sync"
    with pytest.raises(UsageError, match="no NumPy vector implementation"):
        batched.env_backend("numpy", "Acrobot-v1", 16)


def test_auto_takes_envpool_where_it_has_the_env_and_enough_copies_and_else_sync(monkeypatch):
    pytest.importorskip("envpool", reason="envpool is not installed (pip install 'algozoo[envpool]')")
    assert batched.env_backend("auto", "Acrobot-v1", 4) == "envpool"
    assert batched.env_backend("auto", "Acrobot-v1", 3) == "sync"  # fewer copies step faster in SyncVectorEnv
    assert batched.env_backend("envpool", "CartPole-v1", 1) == "envpool"
    assert batched.env_backend("auto", "Pendulum-v1", 16) == "sync"  # envpool's differs from gymnasium's
    with pytest.raises(UsageError, match="Pendulum-v1 is not one of envpool's envs checked against gymnasium's"):
        batched.env_backend("envpool", "Pendulum-v1", 16)
    monkeypatch.setitem(sys.modules, "envpool", None)  # as where it is not installed
    assert batched.env_backend("auto", "Acrobot-v1", 16) == "sync"
    with pytest.raises(UsageError, match=r"needs envpool: pip install 'algozoo\[envpool\]'"):
        batched.env_backend("envpool", "Acrobot-v1", 16)
