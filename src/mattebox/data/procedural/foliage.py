"""Foliage: branching plants with thin tapered stems and many leaves, grass tufts, ferns and
flowers.

Plants grow from the bottom of the frame (where they are usually cut off, as a potted plant
or a flower photographed close up is), so the matte has an opaque mass of leaves, clear gaps
between them, and thin stems, blade tips and leaf edges that are fractional.
"""

from __future__ import annotations

import cv2
import numpy as np

from ._render import Canvas, LayerStack, radial_blob, stroke_polygon
from .textures import TextureSource, luminance


def _curve(start: np.ndarray, heading: float, length: float, bend: float, n: int = 16) -> np.ndarray:
    """A circular-arc-like curve from ``start``: heading changes by ``bend`` radians overall."""
    angles = heading + bend * np.linspace(0, 1, n)
    steps = length / (n - 1) * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return start + np.concatenate([[[0.0, 0.0]], np.cumsum(steps[:-1], axis=0)])


def _leaf(rng: np.random.Generator, base: np.ndarray, heading: float, length: float,
          shape: tuple[float, float], serrated: bool) -> np.ndarray:
    """A leaf outline: width profile sin(pi t)^a (1 - t)^b along a slightly curved midrib."""
    t = np.linspace(0, 1, 24)
    a, b = shape
    half = length * rng.uniform(0.15, 0.35) * np.sin(np.pi * t) ** a * (1 - t) ** b / max(
        (np.sin(np.pi * 0.4) ** a * 0.6 ** b), 1e-3)
    half = np.minimum(half, length * 0.4)
    if serrated:
        half *= 1 + 0.15 * (np.arange(len(t)) % 2)
    rib = _curve(base, heading, length, rng.normal(0, 0.3), n=len(t))
    return stroke_polygon(rib, 2 * half + 0.3)


class _Plant:
    """Collects stems (polygons) and leaves (polygons) with their colour shades."""

    def __init__(self) -> None:
        self.stems: list[np.ndarray] = []
        self.leaves: list[np.ndarray] = []
        self.leaf_shades: list[float] = []
        self.petals: list[np.ndarray] = []


