"""Compositing: I = alpha F + (1 - alpha) B, foreground colour estimation and cut-outs.

An alpha alone is not enough to cut an object out: at a fractional pixel the observed colour
mixes the object's and the background's, and pasting it elsewhere drags the old background
along. :func:`estimate_foreground` recovers F (and B) from the image and the alpha; the
cut-out and the composite then use F.
"""

from __future__ import annotations

import re
from typing import Sequence, Union

import numpy as np
from numba import njit

from . import checks
from .errors import InputError

Colour = Union[str, Sequence[float]]


def composite(foreground: np.ndarray, alpha: np.ndarray, background) -> np.ndarray:
    """``alpha * foreground + (1 - alpha) * background`` (the compositing equation).

    ``background`` is an image (resized to cover and centre-cropped when its size differs),
    an RGB triple in [0, 1] or a ``"#rrggbb"`` string.
    """
    foreground = checks.as_image(foreground, "foreground")
    alpha = checks.as_alpha(alpha)
    checks.check_same_size(foreground, alpha, "the foreground", "the alpha")
    back = as_background(background, alpha.shape)
    a = alpha[:, :, None]
    return a * foreground + (1.0 - a) * back


def parse_colour(colour: Colour) -> np.ndarray:
    """An RGB triple in [0, 1] from ``"#rrggbb"``, ``"#rgb"`` or a sequence of 3 numbers in [0, 1]."""
    if isinstance(colour, str):
        text = colour.strip()
        match = re.fullmatch(r"#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})", text)
        if not match:
            raise InputError(f"{colour!r} is not a colour; write it as #rrggbb, e.g. #00ff00")
        digits = match.group(1)
        if len(digits) == 3:
            digits = "".join(d * 2 for d in digits)
        return np.array([int(digits[i : i + 2], 16) for i in (0, 2, 4)], dtype=np.float64) / 255.0
    values = np.asarray(colour, dtype=np.float64).ravel()
    if values.size != 3 or not np.all(np.isfinite(values)) or values.min() < 0 or values.max() > 1:
        raise InputError(f"colour {colour!r} must be three numbers in [0, 1] or '#rrggbb'")
    return values


