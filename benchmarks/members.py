"""The member axis of a batched run: N independent runs of one algorithm in one process.

A member is one run of an algos/ script: its own seed and scalar hyperparameters, env copies,
replay buffer, networks, target networks and optimizer state, run folder and summary.json.
What the members share is the shape of the computation (network sizes, buffer size, batch
size, step counts), so that their tensors stack on a leading member axis (N, ...) and each
step of all N runs is one vectorized step. The pieces here hold that axis; the algorithms'
own functions (networks, TD targets, losses) come from the scripts, mapped over it by
benchmarks/batched.py.
"""

import copy
import dataclasses
from types import ModuleType
from typing import Any, Callable, NamedTuple

import gymnasium as gym
import numpy as np
import torch
import torch.nn as nn
from gymnasium.vector import AutoresetMode
from torch.func import functional_call, stack_module_state, vmap

# The options each member may set for itself, per algorithm: scalars that enter the
# computation as numbers, and where its run is written. Everything else (network sizes, buffer
# and batch sizes, step counts, frequencies, the env) is one value for all members.
RUN_OPTIONS = ("seed", "exp_name", "log_dir", "video_dir")
DQN_OPTIONS = ("learning_rate", "gamma", "tau", "start_e", "end_e", "exploration_fraction", "max_grad_norm")
DDPG_OPTIONS = ("learning_rate", "gamma", "tau", "noise", "exploration_noise", "ou_theta", "ou_dt")
MEMBER_OPTIONS: dict[str, tuple[str, ...]] = {
    "dqn": RUN_OPTIONS + DQN_OPTIONS, "double_dqn": RUN_OPTIONS + DQN_OPTIONS, "dueling_dqn": RUN_OPTIONS + DQN_OPTIONS,
    "ddpg": RUN_OPTIONS + DDPG_OPTIONS,
}


class UsageError(Exception):
    """Bad input: reported as one line on stderr with exit status 2."""


def member_args(module: ModuleType, algorithm: str, args: Any, members: list[dict]) -> list[Any]:
    """One Args per member: `args` with the member's own options; each checked as the script checks it."""
    if not members:
        raise UsageError("a batched run needs at least one member")
    allowed = MEMBER_OPTIONS[algorithm]
    for member in members:
        for name in member:
            if name not in allowed:
                raise UsageError(f"--{name.replace('_', '-')} is one value for all members of a batched "
                                 f"{algorithm} run; a member may set {', '.join(allowed)}")
    result = [dataclasses.replace(args, **member) for member in members]
    for one in result:
        module.check_args(one)
    return result


def member_values(all_args: list[Any], name: str, device: torch.device, missing: float = float("nan")) -> torch.Tensor:
    """One option's value per member, shape (N,), float32 on `device`; None becomes `missing`."""
    values = [missing if getattr(one, name) is None else getattr(one, name) for one in all_args]
    return torch.tensor(values, dtype=torch.float32, device=device)


