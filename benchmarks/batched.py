"""Many runs of one algorithm in one process: the seed axis of a sweep as one vectorized run.

Each member is its own run of the algorithm's script (seed, scalar hyperparameters, env copies,
replay buffer, networks, optimizer state, run folder, summary.json), and the algorithm is the
script's own: its networks, its TD loss and target (mapped over the members with torch.func's
vmap), its ε schedule, ε-greedy and run bookkeeping. What this file adds is the member axis:
parameters stacked over members, one Adam step for all of them, one replay buffer with a member
axis, one vector env of all members' copies (benchmarks/members.py).

    python -m benchmarks.batched --algorithm dqn --env-id CartPole-v1 --seeds 1 2 3 4 5

Takes the script's own options (one value for all members) and prints one line per member.
"""

import dataclasses
import math
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any, Callable, Literal

if __package__ in (None, ""):  # run as `python benchmarks/batched.py`: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import tyro  # noqa: E402
from torch.func import grad, vmap  # noqa: E402
from tqdm import tqdm  # noqa: E402

from benchmarks.common import load_algorithm  # noqa: E402
from benchmarks.members import (MEMBER_OPTIONS, MemberEnvs, MemberReplayBuffer, MemberRuns, StackedAdam,  # noqa: E402
                                StackedNetworks, UsageError, broadcastable, clip_grad_norms, member_args,
                                member_values)

DQN_FAMILY = ("dqn", "double_dqn", "dueling_dqn")
ALGORITHMS = tuple(MEMBER_OPTIONS)  # the algorithms whose member options members.py knows
EnvBackend = Literal["auto", "sync", "numpy", "envpool"]
# envpool's envs whose steps are gymnasium's own (tests/test_batched_envs.py replays them through gymnasium's
# dynamics); not its Pendulum-v1, which moves the angle by the velocity before clipping it (gymnasium clips first)
ENVPOOL_ENVS = ("CartPole-v1", "Acrobot-v1", "MountainCar-v0", "MountainCarContinuous-v0", "HalfCheetah-v5",
                "Hopper-v5")
ENVPOOL_MIN_COPIES = 4  # fewer copies step faster in SyncVectorEnv (batched.md)


def envpool_installed() -> bool:
    try:
        import envpool  # noqa: F401
    except ImportError:
        return False
    return True


def env_backend(backend: EnvBackend, env_id: str, n_copies: int) -> str:
    """auto: the env's own NumPy vector implementation where it has one, else envpool where it is
    installed, steps the env as gymnasium does and has at least ENVPOOL_MIN_COPIES copies to step,
    else SyncVectorEnv: the fastest, as batched.md measures them."""
    has_vector = gym.spec(env_id).vector_entry_point is not None and "Jax" not in str(gym.spec(env_id).vector_entry_point)
    if backend == "numpy" and not has_vector:
        raise UsageError(f"--env-backend numpy: {env_id} has no NumPy vector implementation; use sync")
    if backend == "envpool" and env_id not in ENVPOOL_ENVS:
        raise UsageError(f"--env-backend envpool: {env_id} is not one of envpool's envs checked against gymnasium's "
                         f"({', '.join(ENVPOOL_ENVS)}); use sync")
    if backend == "envpool" and not envpool_installed():
        raise UsageError("--env-backend envpool needs envpool: pip install 'algozoo[envpool]'")
    if backend != "auto":
        return backend
    if has_vector:
        return "numpy"
    envpool_wins = env_id in ENVPOOL_ENVS and n_copies >= ENVPOOL_MIN_COPIES
    return "envpool" if envpool_wins and envpool_installed() else "sync"


