"""Evaluation harness: run a method over a folder of images with ground truth and score it.

A dataset folder is laid out like the alphamatting.com development set::

    DIR/image/NAME.png   DIR/alpha/NAME.png   DIR/trimap/NAME.png   [DIR/trimap2/NAME.png ...]

Each image is matted with its trimap, and SAD, MSE, Grad and Conn (on the trimap's unknown
pixels, :mod:`mattebox.metrics`) and RMSE (whole image) are reported per image and on average,
with the seconds each took (after one warm-up call on a small crop, so JIT compilation is
not counted).
"""

from __future__ import annotations

import csv
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Union

import numpy as np

from . import io, metrics
from .io import write_text
from .errors import InputError

METRIC_NAMES = ("sad", "mse", "grad", "conn", "rmse")


@dataclass
class MattingSample:
    """One image of a dataset folder with its ground truth and trimap."""

    name: str
    image: np.ndarray
    alpha: np.ndarray
    trimap: np.ndarray


class MattingFolder:
    """A folder of ``image/``, ``alpha/`` and trimap sub-folders (see the module docstring)."""

    def __init__(self, root: Union[str, os.PathLike], trimap: str = "trimap") -> None:
        self.root = Path(root)
        self.trimap_folder = trimap
        if not self.root.is_dir():
            raise InputError(f"dataset folder {str(self.root)!r} does not exist")
        missing = [sub for sub in ("image", "alpha", trimap) if not (self.root / sub).is_dir()]
        if missing:
            raise InputError(
                f"dataset folder {str(self.root)!r} has no {', '.join(s + '/' for s in missing)} "
                "sub-folder; expected image/, alpha/ and the trimap folder (e.g. trimap/, trimap2/)"
            )
        images = {p.stem: p for p in sorted((self.root / "image").iterdir()) if p.suffix.lower() in io.READABLE_SUFFIXES}
        if not images:
            raise InputError(f"{str(self.root / 'image')!r} holds no image files")
        self._paths = {}
        for stem, image_path in images.items():
            alpha_path = self._find(self.root / "alpha", stem)
            trimap_path = self._find(self.root / trimap, stem)
            if alpha_path is None or trimap_path is None:
                raise InputError(
                    f"{stem}: no matching file in {'alpha/' if alpha_path is None else trimap + '/'}; "
                    "every image needs an alpha and a trimap of the same name"
                )
            self._paths[stem] = (image_path, alpha_path, trimap_path)
        self.names = sorted(self._paths)

    @staticmethod
    def _find(folder: Path, stem: str) -> Path | None:
        for suffix in io.READABLE_SUFFIXES:
            candidate = folder / f"{stem}{suffix}"
            if candidate.exists():
                return candidate
        return None

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> MattingSample:
        name = self.names[index]
        image_path, alpha_path, trimap_path = self._paths[name]
        image, alpha, trimap = io.read_image(image_path), io.read_alpha(alpha_path), io.read_trimap(trimap_path)
        for path, array in ((alpha_path, alpha), (trimap_path, trimap)):
            if array.shape != image.shape[:2]:
                raise InputError(f"{str(path)!r} is {array.shape[1]}x{array.shape[0]} but its image "
                                 f"{str(image_path)!r} is {image.shape[1]}x{image.shape[0]}; every "
                                 f"file of a sample must have the same size")
        return MattingSample(name, image, alpha, trimap)

    def __iter__(self) -> Iterator[MattingSample]:
        for index in range(len(self)):
            yield self[index]


