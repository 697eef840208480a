"""Warm-up composites shared by the solver benchmarks, so that no timed call pays for Numba.

Numba compiles a solver's kernels on their first call and caches them on disk, so on a fresh
install the first timed call of every compiled path would time the compiler. A path is only
compiled when a problem takes it: a direct solve for small systems, iterative solvers beyond
2,000 unknown pixels, sm's nearest-pixel maps when most of the trimap is unknown. The three
composites of :func:`warm_up_cases` take all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np


def synthetic_composite(height: int = 64, width: int = 80,
                        band: float = 7.0) -> tuple[np.ndarray, np.ndarray]:
    """A soft-edged disc on a gradient with a trimap band of half-width ``band``."""
    yy, xx = np.mgrid[0:height, 0:width]
    distance = np.hypot(yy - height / 2, xx - width / 2)
    radius = min(height, width) * 0.3
    alpha = np.clip((radius + 3 - distance) / 6.0, 0.0, 1.0)
    fg = np.stack([0.9 + 0 * xx, 0.3 + 0.2 * np.sin(yy / 6), 0.2 + 0 * xx], axis=-1)
    bg = np.stack([0.1 + 0 * xx, 0.3 + 0.4 * xx / width, 0.8 - 0.3 * yy / height], axis=-1)
    image = alpha[..., None] * fg + (1 - alpha[..., None]) * bg
    trimap = np.where(alpha > 0.5, 1.0, 0.0)
    trimap[np.abs(distance - radius) < band] = 0.5
    return image, trimap


def warm_up_cases() -> list[tuple[np.ndarray, np.ndarray]]:
    """A small band; a band of over 2,000 unknown pixels; a mostly unknown trimap."""
    return [synthetic_composite(), synthetic_composite(160, 200),
            synthetic_composite(160, 200, band=45.0)]


def warm_up(functions: Iterable[Callable]) -> None:
    """Call each ``fn(image, trimap)`` on every warm-up composite."""
    functions = list(functions)
    for image, trimap in warm_up_cases():
        for fn in functions:
            fn(image, trimap)
