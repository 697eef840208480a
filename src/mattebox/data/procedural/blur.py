"""Solid objects under motion blur and defocus: wide, smooth fractional edges.

The blur acts on the object as the camera sees it, over the background: alpha and the
premultiplied colour alpha*F are convolved with the same kernel (a line for motion, a disc
for defocus), and F = (alpha F) * k / (alpha * k). Sometimes the blur varies across the
object (part of it moving, or at another depth), by mixing the sharp and blurred layers
with a smooth ramp.
"""

from __future__ import annotations

import cv2
import numpy as np

from ._render import Canvas, LayerStack, filter_premultiplied
from .solid import draw_silhouette, shaded_texture
from .textures import TextureSource


def motion_kernel(length: float, angle: float) -> np.ndarray:
    """An anti-aliased line kernel ``length`` px long at ``angle`` radians (unnormalised)."""
    size = int(np.ceil(length)) | 1
    size += 2
    kernel = np.zeros((size * 4, size * 4), np.uint8)
    c = size * 2
    dx, dy = np.cos(angle) * length * 2, np.sin(angle) * length * 2
    p0 = (int(round((c - dx) * 16)), int(round((c - dy) * 16)))
    p1 = (int(round((c + dx) * 16)), int(round((c + dy) * 16)))
    cv2.line(kernel, p0, p1, 255, 4, cv2.LINE_AA, 4)
    small = cv2.resize(kernel, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)
    return small / max(float(small.sum()), 1e-6)


def disc_kernel(radius: float) -> np.ndarray:
    """An anti-aliased disc kernel (the defocus point-spread function of a round aperture)."""
    size = 2 * int(np.ceil(radius)) + 3
    kernel = np.zeros((size * 4, size * 4), np.uint8)
    c = size * 2 * 16
    cv2.circle(kernel, (c, c), int(round(radius * 4 * 16)), 255, -1, cv2.LINE_AA, 4)
    small = cv2.resize(kernel, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)
    return small / max(float(small.sum()), 1e-6)


def render_blur(rng: np.random.Generator, height: int, width: int,
                textures: TextureSource) -> tuple[np.ndarray, np.ndarray]:
    """A solid object blurred by motion, defocus or both, uniformly or across a ramp."""
    short = min(height, width)
    scale = short / 512
    canvas = Canvas(height, width, 2)
    centre = (width * rng.uniform(0.35, 0.65), height * rng.uniform(0.35, 0.65))
    radius = short * rng.uniform(0.25, 0.42)
    draw_silhouette(rng, canvas, centre, radius)
    coverage = canvas.coverage()
    colour = shaded_texture(rng, textures, height, width, coverage)
    stack = LayerStack(colour)
    stack.add(coverage, colour)
    sharp_fg, sharp_alpha = stack.result()

    mode = rng.choice(["motion", "defocus", "both"], p=[0.5, 0.3, 0.2])
    kernel = np.ones((1, 1), np.float32)
    if mode in ("motion", "both"):
        kernel = motion_kernel(rng.uniform(6, 48) * scale, rng.uniform(0, np.pi))
    if mode in ("defocus", "both"):
        disc = disc_kernel(rng.uniform(2, 12) * scale)
        kernel = cv2.filter2D(np.pad(kernel, disc.shape[0]), -1, disc)
    fg, alpha = filter_premultiplied(sharp_fg, sharp_alpha, kernel)
    if rng.random() < 0.3:  # the blur fades in across the object
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        angle = rng.uniform(0, 2 * np.pi)
        ramp = np.clip(0.5 + ((np.cos(angle) * (xx - centre[0]) + np.sin(angle) * (yy - centre[1]))
                              / (1.5 * radius)), 0, 1)
        a = ramp * alpha + (1 - ramp) * sharp_alpha
        p = ramp[..., None] * alpha[..., None] * fg + (1 - ramp[..., None]) * sharp_alpha[..., None] * sharp_fg
        fg = np.where(a[..., None] > 1e-4, p / np.maximum(a, 1e-6)[..., None], sharp_fg)
        alpha = a
    return np.clip(fg, 0, 1).astype(np.float32), np.clip(alpha, 0, 1).astype(np.float32)
