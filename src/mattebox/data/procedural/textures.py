"""Colour and texture for procedural foregrounds, taken from real photo patches.

A foreground's F is a crop of a real photograph (zoomed, flipped, tinted), so its colour
statistics, noise and texture are those of natural images rather than of flat synthetic
colours. Without photos (a clone of the project without the shared data) a smooth colour
noise stands in, so generation still works, with less natural statistics.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from pathlib import Path
from typing import Protocol, Sequence

import cv2
import numpy as np

from ._render import smooth_noise


class TextureSource(Protocol):
    """Anything that hands out H x W x 3 float32 colour patches in [0, 1]."""

    def patch(self, rng: np.random.Generator, height: int, width: int) -> np.ndarray: ...


class PhotoTextures:
    """Random patches of real photos: a random image, a random zoom, a random crop.

    Decoded photos are kept in a small cache (``cache_size`` images, about 1 MB each).
    """

    def __init__(self, paths: Sequence[Path], cache_size: int = 48,
                 zoom: tuple[float, float] = (0.7, 1.6)) -> None:
        if not paths:
            raise ValueError("PhotoTextures needs at least one photo")
        self.paths = [Path(p) for p in paths]
        self.cache_size = cache_size
        self.zoom = zoom
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()

    def image(self, index: int) -> np.ndarray:
        """Photo ``index`` as H x W x 3 uint8 RGB (cached)."""
        if index in self._cache:
            self._cache.move_to_end(index)
            return self._cache[index]
        data = cv2.imread(str(self.paths[index]), cv2.IMREAD_COLOR)
        if data is None:
            raise OSError(f"cannot read texture photo {str(self.paths[index])!r}")
        data = cv2.cvtColor(data, cv2.COLOR_BGR2RGB)
        self._cache[index] = data
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return data

    def patch(self, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
        photo = self.image(int(rng.integers(len(self.paths))))
        ph, pw = photo.shape[:2]
        zoom = max(rng.uniform(*self.zoom), height / ph, width / pw)
        ch, cw = min(ph, int(np.ceil(height / zoom))), min(pw, int(np.ceil(width / zoom)))
        y, x = int(rng.integers(ph - ch + 1)), int(rng.integers(pw - cw + 1))
        crop = photo[y:y + ch, x:x + cw]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        out = cv2.resize(np.ascontiguousarray(crop), (width, height), interpolation=cv2.INTER_LINEAR)
        return out.astype(np.float32) * np.float32(1 / 255)


class NoiseTextures:
    """Smooth random colour fields, the stand-in when no photos are available."""

    def patch(self, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
        base = rng.uniform(0.1, 0.9, 3).astype(np.float32)
        out = np.empty((height, width, 3), np.float32)
        for c in range(3):
            out[..., c] = base[c] + 0.25 * (smooth_noise(rng, height, width, 6, octaves=4) - 0.5)
        return np.clip(out, 0, 1)


@functools.lru_cache(maxsize=4)
def default_textures(directory: str | None = None) -> TextureSource:
    """Photo patches from the *training* backgrounds (see
    :func:`mattebox.data.composition.split_backgrounds`), or noise if there are none."""
    from ..composition import split_backgrounds

    try:
        train, _ = split_backgrounds(directory)
    except Exception:
        return NoiseTextures()
    return PhotoTextures(train) if train else NoiseTextures()


def luminance(image: np.ndarray) -> np.ndarray:
    """Rec. 601 luma of an H x W x 3 image."""
    return image @ np.array([0.299, 0.587, 0.114], np.float32)


def tint(patch: np.ndarray, colour: np.ndarray, amount: float) -> np.ndarray:
    """Move a patch towards ``colour`` while keeping its texture: a blend of the patch with
    ``colour`` scaled by the patch's relative luminance."""
    luma = luminance(patch)
    relative = luma / max(float(luma.mean()), 1e-3)
    coloured = np.clip(relative[..., None] * np.asarray(colour, np.float32), 0, 1)
    return np.clip((1 - amount) * patch + amount * coloured, 0, 1).astype(np.float32)


def sample_colour(rng: np.random.Generator, patch: np.ndarray) -> np.ndarray:
    """The colour of a random pixel of a (smoothed) patch."""
    h, w = patch.shape[:2]
    y, x = int(rng.integers(h)), int(rng.integers(w))
    y0, x0 = max(0, y - 4), max(0, x - 4)
    return patch[y0:y + 5, x0:x + 5].reshape(-1, 3).mean(axis=0).astype(np.float32)
