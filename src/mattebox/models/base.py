"""The shared "mattor": what every deep matting model does around its network.

- Input normalisation (:func:`normalise_input`): RGB with the ImageNet mean and deviation,
  the trimap mapped to -1 / 0 / 1, concatenated into N x 4 x H x W.
- Padding to a multiple of 32 (the encoders downsample 5 times) by reflection, cropped off
  after the network.
- Restoring the known trimap regions (:func:`restore_known`): alpha = 0 on background and 1
  on foreground, as the DIM evaluation does.
- Tiled inference (:func:`predict_alpha`) so any size runs in bounded memory.

Tiling. The image is padded once to a multiple of 32 and cut into T x T tiles (T a multiple of
32) at positions on the 32-pixel grid, so each tile sees the same pooling grid as the whole
image would. Neighbouring tiles overlap by ``2 * halo + ramp`` pixels. In each tile the outer
``halo`` pixels along an inner edge (one shared with another tile) get weight 0, as they lack
context; the next ``ramp`` pixels rise linearly to 1. The matte is the weighted mean of the
tile predictions. For a network whose receptive field reaches no further than ``halo``
pixels, the tiled matte equals the untiled one; for deep encoders with larger receptive
fields it is an approximation that improves with T. Tiles holding no unknown pixel are not
run. A network whose inputs depend on the whole image (DIM's known-colour hints: the nearest
known colours may lie in another tile) computes them once on the padded image through its
``whole_image_inputs(image, trimap, out=...)`` (``whole_image_channels`` of them); each
tile gets its slice, passed as ``extra``.

Memory bound of tiled :func:`predict_alpha` beyond the caller's inputs: 24 bytes per padded
pixel (the float32 RGB + trimap copy, 16, and two float32 accumulators, 8; the copy is freed
before the float64 result, 8, is made), plus 8 per channel of whole-image inputs (4 kept,
4 while they are made; DIM with colour hints: 7 channels, 56 bytes), plus the network's
working memory on one T x T tile, A(T), which does not depend on the image size. This is
the arrays' account; the allocator's retention of freed blocks comes on top (measured up to 5%
above the bound on a 4K image, BENCHMARKS.md "Tiled inference memory"). ``benchmarks/tiled_inference_memory.py``
measures both on a 4K image.

Normalisation statistics. ``norm_stats="image"`` runs the network a first time over the same
tiles on a copy whose batch-norm layers normalise by the input's own statistics, pools those
per layer over the tiles, and then predicts with the pooled statistics in place of the running
ones gathered in training (test-time statistics, as in AdaBN: Li et al., "Revisiting Batch
Normalization For Practical Domain Adaptation", 2016). On an image of one tile this is
batch norm with the image's own statistics. It costs a second pass.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
from torch import nn

from ..errors import InputError

#: Per-channel mean and deviation of ImageNet RGB, the usual input normalisation of
#: VGG/ResNet encoders (kept although our encoders are trained from scratch).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: Spatial size multiple the encoders need (five 2x downsamplings).
MULTIPLE = 32

#: Default tiling: images with a side longer than this run in tiles of this size.
DEFAULT_TILE = 1024
DEFAULT_HALO = 64
DEFAULT_RAMP = 64
#: Where batch-norm layers take their statistics at inference (see the module docstring).
NORM_STATS = ("running", "image")


def normalise_input(image: torch.Tensor, trimap: torch.Tensor) -> torch.Tensor:
    """Network input from ``image`` (N x 3 x H x W, [0, 1]) and ``trimap`` (N x 1 x H x W, 0/0.5/1).

    RGB is standardised with :data:`IMAGENET_MEAN` / :data:`IMAGENET_STD`; the trimap becomes
    2 t - 1 (background -1, unknown 0, foreground 1). Returns N x 4 x H x W.
    """
    mean = image.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = image.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return torch.cat([(image - mean) / std, 2.0 * trimap - 1.0], dim=1)


def padded_size(size: int, multiple: int = MULTIPLE) -> int:
    """The smallest multiple of ``multiple`` that is >= ``size``."""
    return int(math.ceil(size / multiple) * multiple)


def _pad_plane(plane: np.ndarray, height: int, width: int) -> np.ndarray:
    """Pad a 2-D float32 array at the bottom and right to ``height`` x ``width``.

    Reflection (no edge repeat) where the image is large enough, edge replication otherwise.
    """
    pad_y, pad_x = height - plane.shape[0], width - plane.shape[1]
    if pad_y == 0 and pad_x == 0:
        return plane
    mode = "reflect" if pad_y < plane.shape[0] and pad_x < plane.shape[1] else "edge"
    return np.pad(plane, ((0, pad_y), (0, pad_x)), mode=mode)


def pad_inputs(image: np.ndarray, trimap: np.ndarray, multiple: int = MULTIPLE,
               extra_channels: int = 0) -> torch.Tensor:
    """1 x 4 x H' x W' float32 tensor holding RGB and trimap, padded to a multiple of ``multiple``
    (with ``extra_channels`` more, left unset, after them)."""
    height, width = trimap.shape
    ph, pw = padded_size(height, multiple), padded_size(width, multiple)
    out = torch.empty((1, 4 + extra_channels, ph, pw), dtype=torch.float32)
    for channel in range(3):
        out[0, channel] = torch.from_numpy(_pad_plane(image[:, :, channel].astype(np.float32), ph, pw))
    out[0, 3] = torch.from_numpy(_pad_plane(trimap.astype(np.float32), ph, pw))
    return out


def restore_known(alpha: np.ndarray, trimap: np.ndarray) -> np.ndarray:
    """Clip ``alpha`` to [0, 1] and set the trimap's background to 0 and foreground to 1.

    Works in place on a float ``alpha`` (no image-sized copy) and returns it.
    """
    np.clip(alpha, 0.0, 1.0, out=alpha)
    alpha[trimap == 0.0] = 0.0
    alpha[trimap == 1.0] = 1.0
    return alpha


def tile_starts(length: int, tile: int, step: int) -> list[int]:
    """Start offsets of tiles of size ``tile`` covering ``length``, ``step`` apart, the last flush."""
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, step))
    starts.append(length - tile)
    return sorted(set(starts))


def blend_weights_1d(tile: int, inner_before: bool, inner_after: bool, halo: int, ramp: int) -> np.ndarray:
    """Blending weight along one axis of a tile: 0 on the ``halo``, a linear ``ramp``, then 1.

    Only edges shared with another tile (``inner_before`` / ``inner_after``) are faded.
    """
    u = np.arange(tile, dtype=np.float64) + 0.5
    weight = np.ones(tile)
    ramp = max(ramp, 1)
    if inner_before:
        weight = np.minimum(weight, np.clip((u - halo) / ramp, 0.0, 1.0))
    if inner_after:
        weight = np.minimum(weight, np.clip((tile - u - halo) / ramp, 0.0, 1.0))
    return weight.astype(np.float32)


def padded_network_inputs(model: nn.Module, image: np.ndarray, trimap: np.ndarray) -> torch.Tensor:
    """:func:`pad_inputs` (1 x 4 x H' x W') with the model's whole-image inputs appended as
    further channels: ``model.whole_image_channels`` of them, written in place by
    ``model.whole_image_inputs(rgb, trimap, out=...)`` (none for a model without them)."""
    channels = int(getattr(model, "whole_image_channels", 0))
    inputs = pad_inputs(image, trimap, extra_channels=channels)
    if channels:
        model.whole_image_inputs(inputs[:, :3], inputs[:, 3:4], out=inputs[:, 4:])
    return inputs


def _run_network(model: nn.Module, inputs: torch.Tensor, device: torch.device) -> np.ndarray:
    """The network's final alpha for a 1 x C x h x w input (RGB + trimap, then any whole-image
    inputs, see :func:`padded_network_inputs`), as float32 h x w."""
    inputs = inputs.to(device)
    if inputs.shape[1] > 4:
        outputs = model(inputs[:, :3], inputs[:, 3:4], extra=inputs[:, 4:])
    else:
        outputs = model(inputs[:, :3], inputs[:, 3:4])
    return outputs["alpha"][0, 0].float().cpu().numpy()


def predict_alpha(
    model: nn.Module,
    image: np.ndarray,
    trimap: np.ndarray,
    *,
    tile_size: int | None = DEFAULT_TILE,
    halo: int = DEFAULT_HALO,
    ramp: int = DEFAULT_RAMP,
    device: str | torch.device | None = None,
    scale: float = 1.0,
    norm_stats: str | None = None,
) -> np.ndarray:
    """Alpha of ``image`` (H x W x 3, [0, 1]) under ``trimap`` (0 / 0.5 / 1) from a mattor network.

    ``model(image, trimap)`` takes N x 3 x H x W RGB and N x 1 x H x W trimap tensors (sizes a
    multiple of 32) and returns a dict whose ``"alpha"`` is N x 1 x H x W. Images with a side
    longer than ``tile_size`` run in tiles (see the module docstring); ``tile_size=None`` never
    tiles. With ``scale`` < 1 the network sees a copy shrunk by that factor (image by area,
    trimap by nearest neighbour) and its alpha is brought back to full size guided by the
    photo (:func:`mattebox.solvers.preview.guided_upsample`): a network trained on smaller
    objects than the photo's, or a faster preview. ``norm_stats`` is "running" (the
    batch-norm statistics of training) or "image" (the image's own; see the module docstring);
    None takes the model's own choice: its ``norm_stats`` attribute, which
    :func:`mattebox.models.load_weights` sets from the weights file, else "running".
    Known trimap regions are restored in the result (H x W float64).
    """
    if norm_stats is None:
        norm_stats = getattr(model, "norm_stats", "running")
    if norm_stats not in NORM_STATS:
        raise InputError(f"norm_stats must be one of {', '.join(NORM_STATS)}, not {norm_stats!r}")
    height, width = trimap.shape
    try:
        scale = float(scale)
    except (TypeError, ValueError):
        raise InputError(f"scale must be a number in (0, 1], not {scale!r}") from None
    if not 0.0 < scale <= 1.0:
        raise InputError(f"scale must be in (0, 1] (the factor the image is shrunk by), not {scale}")
    tile_size, halo, ramp = _check_tiling(tile_size, halo, ramp)
    small = (max(1, round(width * scale)), max(1, round(height * scale)))
    if small != (width, height):
        import cv2

        from ..solvers.preview import guided_upsample

        shrunk = cv2.resize(np.asarray(image, np.float32), small, interpolation=cv2.INTER_AREA)
        alpha = predict_alpha(model, np.clip(shrunk, 0.0, 1.0).astype(np.float64),
                              cv2.resize(trimap, small, interpolation=cv2.INTER_NEAREST),
                              tile_size=tile_size, halo=halo, ramp=ramp, device=device,
                              norm_stats=norm_stats)
        alpha = guided_upsample(np.clip(shrunk, 0.0, 1.0), alpha, image)
        return restore_known(np.clip(alpha, 0.0, 1.0), trimap)
    if device is None:
        device = next(model.parameters()).device
    device = as_device(device)

    def run(network: nn.Module) -> np.ndarray:
        if tile_size is None or max(height, width) <= tile_size:
            inputs = padded_network_inputs(network, image, trimap)
            return _run_network(network, inputs, device)[:height, :width].astype(np.float64)
        return _predict_tiled(network, image, trimap, tile_size, halo, ramp, device)

    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            network = _with_input_statistics(model, run) if norm_stats == "image" else model
            alpha = run(network)
    finally:
        model.train(was_training)
    return restore_known(alpha, trimap)


def _with_input_statistics(model: nn.Module, run) -> nn.Module:
    """A copy of ``model`` (in eval mode) whose batch-norm layers hold the statistics of their
    inputs during ``run(copy)``, pooled over every call (tile) of that run.

    During the run each layer normalises by its current input's own mean and (biased) variance,
    and those are pooled weighted by the number of values; a layer whose input has a single
    value per channel (a 32 px image at the deepest level) keeps its running statistics.
    """
    if not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        return model
    adapted = copy.deepcopy(model).eval()
    pooled: dict[nn.Module, list] = {}

    def collect(module: nn.Module, args) -> None:
        x = args[0]
        count = x.numel() // x.shape[1]
        if count < 2:
            module.eval()
            return
        module.train()
        var, mean = torch.var_mean(x, [0, *range(2, x.dim())], unbiased=False)
        mean = mean.double()
        entry = pooled.setdefault(module, [0, torch.zeros_like(mean), torch.zeros_like(mean)])
        entry[0] += count
        entry[1] += mean * count
        entry[2] += (var.double() + mean**2) * count

    hooks = []
    for module in adapted.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            hooks.append(module.register_forward_pre_hook(collect))
            module.momentum = 0.0  # a throwaway copy: its running buffers are set below
    try:
        run(adapted)
    finally:
        for hook in hooks:
            hook.remove()
    for module, (count, mean_sum, square_sum) in pooled.items():
        mean = mean_sum / count
        module.running_mean.copy_(mean.to(module.running_mean.dtype))
        module.running_var.copy_((square_sum / count - mean**2).clamp_min(0).to(module.running_var.dtype))
    return adapted.eval()


def _check_tiling(tile_size: object, halo: object, ramp: object) -> tuple[int | None, int, int]:
    """(tile_size, halo, ramp) as ints, or InputError unless the tiling can work: ``tile_size``
    None or a multiple of MULTIPLE, ``halo`` and ``ramp`` whole numbers >= 0 leaving a
    positive step between tiles."""
    from ..checks import option_number

    halo = option_number(halo, "halo", minimum=0, whole=True)
    ramp = option_number(ramp, "ramp", minimum=0, whole=True)
    if tile_size is None:
        return None, halo, ramp
    tile_size = option_number(tile_size, "tile_size", minimum=MULTIPLE, whole=True)
    if tile_size % MULTIPLE:
        raise InputError(f"tile_size must be a multiple of {MULTIPLE} (e.g. 1024), not {tile_size}")
    if (tile_size - 2 * halo - ramp) // MULTIPLE * MULTIPLE <= 0:
        raise InputError(f"tile_size {tile_size} leaves no room past halo {halo} and ramp {ramp} on "
                         f"both sides; use a larger tile or a smaller halo")
    return tile_size, halo, ramp


def as_device(device: str | torch.device) -> torch.device:
    """``device`` as a torch device that exists here; InputError for a misspelt or absent one."""
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise InputError(f"device {device!r} is not a device name; use cpu, cuda or cuda:N") from exc
    if device.type == "cuda" and (not torch.cuda.is_available()
                                  or (device.index or 0) >= torch.cuda.device_count()):
        raise InputError(f"device {str(device)!r} is not available on this machine "
                         f"({torch.cuda.device_count()} CUDA device(s)); use cpu")
    return device


def _predict_tiled(
    model: nn.Module,
    image: np.ndarray,
    trimap: np.ndarray,
    tile_size: int,
    halo: int,
    ramp: int,
    device: torch.device,
) -> np.ndarray:
    # tile_size, halo and ramp were checked by predict_alpha (_check_tiling): step > 0
    step = (tile_size - 2 * halo - ramp) // MULTIPLE * MULTIPLE
    height, width = trimap.shape
    inputs = padded_network_inputs(model, image, trimap)
    ph, pw = inputs.shape[-2:]
    accumulated = np.zeros((ph, pw), dtype=np.float32)
    weight_sum = np.zeros((ph, pw), dtype=np.float32)
    ys, xs = tile_starts(ph, tile_size, step), tile_starts(pw, tile_size, step)
    for y in ys:
        th = min(tile_size, ph - y)
        wy = blend_weights_1d(th, y > 0, y + th < ph, halo, ramp)
        for x in xs:
            tw = min(tile_size, pw - x)
            if not np.any(trimap[y : y + th, x : x + tw] == 0.5):
                continue  # nothing to estimate here; known pixels are restored below
            wx = blend_weights_1d(tw, x > 0, x + tw < pw, halo, ramp)
            tile_alpha = _run_network(model, inputs[:, :, y : y + th, x : x + tw], device)
            weight = wy[:, None] * wx[None, :]
            accumulated[y : y + th, x : x + tw] += tile_alpha * weight
            weight_sum[y : y + th, x : x + tw] += weight
    del inputs  # frees 16 bytes per pixel (more with whole-image inputs) before the float64 result is made
    np.divide(accumulated, weight_sum, out=accumulated, where=weight_sum > 0)
    alpha = accumulated[:height, :width].astype(np.float64)
    del accumulated
    # where no tile ran there are only known pixels: take the trimap (restored anyway)
    np.copyto(alpha, trimap, where=weight_sum[:height, :width] == 0)
    return alpha


class Mattor(nn.Module):
    """Base of the deep matting networks: ``forward(image, trimap) -> {"alpha": ..., ...}``.

    Subclasses implement :meth:`forward` on RGB in [0, 1] and trimaps in 0 / 0.5 / 1
    (normalising with :func:`normalise_input`) and :meth:`compute_loss` for training.
    """

    def forward(self, image: torch.Tensor, trimap: torch.Tensor) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def compute_loss(
        self, outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor], step: int
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """The training loss of ``outputs`` on ``batch`` at training ``step``, and its named parts."""
        raise NotImplementedError

    def predict(self, image: np.ndarray, trimap: np.ndarray, **options) -> np.ndarray:
        """See :func:`predict_alpha`."""
        return predict_alpha(self, image, trimap, **options)
