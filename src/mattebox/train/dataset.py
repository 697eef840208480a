"""Data for the trainer: torch datasets over :mod:`mattebox.data`'s pipelines, and evaluation sets.

Training samples are a pure function of (seed, global sample index): sample ``k`` of a run is
``base[k % len(base)]`` in epoch ``k // len(base)``. At step ``s`` the process of rank ``r`` of
``w`` takes samples ``(s w + r) b ... (s w + r) b + b - 1`` (``b`` the per-process batch), so a
resumed run, a run with DataLoader workers and a run split over processes see exactly the
samples they should, and no sampler state is saved.

Sources (``[data] source``):

- ``procedural``: a fresh procedural foreground per sample (:mod:`mattebox.data.procedural`),
  over the training split of the background photos, through the named augmentation pipeline.
- ``folder``: foregrounds from a folder with ``fg/`` and ``alpha/`` (e.g. written by
  ``mattebox data foregrounds``), same pipeline.
- ``toy``: soft-edged discs and bars over smooth colour fields, made here in microseconds; for
  tests, benchmarks and smoke runs only (it teaches nothing about real images).

Evaluation sets are folders in the alphamatting-dev layout: ``image/``, ``alpha/`` and one or
more trimap folders with the same file names.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from ..errors import InputError
from .config import DataConfig

#: Keys every training sample carries, with their channel counts.
SAMPLE_KEYS = {"image": 3, "alpha": 1, "trimap": 1, "fg": 3, "bg": 3}

#: Length given to the unbounded procedural stream (sample indices wrap after it).
STREAM_LENGTH = 1 << 40


def toy_sample(index: int, size: int, seed: int = 0) -> dict[str, np.ndarray]:
    """A soft disc or bar over a smooth background: fg, bg, alpha, image and trimap, float32."""
    rng = np.random.default_rng([seed, index, 7])
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    cy, cx = rng.uniform(0.3, 0.7, 2)
    softness = rng.uniform(0.01, 0.08)
    if rng.random() < 0.5:
        radius = rng.uniform(0.15, 0.35)
        signed = radius - np.hypot(yy - cy, xx - cx)
    else:
        angle = rng.uniform(0, np.pi)
        signed = rng.uniform(0.05, 0.2) - np.abs((xx - cx) * np.cos(angle) + (yy - cy) * np.sin(angle))
    alpha = np.clip(0.5 + signed / softness, 0.0, 1.0).astype(np.float32)

    def field() -> np.ndarray:
        base = rng.uniform(0, 1, 3).astype(np.float32)
        slope = rng.uniform(-0.3, 0.3, (2, 3)).astype(np.float32)
        colour = base + yy[..., None] * slope[0] + xx[..., None] * slope[1]
        return np.clip(colour, 0, 1).astype(np.float32)

    fg, bg = field(), field()
    image = alpha[..., None] * fg + (1 - alpha[..., None]) * bg
    band = np.abs(signed) < softness + rng.uniform(0.01, 0.06)
    trimap = np.where(alpha > 0.5, 1.0, 0.0).astype(np.float32)
    trimap[band] = 0.5
    return {"image": image, "alpha": alpha, "trimap": trimap, "fg": fg, "bg": bg}


class ToyDataset:
    """:func:`toy_sample` as a map-style dataset of ``length`` samples."""

    def __init__(self, length: int, size: int, seed: int = 0) -> None:
        self.length, self.size, self.seed = length, size, seed

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        return toy_sample(index, self.size, self.seed)


def _to_tensor(array: np.ndarray) -> torch.Tensor:
    array = np.asarray(array, dtype=np.float32)
    if array.ndim == 2:
        array = array[None]
    else:
        array = array.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(array))


class TrainingStream(Dataset):
    """Global sample index -> dict of C x H x W float32 tensors (see the module docstring)."""

    def __init__(self, base) -> None:
        self.base = base

    def __len__(self) -> int:
        return STREAM_LENGTH

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        length = len(self.base)
        if hasattr(self.base, "set_epoch"):
            self.base.set_epoch(index // length)
        sample = self.base[index % length]
        missing = [key for key in SAMPLE_KEYS if key not in sample]
        if missing:
            raise KeyError(f"training sample lacks {missing}")
        return {key: _to_tensor(sample[key]) for key in SAMPLE_KEYS}


class StepSampler(Sampler[int]):
    """Endless global sample indices for one process, from ``start_step`` on."""

    def __init__(self, batch_size: int, rank: int = 0, world_size: int = 1, start_step: int = 0) -> None:
        self.batch_size, self.rank, self.world_size = batch_size, rank, world_size
        self.start_step = start_step

    def __iter__(self) -> Iterator[int]:
        step = self.start_step
        while True:
            first = (step * self.world_size + self.rank) * self.batch_size
            yield from range(first, first + self.batch_size)
            step += 1


def build_base_dataset(config: DataConfig, seed: int):
    """The map-style dataset of ``config.source`` (see the module docstring)."""
    size = config.crop_size
    if config.source == "toy":
        return ToyDataset(STREAM_LENGTH, size, seed)
    if config.source == "procedural":
        from ..data.datasets import ProceduralMattingDataset

        options = {"backgrounds": config.backgrounds, **config.options}
        return ProceduralMattingDataset(STREAM_LENGTH, pipeline=config.augment, size=size, seed=seed, **options)
    if config.source == "folder":
        from ..data.datasets import FolderMattingDataset

        if not config.root:
            raise InputError("[data] source = \"folder\" needs root = the folder with fg/ and alpha/")
        options = {"backgrounds": config.backgrounds, **config.options}
        return FolderMattingDataset(config.root, pipeline=config.augment, size=size, seed=seed, **options)
    raise InputError(f"[data] source {config.source!r}: use procedural, folder or toy")


def training_loader(config: DataConfig, seed: int, batch_size: int, rank: int, world_size: int,
                    start_step: int) -> torch.utils.data.DataLoader:
    """DataLoader yielding this process's batches from ``start_step`` on."""
    stream = TrainingStream(build_base_dataset(config, seed))
    sampler = StepSampler(batch_size, rank, world_size, start_step)
    worker_init = None
    if config.num_workers and config.source != "toy":
        from ..data.datasets import worker_init
    # Workers are spawned, not forked: a fork after torch or OpenCV have started their thread
    # pools can deadlock the child (seen when a loader is made after training steps ran).
    return torch.utils.data.DataLoader(
        stream, batch_size=batch_size, sampler=sampler, num_workers=config.num_workers,
        persistent_workers=config.num_workers > 0, prefetch_factor=2 if config.num_workers else None,
        worker_init_fn=worker_init, multiprocessing_context="spawn" if config.num_workers else None,
    )