def _branch(rng: np.random.Generator, plant: _Plant, start: np.ndarray, heading: float,
            length: float, width: float, depth: int, leaf_size: float, leaf_shape, serrated: bool,
            leafiness: float) -> None:
    stem = _curve(start, heading, length, rng.normal(0, 0.5))
    widths = np.linspace(width, max(width * 0.35, 0.3), len(stem))
    plant.stems.append(stroke_polygon(stem, widths))
    if depth > 0:
        for _ in range(int(rng.integers(1, 4))):
            k = int(rng.integers(len(stem) // 4, len(stem) - 1))
            tangent = stem[k + 1] - stem[k]
            angle = np.arctan2(tangent[1], tangent[0]) + rng.choice([-1, 1]) * rng.uniform(0.3, 1.0)
            _branch(rng, plant, stem[k], angle, length * rng.uniform(0.45, 0.75), widths[k] * 0.8,
                    depth - 1, leaf_size, leaf_shape, serrated, leafiness)
    count = int(rng.poisson(leafiness * length / max(leaf_size, 1)))
    for j in range(count + 1):
        k = len(stem) - 1 if j == count else int(rng.integers(2, len(stem)))
        tangent = stem[k] - stem[k - 1]
        side = rng.choice([-1, 1]) if j != count else 0
        angle = np.arctan2(tangent[1], tangent[0]) + side * rng.uniform(0.4, 1.2)
        plant.leaves.append(_leaf(rng, stem[k], angle, leaf_size * rng.uniform(0.6, 1.3),
                                  leaf_shape, serrated))
        plant.leaf_shades.append(float(rng.lognormal(0, 0.2)))


def _grass(rng: np.random.Generator, plant: _Plant, base: np.ndarray, size: float) -> None:
    for _ in range(int(rng.integers(40, 140))):
        heading = -np.pi / 2 + rng.normal(0, 0.45)
        root = base + [rng.normal(0, size * 0.08), 0]
        blade = _curve(root, heading, size * rng.uniform(0.3, 1.0), rng.normal(0, 0.9), n=20)
        widths = np.linspace(rng.uniform(1.5, 6.0), 0.3, len(blade))
        plant.leaves.append(stroke_polygon(blade, widths))
        plant.leaf_shades.append(float(rng.lognormal(0, 0.25)))


def _fern(rng: np.random.Generator, plant: _Plant, base: np.ndarray, size: float) -> None:
    for _ in range(int(rng.integers(2, 6))):
        heading = -np.pi / 2 + rng.normal(0, 0.6)
        rachis = _curve(base + [rng.normal(0, size * 0.05), 0], heading, size * rng.uniform(0.6, 1.0),
                        rng.normal(0, 0.8), n=40)
        plant.stems.append(stroke_polygon(rachis, np.linspace(3.0, 0.4, len(rachis))))
        for k in range(3, len(rachis) - 1):
            tangent = rachis[k + 1] - rachis[k]
            angle = np.arctan2(tangent[1], tangent[0])
            leaflet = size * 0.12 * (1 - k / len(rachis)) + 2
            for side in (-1, 1):
                plant.leaves.append(_leaf(rng, rachis[k], angle + side * rng.uniform(0.9, 1.3),
                                          leaflet, (0.8, 0.6), False))
                plant.leaf_shades.append(float(rng.lognormal(0, 0.15)))


def _flowers(rng: np.random.Generator, plant: _Plant, tips: list[np.ndarray], size: float) -> None:
    for tip in tips:
        petals = int(rng.integers(5, 14))
        radius = size * rng.uniform(0.04, 0.1)
        phase = rng.uniform(0, np.pi)
        for p in range(petals):
            angle = phase + 2 * np.pi * p / petals
            plant.petals.append(_leaf(rng, tip, angle, radius, (0.7, 0.4), False))
        plant.petals.append(radial_blob(rng, tuple(tip), radius * 0.25, roughness=0.1, harmonics=3, points=24))


_LEAF_GREENS = np.array([[0.18, 0.32, 0.10], [0.30, 0.45, 0.15], [0.12, 0.25, 0.12],
                         [0.45, 0.55, 0.20], [0.25, 0.40, 0.25], [0.55, 0.40, 0.12],
                         [0.60, 0.22, 0.10]], np.float32)


def render_foliage(rng: np.random.Generator, height: int, width: int,
                   textures: TextureSource) -> tuple[np.ndarray, np.ndarray]:
    """A plant, a grass tuft, a fern or flowers, growing from near the bottom of the frame."""
    short = min(height, width)
    style = str(rng.choice(["plant", "grass", "fern", "flower"], p=[0.4, 0.2, 0.2, 0.2]))
    base = np.array([width * rng.uniform(0.3, 0.7), height * rng.uniform(0.98, 1.05)])
    size = height * rng.uniform(0.8, 1.1)
    plant = _Plant()
    if style == "grass":
        _grass(rng, plant, base, size)
    elif style == "fern":
        _fern(rng, plant, base, size)
    else:
        leaf_size = short * rng.uniform(0.06, 0.14)
        shape = (rng.uniform(0.5, 1.2), rng.uniform(0.2, 1.0))
        serrated = bool(rng.random() < 0.3)
        leafiness = rng.uniform(3.0, 6.0) if style == "plant" else 0.8
        stems = int(rng.integers(2, 5)) if style == "plant" else int(rng.integers(2, 6))
        mains = []
        for _ in range(stems):
            mains.append(len(plant.stems))
            heading = -np.pi / 2 + rng.normal(0, 0.35)
            start = base + [rng.normal(0, short * 0.04), 0]
            _branch(rng, plant, start, heading, size * rng.uniform(0.45, 0.75),
                    rng.uniform(2.0, 7.0) * short / 512, int(rng.integers(1, 4)) if style == "plant" else 0,
                    leaf_size, shape, serrated, leafiness)
        if style == "flower":
            # the tip of each main stem: the middle of its outline polygon
            _flowers(rng, plant, [plant.stems[i][len(plant.stems[i]) // 2 - 1] for i in mains], size)
        if style == "plant" and rng.random() < 0.5:  # a pot: an opaque mass at the bottom
            pw = short * rng.uniform(0.15, 0.3)
            pot = np.array([[base[0] - pw, base[1] - pw * 1.1], [base[0] + pw, base[1] - pw * 1.1],
                            [base[0] + pw * 0.8, height + 2], [base[0] - pw * 0.8, height + 2]])
            plant.petals.append(pot)

    canvas = Canvas(height, width, 4)
    canvas.polygons(plant.stems)
    canvas.polygons(plant.leaves)
    canvas.polygons(plant.petals)

    patch = textures.patch(rng, height, width)
    texture = (luminance(patch) / max(float(luminance(patch).mean()), 1e-3))[..., None]
    green = _LEAF_GREENS[rng.integers(len(_LEAF_GREENS))] * rng.uniform(0.7, 1.4)
    stem_colour = np.clip(green * [1.3, 1.0, 0.7] * rng.uniform(0.6, 1.2), 0, 1)
    colour = np.clip(0.6 * texture * green + 0.4 * patch * green / max(float(green.mean()), 1e-3) * 0.5, 0, 1)
    colour = colour.astype(np.float32)
    paint = np.zeros_like(colour)
    cv2.fillPoly(paint, [np.round(s - 0.5).astype(np.int32) for s in plant.stems], tuple(map(float, stem_colour)))
    shades = np.asarray(plant.leaf_shades)
    for level in np.quantile(shades, [0.125, 0.375, 0.625, 0.875]) if len(shades) else []:
        chosen = [leaf for leaf, s in zip(plant.leaves, shades) if abs(np.log(s / level)) < 0.15]
        if chosen:
            cv2.fillPoly(paint, [np.round(c - 0.5).astype(np.int32) for c in chosen],
                         tuple(float(v) for v in np.clip(green * level, 0, 1)))
    if plant.petals:
        petal_colour = textures.patch(rng, 8, 8).reshape(-1, 3).max(axis=0)
        cv2.fillPoly(paint, [np.round(p - 0.5).astype(np.int32) for p in plant.petals],
                     tuple(float(v) for v in petal_colour))
    painted = paint.sum(axis=2, keepdims=True) > 0
    colour = np.where(painted, np.clip(paint * (0.6 + 0.4 * texture), 0, 1), colour).astype(np.float32)
    stack = LayerStack(colour)
    stack.add(canvas.coverage(), colour)
    return stack.result()
