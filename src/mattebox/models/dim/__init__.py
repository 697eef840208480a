"""Deep Image Matting (Xu, Price, Cohen and Huang, CVPR 2017), registered as method ``"dim"``.

:mod:`.network` holds the network, :mod:`.training` its staged objective. The shipped
weights (``mattebox/weights/dim_small.pt``) are the small CPU configuration trained with
``configs/dim_small.toml`` and then fine-tuned with the known-colour hints and per-sample
batch norm (both ours) by ``configs/dim_small_ft_sample_norm.toml``; they predict with each
image's own batch-norm statistics unless told otherwise and load lazily on first use.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from ...errors import InputError
from ...registry import register_method
from ...solvers.prior_refine import checked_refinement
from ..base import DEFAULT_HALO, DEFAULT_RAMP, DEFAULT_TILE

#: The checkpoint ``mattebox matte --method dim`` uses unless ``weights=`` names another.
DEFAULT_WEIGHTS = Path(__file__).resolve().parents[2] / "weights" / "dim_small.pt"


def build_model(**options):
    """A :class:`~.network.DIMNet` (options: widths, blocks, decoder_kernel, refine_width, batch_norm,
    colour_hints, hint_skip)."""
    from .network import DIMNet

    return DIMNet(**options)


def build_objective(model, **options):
    """The staged DIM objective (options: coarse_steps, refine_steps, alpha_weight, pure_weight,
    hint_gate_lr_factor, norm_per_sample)."""
    from .training import DIMObjective

    return DIMObjective(model, **options)


@functools.lru_cache(maxsize=4)
def _load(path: str):
    from .. import load_weights

    return load_weights(path, expect="dim")


def load_dim(weights: str | Path | None = None):
    """The DIM network from ``weights`` (default: the shipped small model), cached."""
    path = Path(weights) if weights is not None else DEFAULT_WEIGHTS
    if not path.is_file():
        if weights is None:
            raise InputError(
                f"the shipped DIM weights ({path.name}) are missing from this installation; train "
                "them with `mattebox train configs/dim_small.toml --export "
                "src/mattebox/weights/dim_small.pt` or pass weights=PATH (--weights) to a checkpoint"
            )
        raise InputError(f"DIM weights file {path} does not exist; pass the path of a checkpoint "
                         "written by `mattebox train`")
    return _load(str(path.resolve()))


@register_method(
    "dim",
    needs="trimap",
    summary="Deep Image Matting: VGG-style encoder-decoder with refinement (small CPU model)",
    reference="Xu, Price, Cohen, Huang. Deep Image Matting. CVPR 2017",
    aliases=("deep-image-matting",),
)
def estimate_alpha_dim(
    image: np.ndarray,
    trimap: np.ndarray,
    *,
    weights: str | Path | None = None,
    tile_size: int | None = DEFAULT_TILE,
    halo: int = DEFAULT_HALO,
    ramp: int = DEFAULT_RAMP,
    device: str = "cpu",
    scale: float = 1.0,
    norm_stats: str | None = None,
    refine: str = "none",
    flip: bool = False,
) -> np.ndarray:
    """Alpha of ``image`` under ``trimap`` from the trained DIM network.

    Images with a side over ``tile_size`` pixels run in overlapping tiles
    (:func:`mattebox.models.base.predict_alpha`); known trimap regions are kept. ``scale`` < 1
    runs the network on a shrunk copy (``-O scale=0.5``): the small models were trained on
    640- and 960-pixel composites seen shrunk by 0.44-1; on the 800-pixel dev photos and the
    synthetic test set the shipped one has a lower SAD at 0.5, in a third of the time, since
    the shrunk alpha is upsampled guided by the photo (BENCHMARKS.md); the default stays 1.
    ``norm_stats="image"`` (``-O norm_stats=image``) normalises by the image's own batch-norm
    statistics instead of those gathered on the training composites
    (:mod:`mattebox.models.base`), ``"running"`` by those; the default (None) is what the
    weights file names, "running" for files that name none. A model trained with
    ``[objective] norm_per_sample`` is exported with "image".

    ``refine="laplacian"`` (``-O refine=laplacian``; ours, not in the paper) passes the
    network's matte through :func:`mattebox.solvers.prior_refine.refine_alpha_laplacian`: the
    matting Laplacian keeps the network's sure pixels and fills in the unsure ones from the
    image's colour lines. On the alphamatting-dev photos the shipped model's SAD falls by
    about half and ends below closed-form's; on a blurred 4K upscale it rose (BENCHMARKS.md).
    The default ("none") is the network alone, as in the paper.

    ``flip=True`` (``-O flip=True``; test-time augmentation, not in the paper) averages the
    network's matte with its matte of the mirrored image, mirrored back: a second network
    pass (1.5-1.7x the time on the dev photos, BENCHMARKS.md).
    """
    checked_refinement(refine)
    if not isinstance(flip, (bool, np.bool_)):
        raise InputError(f"flip must be True or False, not {flip!r}")
    if not np.any(trimap == 0.5):
        return trimap.astype(np.float64, copy=True)
    from ..base import as_device

    device = as_device(device)
    model = load_dim(weights)
    if device.type != "cpu":
        model = model.to(device)
    options = dict(tile_size=tile_size, halo=halo, ramp=ramp, device=device, scale=scale,
                   norm_stats=norm_stats)
    alpha = model.predict(image, trimap, **options)
    if flip:
        mirrored = model.predict(np.ascontiguousarray(image[:, ::-1]),
                                 np.ascontiguousarray(trimap[:, ::-1]), **options)
        alpha = 0.5 * (alpha + mirrored[:, ::-1])
    if refine == "laplacian":
        from ...solvers.prior_refine import refine_alpha_laplacian

        alpha = refine_alpha_laplacian(image, trimap, alpha)
    return alpha