@dataclass
class EvalReport:
    """Per-image scores and their means; ``table()`` for people, JSON/CSV for programs."""

    method: str
    dataset: str
    trimap: str
    rows: list[dict] = field(default_factory=list)

    def mean(self) -> dict[str, float]:
        keys = METRIC_NAMES + ("seconds",)
        return {key: float(np.mean([row[key] for row in self.rows])) for key in keys} if self.rows else {}

    def table(self) -> str:
        header = f"{'image':<10} {'SAD':>9} {'MSE':>9} {'Grad':>9} {'Conn':>9} {'RMSE':>8} {'seconds':>8}"
        lines = [f"method {self.method}, data {self.dataset}, trimap {self.trimap}", header]
        for row in self.rows + ([dict(name="mean", **self.mean())] if self.rows else []):
            lines.append(
                f"{row['name']:<10} {row['sad']:9.3f} {row['mse']:9.5f} {row['grad']:9.3f} "
                f"{row['conn']:9.3f} {row['rmse']:8.4f} {row['seconds']:8.2f}"
            )
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"method": self.method, "dataset": self.dataset, "trimap": self.trimap,
                "images": self.rows, "mean": self.mean()}

    def to_json(self, path: Union[str, os.PathLike], protect: Iterable[Path] = ()) -> None:
        """Write :meth:`to_dict` as JSON, atomically; refused over a ``protect`` file."""
        write_text(path, json.dumps(self.to_dict(), indent=2) + "\n", protect=protect)

    def to_csv(self, path: Union[str, os.PathLike], protect: Iterable[Path] = ()) -> None:
        """Write one row per image and the mean as CSV, atomically; refused over ``protect``."""
        import io as text_io

        buffer = text_io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=["name", *METRIC_NAMES, "seconds"])
        writer.writeheader()
        for row in self.rows + [dict(name="mean", **self.mean())]:
            writer.writerow({key: row[key] for key in writer.fieldnames})
        write_text(path, buffer.getvalue(), protect=protect)


def dataset_files(root: Union[str, os.PathLike]) -> list[Path]:
    """Every file below a dataset folder: what a report written next to it must not replace."""
    root = Path(root)
    return [path for path in root.rglob("*") if path.is_file()] if root.is_dir() else []


Estimator = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _as_estimator(method: Union[str, Estimator], options: dict) -> tuple[str, Estimator]:
    if callable(method):
        return getattr(method, "__name__", "custom"), method
    from .api import estimate_alpha
    from .registry import get_method

    spec = get_method(method)
    if spec.needs != "trimap":
        # Trimap-free methods are scored on the same unknown region; they get the image only.
        return spec.name, lambda image, trimap: estimate_alpha(image, None, spec.name, mask=None, **options)
    return spec.name, lambda image, trimap: estimate_alpha(image, trimap, spec.name, **options)


def _warm_up(estimator: Estimator, sample: MattingSample, size: int = 64) -> None:
    """Run once on a small crop around unknown pixels so JIT compilation is not timed."""
    ys, xs = np.nonzero(sample.trimap == 0.5)
    if ys.size == 0:
        return
    cy, cx = int(np.median(ys)), int(np.median(xs))
    top = int(np.clip(cy - size // 2, 0, max(sample.trimap.shape[0] - size, 0)))
    left = int(np.clip(cx - size // 2, 0, max(sample.trimap.shape[1] - size, 0)))
    crop = (slice(top, top + size), slice(left, left + size))
    trimap = sample.trimap[crop]
    if (trimap == 0).any() and (trimap == 1).any() and (trimap == 0.5).any():
        estimator(sample.image[crop], trimap)


def evaluate(
    method: Union[str, Estimator],
    data: Union[str, os.PathLike, MattingFolder],
    trimap: str = "trimap",
    *,
    options: dict | None = None,
    progress: Callable[[int, int, dict], None] | None = None,
    warm_up: bool = True,
) -> EvalReport:
    """Score ``method`` (a registered name or a callable ``(image, trimap) -> alpha``) on ``data``.

    >>> report = evaluate("cf", "shared/data/alphamatting-dev", "trimap2")  # doctest: +SKIP
    >>> print(report.table())                                                # doctest: +SKIP
    """
    folder = data if isinstance(data, MattingFolder) else MattingFolder(data, trimap)
    name, estimator = _as_estimator(method, options or {})
    report = EvalReport(name, str(folder.root), folder.trimap_folder)
    for index in range(len(folder)):
        sample = folder[index]
        if index == 0 and warm_up:
            _warm_up(estimator, sample)
        start = time.perf_counter()
        alpha = estimator(sample.image, sample.trimap)
        seconds = time.perf_counter() - start
        row = {"name": sample.name, **metrics.all_metrics(alpha, sample.alpha, sample.trimap), "seconds": seconds}
        report.rows.append(row)
        if progress is not None:
            progress(index + 1, len(folder), row)
    return report
