"""How Deep Image Matting is trained: its three stages and their losses (Xu et al. 2017, Sec. 4).

1. ``coarse``: the encoder-decoder alone, loss w_l L_alpha + (1 - w_l) L_comp with w_l = 0.5
   on the coarse alpha.
2. ``refine``: the encoder-decoder frozen (its learning rate 0, batch norm statistics fixed),
   the refinement stage trained with the alpha-prediction loss only.
3. ``joint``: both fine-tuned together. The paper does not spell out this stage's loss; we keep
   the stage-1 loss on the coarse alpha and add the alpha-prediction loss on the final alpha.

All losses count the unknown pixels of the input trimap only, as the paper does.
``coarse_steps`` and ``refine_steps`` set where the stages change; with both 0 the network
trains jointly from the first step.

``pure_weight`` (ours; 1, the paper's plain mean, by default) multiplies the weight of the
unknown pixels whose true alpha is pure (within ``PURE`` of 0 or 1) in every loss: the shipped
small model errs most on exactly those (BENCHMARKS.md, "Where the error lies").

``hint_gate_lr_factor`` (ours) multiplies the learning rate of the ``hint_skip`` gate, a single
scalar: Adam moves each parameter by about the learning rate per step, so at the fine-tuning
rate of 2e-4 a gate starting at 0 could not reach 1 in under 5,000 steps; with the default 25,
in 200.

``norm_per_sample`` (ours; off by default, the paper's batch norm over the batch) runs each
sample of a batch through the network on its own, so every batch-norm layer normalises by that
one sample's statistics: the statistics a model sees at inference with ``norm_stats="image"``
(the image's own, AdaBN-style; BENCHMARKS.md "Batch-norm statistics at inference"), where
training with the batch's mixes four composites. The loss is the same mean over the batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ... import losses
from ...errors import InputError
from .network import DIMNet


#: A true alpha within this of 0 or 1 counts as pure for ``pure_weight``.
PURE = 0.02


@dataclass
class DIMObjective:
    """The staged DIM objective for :class:`~mattebox.train.engine.Trainer`."""

    model: DIMNet
    coarse_steps: int = 0
    refine_steps: int = 0
    alpha_weight: float = losses.DIM_ALPHA_WEIGHT
    pure_weight: float = 1.0
    hint_gate_lr_factor: float = 25.0
    norm_per_sample: bool = False

    def __post_init__(self) -> None:
        weight = self.pure_weight
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight > 0:
            raise InputError(f"[objective] pure_weight must be > 0 (1: the paper's loss), not {self.pure_weight!r}")
        factor = self.hint_gate_lr_factor
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not factor > 0:
            raise InputError(f"[objective] hint_gate_lr_factor must be > 0, not {factor!r}")
        if not isinstance(self.norm_per_sample, bool):
            raise InputError(f"[objective] norm_per_sample must be true or false, not {self.norm_per_sample!r}")

    #: Names of the loss parts :meth:`loss` may report (columns of the training log).
    part_names = ("coarse_alpha", "coarse_comp", "refined_alpha")

    def stage(self, step: int) -> str:
        """``coarse``, ``refine`` or ``joint`` at training ``step`` (0-based)."""
        if step < self.coarse_steps:
            return "coarse"
        if step < self.coarse_steps + self.refine_steps:
            return "refine"
        return "joint"

    @property
    def find_unused_parameters(self) -> bool:
        """Some parameters get no gradient in some stage (DDP must be told)."""
        return self.coarse_steps > 0 or self.refine_steps > 0

    def param_groups(self) -> list[dict]:
        groups = [{"name": "encoder_decoder", "params": self.model.encoder_decoder_parameters()}]
        refinement = self.model.refinement_parameters()
        if refinement:
            groups.append({"name": "refinement", "params": refinement})
        hint = self.model.hint_parameters()
        if hint:
            groups.append({"name": "hint_gate", "params": hint})
        return groups

    def lr_factor(self, group: str, step: int) -> float:
        """Learning-rate multiplier of parameter ``group`` at ``step``: 0 for frozen parts."""
        stage = self.stage(step)
        if stage == "coarse" and group == "refinement":
            return 0.0
        if stage == "refine" and group in ("encoder_decoder", "hint_gate"):
            return 0.0
        return self.hint_gate_lr_factor if group == "hint_gate" else 1.0

    def set_train_mode(self, model: nn.Module, step: int) -> None:
        """Training mode, with stage 1 in eval mode (fixed batch norm) while it is frozen."""
        model.train()
        if self.stage(step) == "refine":
            for module in (*model.encoder, model.conv6, model.deconv6, *model.decoder):
                module.eval()

    def loss(self, network: nn.Module, batch: dict[str, torch.Tensor], step: int):
        """Forward ``batch`` through ``network`` (the model, maybe DDP-wrapped); (loss, parts)."""
        stage = self.stage(step)
        outputs = self._forward(network, batch, stage)
        weight = losses.unknown_mask(batch["trimap"])
        if self.pure_weight != 1.0:
            alpha = batch["alpha"]
            pure = ((alpha <= PURE) | (alpha >= 1.0 - PURE)).to(weight.dtype)
            weight = weight * (1.0 + (self.pure_weight - 1.0) * pure)
        parts: dict[str, torch.Tensor] = {}
        total = outputs["alpha"].new_zeros(())
        if stage in ("coarse", "joint"):
            coarse, coarse_parts = losses.dim_overall_loss(
                outputs["alpha_coarse"], batch["alpha"], batch["fg"], batch["bg"], batch["image"],
                weight, alpha_weight=self.alpha_weight,
            )
            total = total + coarse
            parts.update({f"coarse_{k}": v for k, v in coarse_parts.items()})
        if stage in ("refine", "joint"):
            refined = losses.alpha_prediction_loss(outputs["alpha"], batch["alpha"], weight)
            total = total + refined
            parts["refined_alpha"] = refined
        return total, {k: float(v.detach()) for k, v in parts.items()}

    def _forward(self, network: nn.Module, batch: dict[str, torch.Tensor], stage: str) -> dict[str, torch.Tensor]:
        """The network's outputs for the batch; with ``norm_per_sample`` one sample at a time."""
        options = dict(refine=stage != "coarse", coarse_grad=stage != "refine")
        if not self.norm_per_sample:
            return network(batch["image"], batch["trimap"], **options)
        each = [network(batch["image"][i:i + 1], batch["trimap"][i:i + 1], **options)
                for i in range(batch["image"].shape[0])]
        return {key: torch.cat([out[key] for out in each]) for key in each[0]}
