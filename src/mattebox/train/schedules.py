"""Optimisers and learning-rate schedules of the matting papers.

- poly (AdaMatting, Sec. 4.1, after DeepLab): lr = base (1 - step / max_steps)^p, p = 0.9.
- cosine with linear warm-up (TCP, Sec. 4.1: 7,500 warm-up steps of 300,000, Adam with
  betas (0.5, 0.999)): lr = base (min + (1 - min) (1 + cos(pi t)) / 2), t the fraction of
  the post-warm-up steps done.
- constant, optionally with warm-up (DIM trains with a fixed rate).

Warm-up, when asked for, rises linearly from base / warmup_steps to base over the first
``warmup_steps`` steps and applies to every schedule. Schedules are factors of the base rate;
a model's objective may multiply them per parameter group (DIM freezes a stage by a factor 0).
"""

from __future__ import annotations

import math
from typing import Callable, Iterable

import torch

from .config import OptimConfig, ScheduleConfig


def schedule_factor(config: ScheduleConfig, step: int, max_steps: int) -> float:
    """Multiplier of the base learning rate at 0-based ``step`` of ``max_steps``."""
    warmup = max(int(config.warmup_steps), 0)
    if warmup and step < warmup:
        return (step + 1) / warmup
    if config.name == "constant":
        return 1.0
    span = max(max_steps - warmup, 1)
    done = min(max(step - warmup, 0) / span, 1.0)
    if config.name == "poly":
        return (1.0 - done) ** config.power
    if config.name == "cosine":
        floor = config.min_lr_ratio
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * done))
    raise ValueError(f"unknown schedule {config.name!r}")


def build_optimizer(config: OptimConfig, param_groups: Iterable[dict]) -> torch.optim.Optimizer:
    """The optimiser over ``param_groups`` (dicts with "params" and a "name")."""
    groups = [dict(group) for group in param_groups]
    if config.name == "adam":
        return torch.optim.Adam(groups, lr=config.lr, betas=tuple(config.betas),
                                weight_decay=config.weight_decay)
    if config.name == "adamw":
        return torch.optim.AdamW(groups, lr=config.lr, betas=tuple(config.betas),
                                 weight_decay=config.weight_decay)
    if config.name == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum,
                               weight_decay=config.weight_decay)
    raise ValueError(f"unknown optimiser {config.name!r}")


def build_scheduler(
    optimizer: torch.optim.Optimizer,
    config: ScheduleConfig,
    max_steps: int,
    group_factor: Callable[[str, int], float] | None = None,
) -> torch.optim.lr_scheduler.LambdaLR:
    """A LambdaLR applying :func:`schedule_factor` times ``group_factor(group name, step)``."""

    def factor_for(name: str) -> Callable[[int], float]:
        def factor(step: int) -> float:
            extra = group_factor(name, step) if group_factor is not None else 1.0
            return schedule_factor(config, step, max_steps) * extra

        return factor

    names = [group.get("name", str(i)) for i, group in enumerate(optimizer.param_groups)]
    return torch.optim.lr_scheduler.LambdaLR(optimizer, [factor_for(name) for name in names])
