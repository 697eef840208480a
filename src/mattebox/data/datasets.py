"""Map-style training datasets: procedural or on-disk foregrounds, natural backgrounds, a
paper's augmentation recipe.

They need no torch: ``len(ds)`` and ``ds[i]`` (a dict of float32 NumPy arrays) are all a
``torch.utils.data.DataLoader`` asks of a dataset. Sample ``i`` is a pure function of
(``seed``, epoch, ``i``); call :meth:`set_epoch` at the start of each epoch to draw new
samples (with several DataLoader workers, recreate the iterator after it, as usual).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import InputError
from .augment import Pipeline, get_pipeline
from .composition import read_background, split_backgrounds


def _photos(backgrounds: str | Sequence[str | os.PathLike] | None) -> list[Path]:
    if backgrounds is None or backgrounds == "train":
        return split_backgrounds()[0]
    if backgrounds == "validation":
        return split_backgrounds()[1]
    if isinstance(backgrounds, (str, os.PathLike)):
        raise InputError(f"backgrounds must be 'train', 'validation' or a list of photo paths, not {backgrounds!r}")
    paths = [Path(p) for p in backgrounds]
    if not paths:
        raise InputError("the list of background photos is empty")
    return paths


class _Backgrounds:
    """Background photos with a small decoded cache (each worker process has its own)."""

    def __init__(self, paths: list[Path], cache_size: int = 32) -> None:
        self.paths, self.cache_size = paths, cache_size
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()

    def pick(self, rng: np.random.Generator) -> np.ndarray:
        index = int(rng.integers(len(self.paths)))
        if index not in self._cache:  # kept as 8-bit (the photos are 8-bit JPEGs): 4x less memory
            photo = read_background(self.paths[index])
            self._cache[index] = np.round(photo * 255).astype(np.uint8)
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        self._cache.move_to_end(index)
        return self._cache[index].astype(np.float32) * np.float32(1 / 255)


class _Base:
    def __init__(self, length: int, pipeline: str | Pipeline, size: int, seed: int,
                 backgrounds, return_meta: bool) -> None:
        if length < 1:
            raise InputError(f"dataset length must be at least 1, not {length}")
        self.length, self.seed, self.epoch = int(length), int(seed), 0
        self.pipeline = get_pipeline(pipeline, size) if isinstance(pipeline, str) else pipeline
        self.backgrounds = _Backgrounds(_photos(backgrounds))
        self.return_meta = return_meta

    def set_epoch(self, epoch: int) -> None:
        """Draw a different set of samples (same length) for epoch ``epoch``."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.length

    def _rng(self, index: int) -> np.random.Generator:
        if not 0 <= index < self.length:
            raise IndexError(f"sample {index} out of range for a dataset of {self.length}")
        return np.random.default_rng([self.seed, self.epoch, int(index), 0xA06])

    def _finish(self, fg, alpha, rng) -> dict:
        sample = self.pipeline({"fg": fg, "alpha": alpha, "bg": self.backgrounds.pick(rng)}, rng)
        if not self.return_meta:
            sample.pop("meta", None)
        return sample


class ProceduralMattingDataset(_Base):
    """Training samples from freshly generated procedural foregrounds.

    Parameters
    ----------
    length : samples per epoch.
    pipeline : a recipe name (see :func:`~mattebox.data.augment.get_pipeline`) or a Pipeline.
    size : output side of the samples.
    fg_size : side of the generated foregrounds (crops of up to ``720 * size / 320`` are
        padded, so 640 suits the 320 px recipes).
    seed : base seed; sample ``i`` of epoch ``e`` depends on (seed, e, i) only.
    backgrounds : "train" (default), "validation" or a list of photo paths.
    kinds : foreground kinds to cycle through (default all).
    reuse : each foreground serves ``reuse`` consecutive indices (with different
        backgrounds and augmentations), dividing the generation cost by ``reuse``.
    """

    def __init__(self, length: int = 10000, pipeline: str | Pipeline = "dim", size: int = 320,
                 fg_size: int = 640, seed: int = 0, backgrounds="train",
                 kinds: Sequence[str] | None = None, reuse: int = 1, return_meta: bool = False) -> None:
        from .procedural import KINDS

        super().__init__(length, pipeline, size, seed, backgrounds, return_meta)
        self.fg_size, self.reuse = int(fg_size), max(1, int(reuse))
        self.kinds = tuple(kinds) if kinds else KINDS
        unknown = [k for k in self.kinds if k not in KINDS]
        if unknown:
            raise InputError(f"unknown foreground kinds {unknown}; choose from {', '.join(KINDS)}")
        self._last: tuple[tuple, tuple] | None = None

    def foreground(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """The (fg, alpha) behind sample ``index`` of the current epoch."""
        from .procedural import generate_foreground

        group = int(index) // self.reuse
        key = (self.epoch, group)
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        fg_seed = int(np.random.SeedSequence([self.seed, self.epoch, group, 0xF6]).generate_state(1, np.uint64)[0] >> np.uint64(1))
        pair = generate_foreground(fg_seed, self.fg_size, self.kinds[group % len(self.kinds)])
        self._last = (key, pair)
        return pair

    def __getitem__(self, index: int) -> dict:
        rng = self._rng(index)
        fg, alpha = self.foreground(index)
        return self._finish(fg, alpha, rng)


class FolderMattingDataset(_Base):
    """Training samples from foregrounds on disk: a folder with ``fg/`` and ``alpha/``
    (same file names; e.g. written by ``mattebox data foregrounds``), each drawn over
    random backgrounds ``per_foreground`` times per epoch."""

    def __init__(self, root: str | os.PathLike, pipeline: str | Pipeline = "dim", size: int = 320,
                 seed: int = 0, backgrounds="train", per_foreground: int = 1,
                 return_meta: bool = False) -> None:
        root = Path(root)
        if not (root / "fg").is_dir() or not (root / "alpha").is_dir():
            raise InputError(f"{str(root)!r} must hold fg/ and alpha/ folders with matching file names")
        self.names = sorted(p.name for p in (root / "alpha").iterdir()
                            if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".tif", ".tiff"))
        if not self.names:
            raise InputError(f"{str(root / 'alpha')!r} holds no images")
        missing = [n for n in self.names if not (root / "fg" / n).exists()]
        if missing:
            raise InputError(f"fg/ lacks {len(missing)} file(s) that alpha/ has, e.g. {missing[0]!r}")
        self.root = root
        super().__init__(len(self.names) * max(1, int(per_foreground)), pipeline, size, seed,
                         backgrounds, return_meta)

    def __getitem__(self, index: int) -> dict:
        from ..io import read_alpha, read_image

        rng = self._rng(index)
        name = self.names[int(index) % len(self.names)]
        fg = read_image(self.root / "fg" / name).astype(np.float32)
        alpha = read_alpha(self.root / "alpha" / name).astype(np.float32)
        return self._finish(fg, alpha, rng)


def worker_init(worker_id: int) -> None:
    """``DataLoader(worker_init_fn=worker_init)``: one OpenCV thread per worker process, so
    that workers do not oversubscribe the cores."""
    import cv2

    cv2.setNumThreads(1)
