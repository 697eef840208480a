"""Solid objects with complex silhouettes: lobed bodies, holes, handles, spikes and thin limbs.

The matte of a solid object is 1 inside and 0 outside with a one- or two-pixel fractional
edge (the camera's blur over the true outline); its difficulty lies in the outline: deep
concavities, holes through which the background shows, thin protrusions a few pixels wide.
"""

from __future__ import annotations

import cv2
import numpy as np

from ._render import Canvas, LayerStack, radial_blob, outline_normals, stroke_polygon
from .textures import TextureSource, luminance, sample_colour, tint


def draw_silhouette(rng: np.random.Generator, canvas: Canvas, centre: tuple[float, float],
                    radius: float) -> np.ndarray:
    """Draw a random complex silhouette on ``canvas`` (255 inside); return its main outline."""
    style = rng.choice(["organic", "spiky", "manmade"], p=[0.5, 0.2, 0.3])
    if style == "spiky":
        body = radial_blob(rng, centre, radius * 0.8, roughness=0.15, harmonics=5)
        spikes = int(rng.integers(12, 60))
        t = np.linspace(0, 2 * np.pi, 720, endpoint=False)
        r = 1 + rng.uniform(0.15, 0.5) * np.abs(np.sin(spikes * t / 2)) ** rng.uniform(4, 20)
        idx = (np.arange(720) * len(body) // 720)
        offset = body[idx] - np.asarray(centre)
        body = np.asarray(centre) + offset * r[:, None]
        canvas.polygons([body])
    elif style == "manmade":
        body = _manmade(rng, canvas, centre, radius)
    else:
        body = radial_blob(rng, centre, radius, roughness=rng.uniform(0.15, 0.6),
                           harmonics=int(rng.integers(4, 14)), aspect=rng.uniform(0.6, 1.5),
                           angle=rng.uniform(0, np.pi))
        canvas.polygons([body])
        for _ in range(int(rng.integers(0, 4))):  # extra lobes joined to the body
            anchor = body[int(rng.integers(len(body)))]
            canvas.polygons([radial_blob(rng, tuple(anchor), radius * rng.uniform(0.15, 0.45),
                                         roughness=0.3, harmonics=6)])
    _limbs(rng, canvas, body, radius)
    _holes(rng, canvas, body, centre, radius)
    return body


def _manmade(rng: np.random.Generator, canvas: Canvas, centre: tuple[float, float],
             radius: float) -> np.ndarray:
    """Unions of rotated rectangles and polygons: furniture, tools, bottles."""
    cx, cy = centre
    angle = rng.uniform(-0.4, 0.4)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    parts = []
    w, h = radius * rng.uniform(0.6, 1.2), radius * rng.uniform(0.6, 1.2)
    main = np.array([[-w, -h], [w, -h], [w, h], [-w, h]]) @ rot.T + centre
    parts.append(main)
    for _ in range(int(rng.integers(2, 6))):  # legs, arms, a neck
        px, py = rng.uniform(-w, w), rng.uniform(-h, h)
        lw, lh = radius * rng.uniform(0.04, 0.2), radius * rng.uniform(0.4, 1.3)
        if rng.random() < 0.5:
            lw, lh = lh, lw
        rect = np.array([[-lw, -lh], [lw, -lh], [lw, lh], [-lw, lh]]) + [px + np.sign(px) * lw, py + np.sign(py) * lh]
        parts.append(rect @ rot.T + centre)
    canvas.polygons(parts)
    return main


def _limbs(rng: np.random.Generator, canvas: Canvas, body: np.ndarray, radius: float) -> None:
    """Thin tapered protrusions (antennae, legs, stalks) leaving the outline outwards."""
    normals = outline_normals(body)
    for _ in range(int(rng.integers(0, 7))):
        i = int(rng.integers(len(body)))
        length = radius * rng.uniform(0.2, 0.9)
        n = 24
        direction = normals[i] + rng.normal(0, 0.3, 2)
        direction /= np.linalg.norm(direction)
        bend = rng.normal(0, 0.8) / length
        points, heading = [body[i] - normals[i] * 3], np.arctan2(direction[1], direction[0])
        for _ in range(n):
            heading += bend * length / n
            points.append(points[-1] + length / n * np.array([np.cos(heading), np.sin(heading)]))
        base_width = rng.uniform(1.5, 8.0)
        widths = np.linspace(base_width, base_width * rng.uniform(0.2, 1.0), n + 1)
        canvas.polygons([stroke_polygon(np.array(points), widths)])


def _holes(rng: np.random.Generator, canvas: Canvas, body: np.ndarray, centre, radius: float) -> None:
    """Holes through the body (handles, gaps) where the background shows."""
    for _ in range(int(rng.choice([0, 1, 1, 2, 3]))):
        t = rng.uniform(0.0, 0.45)
        point = (1 - t) * np.asarray(centre) + t * body[int(rng.integers(len(body)))]
        hole_radius = radius * rng.uniform(0.05, 0.22)
        canvas.polygons([radial_blob(rng, tuple(point), hole_radius, roughness=0.2, harmonics=4,
                                     aspect=rng.uniform(0.4, 1.0), angle=rng.uniform(0, np.pi))],
                        value=0)


def shaded_texture(rng: np.random.Generator, textures: TextureSource, height: int, width: int,
                   coverage: np.ndarray | None = None) -> np.ndarray:
    """A photo patch pulled towards one colour, with light falling across the object and,
    given its ``coverage``, a rim that darkens or brightens towards the silhouette, so that
    colour edges in F follow the outline as they do on real objects."""
    patch = textures.patch(rng, height, width)
    patch = tint(patch, sample_colour(rng, patch), rng.uniform(0.2, 0.7))
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * xx + np.sin(angle) * yy) / max(height, width)
    shade = 1.0 + rng.uniform(0.0, 0.5) * (ramp - ramp.mean())
    if coverage is not None:
        inside = (coverage > 0.5).astype(np.uint8)
        depth = cv2.distanceTransform(inside, cv2.DIST_L2, 3)
        reach = rng.uniform(0.02, 0.08) * min(height, width)
        shade = shade * (1 + rng.uniform(-0.4, 0.25) * (1 - np.clip(depth / reach, 0, 1)))
    return np.clip(patch * shade[..., None], 0, 1).astype(np.float32)


def render_solid(rng: np.random.Generator, height: int, width: int,
                 textures: TextureSource) -> tuple[np.ndarray, np.ndarray]:
    """An opaque object with a complex silhouette, textured from a photo."""
    short = min(height, width)
    canvas = Canvas(height, width, 4)
    centre = (width * rng.uniform(0.3, 0.7), height * rng.uniform(0.3, 0.7))
    draw_silhouette(rng, canvas, centre, short * rng.uniform(0.2, 0.4))
    coverage = canvas.coverage()
    colour = shaded_texture(rng, textures, height, width, coverage)
    stack = LayerStack(colour)
    stack.add(coverage, colour)
    return stack.result()


__all__ = ["draw_silhouette", "render_solid", "shaded_texture", "luminance"]
