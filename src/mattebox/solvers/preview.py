"""Fast previews: run any trimap method on a downscaled problem, upsample guided by the image.

The image and trimap are shrunk by ``scale`` (area averaging; a shrunk trimap pixel stays
known only where all the pixels it covers agree), the method solves the small problem, and
its alpha is brought back to full size by bilinear interpolation refined with the guided
filter (He, Sun and Tang, "Guided Image Filtering", ECCV 2010 / TPAMI 2013) with the
full-size image as guide, so that edges follow the image again. Known pixels of the trimap
are restored at the end. Cost falls roughly with scale^2.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ._common import UNKNOWN, trivial_alpha


def _box(values: np.ndarray, radius: int) -> np.ndarray:
    import cv2

    return cv2.boxFilter(values, -1, (2 * radius + 1, 2 * radius + 1), normalize=True,
                         borderType=cv2.BORDER_REFLECT)


def guided_filter(guide: np.ndarray, source: np.ndarray, radius: int, epsilon: float) -> np.ndarray:
    """Colour guided filter: q = a^T I + b, fitted per window (He et al., Eqs. 19-21)."""
    guide = guide.astype(np.float64)
    source = source.astype(np.float64)
    mean_i = _box(guide, radius)
    mean_p = _box(source, radius)
    cov_ip = _box(guide * source[..., None], radius) - mean_i * mean_p[..., None]
    variance = np.empty(guide.shape[:2] + (3, 3))
    for a in range(3):
        for b in range(a, 3):
            v = _box(guide[..., a] * guide[..., b], radius) - mean_i[..., a] * mean_i[..., b]
            variance[..., a, b] = variance[..., b, a] = v
    variance += epsilon * np.eye(3)
    a = np.linalg.solve(variance, cov_ip[..., None])[..., 0]
    b = mean_p - np.einsum("hwc,hwc->hw", a, mean_i)
    return np.einsum("hwc,hwc->hw", _box(a, radius), guide) + _box(b, radius)


def shrink_trimap(trimap: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Area-shrunk trimap: 0 / 1 only where every covered pixel is 0 / 1, else unknown."""
    import cv2

    width, height = size
    background = cv2.resize((trimap == 0).astype(np.float32), (width, height), interpolation=cv2.INTER_AREA)
    foreground = cv2.resize((trimap == 1).astype(np.float32), (width, height), interpolation=cv2.INTER_AREA)
    small = np.full((height, width), UNKNOWN)
    small[background >= 1 - 1e-6] = 0.0
    small[foreground >= 1 - 1e-6] = 1.0
    return small


def estimate_alpha_preview(image: np.ndarray, trimap: np.ndarray, *, method: str = "cf",
                           scale: float = 0.25, radius: int | None = None,
                           epsilon: float = 1e-4, **options) -> np.ndarray:
    """Alpha of ``method`` solved at ``scale`` times the size and upsampled guided by ``image``.

    ``radius`` of the guided filter defaults to about one shrunk pixel (ceil(1 / scale));
    ``options`` go to the method.
    """
    import cv2

    from ..registry import get_method

    if not 0 < scale <= 1:
        raise ValueError(f"scale must be in (0, 1], not {scale}")
    done = trivial_alpha(trimap)
    if done is not None:
        return done
    height, width = trimap.shape
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small_image = cv2.resize(image.astype(np.float32), size, interpolation=cv2.INTER_AREA).astype(np.float64)
    small_trimap = shrink_trimap(trimap, size)
    fn = get_method(method).fn
    small_alpha = fn(small_image, small_trimap, **options)
    if isinstance(small_alpha, tuple):
        small_alpha = small_alpha[0]
    alpha = cv2.resize(np.asarray(small_alpha, np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    radius = int(np.ceil(1 / scale)) if radius is None else radius
    alpha = guided_filter(image, alpha.astype(np.float64), radius, epsilon)
    alpha = np.clip(alpha, 0.0, 1.0)
    known = trimap != UNKNOWN
    alpha[known] = trimap[known]
    return alpha


def method_with_options(name: str, options: dict) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The registered trimap method ``name`` as ``f(image, trimap)`` with ``options`` bound; a
    ``preview`` entry (a scale) runs it through :func:`estimate_alpha_preview` instead (for
    the benchmarks' ``NAME:OPTION=VALUE`` entries)."""
    from ..registry import get_method

    fn = get_method(name).fn
    options = dict(options)
    scale = options.pop("preview", None)
    if scale is not None:
        return lambda image, trimap: estimate_alpha_preview(image, trimap, method=name, scale=scale,
                                                            **options)
    return (lambda image, trimap: fn(image, trimap, **options)) if options else fn