@dataclass
class EvalImage:
    """One evaluation case: an image, its true alpha and one trimap."""

    name: str
    image: np.ndarray
    alpha: np.ndarray
    trimap: np.ndarray


def load_eval_folder(folder: Path, trimap_dirs: tuple[str, ...] = ("trimap",),
                     limit: int | None = None, prefer_suffix: str = "") -> list[EvalImage]:
    """Cases of a folder with ``image/``, ``alpha/`` and the trimap folders (alphamatting-dev layout).

    Each (image, trimap folder) pair is one case, named ``<stem>/<trimap folder>``. ``limit``
    keeps that many images, sorted by name, those whose stem ends in ``prefer_suffix`` first
    (the synthetic test set names ``<fg>_<bg>``: ``_0`` takes one composite per foreground).
    """
    from ..io import read_alpha, read_image, read_trimap

    folder = Path(folder)
    if not (folder / "image").is_dir():
        raise InputError(f"{folder} has no image/ folder; expected image/, alpha/ and trimap folders")
    paths = sorted(p for p in (folder / "image").iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    if limit is not None:
        preferred = [p for p in paths if prefer_suffix and p.stem.endswith(prefer_suffix)]
        paths = sorted((preferred + [p for p in paths if p not in preferred])[:limit])
    cases = []
    for path in paths:
        image, alpha = read_image(path), read_alpha(folder / "alpha" / path.name)
        for trimap_dir in trimap_dirs:
            trimap_path = folder / trimap_dir / path.name
            if trimap_path.is_file():
                cases.append(EvalImage(f"{path.stem}/{trimap_dir}", image, alpha, read_trimap(trimap_path)))
    return cases
