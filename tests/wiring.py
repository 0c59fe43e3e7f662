"""What a training loop does, recorded for the tests of its wiring: every optimizer step (the
parameters before and after it, and the gradients it stepped with) and every minibatch
drawn from a replay buffer, in order. The tests then recompute each step from the
algorithm's definition, with networks rebuilt from the recorded parameters."""

import contextlib
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
import torch.nn as nn
from stable_baselines3.common.buffers import ReplayBuffer
from torch.func import functional_call
from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook


@dataclass
class OptimizerStep:
    optimizer: torch.optim.Optimizer
    before: list[torch.Tensor]
    grads: list[torch.Tensor]
    after: list[torch.Tensor]
    lr: float  # the first parameter group's learning rate, as the step used it


@dataclass
class Recording:
    steps: list[OptimizerStep]
    batches: list

    def steps_of(self, parameters) -> list[OptimizerStep]:
        """The steps of the optimizer that holds exactly these parameters."""
        wanted = [id(p) for p in parameters]
        return [step for step in self.steps
                if [id(p) for group in step.optimizer.param_groups for p in group["params"]] == wanted]


def _parameters(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    return [p for group in optimizer.param_groups for p in group["params"]]


@contextlib.contextmanager
def recording(monkeypatch, buffer_class: type = ReplayBuffer) -> Iterator[Recording]:
    """Record every optimizer step and every buffer_class.sample inside the block."""
    record = Recording([], [])
    pending: dict[int, tuple[list, list, float]] = {}

    def before_step(optimizer, args, kwargs):
        params = _parameters(optimizer)
        pending[id(optimizer)] = ([p.detach().clone() for p in params],
                                  [p.grad.detach().clone() for p in params], float(optimizer.param_groups[0]["lr"]))

    def after_step(optimizer, args, kwargs):
        before, grads, lr = pending.pop(id(optimizer))
        record.steps.append(OptimizerStep(optimizer, before, grads, [p.detach().clone() for p in _parameters(optimizer)],
                                          lr))

    sample = buffer_class.sample

    def recording_sample(self, *args, **kwargs):
        batch = sample(self, *args, **kwargs)
        record.batches.append(batch)
        return batch

    monkeypatch.setattr(buffer_class, "sample", recording_sample)
    handles = [register_optimizer_step_pre_hook(before_step), register_optimizer_step_post_hook(after_step)]
    try:
        yield record
    finally:
        for handle in handles:
            handle.remove()


def recorded_actions(module, monkeypatch) -> list:
    """The actions (num_envs, ...) of every step of the script's vector env in the next run."""
    sent = []
    make_vector_env = module.make_vector_env

    def recording_make_vector_env(*args, **kwargs):
        envs = make_vector_env(*args, **kwargs)
        step = envs.step
        envs.step = lambda actions: (sent.append(np.array(actions, copy=True)), step(actions))[1]
        return envs

    monkeypatch.setattr(module, "make_vector_env", recording_make_vector_env)
    return sent


def with_parameters(module: nn.Module, parameters: list[torch.Tensor]):
    """The module as a function of its inputs, computed with `parameters` in place of its own
    (in the order of module.parameters())."""
    names = [name for name, _ in module.named_parameters()]

    def call(*inputs):
        return functional_call(module, dict(zip(names, parameters)), inputs)

    return call


def polyak(target: list[torch.Tensor], online: list[torch.Tensor], tau: float) -> list[torch.Tensor]:
    """θ_target + τ (θ − θ_target), per tensor."""
    return [t + tau * (o - t) for t, o in zip(target, online)]


def assert_tensors_close(actual: list[torch.Tensor], expected: list[torch.Tensor], what: str) -> None:
    assert len(actual) == len(expected), what
    for a, e in zip(actual, expected):
        torch.testing.assert_close(a, e, rtol=1e-4, atol=1e-6, msg=lambda message: f"{what}: {message}")
