"""Fast previews: run any trimap method on a downscaled problem, upsample guided by the image.

The image and trimap are shrunk by ``scale`` (area averaging; a shrunk trimap pixel stays
known only where all the pixels it covers agree), the method solves the small problem, and
its alpha is brought back to full size by the fast guided filter (He and Sun 2015, on the
guided filter of He, Sun and Tang, ECCV 2010 / TPAMI 2013): the filter's local linear fits of
alpha to the colours are computed on the small problem and applied to the full-size image,
so that edges follow the image again. Known pixels of the trimap are restored at the end.
Everything but that last step and the shrinking runs at the small size.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ._common import UNKNOWN, trivial_alpha

#: Regulariser epsilon of the guided upsampling (on alpha in [0, 1] and colours in [0, 1]).
GUIDED_EPSILON = 1e-4


def _box(values: np.ndarray, radius: int) -> np.ndarray:
    import cv2

    return cv2.boxFilter(values, -1, (2 * radius + 1, 2 * radius + 1), normalize=True,
                         borderType=cv2.BORDER_REFLECT)


def _inverse_symmetric_3x3(xx, xy, xz, yy, yz, zz):
    """Entries (xx, xy, xz, yy, yz, zz) of the inverses of symmetric 3 x 3 matrices given by
    theirs, by cofactors (positive definite here: covariances plus epsilon I)."""
    c_xx, c_xy, c_xz = yy * zz - yz * yz, xz * yz - xy * zz, xy * yz - xz * yy
    c_yy, c_yz, c_zz = xx * zz - xz * xz, xy * xz - xx * yz, xx * yy - xy * xy
    det = xx * c_xx + xy * c_xy + xz * c_xz
    return c_xx / det, c_xy / det, c_xz / det, c_yy / det, c_yz / det, c_zz / det


def guided_coefficients(guide: np.ndarray, source: np.ndarray, radius: int,
                        epsilon: float) -> tuple[np.ndarray, np.ndarray]:
    """The colour guided filter's per-window fit source ~ a^T I + b (He et al., Eqs. 19-21):
    a (H x W x 3) and b (H x W) of the window centred on each pixel."""
    guide = guide.astype(np.float64)
    source = source.astype(np.float64)
    mean_i = _box(guide, radius)
    mean_p = _box(source, radius)
    cov = _box(guide * source[..., None], radius) - mean_i * mean_p[..., None]
    pairs = [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)]
    var = [_box(guide[..., i] * guide[..., j], radius) - mean_i[..., i] * mean_i[..., j]
           + (epsilon if i == j else 0.0) for i, j in pairs]
    xx, xy, xz, yy, yz, zz = _inverse_symmetric_3x3(*var)
    a = np.stack([xx * cov[..., 0] + xy * cov[..., 1] + xz * cov[..., 2],
                  xy * cov[..., 0] + yy * cov[..., 1] + yz * cov[..., 2],
                  xz * cov[..., 0] + yz * cov[..., 1] + zz * cov[..., 2]], axis=-1)
    b = mean_p - np.einsum("hwc,hwc->hw", a, mean_i)
    return a, b


def guided_filter(guide: np.ndarray, source: np.ndarray, radius: int, epsilon: float) -> np.ndarray:
    """Colour guided filter: q = mean(a)^T I + mean(b), the window fits averaged (He et al.)."""
    a, b = guided_coefficients(guide, source, radius, epsilon)
    return np.einsum("hwc,hwc->hw", _box(a, radius), guide.astype(np.float64)) + _box(b, radius)


def guided_upsample(small_guide: np.ndarray, small_source: np.ndarray, guide: np.ndarray,
                    radius: int = 1, epsilon: float = GUIDED_EPSILON) -> np.ndarray:
    """``small_source`` brought to ``guide``'s size by the fast guided filter (He and Sun,
    "Fast Guided Filter", 2015): the averaged fits of :func:`guided_coefficients`, computed on
    the small pair with ``radius`` in small pixels (default 1), are upsampled bilinearly and
    applied to the full-size guide, so that edges follow the full-size image at the small
    problem's cost."""
    import cv2

    a, b = guided_coefficients(small_guide, small_source, radius, epsilon)
    a, b = _box(a, radius).astype(np.float32), _box(b, radius).astype(np.float32)
    height, width = guide.shape[:2]
    a = cv2.resize(a, (width, height), interpolation=cv2.INTER_LINEAR)
    b = cv2.resize(b, (width, height), interpolation=cv2.INTER_LINEAR)
    if a.ndim == 2:  # cv2 drops a trailing axis of length 1 (a 1-pixel-wide image)
        a = a.reshape(height, width, 3)
    return (np.einsum("hwc,hwc->hw", a, guide.astype(np.float32)) + b).astype(np.float64)


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
                           epsilon: float = GUIDED_EPSILON, **options) -> np.ndarray:
    """Alpha of ``method`` solved at ``scale`` times the size and upsampled guided by ``image``.

    ``radius`` of the guided filter, in full-size pixels, defaults to about one shrunk pixel
    (ceil(1 / scale)); the filter works on the shrunk pair with that radius in shrunk pixels
    (at least 1; :func:`guided_upsample`). ``options`` go to the method.
    """
    import cv2

    from ..registry import get_method

    if not 0 < scale <= 1:
        raise InputError(f"scale must be in (0, 1], not {scale}")
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
    radius = int(np.ceil(1 / scale)) if radius is None else radius
    small_radius = max(1, round(radius * scale))
    alpha = guided_upsample(small_image, np.asarray(small_alpha, np.float64), image, small_radius,
                            epsilon)
    alpha = np.clip(alpha, 0.0, 1.0)
    known = trimap != UNKNOWN
    alpha[known] = trimap[known]
    return alpha