def broadcastable(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Per-member values (N,) shaped (N, 1, ..., 1) to broadcast against a stacked tensor like (N, ...)."""
    return values.view(-1, *([1] * (like.dim() - 1)))


class StackedNetworks:
    """N networks of one architecture as one: their parameters and buffers stacked on a leading
    member axis (N, ...). Each member's own network module stays usable (evaluation, saving):
    its parameters become views of its slice, so every update of the stack shows in it."""

    def __init__(self, networks: list[nn.Module]):
        params, buffers = stack_module_state(networks)
        self.params = {name: tensor.detach() for name, tensor in params.items()}
        self.buffers = buffers
        self.networks = networks
        for i, network in enumerate(networks):
            for name, parameter in network.named_parameters():
                parameter.data = self.params[name][i]
        self.base = copy.deepcopy(networks[0]).to("meta")

    def function(self, params: dict[str, torch.Tensor], buffers: dict[str, torch.Tensor]) -> Callable[..., torch.Tensor]:
        """One member's network as a function of its own parameters and buffers (inside vmap)."""
        return lambda *inputs: functional_call(self.base, {**params, **buffers}, inputs)

    def __call__(self, *inputs: torch.Tensor, params: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """Every member's network on its own inputs: inputs (N, batch, ...) → (N, batch, ...)."""
        params = self.params if params is None else params
        return vmap(lambda p, b, *x: self.function(p, b)(*x))(params, self.buffers, *inputs)

    def parameter_list(self, params: dict[str, torch.Tensor] | None = None) -> list[torch.Tensor]:
        return list((self.params if params is None else params).values())

    def clone_params(self) -> dict[str, torch.Tensor]:
        return {name: tensor.clone() for name, tensor in self.params.items()}

    def state_dict(self, i: int) -> dict[str, torch.Tensor]:
        """Member i's network state, copied out of the stack (a view would save all N members)."""
        return {name: tensor.detach().clone() for name, tensor in self.networks[i].state_dict().items()}


class StackedAdam:
    """torch.optim.Adam's update (no weight decay, no amsgrad) on parameters stacked over members,
    each member with its own learning rate, shape (N,), times lr_scale, one for all members (an
    annealing schedule's fraction left). A member whose rate is 0 stands still."""

    def __init__(self, params: list[torch.Tensor], lr: torch.Tensor, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8):
        self.params, self.betas, self.eps = params, betas, eps
        self.lr = [broadcastable(lr, p).clone() for p in params]
        self.exp_avg = [torch.zeros_like(p) for p in params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in params]
        self.steps = 0
        self.lr_scale = 1.0

    def freeze(self, member: int) -> None:
        for lr in self.lr:
            lr[member] = 0.0

    @torch.no_grad()
    def step(self, grads: list[torch.Tensor]) -> None:
        beta1, beta2 = self.betas
        self.steps += 1
        bias_correction1 = 1 - beta1 ** self.steps
        bias_correction2_sqrt = (1 - beta2 ** self.steps) ** 0.5
        torch._foreach_lerp_(self.exp_avg, grads, 1 - beta1)
        torch._foreach_mul_(self.exp_avg_sq, beta2)
        torch._foreach_addcmul_(self.exp_avg_sq, grads, grads, 1 - beta2)
        denominators = torch._foreach_sqrt(self.exp_avg_sq)
        torch._foreach_div_(denominators, bias_correction2_sqrt)
        torch._foreach_add_(denominators, self.eps)
        for param, exp_avg, denominator, lr in zip(self.params, self.exp_avg, denominators, self.lr):
            param.addcdiv_(exp_avg * (lr * self.lr_scale / bias_correction1), denominator, value=-1.0)


def clip_grad_norms(grads: list[torch.Tensor], max_norms: torch.Tensor) -> list[torch.Tensor]:
    """Each member's gradients scaled as torch.nn.utils.clip_grad_norm_ scales one network's: to a
    global norm of at most max_norms (N,) (inf: no clipping)."""
    norms = torch.stack([grad.flatten(1).square().sum(1) for grad in grads]).sum(0).sqrt()
    scale = (max_norms / (norms + 1e-6)).clamp(max=1.0)
    return [grad * broadcastable(scale, grad) for grad in grads]


class Samples(NamedTuple):
    """A minibatch per member, fields (N, batch, ...): stable-baselines3's ReplayBufferSamples as the
    scripts' learning steps read it, each field a tensor that vmap maps over."""

    observations: torch.Tensor
    actions: torch.Tensor
    next_observations: torch.Tensor
    dones: torch.Tensor  # (N, batch, 1): terminations only
    rewards: torch.Tensor  # (N, batch, 1)


class MemberReplayBuffer:
    """A replay buffer per member, as tensors with a member axis: (N, capacity, ...). A member
    samples uniformly from its own stored transitions, as stable-baselines3's ReplayBuffer does."""

    def __init__(self, n_members: int, capacity: int, obs_shape: tuple[int, ...], action_shape: tuple[int, ...],
                 action_dtype: torch.dtype, device: torch.device, seed: int):
        self.n_members, self.capacity, self.device = n_members, capacity, device
        self.observations = torch.zeros((n_members, capacity, *obs_shape), dtype=torch.float32, device=device)
        self.next_observations = torch.zeros_like(self.observations)
        self.actions = torch.zeros((n_members, capacity, *action_shape), dtype=action_dtype, device=device)
        self.rewards = torch.zeros((n_members, capacity), dtype=torch.float32, device=device)
        self.dones = torch.zeros((n_members, capacity), dtype=torch.float32, device=device)
        self.write_pos = np.zeros(n_members, dtype=np.int64)  # where each member's next transition goes
        self.stored = np.zeros(n_members, dtype=np.int64)
        self.size = torch.zeros(n_members, dtype=torch.long, device=device)  # transitions each member holds
        self.members = torch.arange(n_members, device=device)
        self.generator = torch.Generator(device).manual_seed(seed)

    def add(self, obs: np.ndarray, next_obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray,
            terminations: np.ndarray, valid: np.ndarray | None = None) -> None:
        """One vector step: arrays (N, num_envs, ...); `valid` (N, num_envs) marks the copies whose
        step is a transition (None: all of them)."""
        n, e = obs.shape[:2]
        valid = np.ones((n, e), dtype=bool) if valid is None else valid
        offsets = np.cumsum(valid, axis=1) - 1
        member, copy = np.nonzero(valid)
        index = torch.as_tensor((self.write_pos[member] + offsets[member, copy]) % self.capacity, device=self.device)
        member_t = torch.as_tensor(member, device=self.device)
        for storage, values in ((self.observations, obs), (self.next_observations, next_obs), (self.actions, actions),
                                (self.rewards, rewards), (self.dones, terminations)):
            storage[member_t, index] = torch.as_tensor(np.asarray(values)[member, copy], device=self.device).to(storage.dtype)
        counts = valid.sum(axis=1)
        self.write_pos = (self.write_pos + counts) % self.capacity
        self.stored = np.minimum(self.stored + counts, self.capacity)
        self.size = torch.as_tensor(self.stored, device=self.device)

    def sample(self, batch_size: int) -> Samples:
        """batch_size transitions per member, drawn uniformly from its own: fields (N, batch, ...)."""
        uniform = torch.rand((self.n_members, batch_size), generator=self.generator, device=self.device)
        index = (uniform * self.size[:, None]).long()
        rows = self.members[:, None]
        return Samples(self.observations[rows, index], self.actions[rows, index], self.next_observations[rows, index],
                       self.dones[rows, index][..., None], self.rewards[rows, index][..., None])


class VectorStep(NamedTuple):
    """One step of every member's copies, arrays (N * num_envs, ...) in member order."""

    next_obs: np.ndarray  # what the agent sees next (after a reset where an episode ended)
    real_next_obs: np.ndarray  # each transition's own next observation: the true final one where an episode ended
    rewards: np.ndarray
    terminations: np.ndarray
    valid: np.ndarray | None  # the copies whose step is a transition; None: all
    ended: np.ndarray  # the copies whose episode ended on this step
    episode_returns: np.ndarray  # the undiscounted return of each episode that ended, in copy order
    episode_lengths: np.ndarray  # and its length


class MemberEnvs:
    """num_envs copies per member, stepped as one vector env of N * num_envs copies.

    backend "sync": gymnasium's SyncVectorEnv of each script's own make_env, in SAME_STEP
    autoreset, every member's copies seeded as its script seeds them (seed, seed + 1, ...).
    backend "numpy": the env's own vectorized implementation (gym.make_vec with
    vectorization_mode="vector_entry_point"; CartPole-v1 has one), which steps all copies in
    NumPy and autoresets in NEXT_STEP mode: the step after an episode's end only resets that
    copy, and is no transition. Its copies share one random generator, seeded by the first member.
    backend "envpool": envpool's C++ implementation of the env (classic control, MuJoCo), its
    copies stepped by C++ threads and seeded as "sync" seeds them. It runs without a time limit
    and the limit is applied here, as gymnasium's TimeLimit applies it: envpool reports an episode
    that terminates at its limit as truncated only, which would bootstrap a terminal transition.
    An ended copy is reset at once (SAME_STEP), by envpool's reset of those copies.
    """

    def __init__(self, module: ModuleType, all_args: list[Any], backend: str):
        first = all_args[0]
        self.backend, self.num_envs, self.n_copies = backend, first.num_envs, len(all_args) * first.num_envs
        self.seeds = [one.seed + j for one in all_args for j in range(first.num_envs)]
        if backend == "numpy":
            kwargs = {} if first.max_episode_steps is None else {"max_episode_steps": first.max_episode_steps}
            self.envs = gym.make_vec(first.env_id, self.n_copies, vectorization_mode="vector_entry_point", **kwargs)
        elif backend == "envpool":
            import envpool  # an extra, imported only when chosen

            limit = first.max_episode_steps
            limit = gym.spec(first.env_id).max_episode_steps if limit is None else limit
            self.time_limit = np.inf if limit is None else limit
            self.envs = envpool.make_gymnasium(first.env_id, num_envs=self.n_copies, seed=self.seeds,
                                               max_episode_steps=2**30)
        else:
            self.envs = gym.vector.SyncVectorEnv([module.make_env(first.env_id, first.max_episode_steps)
                                                  for _ in range(self.n_copies)], autoreset_mode=AutoresetMode.SAME_STEP)
        self.single_observation_space = self.envs.single_observation_space
        self.single_action_space = self.envs.single_action_space
        self.returns = np.zeros(self.n_copies)
        self.lengths = np.zeros(self.n_copies, dtype=np.int64)
        self.resetting = np.zeros(self.n_copies, dtype=bool)

    def reset(self) -> np.ndarray:
        if self.backend == "envpool":  # seeded when made: its reset takes no seed
            obs, _ = self.envs.reset()
        else:
            obs, _ = self.envs.reset(seed=self.seeds if self.backend == "sync" else self.seeds[0])
        return obs.astype(np.float32)

    def step(self, actions: np.ndarray) -> VectorStep:
        next_obs, rewards, terminations, truncations, infos = self.envs.step(actions)
        next_obs = next_obs.astype(np.float32)
        if self.backend == "envpool":  # gymnasium's TimeLimit, envpool's own being off
            truncations = self.lengths + 1 >= self.time_limit
        ended = terminations | truncations
        valid, real_next_obs = None, next_obs
        if self.backend == "numpy":  # NEXT_STEP autoreset
            valid = ~self.resetting
            self.resetting = ended
        elif self.backend == "envpool" and ended.any():  # SAME_STEP: the ended copies restart now
            real_next_obs = next_obs.copy()
            reset_obs, reset_infos = self.envs.reset(np.flatnonzero(ended))
            next_obs[reset_infos["env_id"]] = reset_obs
        elif "final_obs" in infos:  # sync, SAME_STEP autoreset
            real_next_obs = next_obs.copy()
            for i in np.flatnonzero(infos["_final_obs"]):
                real_next_obs[i] = infos["final_obs"][i]
        if valid is None:
            self.returns += rewards
            self.lengths += 1
        else:
            self.returns += np.where(valid, rewards, 0.0)
            self.lengths += valid
        episode_returns, episode_lengths = self.returns[ended], self.lengths[ended]  # copies
        self.returns[ended], self.lengths[ended] = 0.0, 0
        return VectorStep(next_obs, real_next_obs, rewards, terminations, valid, ended, episode_returns, episode_lengths)

    def close(self) -> None:
        self.envs.close()


class MemberRuns:
    """Each member's run bookkeeping, by its script's own Run class: run folder, TensorBoard log,
    evaluations and summary.json, in the form report.py reads."""

    def __init__(self, module: ModuleType, all_args: list[Any], policies: list[Callable[[np.ndarray], np.ndarray]]):
        # a member's Run shows no progress of its own (the batched run shows one for all) and
        # records the member's own options in its summary.json
        self.runs = [module.Run(dataclasses.replace(one, progress=False), policy) for one, policy in zip(all_args, policies)]
        for run, one in zip(self.runs, all_args):
            run.args = one
        self.num_envs = all_args[0].num_envs
        self.active = np.ones(len(self.runs), dtype=bool)
        self.failed_at: dict[int, int] = {}

    def record_episodes(self, global_step: int, step: VectorStep) -> None:
        if not step.ended.any():
            return
        ended = step.ended.reshape(len(self.runs), self.num_envs)
        returns, lengths = np.zeros(ended.shape), np.zeros(ended.shape, dtype=np.int64)
        returns[ended], lengths[ended] = step.episode_returns, step.episode_lengths
        for i in np.flatnonzero(ended.any(axis=1) & self.active):
            # the infos a script's vector env gives on such a step, for its Run.record_episodes
            infos = {"final_info": {"episode": {"r": returns[i], "l": lengths[i]}}, "_final_obs": ended[i]}
            self.runs[i].record_episodes(global_step, infos)

    def fail_where_not_finite(self, losses: torch.Tensor, global_step: int) -> None:
        """Stop every active member whose loss, one of losses (N,), is not finite."""
        for i in np.flatnonzero(~torch.isfinite(losses).cpu().numpy() & self.active):
            self.fail(i, f"non-finite loss at step {global_step}", global_step)

    def log(self, gradient_steps: int, target_updates: int, log_member: Callable[[Any, int], None]) -> None:
        """Each active member's log point: the step counts all members share, then log_member(run, i),
        which gives member i's Run its own losses and calls its Run.log."""
        for i in np.flatnonzero(self.active):
            self.runs[i].gradient_steps, self.runs[i].target_updates = gradient_steps, target_updates
            log_member(self.runs[i], i)

    def fail(self, member: int, status: str, global_step: int) -> None:
        """The member stops learning and logging, as its script stops; its logs so far stay."""
        self.runs[member].status = status
        self.active[member] = False
        self.failed_at[member] = global_step

    def final_step(self, member: int, global_step: int) -> int:
        return self.failed_at.get(member, global_step)
