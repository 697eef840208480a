"""Solid objects with complex silhouettes: lobed bodies, holes, handles, spikes and thin limbs.

The matte of a solid object is 1 inside and 0 outside with a one- or two-pixel fractional
edge (the camera's blur over the true outline); its difficulty lies in the outline: deep
concavities, holes through which the background shows, thin protrusions a few pixels wide.
"""

from __future__ import annotations

import cv2
import numpy as np

from ._render import Canvas, LayerStack, radial_blob, outline_normals, stroke_polygon
from .textures import TextureSource, sample_colour, tint


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


def rounded_rect(centre: tuple[float, float], half_w: float, half_h: float, radius: float,
                 angle: float = 0.0) -> np.ndarray:
    """Outline of a rectangle with rounded corners, rotated by ``angle`` radians."""
    radius = max(0.0, min(radius, half_w, half_h))
    arcs = []
    for i, (sx, sy) in enumerate(((1, 1), (-1, 1), (-1, -1), (1, -1))):
        t = np.linspace(0, np.pi / 2, 8) + i * np.pi / 2
        arcs.append(np.stack([sx * (half_w - radius) + radius * np.cos(t),
                              sy * (half_h - radius) + radius * np.sin(t)], axis=1))
    points = np.concatenate(arcs)
    ca, sa = np.cos(angle), np.sin(angle)
    return np.stack([centre[0] + ca * points[:, 0] - sa * points[:, 1],
                     centre[1] + sa * points[:, 0] + ca * points[:, 1]], axis=1)


def _manmade(rng: np.random.Generator, canvas: Canvas, centre: tuple[float, float],
             radius: float) -> np.ndarray:
    """Man-made objects from rounded boxes: a table or chair on legs, a mug with a handle,
    a bottle with a neck, a lamp on a stand."""
    cx, cy = centre
    angle = rng.normal(0, 0.15)
    ca, sa = np.cos(angle), np.sin(angle)

    def at(dx, dy):  # a point of the object's frame, rotated about the centre
        return (cx + ca * dx - sa * dy, cy + sa * dx + ca * dy)

    kind = rng.choice(["table", "mug", "bottle", "lamp"])
    r = radius
    round_ = rng.uniform(0.02, 0.2) * r
    if kind == "table":
        top_w, top_h = r * rng.uniform(0.8, 1.2), r * rng.uniform(0.06, 0.2)
        body = rounded_rect(at(0, -r * 0.5), top_w, top_h, round_, angle)
        parts = [body]
        legs = int(rng.choice([2, 3, 4]))
        leg_w = r * rng.uniform(0.03, 0.09)
        for x in np.linspace(-top_w * 0.85, top_w * 0.85, legs):
            parts.append(rounded_rect(at(x, r * 0.3), leg_w, r * 0.8, leg_w * 0.5, angle))
        if rng.random() < 0.5:  # a chair back
            parts.append(rounded_rect(at(-top_w * 0.85, -r * 1.1), leg_w, r * 0.6, leg_w * 0.5, angle))
            for y in np.linspace(-r * 1.5, -r * 0.8, int(rng.integers(2, 5))):
                parts.append(rounded_rect(at(-top_w * 0.85 + r * 0.3, y), r * 0.3, leg_w * 0.6, 0, angle))
        canvas.polygons(parts)
    elif kind == "mug":
        w, h = r * rng.uniform(0.5, 0.8), r * rng.uniform(0.6, 0.9)
        body = rounded_rect(at(0, 0), w, h, round_, angle)
        canvas.polygons([body])
        handle = rounded_rect(at(w + r * 0.2, 0), r * 0.3, h * 0.5, r * 0.25, angle)
        hole = rounded_rect(at(w + r * 0.2, 0), r * 0.18, h * 0.33, r * 0.15, angle)
        canvas.polygons([handle])
        canvas.polygons([hole], value=0)
        canvas.polygons([body])
    elif kind == "bottle":
        w, h = r * rng.uniform(0.35, 0.55), r * rng.uniform(0.7, 1.0)
        body = rounded_rect(at(0, r * 0.3), w, h, w * rng.uniform(0.2, 0.9), angle)
        neck = rounded_rect(at(0, r * 0.3 - h - r * 0.25), w * 0.35, r * 0.35, w * 0.1, angle)
        cap = rounded_rect(at(0, r * 0.3 - h - r * 0.6), w * 0.42, r * 0.08, w * 0.05, angle)
        canvas.polygons([body, neck, cap])
    else:
        shade = np.array([at(-r * 0.2, -r * 0.9), at(r * 0.2, -r * 0.9), at(r * 0.7, -r * 0.3),
                          at(-r * 0.7, -r * 0.3)])
        stand = rounded_rect(at(0, r * 0.3), r * 0.04, r * 0.6, r * 0.02, angle)
        base = rounded_rect(at(0, r * 0.9), r * 0.45, r * 0.07, r * 0.05, angle)
        body = shade
        canvas.polygons([shade, stand, base])
    return body


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
    centre = (width * rng.uniform(0.3, 0.7), height * rng.uniform(0.3, 0.75))
    draw_silhouette(rng, canvas, centre, short * rng.uniform(0.25, 0.48))
    coverage = canvas.coverage()
    colour = shaded_texture(rng, textures, height, width, coverage)
    stack = LayerStack(colour)
    stack.add(coverage, colour)
    return stack.result()


__all__ = ["draw_silhouette", "render_solid", "rounded_rect", "shaded_texture"]
