"""Training augmentations of the matting papers as named pipelines of small transforms.

A *sample* is a dict of NumPy arrays: it enters with ``fg`` (H x W x 3), ``alpha`` (H x W)
and ``bg`` (any size, fitted to cover the foreground) and leaves with ``image``, ``alpha``,
``trimap``, ``fg`` and ``bg``, all ``size`` x ``size`` float32 (trimap exactly 0 / 0.5 / 1),
plus what a recipe adds (``trimap_noisy`` for TCP, ``soft_seg`` and ``trimap_gt`` for the
semantic-guided Net-T). Each transform is a callable ``t(sample, rng) -> sample`` that
records what it drew in ``sample["meta"]``, so recipes can be checked statistically.

Morphology uses Euclidean discs through the distance transform: "a kernel of size k" (the
papers' k x k structuring element) erodes a region by k / 2 px on every side, at any k in
O(pixels) (a 5 x 5 chamfer distance, within 2 % of Euclidean). Erosion or dilation *p
times* with size k equals one with size p k (discs add).

>>> pipeline = get_pipeline("alphagan", size=320)                      # doctest: +SKIP
>>> out = pipeline({"fg": fg, "alpha": alpha, "bg": bg}, np.random.default_rng(0))
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import cv2
import numpy as np

from ..errors import InputError
from .composition import fit_background

Sample = dict[str, Any]
Transform = Callable[[Sample, np.random.Generator], Sample]

#: An alpha at or above ``1 - ALPHA_EPS`` counts as opaque, at or below ``ALPHA_EPS`` as clear.
ALPHA_EPS = 1e-3
#: Keys resampled together by the geometric transforms.
_COLOUR_KEYS = ("fg", "bg", "image")
_MATTE_KEYS = ("alpha", "soft_seg")
_TRIMAP_KEYS = ("trimap", "trimap_noisy", "trimap_gt")


# --- morphology --------------------------------------------------------------------------

def erode(mask: np.ndarray, size: float) -> np.ndarray:
    """Erode a boolean mask by a disc of diameter ``size`` (removes ``size / 2`` px per side).

    Pixels outside the image count as inside the mask, so a region touching the border is
    not eaten from there.
    """
    mask = np.asarray(mask, bool)
    if size <= 1 or not mask.any():
        return mask.copy()
    if mask.all():
        return mask.copy()
    padded = np.pad(mask, 1, mode="edge").astype(np.uint8)
    # The 5 x 5 chamfer distance is within 2 % of the Euclidean one and 4x faster than exact.
    distance = cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_5)[1:-1, 1:-1]
    return distance > size / 2


def dilate(mask: np.ndarray, size: float) -> np.ndarray:
    """Dilate a boolean mask by a disc of diameter ``size`` (grows ``size / 2`` px per side)."""
    return ~erode(~np.asarray(mask, bool), size)


def trimap_from_alpha(alpha: np.ndarray, fg_size: float = 1, bg_size: float | None = None,
                      eps: float = ALPHA_EPS) -> np.ndarray:
    """Trimap from a ground-truth alpha by eroding its opaque and clear regions.

    Foreground = opaque region (alpha >= 1 - eps) eroded by ``fg_size``; background = clear
    region (alpha <= eps) eroded by ``bg_size`` (default ``fg_size``); the rest is unknown.
    Sizes 1 give the exact trimap of Eq. 2 of the TCP paper; ``fg_size = bg_size = k`` is
    the dilation of the fractional region by k of Deep Image Matting and AlphaGAN.
    """
    alpha = np.asarray(alpha)
    bg_size = fg_size if bg_size is None else bg_size
    trimap = np.full(alpha.shape, 0.5, np.float32)
    trimap[erode(alpha >= 1 - eps, fg_size)] = 1.0
    trimap[erode(alpha <= eps, bg_size)] = 0.0
    return trimap


def _resize(array: np.ndarray, width: int, height: int, nearest: bool = False) -> np.ndarray:
    if array.shape[1] == width and array.shape[0] == height:
        return array
    if nearest:
        method = cv2.INTER_NEAREST
    elif width < array.shape[1]:
        method = cv2.INTER_AREA
    else:
        method = cv2.INTER_LINEAR
    return cv2.resize(array, (width, height), interpolation=method)


def _each(sample: Sample, fn_colour, fn_matte, fn_trimap) -> None:
    for key in _COLOUR_KEYS:
        if key in sample:
            sample[key] = fn_colour(sample[key])
    for key in _MATTE_KEYS:
        if key in sample:
            sample[key] = fn_matte(sample[key])
    for key in _TRIMAP_KEYS:
        if key in sample:
            sample[key] = fn_trimap(sample[key])


def _meta(sample: Sample) -> dict:
    return sample.setdefault("meta", {})


def _draw_size(rng: np.random.Generator, sizes: tuple[int, int] | Sequence[int]) -> int:
    """An int uniform in the inclusive range ``(lo, hi)``, or one of an explicit list."""
    if isinstance(sizes, tuple) and len(sizes) == 2:
        return int(rng.integers(sizes[0], sizes[1] + 1))
    return int(sizes[int(rng.integers(len(sizes)))])


# --- transforms --------------------------------------------------------------------------

class RandomResize:
    """Scale fg and alpha (and anything already there) by a factor uniform in [low, high]."""

    def __init__(self, low: float, high: float) -> None:
        self.low, self.high = low, high

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        factor = float(rng.uniform(self.low, self.high))
        h, w = sample["alpha"].shape
        nh, nw = max(8, int(round(h * factor))), max(8, int(round(w * factor)))
        _each(sample, lambda a: _resize(a, nw, nh), lambda a: _resize(a, nw, nh),
              lambda a: _resize(a, nw, nh, nearest=True))
        _meta(sample)["resize"] = factor
        return sample


class RandomRotation:
    """Rotate fg and alpha about the centre by an angle ~ N(0, ``std``) or U(-limit, limit) degrees.

    The canvas keeps its size; alpha is 0 and F is reflected where the rotated image does not
    reach (so no black fringe enters F).
    """

    def __init__(self, std: float | None = None, limit: float | None = None) -> None:
        if (std is None) == (limit is None):
            raise ValueError("give exactly one of std and limit")
        self.std, self.limit = std, limit

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        if self.std is not None:
            angle = float(rng.normal(0.0, self.std))
        else:
            angle = float(rng.uniform(-self.limit, self.limit))
        h, w = sample["alpha"].shape
        matrix = cv2.getRotationMatrix2D((w / 2 - 0.5, h / 2 - 0.5), angle, 1.0)

        def warp(a, border, flags=cv2.INTER_LINEAR):
            return cv2.warpAffine(a, matrix, (w, h), flags=flags, borderMode=border, borderValue=0)

        for key in ("fg", "image"):
            if key in sample:
                sample[key] = warp(sample[key], cv2.BORDER_REFLECT)
        for key in _MATTE_KEYS:
            if key in sample:
                sample[key] = np.clip(warp(sample[key], cv2.BORDER_CONSTANT), 0, 1)
        for key in _TRIMAP_KEYS:
            if key in sample:
                sample[key] = warp(sample[key], cv2.BORDER_CONSTANT, cv2.INTER_NEAREST)
        _meta(sample)["angle"] = angle
        return sample


class FitBackground:
    """Fit ``bg`` to the foreground's size: scale to cover, crop at a random offset
    (:func:`~mattebox.data.composition.fit_background`), with an optional random zoom."""

    def __init__(self, zoom: tuple[float, float] = (1.0, 1.0)) -> None:
        self.zoom = zoom

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        h, w = sample["alpha"].shape
        zoom = float(rng.uniform(*self.zoom)) if self.zoom[1] > self.zoom[0] else self.zoom[0]
        sample["bg"] = fit_background(sample["bg"], h, w, rng, zoom=zoom)
        return sample


class TrimapFromAlpha:
    """Random trimap by morphology of the ground-truth alpha.

    ``mode="dilate"``: one kernel size for both sides, the fractional region dilated (DIM,
    AlphaGAN); ``mode="erode"``: independent sizes for the foreground and the background
    erosions (GCA-style "random erosion"); ``mode="erode_same"``: one size eroding both.
    ``sizes`` is the inclusive range of kernel sizes. The result goes to ``key``.
    """

    def __init__(self, sizes: tuple[int, int], mode: str = "dilate", key: str = "trimap") -> None:
        if mode not in ("dilate", "erode", "erode_same"):
            raise ValueError(f"unknown trimap mode {mode!r}")
        self.sizes, self.mode, self.key = sizes, mode, key

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        k_fg = _draw_size(rng, self.sizes)
        k_bg = _draw_size(rng, self.sizes) if self.mode == "erode" else k_fg
        sample[self.key] = trimap_from_alpha(sample["alpha"], k_fg, k_bg)
        _meta(sample)[f"{self.key}_kernels"] = (k_fg, k_bg)
        return sample


class CropOnUnknown:
    """Crop a square of side ``sizes`` (inclusive range or list) centred on a random unknown
    pixel, then resize it to ``out_size`` (Deep Image Matting Sec. 4; AlphaGAN Sec. 3.1).

    Unknown pixels are those of ``sample["trimap"]`` when there is one, else the fractional
    alpha (the unknown region of the exact trimap); with none, the centre is any pixel. The
    window is shifted to lie inside the image; where the image is smaller than the crop it is
    padded (fg reflected, alpha and trimap 0). After resizing, a trimap pixel marked known
    whose resampled alpha is no longer exactly 0 or 1 is set unknown, so that known regions
    stay correct.
    """

    def __init__(self, sizes: tuple[int, int] | Sequence[int], out_size: int) -> None:
        self.sizes, self.out_size = sizes, int(out_size)

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        side = _draw_size(rng, self.sizes)
        alpha = sample["alpha"]
        h, w = alpha.shape
        if "trimap" in sample:
            candidates = np.flatnonzero(sample["trimap"] == 0.5)
        else:
            candidates = np.flatnonzero((alpha > ALPHA_EPS) & (alpha < 1 - ALPHA_EPS))
        index = int(candidates[rng.integers(len(candidates))]) if len(candidates) else int(rng.integers(h * w))
        cy, cx = divmod(index, w)
        pad_y, pad_x = max(0, side - h), max(0, side - w)
        if pad_y or pad_x:
            top, left = pad_y // 2, pad_x // 2
            pads = ((top, pad_y - top), (left, pad_x - left))
            _each(sample,
                  lambda a: np.pad(a, pads + ((0, 0),), mode="reflect" if min(a.shape[:2]) > 1 else "edge"),
                  lambda a: np.pad(a, pads), lambda a: np.pad(a, pads))
            cy, cx, h, w = cy + top, cx + left, h + pad_y, w + pad_x
        y = int(np.clip(cy - side // 2, 0, h - side))
        x = int(np.clip(cx - side // 2, 0, w - side))
        n = self.out_size

        def cut(a, nearest=False):
            return _resize(np.ascontiguousarray(a[y:y + side, x:x + side]), n, n, nearest)

        _each(sample, cut, lambda a: np.clip(cut(a), 0, 1), lambda a: cut(a, nearest=True))
        if side != n:
            _repair_trimaps(sample)
        _meta(sample)["crop"] = (y, x, side)
        return sample


def _repair_trimaps(sample: Sample) -> None:
    alpha = sample["alpha"]
    wrong = ((alpha > ALPHA_EPS) & (alpha < 1 - ALPHA_EPS))
    for key in ("trimap", "trimap_gt"):
        if key in sample:
            sample[key] = np.where(wrong & (sample[key] != 0.5), np.float32(0.5), sample[key])


class RandomCrop:
    """Crop a square of side uniform in ``fraction`` x the short side at a random place,
    resized to ``out_size`` (the semantic-guided Net-T's random patches, Sec. 4.1)."""

    def __init__(self, fraction: tuple[float, float], out_size: int) -> None:
        self.fraction, self.out_size = fraction, int(out_size)

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        h, w = sample["alpha"].shape
        side = max(8, int(round(min(h, w) * rng.uniform(*self.fraction))))
        side = min(side, h, w)
        y, x = int(rng.integers(h - side + 1)), int(rng.integers(w - side + 1))
        n = self.out_size

        def cut(a, nearest=False):
            return _resize(np.ascontiguousarray(a[y:y + side, x:x + side]), n, n, nearest)

        _each(sample, cut, lambda a: np.clip(cut(a), 0, 1), lambda a: cut(a, nearest=True))
        _meta(sample)["crop"] = (y, x, side)
        return sample


class RandomFlip:
    """Mirror everything left-right with probability ``p``."""

    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        flip = bool(rng.random() < self.p)
        if flip:
            _each(sample, lambda a: np.ascontiguousarray(a[:, ::-1]),
                  lambda a: np.ascontiguousarray(a[:, ::-1]), lambda a: np.ascontiguousarray(a[:, ::-1]))
        _meta(sample)["flip"] = flip
        return sample


class NoisyTrimap:
    """TCP's noisier trimap for the textural compensate path (Sec. 3.3).

    Starting from ``sample["trimap"]``, ``n`` in [0, ``max_steps``] steps each apply to the
    unknown region either a ``p``-iteration dilation with kernel size in ``dilate_sizes`` or
    a ``p``-iteration erosion with kernel size in ``erode_sizes``, ``p`` in [0, ``max_iter``].
    Pixels an erosion takes out of the unknown region become foreground where alpha >= 0.5
    and background elsewhere (the paper does not say; this is the nearest-label choice).
    """

    def __init__(self, max_steps: int = 3, max_iter: int = 3, dilate_sizes=(1, 30),
                 erode_sizes=(1, 10)) -> None:
        self.max_steps, self.max_iter = max_steps, max_iter
        self.dilate_sizes, self.erode_sizes = dilate_sizes, erode_sizes

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        trimap = sample["trimap"].copy()
        alpha = sample["alpha"]
        steps = []
        for _ in range(int(rng.integers(0, self.max_steps + 1))):
            op = "dilate" if rng.random() < 0.5 else "erode"
            iterations = int(rng.integers(0, self.max_iter + 1))
            size = _draw_size(rng, self.dilate_sizes if op == "dilate" else self.erode_sizes)
            steps.append((op, iterations, size))
            if iterations == 0 or size <= 1:
                continue
            unknown = trimap == 0.5
            if op == "dilate":
                trimap[dilate(unknown, size * iterations)] = 0.5
            else:
                removed = unknown & ~erode(unknown, size * iterations)
                trimap[removed] = np.where(alpha[removed] >= 0.5, 1.0, 0.0)
        sample["trimap_noisy"] = trimap
        _meta(sample)["noisy_steps"] = steps
        return sample


class SoftSegmentation:
    """The semantic-guided Net-T's inputs and target (Sec. 4.1).

    A random trimap by erosion of the alpha's opaque and clear regions with sizes in
    ``trimap_sizes`` (1..29); the initial segmentation = its unknown + foreground; that
    eroded then dilated by sizes in ``seg_sizes`` (1..59) and blurred by a Gaussian of odd
    size in ``blur_sizes`` (the paper says "a random Gaussian blur"; 3..31 is our choice)
    gives ``soft_seg``; ``trimap_gt`` is the alpha's trimap by a ``gt_size`` (15) erosion.
    """

    def __init__(self, trimap_sizes=(1, 29), seg_sizes=(1, 59), blur_sizes=(3, 31), gt_size: int = 15) -> None:
        self.trimap_sizes, self.seg_sizes = trimap_sizes, seg_sizes
        self.blur_sizes, self.gt_size = blur_sizes, gt_size

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        alpha = sample["alpha"]
        k_fg, k_bg = _draw_size(rng, self.trimap_sizes), _draw_size(rng, self.trimap_sizes)
        trimap = trimap_from_alpha(alpha, k_fg, k_bg)
        k_erode, k_dilate = _draw_size(rng, self.seg_sizes), _draw_size(rng, self.seg_sizes)
        seg = dilate(erode(trimap > 0, k_erode), k_dilate).astype(np.float32)
        blur = _draw_size(rng, self.blur_sizes) | 1
        sample["soft_seg"] = np.clip(cv2.GaussianBlur(seg, (blur, blur), 0), 0, 1)
        sample["trimap"] = trimap
        sample["trimap_gt"] = trimap_from_alpha(alpha, self.gt_size, self.gt_size)
        _meta(sample).update(trimap_kernels=(k_fg, k_bg), seg_kernels=(k_erode, k_dilate), blur=blur)
        return sample


class BackgroundDefocus:
    """Blur ``bg`` with probability ``p`` by a Gaussian of sigma uniform in ``sigma`` (output
    pixels), as a lens focused on the foreground would.

    Ours, in no paper's recipe: photos taken for matting (the alphamatting.com images among
    them) show the object in focus in front of a defocused background, while the composites
    put it over sharp photos. The range 1..6 px is our choice, read off the 800 px
    alphamatting-dev photos.
    """

    def __init__(self, p: float = 0.5, sigma: tuple[float, float] = (1.0, 6.0)) -> None:
        if not 0 <= p <= 1 or not 0 < sigma[0] <= sigma[1]:
            raise ValueError(f"BackgroundDefocus needs 0 <= p <= 1 and 0 < sigma low <= high; got {p}, {sigma}")
        self.p, self.sigma = p, sigma

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        sigma = float(rng.uniform(*self.sigma)) if rng.random() < self.p else 0.0
        if sigma > 0:
            sample["bg"] = cv2.GaussianBlur(sample["bg"], (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
        _meta(sample)["bg_sigma"] = sigma
        return sample


class Composite:
    """``image = alpha fg + (1 - alpha) bg``, the last step of every recipe."""

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        a = sample["alpha"][..., None]
        sample["image"] = (a * sample["fg"] + (1 - a) * sample["bg"]).astype(np.float32)
        return sample


# --- pipelines ---------------------------------------------------------------------------

class Pipeline:
    """A named sequence of transforms: ``pipeline(sample, rng) -> sample``."""

    def __init__(self, name: str, transforms: Sequence[Transform], size: int) -> None:
        self.name, self.transforms, self.size = name, list(transforms), size

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        out = _prepare(sample)
        for transform in self.transforms:
            out = transform(out, rng)
        for key, value in out.items():
            if isinstance(value, np.ndarray):
                value = np.ascontiguousarray(value, np.float32)
                out[key] = np.clip(value, 0, 1) if key in _COLOUR_KEYS + _MATTE_KEYS else value
        return out

    def __repr__(self) -> str:
        steps = ", ".join(type(t).__name__ for t in self.transforms)
        return f"Pipeline({self.name!r}, size={self.size}: {steps})"


def _prepare(sample: Sample) -> Sample:
    for key in ("fg", "alpha", "bg"):
        if key not in sample:
            raise InputError(f"an augmentation sample needs 'fg', 'alpha' and 'bg'; '{key}' is missing")
    fg = np.asarray(sample["fg"], np.float32)
    alpha = np.asarray(sample["alpha"], np.float32)
    bg = np.asarray(sample["bg"], np.float32)
    if fg.ndim != 3 or fg.shape[2] != 3 or alpha.shape != fg.shape[:2]:
        raise InputError(f"fg must be H x W x 3 and alpha H x W of the same size; got {fg.shape} and {alpha.shape}")
    if bg.ndim != 3 or bg.shape[2] != 3:
        raise InputError(f"bg must be H x W x 3; got {bg.shape}")
    return {"fg": fg, "alpha": alpha, "bg": bg, "meta": {}}


def _dim(size: int) -> list[Transform]:
    # Deep Image Matting Sec. 4 ("Implementation"): crops of 320, 480 and 640 centred on
    # unknown pixels, resized to 320; random flips; trimaps randomly dilated from the alpha
    # (no kernel range given: AlphaGAN's 2..20). No rotation in DIM.
    scale = size / 320
    return [FitBackground(), TrimapFromAlpha((2, 20), "dilate"),
            CropOnUnknown([int(320 * scale), int(480 * scale), int(640 * scale)], size),
            RandomFlip(), Composite()]


def _dim_defocus(size: int) -> list[Transform]:
    # DIM's recipe with the background defocused in half of the samples (ours, see
    # BackgroundDefocus); everything else as _dim.
    transforms = _dim(size)
    return transforms[:-1] + [BackgroundDefocus(), transforms[-1]]


def _alphagan(size: int) -> list[Transform]:
    # AlphaGAN Sec. 3.1: rotation ~ N(0, 5 deg); trimap by dilation with kernels 2..20; crops
    # 320..720 centred on unknown pixels, resized to 320; random flips.
    scale = size / 320
    return [RandomRotation(std=5.0), FitBackground(), TrimapFromAlpha((2, 20), "dilate"),
            CropOnUnknown((int(320 * scale), int(720 * scale)), size), RandomFlip(), Composite()]


def _adamatting(size: int) -> list[Transform]:
    # AdaMatting Sec. 4.1: random resize 0.75..1.5, rotation -45..45 deg, random flips, crops
    # 320..800 along the unknown region resized to 320, trimaps by random erosion and
    # dilation (range not given: 2..20 per side, independent).
    scale = size / 320
    return [RandomResize(0.75, 1.5), RandomRotation(limit=45.0), FitBackground(),
            TrimapFromAlpha((2, 20), "erode"),
            CropOnUnknown((int(320 * scale), int(800 * scale)), size), RandomFlip(), Composite()]


def _tcp(size: int) -> list[Transform]:
    # TCP Sec. 3.3: the semantic-path trimap erodes the Eq. 2 trimap's foreground and
    # background by one kernel of size 1..30; the textural path gets it after n in [0, 3]
    # random p-iteration (p in [0, 3]) dilations (1..30) or erosions (1..10). Crops are not
    # given: AlphaGAN's 320..720 -> 320 centred on fractional alpha, flips.
    scale = size / 320
    return [FitBackground(), CropOnUnknown((int(320 * scale), int(720 * scale)), size), RandomFlip(),
            TrimapFromAlpha((1, 30), "erode_same"), NoisyTrimap(), Composite()]


def _semantic_guided(size: int) -> list[Transform]:
    # Semantic-guided Net-T Sec. 4.1: random patches resized to 512 (default size here 320;
    # pass size=512 for the paper's), soft segmentation and 15-px ground-truth trimap.
    return [FitBackground(), RandomCrop((0.5, 1.0), size), RandomFlip(), SoftSegmentation(), Composite()]


PIPELINES: dict[str, Callable[[int], list[Transform]]] = {
    "dim": _dim,
    "dim_defocus": _dim_defocus,
    "alphagan": _alphagan,
    "adamatting": _adamatting,
    "tcp": _tcp,
    "semantic_guided": _semantic_guided,
}


def list_pipelines() -> list[str]:
    """Names accepted by :func:`get_pipeline`."""
    return sorted(PIPELINES)


def get_pipeline(name: str, size: int = 320) -> Pipeline:
    """The augmentation recipe ``name`` producing ``size`` x ``size`` samples.

    Crop ranges scale with ``size`` / 320 (the papers' 320 px training patches), so
    ``size=320`` is each paper's recipe exactly.
    """
    key = str(name).lower().replace("-", "_")
    if key not in PIPELINES:
        raise InputError(f"unknown augmentation pipeline {name!r}; choose from {', '.join(list_pipelines())}")
    if int(size) < 32:
        raise InputError(f"pipeline size must be at least 32, not {size}")
    return Pipeline(key, PIPELINES[key](int(size)), int(size))
