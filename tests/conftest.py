"""Shared test fixtures: the real data beside the project and small synthetic composites."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("MATTEBOX_SHARED_DATA", REPO.parent / "shared" / "data"))
DEV_SET = SHARED_DATA / "alphamatting-dev"


@pytest.fixture(scope="session")
def dev_set() -> Path:
    """The alphamatting-dev folder (image/, alpha/, trimap/, trimap2/); skips when absent."""
    if not (DEV_SET / "image").is_dir():
        pytest.skip(f"real matting data not found at {DEV_SET} (set MATTEBOX_SHARED_DATA)")
    return DEV_SET


def make_composite(height: int = 48, width: int = 64, seed: int = 0):
    """A small synthetic composite with a known soft alpha: (image, alpha, fg, bg, trimap)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    cy, cx = height / 2, width / 2
    radius = min(height, width) * 0.3
    distance = np.hypot(yy - cy, xx - cx)
    alpha = np.clip((radius + 4 - distance) / 8.0, 0.0, 1.0)
    fg = np.empty((height, width, 3))
    fg[..., 0] = 0.8 + 0.1 * np.sin(xx / 5)
    fg[..., 1] = 0.3 + 0.1 * np.cos(yy / 7)
    fg[..., 2] = 0.2
    bg = np.empty((height, width, 3))
    bg[..., 0] = 0.1
    bg[..., 1] = 0.4 + 0.2 * (xx / width)
    bg[..., 2] = 0.9 - 0.2 * (yy / height)
    fg = np.clip(fg + rng.normal(0, 0.01, fg.shape), 0, 1)
    bg = np.clip(bg + rng.normal(0, 0.01, bg.shape), 0, 1)
    image = alpha[..., None] * fg + (1 - alpha[..., None]) * bg
    trimap = np.full((height, width), 0.5)
    trimap[alpha == 0] = 0.0
    trimap[alpha == 1] = 1.0
    trimap[(distance > radius - 6) & (distance < radius + 10)] = 0.5
    return image, alpha, fg, bg, trimap


@pytest.fixture
def composite():
    return make_composite()


def one_pixel_band():
    """A vertical edge whose only mixed pixels are one column at alpha = 0.4, that column
    unknown: (image, alpha, trimap)."""
    _, _, fg, bg, _ = make_composite()
    alpha = np.zeros(fg.shape[:2])
    alpha[:, 33:] = 1.0
    alpha[:, 32] = 0.4
    image = alpha[..., None] * fg + (1 - alpha[..., None]) * bg
    trimap = alpha.copy()
    trimap[:, 32] = 0.5
    return image, alpha, trimap


def closed_form_on_plant_crop(dev_set: Path):
    """A 160 x 160 crop of the plant (GT13) with its small trimap: (image, trimap, truth, cf SAD)."""
    from mattebox.io import read_alpha, read_image, read_trimap
    from mattebox.metrics import sad
    from mattebox.solvers.closed_form import estimate_alpha_cf

    crop = (slice(217, 377), slice(320, 480))
    image = read_image(dev_set / "image" / "GT13.png")[crop]
    trimap = read_trimap(dev_set / "trimap" / "GT13.png")[crop]
    truth = read_alpha(dev_set / "alpha" / "GT13.png")[crop]
    return image, trimap, truth, sad(estimate_alpha_cf(image, trimap), truth, trimap)


class RunsCodeWhenUnpickled:
    """Pickles to a call that creates the file ``marker``: a weights file holding it shows
    whether a loader runs code from what it reads (the file exists afterwards if it did)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))
