"""The demo: matte two photos that ship with scikit-image, with automatic trimaps.

For each photo a trimap is made automatically (GrabCut inside a box around the subject, then
an unknown band), the alpha is estimated, foreground colours are recovered, and the subject
is composited on a new background. Everything, plus one side-by-side overview, is written to
the output folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Union

import numpy as np

from .io import make_output_folder

# name, scikit-image loader, crop (rows, cols) or None, GrabCut box as fractions of the
# (cropped) photo (left, top, width, height), fractional boxes of sure-foreground seeds, band px
SAMPLES = (
    ("chelsea", "chelsea", None, (0.0, 0.0, 0.80, 1.0), (), 8),
    ("astronaut", "astronaut", (slice(0, 300), slice(60, 360)), (0.05, 0.02, 0.9, 0.98),
     ((0.35, 0.3, 0.55, 0.6), (0.3, 0.85, 0.7, 1.0)), 6),
)


def _sample_photo(loader: str, crop) -> np.ndarray:
    import skimage.data

    photo = getattr(skimage.data, loader)().astype(np.float64) / 255.0
    return photo if crop is None else np.ascontiguousarray(photo[crop])


def _fraction_box(fractions, height: int, width: int) -> tuple[int, int, int, int]:
    left, top = int(fractions[0] * width), int(fractions[1] * height)
    return (left, top, min(int(fractions[2] * width), width - left), min(int(fractions[3] * height), height - top))


def new_background(height: int, width: int) -> np.ndarray:
    """A backdrop unlike either photo: a diagonal teal-to-orange gradient with soft stripes."""
    yy, xx = np.mgrid[0:height, 0:width]
    t = (xx / max(width - 1, 1) + yy / max(height - 1, 1)) / 2
    stripes = 0.06 * np.sin((xx + yy) / 9.0)
    teal, orange = np.array([0.05, 0.55, 0.6]), np.array([0.98, 0.6, 0.2])
    return np.clip((1 - t)[..., None] * teal + t[..., None] * orange + stripes[..., None], 0, 1)


def _checkerboard(height: int, width: int, cell: int = 16) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width]
    light = ((yy // cell + xx // cell) % 2).astype(np.float64)
    return np.repeat((0.75 + 0.2 * light)[..., None], 3, axis=2)


def side_by_side(rows: list[list[np.ndarray]], gap: int = 6) -> np.ndarray:
    """Tile H x W x 3 panels: one row per photo, panels scaled to the row's first height."""
    import cv2

    height = max(row[0].shape[0] for row in rows)
    built = []
    for row in rows:
        panels = []
        for panel in row:
            panel = np.repeat(panel[..., None], 3, axis=2) if panel.ndim == 2 else panel
            scale = height / panel.shape[0]
            panels.append(cv2.resize(panel, (int(round(panel.shape[1] * scale)), height)))
            panels.append(np.ones((height, gap, 3)))
        built.append(np.hstack(panels[:-1]))
    width = max(r.shape[1] for r in built)
    padded = [np.pad(r, ((0, gap), (0, width - r.shape[1]), (0, 0)), constant_values=1.0) for r in built]
    return np.vstack(padded)[:-gap]


def run_demo(
    output: Union[str, os.PathLike] = "out/demo",
    *,
    method: str = "cf",
    progress: Callable[[str], None] = print,
) -> dict[str, Path]:
    """Matte the sample photos, write the results under ``output`` and return their paths."""
    from . import io
    from .api import matte
    from .trimap import trimap_from_box

    output = make_output_folder(output)
    written: dict[str, Path] = {}
    overview_rows = []
    for name, loader, crop, box_fractions, seed_boxes, band in SAMPLES:
        image = _sample_photo(loader, crop)
        height, width = image.shape[:2]
        box = _fraction_box(box_fractions, height, width)
        seeds = None
        if seed_boxes:
            seeds = np.zeros((height, width), dtype=bool)
            for seed in seed_boxes:
                left, top, w, h = _fraction_box((seed[0], seed[1], seed[2] - seed[0], seed[3] - seed[1]), height, width)
                seeds[top : top + h, left : left + w] = True
        progress(f"{name}: GrabCut trimap inside box {box}")
        trimap = trimap_from_box(image, box, width=band, iterations=8, foreground_seeds=seeds)
        background = new_background(height, width)
        result = matte(image, trimap, method=method, background=background, progress=progress)
        folder = output / name
        folder.mkdir(parents=True, exist_ok=True)
        paths = result.save(folder)
        io.write_image(folder / "image.png", image)
        io.write_trimap(folder / "trimap.png", trimap)
        written.update({f"{name}/{key}": path for key, path in paths.items()})
        on_checks = result.alpha[..., None] * result.foreground + (1 - result.alpha[..., None]) * _checkerboard(height, width)
        overview_rows.append([image, np.where(trimap == 0.5, 0.5, trimap), result.alpha, on_checks, result.composite])
    overview = output / "side_by_side.png"
    io.write_image(overview, side_by_side(overview_rows))
    written["side_by_side"] = overview
    progress("wrote:")
    for path in written.values():
        print(f"  {path}")
    print(f"Open {overview} for the overview (photo | trimap | alpha | cut-out | composite).")
    return written
