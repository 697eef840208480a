"""Training losses of the deep matting models, as plain functions over torch tensors.

Shapes: alphas and weights are N x 1 x H x W, colour images N x 3 x H x W, all in [0, 1].
``weight`` selects (and may weigh) the pixels a loss counts; Deep Image Matting counts only
the unknown region of the trimap (see :func:`unknown_mask`). Each loss is the weighted mean
over the selected pixels, so it does not grow with the crop size.
"""

from __future__ import annotations

import torch

#: Epsilon of Deep Image Matting's losses (Xu et al. 2017, Eq. 1-2: 10^-6).
DIM_EPSILON = 1e-6

#: Weight w_l of the alpha-prediction loss in DIM's overall loss w_l L_a + (1 - w_l) L_c
#: (Xu et al. 2017, Sec. 4.1: 0.5).
DIM_ALPHA_WEIGHT = 0.5


def unknown_mask(trimap: torch.Tensor) -> torch.Tensor:
    """1 where the trimap (0 / 0.5 / 1) is unknown, 0 elsewhere, as the trimap's dtype."""
    return ((trimap > 0.25) & (trimap < 0.75)).to(trimap.dtype)


def _weighted_mean(per_pixel: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    """Mean of ``per_pixel`` (N x C x H x W) under ``weight`` (N x 1 x H x W), over all channels.

    With an all-zero weight the loss is 0 (and still part of the graph), not NaN.
    """
    if weight is None:
        return per_pixel.mean()
    weight = weight.expand_as(per_pixel)
    return (per_pixel * weight).sum() / weight.sum().clamp_min(1.0)


def charbonnier(difference: torch.Tensor, epsilon: float = DIM_EPSILON) -> torch.Tensor:
    """sqrt(d^2 + eps^2): |d| made differentiable at 0 (DIM, Eq. 1)."""
    return torch.sqrt(difference * difference + epsilon * epsilon)


def alpha_prediction_loss(
    pred_alpha: torch.Tensor,
    true_alpha: torch.Tensor,
    weight: torch.Tensor | None = None,
    epsilon: float = DIM_EPSILON,
) -> torch.Tensor:
    """DIM's alpha-prediction loss: mean of sqrt((a_p - a_g)^2 + eps^2) over weighted pixels."""
    return _weighted_mean(charbonnier(pred_alpha - true_alpha, epsilon), weight)


def composite(alpha: torch.Tensor, foreground: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
    """I = alpha F + (1 - alpha) B (the matting equation)."""
    return alpha * foreground + (1.0 - alpha) * background


def compositional_loss(
    pred_alpha: torch.Tensor,
    foreground: torch.Tensor,
    background: torch.Tensor,
    image: torch.Tensor,
    weight: torch.Tensor | None = None,
    epsilon: float = DIM_EPSILON,
) -> torch.Tensor:
    """DIM's compositional loss (Eq. 2): sqrt((c_p - c_g)^2 + eps^2) averaged over RGB and pixels.

    c_p composites the ground-truth ``foreground`` and ``background`` with the predicted alpha;
    c_g is the ground-truth composite ``image``.
    """
    predicted = composite(pred_alpha, foreground, background)
    return _weighted_mean(charbonnier(predicted - image, epsilon), weight)


def dim_overall_loss(
    pred_alpha: torch.Tensor,
    true_alpha: torch.Tensor,
    foreground: torch.Tensor,
    background: torch.Tensor,
    image: torch.Tensor,
    weight: torch.Tensor | None = None,
    alpha_weight: float = DIM_ALPHA_WEIGHT,
    epsilon: float = DIM_EPSILON,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """w_l L_alpha + (1 - w_l) L_comp (DIM, Sec. 4.1); also returns the two parts."""
    l_alpha = alpha_prediction_loss(pred_alpha, true_alpha, weight, epsilon)
    l_comp = compositional_loss(pred_alpha, foreground, background, image, weight, epsilon)
    total = alpha_weight * l_alpha + (1.0 - alpha_weight) * l_comp
    return total, {"alpha": l_alpha, "comp": l_comp}