class Progress:
    """One progress bar (a terminal) or a plain line every tenth of the run, for all members."""

    def __init__(self, name: str, n_members: int, total_timesteps: int, enabled: bool):
        self.name, self.n_members, self.total = name, n_members, total_timesteps
        self.bar = tqdm(total=total_timesteps, unit="step", disable=not (enabled and sys.stderr.isatty()))
        self.plain = enabled and self.bar.disable
        self.start_time, self.printed = time.perf_counter(), 0

    def update(self, global_step: int) -> None:
        agent_sps = int(self.n_members * global_step / (time.perf_counter() - self.start_time))
        self.bar.update(global_step - self.bar.n)
        self.bar.set_postfix(agent_SPS=agent_sps)
        if self.plain and global_step * 10 // max(self.total, 1) > self.printed:
            self.printed = global_step * 10 // max(self.total, 1)
            print(f"{self.name}: step {global_step}/{self.total} of {self.n_members} members, "
                  f"{agent_sps} agent steps/s in all", flush=True)

    def close(self) -> float:
        self.bar.close()
        return time.perf_counter() - self.start_time


def target_update(module: ModuleType, target_list: list[torch.Tensor], online_list: list[torch.Tensor],
                  all_args: list[Any], device: torch.device) -> Callable[[], None]:
    """Every member's target update by its script's soft_update, each with its own τ. The stacks are
    updated in place, so their lists, and each member's τ shaped per tensor, hold for the run."""
    if len({one.tau for one in all_args}) == 1:
        return lambda: module.soft_update(target_list, online_list, all_args[0].tau)
    tau = member_values(all_args, "tau", device)
    tau_per_tensor = [broadcastable(tau, tensor) for tensor in target_list]

    def update() -> None:
        for target_tensor, online_tensor, member_tau in zip(target_list, online_list, tau_per_tensor):
            module.soft_update([target_tensor], [online_tensor], member_tau)

    return update


def member_policy(policies: list[Callable[[np.ndarray], np.ndarray]], network: StackedNetworks, device: torch.device,
                  action_of: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[np.ndarray], np.ndarray]:
    """Every member's acting policy on its own copies' observations (N * num_envs, obs_dim). On the CPU
    each member's own policy, its script's NumPy fast path (cheaper there than vmap); elsewhere the
    stacked network, vmapped, and `action_of` its output (N, num_envs, ...)."""
    n = len(policies)
    if device.type == "cpu":
        return lambda obs: np.concatenate([policy(part) for policy, part in zip(policies, np.split(obs, n))])

    @torch.no_grad()
    def policy(obs: np.ndarray) -> np.ndarray:
        output = action_of(network(torch.as_tensor(obs, dtype=torch.float32, device=device).view(n, -1, obs.shape[-1])))
        return output.flatten(0, 1).cpu().numpy()

    return policy


def log_point(module: ModuleType, global_step: int, args: Any) -> bool:
    """Whether a member's Run has something to do at this step: its logs every 1,000 steps, an
    evaluation, the end."""
    e = args.num_envs
    return bool(module.crossings(global_step, e, 1000) or global_step >= args.total_timesteps
                or module.crossings(global_step, e, args.eval_frequency))


def dqn_gradients(module: ModuleType, q_network: StackedNetworks, loss: str, compile: bool) -> Callable:
    """The gradient of each member's td_loss (its script's own) on the member's own minibatch: a function
    of (params, target params, buffers, minibatch with fields (N, batch, ...), γ (N,)) that returns
    (gradients, (losses (N,), Q(s, a) (N, batch))). compile: through torch.compile, which fuses the many
    small operations that vmap otherwise dispatches one by one (benchmarks/results/batched.md)."""

    def member_loss(params, target, buffers, member_data, member_gamma):
        member_loss, q_taken = module.td_loss(q_network.function(params, buffers), q_network.function(target, buffers),
                                              member_data, member_gamma, loss)
        return member_loss, (member_loss, q_taken)

    gradients = vmap(grad(member_loss, has_aux=True))
    return torch.compile(gradients) if compile else gradients


