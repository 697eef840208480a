"""Training scenes for the active-matting policy: whole procedural objects over photos.

The paper trains on portraits and fine-tunes on its rendered-100 set (3D objects rendered
over natural images, Section 3.1). We build the like from the project's procedural
foregrounds (:mod:`mattebox.data.procedural`) composited over the *train* split of the
background photos: the foreground is drawn at ``size`` x ``size``, cropped around the object
with a random margin (so the object fills a realistic part of the frame, as in the matting
benchmark where it covers 15-55 % of the image) and resized to ``size`` x ``size``. Every
scene is a pure function of its seed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from .environment import ORACLE_TOLERANCE, WORK_SIZE, oracle_answer, region_size_for, resize_alpha, resize_image


def make_scene(seed: int, size: int = WORK_SIZE, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """One (image, alpha) scene, ``size`` x ``size``, float64; a pure function of ``seed``."""
    from ..data.composition import composite, fit_background, read_background, split_backgrounds
    from ..data.procedural import generate_foreground

    rng = np.random.default_rng([int(seed), 7])
    fg, alpha = generate_foreground(int(seed), size=size)
    ys, xs = np.nonzero(alpha > 0)
    if ys.size:
        height = ys.max() - ys.min() + 1
        width = xs.max() - xs.min() + 1
        margin = rng.uniform(0.15, 0.6)
        top = max(0, int(ys.min() - margin * height))
        bottom = min(size, int(ys.max() + 1 + margin * height))
        left = max(0, int(xs.min() - margin * width))
        right = min(size, int(xs.max() + 1 + margin * width))
        fg, alpha = fg[top:bottom, left:right], alpha[top:bottom, left:right]
    train, validation = split_backgrounds()
    photos = train if split == "train" else validation
    bg = read_background(photos[int(rng.integers(len(photos)))])
    bg = fit_background(bg, alpha.shape[0], alpha.shape[1], rng=rng, zoom=rng.uniform(1.0, 1.5))
    image = composite(fg, alpha, bg)
    return resize_image(image, size), resize_alpha(alpha, size, ORACLE_TOLERANCE)


def solid_scenes(alphas: np.ndarray, minimum: int) -> np.ndarray:
    """Which scenes (N x S x S alphas) hold at least ``minimum`` regions the simulated user
    answers "fg" and ``minimum`` it answers "bg", over the tiling by the regions that are
    20 x 20 at 400 x 400 (see ``TrainConfig.min_solid_cells`` for why)."""
    keep = np.zeros(len(alphas), bool)
    for i, alpha in enumerate(alphas):
        side = region_size_for(alpha.shape[0])
        corners = range(0, alpha.shape[0] - side + 1, side)
        answers = [oracle_answer(alpha, slice(t, t + side), slice(l, l + side))
                   for t in corners for l in corners]
        keep[i] = answers.count("fg") >= minimum and answers.count("bg") >= minimum
    return keep


def scene_pool(count: int, seed: int = 0, size: int = WORK_SIZE, split: str = "train",
               cache_dir: str | Path | None = None, log=None) -> tuple[np.ndarray, np.ndarray]:
    """``count`` scenes with seeds ``seed .. seed + count - 1`` as float32 arrays
    (count x size x size x 3, count x size x size), cached in ``cache_dir`` when given."""
    key = json.dumps({"count": count, "seed": seed, "size": size, "split": split, "v": 1}, sort_keys=True)
    path = None
    if cache_dir is not None:
        digest = hashlib.sha1(key.encode()).hexdigest()[:12]
        path = Path(cache_dir) / f"scenes_{split}_{count}_{size}_{digest}.npz"
        if path.is_file():
            with np.load(path) as data:
                return data["images"], data["alphas"]
    images = np.empty((count, size, size, 3), np.float32)
    alphas = np.empty((count, size, size), np.float32)
    for i in range(count):
        images[i], alphas[i] = make_scene(seed + i, size, split)
        if log is not None and (i + 1) % 25 == 0:
            log(f"scenes: {i + 1}/{count}")
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp.npz")
        np.savez(temporary, images=images, alphas=alphas)
        temporary.replace(path)
    return images, alphas