def cover_resize(image: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """Scale ``image`` to cover ``shape`` (height, width) keeping its aspect, then centre-crop."""
    import cv2

    image = checks.as_image(image, "background")
    height, width = int(shape[0]), int(shape[1])
    src_h, src_w = image.shape[:2]
    if (src_h, src_w) == (height, width):
        return image
    scale = max(height / src_h, width / src_w)
    new_h, new_w = max(height, int(np.ceil(src_h * scale))), max(width, int(np.ceil(src_w * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    resized = cv2.resize(image, (new_w, new_h), interpolation=interpolation)
    top, left = (new_h - height) // 2, (new_w - width) // 2
    return np.clip(resized[top : top + height, left : left + width], 0.0, 1.0)


def as_background(background, shape: Sequence[int]) -> np.ndarray:
    """A background of ``shape`` (H, W) from an image, a colour string or an RGB triple."""
    if isinstance(background, str) or (
        not isinstance(background, np.ndarray) and np.size(background) == 3
    ):
        return np.broadcast_to(parse_colour(background), (int(shape[0]), int(shape[1]), 3))
    return cover_resize(background, shape)


def cutout(
    foreground: np.ndarray, alpha: np.ndarray, *, premultiplied: bool = False
) -> np.ndarray:
    """An H x W x 4 RGBA cut-out: straight colour (default) or colour premultiplied by alpha."""
    foreground = checks.as_image(foreground, "foreground")
    alpha = checks.as_alpha(alpha)
    checks.check_same_size(foreground, alpha, "the foreground", "the alpha")
    colour = foreground * alpha[:, :, None] if premultiplied else foreground
    return np.dstack([colour, alpha])


# --- foreground estimation -------------------------------------------------------------------

#: Largest ``regularization`` and ``gradient_weight`` of the foreground estimators. The data
#: term weighs at most 1 per pixel, so a smoothness weight of 1e6 already leaves F and B all
#: but constant; far larger ones overflow (the multi-level 2 x 2 determinants pass 1e308
#: near 1e153, the closed form's conjugate gradients sooner) and give NaN.
MAX_SMOOTHNESS = 1e6
#: Most Gauss-Seidel sweeps per pyramid level of the multi-level estimate (the paper's are 10
#: and 2): each is a pass over the level, so a slip such as 1e9 would run for days.
MAX_SWEEPS = 1000


def _smoothness(value: object, name: str, *, positive: bool = False) -> float:
    """``value`` as a float, or an InputError unless it is a finite number >= 0 (> 0 if
    ``positive``) and at most :data:`MAX_SMOOTHNESS`."""
    bound = {"above": 0.0} if positive else {"minimum": 0.0}
    return checks.option_number(value, name, maximum=MAX_SMOOTHNESS,
                                note=" (larger leaves F and B flat and overflows)", **bound)


def _sweeps(value: object, name: str) -> int:
    """``value`` as an int, or an InputError unless it is a whole number in [0, MAX_SWEEPS]."""
    return checks.option_number(value, name, minimum=0, maximum=MAX_SWEEPS, whole=True,
                                note=" (sweeps per level; the paper uses 10 and 2)")


def _flag(value: object, name: str) -> bool:
    """``value`` as a bool, or an InputError unless it is True or False."""
    if not isinstance(value, (bool, np.bool_)):
        raise InputError(f"{name} must be True or False, not {value!r}")
    return bool(value)


@njit(cache=True)
def _multilevel_level(image, alpha, fg, bg, iterations, regularization, gradient_weight):
    """Gauss-Seidel sweeps of Germer et al.'s per-pixel 2 x 2 systems at one pyramid level."""
    height, width, channels = image.shape
    dy = (-1, 1, 0, 0)
    dx = (0, 0, -1, 1)
    for _ in range(iterations):
        for y in range(height):
            for x in range(width):
                a = alpha[y, x]
                weight_sum = 0.0
                f_sum = np.zeros(channels)
                b_sum = np.zeros(channels)
                for k in range(4):
                    ny, nx = y + dy[k], x + dx[k]
                    if ny < 0 or ny >= height or nx < 0 or nx >= width:
                        continue
                    w = regularization + gradient_weight * abs(a - alpha[ny, nx])
                    weight_sum += w
                    for c in range(channels):
                        f_sum[c] += w * fg[ny, nx, c]
                        b_sum[c] += w * bg[ny, nx, c]
                if weight_sum == 0.0:
                    continue  # a lone pixel (1 x 1 level): F = B = its colour already
                # [a^2 + W, a(1-a); a(1-a), (1-a)^2 + W] [F; B] = [a I + sum w F_j; (1-a) I + sum w B_j]
                m00 = a * a + weight_sum
                m01 = a * (1.0 - a)
                m11 = (1.0 - a) * (1.0 - a) + weight_sum
                det = m00 * m11 - m01 * m01
                for c in range(channels):
                    r0 = a * image[y, x, c] + f_sum[c]
                    r1 = (1.0 - a) * image[y, x, c] + b_sum[c]
                    f = (m11 * r0 - m01 * r1) / det
                    b = (m00 * r1 - m01 * r0) / det
                    fg[y, x, c] = min(max(f, 0.0), 1.0)
                    bg[y, x, c] = min(max(b, 0.0), 1.0)


def estimate_foreground_ml(
    image: np.ndarray,
    alpha: np.ndarray,
    *,
    regularization: float = 5e-3,
    gradient_weight: float = 1.0,
    small_size: int = 32,
    small_iterations: int = 10,
    big_iterations: int = 2,
    return_background: bool = False,
):
    """Fast multi-level foreground estimation (Germer, Uelwer, Conrad, Harmeling, ICPR 2020).

    Minimises sum_i ||a_i F_i + (1 - a_i) B_i - I_i||^2 + sum_{i~j} (eps + omega |a_i - a_j|)
    (||F_i - F_j||^2 + ||B_i - B_j||^2) coarse to fine: the problem is solved on a pyramid
    from 1 x 1 up to full size, each level starting from the previous level's F and B
    (nearest-neighbour upsampling) and running a few Gauss-Seidel sweeps of the per-pixel
    2 x 2 systems (10 below ``small_size`` pixels, 2 above). Defaults are the paper's
    (eps = 5e-3, omega = 1). Returns F, or (F, B) with ``return_background``.

    ``regularization`` and ``gradient_weight`` must lie in [0, 1e6], ``small_size`` be a whole
    number >= 0 and the iteration counts whole numbers in [0, 1000].
    """
    import cv2

    regularization = _smoothness(regularization, "regularization")
    gradient_weight = _smoothness(gradient_weight, "gradient_weight")
    small_size = checks.option_number(small_size, "small_size", minimum=0, whole=True)
    small_iterations = _sweeps(small_iterations, "small_iterations")
    big_iterations = _sweeps(big_iterations, "big_iterations")
    return_background = _flag(return_background, "return_background")
    image = checks.as_image(image)
    alpha = checks.as_alpha(alpha)
    checks.check_same_size(image, alpha, "the image", "the alpha")
    height, width = alpha.shape
    levels = int(np.ceil(np.log2(max(height, width)))) + 1
    fg = np.broadcast_to(image.mean(axis=(0, 1)), (1, 1, 3)).copy()
    bg = fg.copy()
    for level in range(levels):
        h = max(1, int(round(height ** (level / (levels - 1))))) if levels > 1 else height
        w = max(1, int(round(width ** (level / (levels - 1))))) if levels > 1 else width
        level_image = cv2.resize(image, (w, h), interpolation=cv2.INTER_NEAREST)
        level_alpha = cv2.resize(alpha, (w, h), interpolation=cv2.INTER_NEAREST)
        fg = cv2.resize(fg, (w, h), interpolation=cv2.INTER_NEAREST).reshape(h, w, 3)
        bg = cv2.resize(bg, (w, h), interpolation=cv2.INTER_NEAREST).reshape(h, w, 3)
        iterations = small_iterations if max(h, w) <= small_size else big_iterations
        _multilevel_level(
            np.ascontiguousarray(level_image.reshape(h, w, 3)),
            np.ascontiguousarray(level_alpha.reshape(h, w)),
            fg, bg, iterations, regularization, gradient_weight,
        )
    return (fg, bg) if return_background else fg


def estimate_foreground_cf(
    image: np.ndarray,
    alpha: np.ndarray,
    *,
    regularization: float = 1e-3,
    tolerance: float = 1e-5,
    max_iterations: int = 2000,
    return_background: bool = False,
):
    """Closed-form foreground and background (Levin, Lischinski, Weiss 2008, Sec. 7).

    Minimises sum_i ||a_i F_i + (1 - a_i) B_i - I_i||^2 + sum_{i~j} w_ij (||F_i - F_j||^2 +
    ||B_i - B_j||^2) over 4-neighbours, with w_ij = |a_i - a_j| + ``regularization``: F and B
    may change only where alpha changes. The paper weights by the alpha derivatives as we do;
    the small constant (our choice) keeps the system definite where alpha is flat. Solved by
    conjugate gradients started from the multi-level estimate, the three channels at once.

    ``regularization`` must lie in (0, 1e6] (0 leaves the system singular where alpha is
    flat), ``tolerance`` in (0, 1) and ``max_iterations`` be a whole number >= 1.
    """
    import scipy.sparse
    import scipy.sparse.linalg

    regularization = _smoothness(regularization, "regularization", positive=True)
    tolerance = checks.option_number(tolerance, "tolerance", above=0.0, below=1.0)
    max_iterations = checks.option_number(max_iterations, "max_iterations", minimum=1,
                                          whole=True)
    return_background = _flag(return_background, "return_background")
    image = checks.as_image(image)
    alpha = checks.as_alpha(alpha)
    checks.check_same_size(image, alpha, "the image", "the alpha")
    height, width = alpha.shape
    n = height * width
    index = np.arange(n).reshape(height, width)
    a = alpha.ravel()
    pairs = [(index[:, :-1].ravel(), index[:, 1:].ravel()), (index[:-1, :].ravel(), index[1:, :].ravel())]
    i = np.concatenate([p[0] for p in pairs])
    j = np.concatenate([p[1] for p in pairs])
    w = np.abs(a[i] - a[j]) + regularization
    smooth = scipy.sparse.coo_matrix(
        (np.concatenate([w, w, -w, -w]), (np.concatenate([i, j, i, j]), np.concatenate([i, j, j, i]))),
        shape=(n, n),
    ).tocsr()
    data_ff, data_fb, data_bb = a * a, a * (1 - a), (1 - a) * (1 - a)
    system = scipy.sparse.bmat(
        [[smooth + scipy.sparse.diags(data_ff), scipy.sparse.diags(data_fb)],
         [scipy.sparse.diags(data_fb), smooth + scipy.sparse.diags(data_bb)]],
        format="csr",
    )
    preconditioner = scipy.sparse.diags(1.0 / system.diagonal())
    fg0, bg0 = estimate_foreground_ml(image, alpha, return_background=True)
    fg = np.empty_like(image)
    bg = np.empty_like(image)
    for c in range(3):
        colour = image[:, :, c].ravel()
        rhs = np.concatenate([a * colour, (1 - a) * colour])
        start = np.concatenate([fg0[:, :, c].ravel(), bg0[:, :, c].ravel()])
        x, _ = scipy.sparse.linalg.cg(system, rhs, x0=start, rtol=tolerance, maxiter=max_iterations,
                                      M=preconditioner)
        fg[:, :, c] = x[:n].reshape(height, width)
        bg[:, :, c] = x[n:].reshape(height, width)
    fg, bg = np.clip(fg, 0, 1), np.clip(bg, 0, 1)
    return (fg, bg) if return_background else fg


FOREGROUND_METHODS = {"ml": estimate_foreground_ml, "cf": estimate_foreground_cf}


def estimate_foreground(image: np.ndarray, alpha: np.ndarray, method: str = "ml", **options):
    """Foreground colours of ``image`` given ``alpha``: "ml" (multi-level, fast) or "cf" (closed form).

    ``options`` are the keyword options of :func:`estimate_foreground_ml` or
    :func:`estimate_foreground_cf`; an unknown name or a bad value raises InputError.
    """
    if not isinstance(method, str) or method not in FOREGROUND_METHODS:
        raise InputError(
            f"unknown foreground method {method!r}; choose one of {', '.join(FOREGROUND_METHODS)}"
        )
    fn = FOREGROUND_METHODS[method]
    checks.check_option_names(method, fn, options, kind="foreground method ")
    return fn(image, alpha, **options)