def dqn_learning_step(gradients_of: Callable, q_network: StackedNetworks, target_params: dict[str, torch.Tensor],
                      optimizer: StackedAdam, data: Any, gamma: torch.Tensor,
                      max_grad_norm: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Every member's learning step of its script: the gradients of dqn_gradients, each member's clipped
    to its own max_grad_norm (N,) (inf: none), then one Adam step. Returns the losses (N,) and Q(s, a)
    (N, batch) before the step. A member whose loss is not finite takes no step, now or later: its
    script stops there."""
    gradients, (losses, q_taken) = gradients_of(q_network.params, target_params, q_network.buffers, data, gamma)
    gradients = list(gradients.values())
    if bool(torch.isfinite(max_grad_norm).any()):
        gradients = clip_grad_norms(gradients, max_grad_norm)
    apply_gradients(optimizer, gradients, losses)
    return losses, q_taken


def apply_gradients(optimizer: StackedAdam, gradients: list[torch.Tensor], losses: torch.Tensor,
                    also_freeze: list[StackedAdam] = ()) -> None:
    """One Adam step of every member whose loss (N,) is finite. A member whose loss is not finite takes
    no step, now or later (nor in the optimizers of `also_freeze`): its script stops there."""
    finite = torch.isfinite(losses)
    if not bool(finite.all()):
        for i in np.flatnonzero(~finite.cpu().numpy()):
            for frozen in (optimizer, *also_freeze):
                frozen.freeze(i)
        gradients = [torch.where(broadcastable(finite, g), g, 0.0) for g in gradients]
    optimizer.step(gradients)


def train_dqn_family(module: ModuleType, algorithm: str, args: Any, members: list[dict],
                     backend: EnvBackend = "auto", compile: bool = False) -> list[dict]:
    """Train one member per entry of `members` (its own options, e.g. {"seed": 2, "learning_rate": 3e-4})
    on `args` otherwise; returns each member's summary as its script's train() returns it. compile: the
    gradient step and the greedy action through torch.compile (a few seconds' start, then faster)."""
    all_args = member_args(module, algorithm, args, members)
    n, e = len(all_args), args.num_envs
    device = module.resolve_device(args.device)
    envs = MemberEnvs(module, all_args, env_backend(backend, args.env_id, n * e))
    n_actions, obs_dim = int(envs.single_action_space.n), envs.single_observation_space.shape[0]
    networks = []
    for one in all_args:
        module.seed_everything(one.seed, one.torch_deterministic)  # each network starts as its script's would
        networks.append(module.QNetwork(obs_dim, n_actions, args.hidden_sizes).to(device))
        if one.model_path is not None:
            module.load_model(networks[-1], one.model_path, one, device)
    q_network = StackedNetworks(networks)
    target_params = q_network.clone_params()
    optimizer = StackedAdam(q_network.parameter_list(), member_values(all_args, "learning_rate", device))
    gamma = member_values(all_args, "gamma", device)
    max_grad_norm = member_values(all_args, "max_grad_norm", device, missing=math.inf)
    update_targets = target_update(module, q_network.parameter_list(target_params), q_network.parameter_list(),
                                   all_args, device)
    buffer = MemberReplayBuffer(n, args.buffer_size, (obs_dim,), (1,), torch.long, device, all_args[0].seed)
    policies = [module.greedy_policy(network, device) for network in networks]
    runs = MemberRuns(module, all_args, policies)
    progress = Progress(f"batched {algorithm}", n, args.total_timesteps, args.progress)
    rng = np.random.default_rng([one.seed for one in all_args])
    exploration_steps = [int(one.exploration_fraction * one.total_timesteps) for one in all_args]

    gradients_of = dqn_gradients(module, q_network, args.loss, compile)

    greedy = member_policy(policies, q_network, device, lambda q_values: q_values.argmax(dim=-1))

    losses, gradient_steps, target_updates, global_step = None, 0, 0, 0
    obs = envs.reset()
    while global_step < args.total_timesteps and runs.active.any():
        epsilon = np.array([module.linear_schedule(one.start_e, one.end_e, steps, global_step)
                            for one, steps in zip(all_args, exploration_steps)])
        actions = module.epsilon_greedy(greedy, obs, np.repeat(epsilon, e), n_actions, rng)
        step = envs.step(actions)
        global_step += e
        buffer.add(obs.reshape(n, e, obs_dim), step.real_next_obs.reshape(n, e, obs_dim), actions.reshape(n, e, 1),
                   step.rewards.reshape(n, e), step.terminations.reshape(n, e),
                   None if step.valid is None else step.valid.reshape(n, e))
        obs = step.next_obs
        runs.record_episodes(global_step, step)

        if global_step > args.learning_starts:
            if args.anneal_lr:
                optimizer.lr_scale = 1.0 - global_step / args.total_timesteps
            for _ in range(module.crossings(global_step, e, args.train_frequency) * args.gradient_steps):
                losses = dqn_learning_step(gradients_of, q_network, target_params, optimizer,
                                           buffer.sample(args.batch_size), gamma, max_grad_norm)
                runs.fail_where_not_finite(losses[0], global_step)
                gradient_steps += 1
            for _ in range(module.crossings(global_step, e, args.target_network_frequency)):
                update_targets()
                target_updates += 1

        if log_point(module, global_step, args):
            def log_member(run: Any, i: int) -> None:
                run.losses = None if losses is None else (losses[0][i], losses[1][i])
                run.log(global_step, float(epsilon[i]))

            runs.log(gradient_steps, target_updates, log_member)
            progress.update(global_step)
    progress.close()
    summaries = []
    for i, run in enumerate(runs.runs):
        model = {"hidden_sizes": list(args.hidden_sizes), "q_network": q_network.state_dict(i)}
        summaries.append(run.finish(runs.final_step(i, global_step), model, q_network=networks[i],
                                    replay_buffer=buffer))
    envs.close()
    return summaries


def ddpg_gradients(module: ModuleType, actor: StackedNetworks, qf: StackedNetworks,
                   compile: bool) -> tuple[Callable, Callable]:
    """The gradients of each member's critic_loss and actor_loss (its script's own) on its own minibatch:
    critic: (qf params, target actor params, target qf params, actor buffers, qf buffers, minibatch with
    fields (N, batch, ...), γ (N,)) → (gradients, (losses (N,), Q(s, a) (N, batch))); actor: (actor params,
    qf params, actor buffers, qf buffers, observations (N, batch, obs_dim)) → (gradients, losses (N,)), the
    critic held fixed."""

    def member_critic_loss(qf_params, target_actor_params, target_qf_params, actor_buffers, qf_buffers, member_data,
                           member_gamma):
        loss, qf_values = module.critic_loss(qf.function(qf_params, qf_buffers),
                                             actor.function(target_actor_params, actor_buffers),
                                             qf.function(target_qf_params, qf_buffers), member_data, member_gamma)
        return loss, (loss, qf_values)

    def member_actor_loss(actor_params, qf_params, actor_buffers, qf_buffers, observations):
        loss = module.actor_loss(actor.function(actor_params, actor_buffers), qf.function(qf_params, qf_buffers),
                                 observations)
        return loss, loss

    critic, actor_ = vmap(grad(member_critic_loss, has_aux=True)), vmap(grad(member_actor_loss, has_aux=True))
    return (torch.compile(critic), torch.compile(actor_)) if compile else (critic, actor_)


def train_ddpg(module: ModuleType, algorithm: str, args: Any, members: list[dict], backend: EnvBackend = "auto",
               compile: bool = False) -> list[dict]:
    """train_dqn_family's counterpart for ddpg.py: each member its script's actor and critic, critic_loss,
    actor_loss, noise (its own generator, seeded as its script seeds it) and soft_update."""
    all_args = member_args(module, algorithm, args, members)
    n, e = len(all_args), args.num_envs
    device = module.resolve_device(args.device)
    envs = MemberEnvs(module, all_args, env_backend(backend, args.env_id, n * e))
    action_space = envs.single_action_space
    action_dim, obs_dim = action_space.shape[0], envs.single_observation_space.shape[0]
    actors, qfs = [], []
    for one in all_args:
        module.seed_everything(one.seed, one.torch_deterministic)  # each member starts as its script would
        actors.append(module.Actor(obs_dim, action_space.low, action_space.high, args.hidden_sizes).to(device))
        qfs.append(module.QNetwork(obs_dim, action_dim, args.hidden_sizes).to(device))
        if one.model_path is not None:
            module.load_model(actors[-1], qfs[-1], one.model_path, one, device)
    actor, qf = StackedNetworks(actors), StackedNetworks(qfs)
    target_actor, target_qf = actor.clone_params(), qf.clone_params()
    learning_rates = member_values(all_args, "learning_rate", device)
    actor_optimizer = StackedAdam(actor.parameter_list(), learning_rates)
    qf_optimizer = StackedAdam(qf.parameter_list(), learning_rates)
    gamma = member_values(all_args, "gamma", device)
    update_targets = target_update(module, [*actor.parameter_list(target_actor), *qf.parameter_list(target_qf)],
                                   [*actor.parameter_list(), *qf.parameter_list()], all_args, device)
    buffer = MemberReplayBuffer(n, args.buffer_size, (obs_dim,), (action_dim,), torch.float32, device,
                                all_args[0].seed)
    policies = [module.deterministic_policy(member_actor, device) for member_actor in actors]
    runs = MemberRuns(module, all_args, policies)
    progress = Progress(f"batched {algorithm}", n, args.total_timesteps, args.progress)
    rngs = [np.random.default_rng(one.seed) for one in all_args]
    ou_states = np.zeros((n, e, action_dim))

    def member_noise(one: Any, rng: np.random.Generator, ou_state: np.ndarray) -> np.ndarray:
        if one.noise == "normal":
            return module.gaussian_noise(one.exploration_noise, (e, action_dim), rng)
        return module.ornstein_uhlenbeck_noise(ou_state, one.exploration_noise, one.ou_theta, one.ou_dt, rng)

    action_scale = (action_space.high - action_space.low) / 2.0
    critic_gradients_of, actor_gradients_of = ddpg_gradients(module, actor, qf, compile)
    act = member_policy(policies, actor, device, lambda actions: actions)

    critic_losses, actor_losses, gradient_steps, target_updates, global_step = None, None, 0, 0, 0
    obs = envs.reset()
    while global_step < args.total_timesteps and runs.active.any():
        if global_step < args.learning_starts:
            actions = np.concatenate([rng.uniform(action_space.low, action_space.high, size=(e, action_dim))
                                      for rng in rngs])
        else:
            noise = np.concatenate([member_noise(*member) for member in zip(all_args, rngs, ou_states)])
            actions = np.clip(act(obs) + noise * action_scale, action_space.low, action_space.high)
        actions = actions.astype(action_space.dtype)
        step = envs.step(actions)
        global_step += e
        ou_states[step.ended.reshape(n, e)] = 0.0
        buffer.add(obs.reshape(n, e, obs_dim), step.real_next_obs.reshape(n, e, obs_dim),
                   actions.reshape(n, e, action_dim), step.rewards.reshape(n, e), step.terminations.reshape(n, e),
                   None if step.valid is None else step.valid.reshape(n, e))
        obs = step.next_obs
        runs.record_episodes(global_step, step)

        if global_step > args.learning_starts:
            for _ in range(module.crossings(global_step, e, args.train_frequency)):
                data = buffer.sample(args.batch_size)
                gradients, critic_losses = critic_gradients_of(qf.params, target_actor, target_qf, actor.buffers,
                                                                   qf.buffers, data, gamma)
                apply_gradients(qf_optimizer, list(gradients.values()), critic_losses[0], [actor_optimizer])
                runs.fail_where_not_finite(critic_losses[0], global_step)
                gradient_steps += 1
                if gradient_steps % args.policy_frequency == 0:
                    gradients, actor_losses = actor_gradients_of(actor.params, qf.params, actor.buffers, qf.buffers,
                                                                  data.observations)
                    actor_optimizer.step(list(gradients.values()))
                    update_targets()
                    target_updates += 1

        if log_point(module, global_step, args):
            def log_member(run: Any, i: int) -> None:
                run.critic_losses = None if critic_losses is None else (critic_losses[0][i], critic_losses[1][i])
                run.actor_loss = None if actor_losses is None else actor_losses[i]
                run.log(global_step)

            runs.log(gradient_steps, target_updates, log_member)
            progress.update(global_step)
    progress.close()
    summaries = []
    for i, run in enumerate(runs.runs):
        model = {"hidden_sizes": list(args.hidden_sizes), "actor": actor.state_dict(i), "qf": qf.state_dict(i)}
        summaries.append(run.finish(runs.final_step(i, global_step), model, actor=actors[i], qf=qfs[i],
                                    replay_buffer=buffer))
    envs.close()
    return summaries


TRAINERS = {**{name: train_dqn_family for name in DQN_FAMILY}, "ddpg": train_ddpg}


def cli_options(module: ModuleType) -> type:
    """The script's Args with the batched run's own options added."""
    return dataclasses.make_dataclass("BatchedArgs", [
        ("seeds", Annotated[tuple[int, ...] | None, tyro.conf.arg(
            help="one member per seed (default: --seed alone); each member's run is its own")], None),
        ("compile", Annotated[bool, tyro.conf.arg(
            help="the gradient step and the greedy action through torch.compile: a few seconds' start, "
                 "then faster (--no-compile: plain vmap)")], True),
        ("env_backend", Annotated[EnvBackend, tyro.conf.arg(
            help="auto: the env's NumPy vector implementation where it has one (CartPole-v1), else envpool "
                 f"where installed, for {', '.join(ENVPOOL_ENVS[1:])} with {ENVPOOL_MIN_COPIES} copies or more, "
                 "else sync: SyncVectorEnv of the script's env")], "auto"),
    ], bases=(module.Args,))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--algorithm" not in argv or argv.index("--algorithm") + 1 >= len(argv):
        print(f"batched: error: --algorithm is required: one of {', '.join(ALGORITHMS)}", file=sys.stderr)
        return 2
    at = argv.index("--algorithm")
    algorithm = argv[at + 1]
    del argv[at:at + 2]
    if algorithm not in ALGORITHMS:
        print(f"batched: error: --algorithm {algorithm!r} does not run batched; choose from {', '.join(ALGORITHMS)}",
              file=sys.stderr)
        return 2
    module = load_algorithm(algorithm)
    options = tyro.cli(cli_options(module), args=argv, prog=f"python -m benchmarks.batched --algorithm {algorithm}")
    script_fields = {field.name for field in dataclasses.fields(module.Args)}
    args = module.Args(**{name: getattr(options, name) for name in script_fields})
    seeds = options.seeds if options.seeds is not None else (args.seed,)
    # a {seed} in --log-dir gives each member a folder of its own (as a sweep's cells have)
    members = [{"seed": seed, "log_dir": args.log_dir.replace("{seed}", str(seed))} for seed in seeds]
    try:
        summaries = TRAINERS[algorithm](module, algorithm, args, members, options.env_backend, options.compile)
    except (UsageError, module.UsageError) as error:
        print(f"batched: error: {error}", file=sys.stderr)
        return 2
    failed = 0
    for seed, summary in zip(seeds, summaries):
        if summary["status"] == "completed":
            print(f"seed {seed}: greedy evaluation {summary['eval_mean']:.2f} ± {summary['eval_std']:.2f} over "
                  f"{len(summary['eval_returns'])} episodes; run folder {summary['run_dir']}")
        else:
            failed += 1
            print(f"seed {seed}: {summary['status']}; logs kept in {summary['run_dir']}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

