"""Procedural foregrounds: (F, alpha) pairs of the kinds of things people matte.

Six kinds, one module each: ``hair`` (hair and fur), ``net`` (nets, lace, meshes),
``foliage`` (plants with thin stems), ``transparent`` (glass, plastic, veils, smoke),
``blur`` (solid objects under motion blur or defocus) and ``solid`` (opaque objects with
complex silhouettes). Everything is drawn anti-aliased by supersampling, coloured from real
photo patches, and is a pure function of the seed: the same seed gives bit-identical arrays.

>>> fg, alpha = generate_foreground(7, size=320)            # doctest: +SKIP
>>> fg.shape, alpha.shape, fg.dtype
((320, 320, 3), (320, 320), dtype('float32'))
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from ...errors import InputError
from ._render import gaussian_blur
from .textures import TextureSource, default_textures

KINDS: tuple[str, ...] = ("hair", "net", "foliage", "transparent", "blur", "solid")

#: Alpha below this is set to exactly 0 and above ``1 - ALPHA_SNAP`` to exactly 1, as the
#: 8-bit mattes of real data have exact 0 and 255 plateaus (half an 8-bit step).
ALPHA_SNAP = 0.5 / 255
#: Most attempts at drawing one sample; a draw without opaque, transparent or fractional
#: pixels (say, an object pushed out of a small frame) is redrawn with the next sub-seed.
MAX_ATTEMPTS = 8


def _renderer(kind: str) -> Callable:
    if kind == "hair":
        from .hair import render_hair as fn
    elif kind == "net":
        from .mesh import render_net as fn
    elif kind == "foliage":
        from .foliage import render_foliage as fn
    elif kind == "transparent":
        from .transparent import render_transparent as fn
    elif kind == "blur":
        from .blur import render_blur as fn
    elif kind == "solid":
        from .solid import render_solid as fn
    else:
        raise InputError(f"unknown foreground kind {kind!r}; choose from {', '.join(KINDS)}")
    return fn


def kind_for_seed(seed: int) -> str:
    """The kind drawn for ``seed`` when none is asked for: KINDS cycled by seed, so any run of
    consecutive seeds holds every kind equally often."""
    return KINDS[int(seed) % len(KINDS)]


def _size(size: int | Sequence[int]) -> tuple[int, int]:
    if np.ndim(size) == 0:
        height = width = int(size)
    else:
        if len(size) != 2:
            raise InputError(f"size must be an int or (height, width), not {size!r}")
        height, width = (int(s) for s in size)
    if height < 32 or width < 32:
        raise InputError(f"foreground size {height}x{width} is too small; use at least 32x32")
    if height * width > 4096 * 4096:
        raise InputError(f"foreground size {height}x{width} is too large; use at most 4096x4096")
    return height, width


def is_valid_matte(alpha: np.ndarray) -> bool:
    """True when ``alpha`` has opaque (1), transparent (0) and fractional pixels, the three
    regions of a real matte, each at least 0.5 % of the image."""
    n = alpha.size
    opaque = np.count_nonzero(alpha >= 1.0) / n
    clear = np.count_nonzero(alpha <= 0.0) / n
    return opaque >= 0.005 and clear >= 0.005 and 1 - opaque - clear >= 0.005


def generate_foreground(seed: int, size: int | Sequence[int] = 512, kind: str | None = None,
                        textures: TextureSource | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One procedural foreground, a pure function of ``seed``, ``size``, ``kind`` and the photos.

    Parameters
    ----------
    seed : non-negative int; the same seed gives bit-identical arrays.
    size : int or (height, width) of the output.
    kind : one of :data:`KINDS`; None picks :func:`kind_for_seed`.
    textures : where F's colours come from; default the training background photos
        (:func:`~mattebox.data.procedural.textures.default_textures`).

    Returns
    -------
    fg : H x W x 3 float32 in [0, 1], defined everywhere (also where alpha is 0).
    alpha : H x W float32 in [0, 1], with exact 0 and 1 plateaus and a fractional boundary.
    """
    if int(seed) < 0:
        raise InputError(f"seed must be a non-negative integer, not {seed}")
    height, width = _size(size)
    kind = kind_for_seed(seed) if kind is None else str(kind)
    render = _renderer(kind)
    textures = default_textures() if textures is None else textures
    for attempt in range(MAX_ATTEMPTS):
        rng = np.random.default_rng([int(seed), KINDS.index(kind), attempt])
        fg, alpha = render(rng, height, width, textures)
        alpha = _camera(rng, alpha)
        if is_valid_matte(alpha):
            break
    return np.ascontiguousarray(fg, np.float32), np.ascontiguousarray(alpha, np.float32)


def _camera(rng: np.random.Generator, alpha: np.ndarray) -> np.ndarray:
    """A light lens blur (sigma 0..0.5 px) and snapping of near-0 / near-1 values."""
    alpha = gaussian_blur(alpha, rng.uniform(0.0, 0.5))
    alpha = np.where(alpha < ALPHA_SNAP, 0.0, np.where(alpha > 1 - ALPHA_SNAP, 1.0, alpha))
    return alpha.astype(np.float32)


def stream_foregrounds(seed: int = 0, size: int | Sequence[int] = 512,
                       kinds: Sequence[str] | None = None,
                       textures: TextureSource | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """An endless stream of foregrounds: seeds ``seed, seed + 1, ...`` (kinds cycled)."""
    kinds = tuple(kinds) if kinds else KINDS
    for k in kinds:
        _renderer(k)
    i = 0
    while True:
        yield generate_foreground(seed + i, size, kinds[i % len(kinds)], textures)
        i += 1


def write_foregrounds(out_dir: str | os.PathLike, count: int, size: int | Sequence[int] = 512,
                      seed: int = 0, kinds: Sequence[str] | None = None,
                      textures: TextureSource | None = None, progress: bool = False) -> list[Path]:
    """Write ``count`` foregrounds to ``out_dir/fg/NNNNN.png`` and ``out_dir/alpha/NNNNN.png``.

    Sample ``i`` is ``generate_foreground(seed + i, size, kinds[i % len(kinds)])``; returns
    the alpha paths. Files are 8-bit PNG (alpha snapped to 1/255 steps).
    """
    from ...io import write_alpha, write_image

    if count < 1:
        raise InputError(f"count must be at least 1, not {count}")
    out = Path(out_dir)
    (out / "fg").mkdir(parents=True, exist_ok=True)
    (out / "alpha").mkdir(parents=True, exist_ok=True)
    kinds = tuple(kinds) if kinds else KINDS
    for k in kinds:
        _renderer(k)
    digits = max(5, len(str(count - 1)))
    paths = []
    indices = range(count)
    if progress:
        from tqdm import tqdm

        indices = tqdm(indices, desc="foregrounds", unit="fg")
    for i in indices:
        fg, alpha = generate_foreground(seed + i, size, kinds[i % len(kinds)], textures)
        name = f"{i:0{digits}d}.png"
        write_image(out / "fg" / name, fg)
        paths.append(write_alpha(out / "alpha" / name, alpha))
    return paths


__all__ = ["KINDS", "generate_foreground", "kind_for_seed", "stream_foregrounds",
           "write_foregrounds", "is_valid_matte", "default_textures"]
