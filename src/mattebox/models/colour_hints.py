"""Known-colour hints: each pixel's nearby foreground and background colours, and the alpha they imply.

An input of ours for the learned models (in none of the five papers; the idea is that of
sampling-based matting, Chuang et al. 2001 and Gastal & Oliveira 2010, and of networks fed
sampled colours, Tang et al., "Learning-based Sampling for Natural Image Matting", CVPR 2019).
A network that sees only RGB and the trimap must learn from the training composites what
the foreground and background of a new photo look like; these channels tell it directly.

For each of the trimap's foreground and background, the colours of its pixels are spread
into the rest of the image by push-pull (Gortler et al., "The Lumigraph", 1996): a pyramid
of 2x2 means of the masked colours and of the mask, then, coarse to fine, each level's mean
known colour where known pixels are near (confidence ``min(1, gain * coverage)``), blended
with the coarser level's estimate where they are not. So an unknown pixel gets the mean
colour of the nearest known pixels, at the scale where there are any. From the two
estimates F^ and B^ the alpha of the pixel's colour I is its projection on the line between
them, the estimate sampling methods such as shared matting make from a colour pair:

    alpha^ = clip((I - B^) . (F^ - B^) / (|F^ - B^|^2 + eps), 0, 1)

The channels are F^ and B^ (RGB in [0, 1]) and alpha^: seven in all. On the alphamatting-dev
photos alpha^ alone (:func:`hint_alpha`) scores a lower mean SAD than the small DIM model
(BENCHMARKS.md, "Known-colour hints"). ``gain`` and ``eps`` are our choices.

A second source of the same seven channels (:func:`sampling_hints`, ``hint_source = "sm"``):
shared matting's own F, B and alpha (Gastal & Oliveira 2010, :mod:`mattebox.solvers.shared_sampling`),
which chooses each pixel's colour pair by sampling along rays and refines and smooths it,
where push-pull takes the mean of the nearest known colours. It costs a solver call per image
(about 45 ms on a 320 x 320 crop here) and is far more accurate on its own (BENCHMARKS.md).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

#: Channels :func:`known_colour_hints` returns: F^ (3), B^ (3), alpha^ (1).
HINT_CHANNELS = 7
#: Where the hints come from: push-pull of the known colours, or shared matting's pair.
HINT_SOURCES = ("pushpull", "sm")
#: Confidence of a pyramid level's mean: min(1, GAIN * fraction of known pixels under it).
GAIN = 16.0
#: Added to |F^ - B^|^2 so that alpha^ stays finite where the two colours agree.
EPS = 1e-3


def push_pull(colour: torch.Tensor, weight: torch.Tensor, gain: float = GAIN) -> torch.Tensor:
    """Fill ``colour`` (N x C x H x W) from the pixels where ``weight`` (N x 1 x H x W, 0..1) is set.

    Returns the push-pull estimate (see the module docstring): equal to ``colour`` where
    ``weight`` is 1, the mean of the nearest weighted pixels elsewhere; zero where no pixel of
    the image is weighted.
    """
    colours, weights = [colour * weight], [weight]
    while max(colours[-1].shape[-2:]) > 1:  # down to one pixel, whatever the aspect ratio
        kernel = tuple(min(2, size) for size in colours[-1].shape[-2:])
        colours.append(F.avg_pool2d(colours[-1], kernel, ceil_mode=True))
        weights.append(F.avg_pool2d(weights[-1], kernel, ceil_mode=True))
    estimate = colours[-1] / weights[-1].clamp_min(1e-12)
    for level_colour, level_weight in zip(reversed(colours[:-1]), reversed(weights[:-1])):
        coarser = F.interpolate(estimate, size=level_colour.shape[-2:], mode="bilinear", align_corners=False)
        confidence = (level_weight * gain).clamp(max=1.0)
        estimate = confidence * (level_colour / level_weight.clamp_min(1e-12)) + (1.0 - confidence) * coarser
    return estimate


@torch.no_grad()
def known_colour_hints(image: torch.Tensor, trimap: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """F^, B^ and alpha^ (N x 7 x H x W) for ``image`` (N x 3 x H x W, [0, 1]) and ``trimap`` (0/0.5/1).

    Without any known foreground (or background) pixel its estimate is black and alpha^ follows
    from the other alone; the network also sees the trimap, so it can tell. ``out``: an
    N x 7 x H x W tensor to write into (tiled inference of a large image, where a second
    full-size copy would cost memory); returned.
    """
    if out is None:
        out = image.new_empty((image.shape[0], HINT_CHANNELS, *image.shape[-2:]))
    out[:, 0:3] = push_pull(image, (trimap >= 0.75).to(image.dtype))
    out[:, 3:6] = push_pull(image, (trimap <= 0.25).to(image.dtype))
    fg, bg = out[:, 0:3], out[:, 3:6]
    difference = fg - bg
    alpha = ((image - bg) * difference).sum(1, keepdim=True)
    alpha /= (difference * difference).sum(1, keepdim=True) + EPS
    out[:, 6:7] = alpha.clamp_(0.0, 1.0)
    return out


@torch.no_grad()
def sampling_hints(image: torch.Tensor, trimap: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """Shared matting's F, B and alpha (N x 7 x H x W), the channels of :func:`known_colour_hints`.

    Each image of the batch is solved on its own by
    :func:`~mattebox.solvers.shared_sampling.estimate_alpha_sm` (the paper's parameters). An
    image whose trimap lacks foreground or background pixels, where sampling has no pair to
    choose, gets the push-pull hints instead. ``out`` as in :func:`known_colour_hints`.
    """
    from ..checks import as_trimap
    from ..solvers.shared_sampling import estimate_alpha_sm

    if out is None:
        out = image.new_empty((image.shape[0], HINT_CHANNELS, *image.shape[-2:]))
    for i in range(image.shape[0]):
        tri = as_trimap(trimap[i, 0].detach().cpu().numpy().astype(np.float64))
        if not (np.any(tri == 1.0) and np.any(tri == 0.0)):
            known_colour_hints(image[i:i + 1], trimap[i:i + 1], out=out[i:i + 1])
            continue
        rgb = image[i].detach().cpu().numpy().transpose(1, 2, 0).astype(np.float64)
        alpha, fg, bg = estimate_alpha_sm(np.clip(rgb, 0.0, 1.0), tri, return_foreground_background=True)
        out[i, 0:3] = torch.from_numpy(fg.transpose(2, 0, 1).astype(np.float32))
        out[i, 3:6] = torch.from_numpy(bg.transpose(2, 0, 1).astype(np.float32))
        out[i, 6] = torch.from_numpy(alpha.astype(np.float32))
    return out


def hint_alpha(image: np.ndarray, trimap: np.ndarray) -> np.ndarray:
    """alpha^ alone for ``image`` (H x W x 3, [0, 1]) and ``trimap`` (H x W, 0 / 0.5 / 1), known
    regions kept: what the hints tell a network before it learns anything (H x W float64)."""
    image_t = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32).transpose(2, 0, 1))[None]
    trimap_t = torch.from_numpy(np.ascontiguousarray(trimap, dtype=np.float32))[None, None]
    alpha = known_colour_hints(image_t, trimap_t)[0, 6].numpy().astype(np.float64)
    alpha[trimap == 0.0] = 0.0
    alpha[trimap == 1.0] = 1.0
    return alpha
