"""Semi-transparent objects: glass, plastic bags, veils and smoke, with smooth fractional alpha.

Each keeps an opaque part, as real ones do (a bottle's cap or label, a bag's printed logo, the
head under a veil or its embroidered hem, the stick or chimney a plume of smoke rises from),
so the matte has the three regions of a real one: opaque, clear and a large fractional area.

- Glass: a solid of revolution (bottle, vase, wine glass); alpha rises from the clear middle
  towards the silhouette, where light grazes the surface (a Fresnel-like |u|^p profile of the
  normalised distance u from the axis), with specular streaks.
- Plastic bag: a crumpled sheet, alpha 0.2..0.8 from ridged fractal noise (creases), handles.
- Veil: draped fabric hanging in vertical folds (alpha |sin|^p across the folds).
- Smoke: a rising, widening plume of warped fractal density, alpha = 1 - exp(-k density).
"""

from __future__ import annotations

import cv2
import numpy as np

from ._render import Canvas, LayerStack, radial_blob, smooth_noise, stroke_polygon
from .textures import TextureSource, sample_colour, tint


def _soft(patch: np.ndarray, factor: int = 8) -> np.ndarray:
    h, w = patch.shape[:2]
    small = cv2.resize(patch, (max(4, w // factor), max(4, h // factor)), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def _clear_low(alpha: np.ndarray, threshold: float) -> np.ndarray:
    """Remap so that alpha below ``threshold`` becomes exactly 0 (continuously)."""
    return np.clip((alpha - threshold) / (1 - threshold), 0, 1).astype(np.float32)


def _glass(rng, height, width, textures):
    short = min(height, width)
    cx = width * rng.uniform(0.4, 0.6)
    top, bottom = height * rng.uniform(0.05, 0.25), height * rng.uniform(0.8, 1.02)
    knots = rng.uniform(0.25, 1.0, 6)
    knots[0] = rng.uniform(0.1, 0.4)   # neck or rim
    profile = cv2.resize(knots[None, :].astype(np.float32), (256, 1), interpolation=cv2.INTER_CUBIC)[0]
    profile = np.clip(profile, 0.08, 1.0) * short * rng.uniform(0.22, 0.36)
    ys = np.linspace(top, bottom, 256)
    outline = np.vstack([np.stack([cx - profile, ys], 1), np.stack([cx + profile, ys], 1)[::-1]])
    cover = Canvas(height, width, 4)
    cover.polygons([outline])
    inside = cover.coverage()

    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32) + 0.5
    r_at_y = np.interp(yy[:, 0], ys, profile, left=1, right=1)[:, None]
    u = np.clip(np.abs(xx - cx) / np.maximum(r_at_y, 1), 0, 1)
    base, edge = rng.uniform(0.03, 0.25), rng.uniform(0.5, 0.95)
    alpha = base + (edge - base) * u ** rng.uniform(3, 12)
    highlight = np.zeros_like(alpha)
    for _ in range(int(rng.integers(1, 4))):
        centre, w = rng.uniform(-0.8, 0.8), rng.uniform(0.03, 0.12)
        highlight = np.maximum(highlight, rng.uniform(0.5, 1.0) * np.exp(-((xx - cx) / np.maximum(r_at_y, 1) - centre) ** 2 / (2 * w * w)))
    alpha = 1 - (1 - alpha) * (1 - highlight)
    glass_tint = np.array([[0.9, 0.95, 0.95], [0.6, 0.8, 0.6], [0.6, 0.7, 0.9], [0.8, 0.6, 0.3]],
                          np.float32)[rng.integers(4)]
    reflection = tint(_soft(textures.patch(rng, height, width), 4), glass_tint, 0.6)
    colour = reflection * (1 - highlight[..., None]) + highlight[..., None] * np.float32(0.97)

    stack = LayerStack(colour)
    stack.add(inside, colour, alpha)
    solid = Canvas(height, width, 4)
    if rng.random() < 0.5:  # a label band
        y0 = rng.uniform(top + 0.3 * (bottom - top), bottom - 0.2 * (bottom - top))
        y1 = y0 + (bottom - top) * rng.uniform(0.1, 0.3)
        band = [(y >= y0) & (y <= y1) for y in ys]
        left = np.stack([cx - profile, ys], 1)[np.array(band)]
        right = np.stack([cx + profile, ys], 1)[np.array(band)][::-1]
        solid.polygons([np.vstack([left, right])])
    else:  # a cap or a thick base
        y = top if rng.random() < 0.5 else bottom - (bottom - top) * 0.06
        r = profile[0] if y == top else profile[-1]
        h = (bottom - top) * rng.uniform(0.04, 0.12)
        solid.polygons([np.array([[cx - r * 1.1, y - h / 2], [cx + r * 1.1, y - h / 2],
                                  [cx + r * 1.1, y + h / 2], [cx - r * 1.1, y + h / 2]])])
    stack.add(solid.coverage(), tint(textures.patch(rng, height, width), sample_colour(rng, reflection), 0.3))
    return stack.result()


def _bag(rng, height, width, textures):
    short = min(height, width)
    centre = (width * rng.uniform(0.4, 0.6), height * rng.uniform(0.5, 0.65))
    radius = short * rng.uniform(0.3, 0.42)
    body = radial_blob(rng, centre, radius, roughness=0.2, harmonics=8, aspect=rng.uniform(0.7, 1.1))
    cover = Canvas(height, width, 4)
    cover.polygons([body])
    handles = Canvas(height, width, 4)
    top_y = body[:, 1].min()
    for side in (-1, 1):
        x0 = centre[0] + side * radius * rng.uniform(0.2, 0.5)
        t = np.linspace(0, np.pi, 30)
        loop = np.stack([x0 + side * radius * 0.15 * np.cos(t) - side * radius * 0.15,
                         top_y + radius * 0.2 - radius * rng.uniform(0.3, 0.6) * np.sin(t)], 1)
        handles.polygons([stroke_polygon(loop, rng.uniform(4, 12) * short / 512)])
    noise = smooth_noise(rng, height, width, rng.uniform(4, 10), octaves=4)
    creases = 1 - np.abs(2 * noise - 1)
    alpha = rng.uniform(0.15, 0.35) + rng.uniform(0.3, 0.55) * creases ** 2
    colour_base = sample_colour(rng, textures.patch(rng, 16, 16)) if rng.random() < 0.5 else np.float32([0.92, 0.92, 0.9])
    shade = (0.75 + 0.4 * creases)[..., None]
    colour = np.clip(tint(_soft(textures.patch(rng, height, width)), colour_base, 0.85) * shade, 0, 1)
    stack = LayerStack(colour)
    stack.add(cover.coverage(), colour, np.clip(alpha, 0, 0.9))
    stack.add(handles.coverage(), colour, rng.uniform(0.6, 0.9))
    logo = Canvas(height, width, 4)
    logo.polygons([radial_blob(rng, (centre[0] + rng.normal(0, radius * 0.15), centre[1] + rng.normal(0, radius * 0.15)),
                               radius * rng.uniform(0.15, 0.35), roughness=0.3, harmonics=5)])
    stack.add(logo.coverage(), tint(textures.patch(rng, height, width), sample_colour(rng, colour), 0.2))
    return stack.result()


def _veil(rng, height, width, textures):
    short = min(height, width)
    cx = width * rng.uniform(0.35, 0.65)
    top = height * rng.uniform(-0.05, 0.2)
    bottom = height * rng.uniform(0.75, 1.05)
    ys = np.linspace(top, bottom, 64)
    half_top, half_bottom = width * rng.uniform(0.08, 0.2), width * rng.uniform(0.3, 0.48)
    spread = half_top + (half_bottom - half_top) * np.linspace(0, 1, 64) ** rng.uniform(0.6, 1.5)
    hem_wave = short * 0.02 * np.sin(np.linspace(0, rng.uniform(6, 20), 64))
    left = np.stack([cx - spread, ys], 1)
    right = np.stack([cx + spread, ys], 1)[::-1]
    hem = np.stack([np.linspace(cx - spread[-1], cx + spread[-1], 64), bottom + hem_wave], 1)
    outline = np.vstack([left, hem, right])
    cover = Canvas(height, width, 4)
    cover.polygons([outline])

    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    warp = smooth_noise(rng, height, width, 2) * rng.uniform(1, 4)
    period = rng.uniform(40, 110) * short / 512
    # folds fan out from the top: the phase follows the angle from a point above the veil
    phase = np.arctan2(xx - cx, yy - top + short * 0.3) * (short / period) + warp
    folds = np.abs(np.sin(phase)) ** rng.uniform(0.5, 3)
    alpha = rng.uniform(0.15, 0.35) + rng.uniform(0.15, 0.4) * folds

    fabric = sample_colour(rng, textures.patch(rng, 16, 16)) if rng.random() < 0.5 else np.float32([0.95, 0.94, 0.92])
    colour = np.clip(tint(_soft(textures.patch(rng, height, width), 16), fabric, 0.95)
                     * (0.8 + 0.3 * folds[..., None]), 0, 1)
    stack = LayerStack(colour)
    solid = Canvas(height, width, 4)
    under = rng.random() < 0.6
    if under:  # a head and shoulders under the veil
        head = radial_blob(rng, (cx, top + (bottom - top) * 0.45), short * rng.uniform(0.1, 0.16),
                           roughness=0.05, harmonics=3, aspect=0.8)
        solid.polygons([head])
        solid.polygons([radial_blob(rng, (cx, bottom + short * 0.05), short * rng.uniform(0.18, 0.28),
                                    roughness=0.05, harmonics=3, aspect=1.5)])
        stack.add(solid.coverage(), tint(textures.patch(rng, height, width), sample_colour(rng, colour), 0.3))
    stack.add(cover.coverage(), colour, np.clip(alpha, 0, 0.85))
    if not under or rng.random() < 0.5:  # an embroidered hem band
        band = Canvas(height, width, 4)
        band.lines([hem], rng.uniform(3, 9) * short / 512)
        stack.add(band.coverage(), tint(colour, fabric * 0.8, 0.5))
    return stack.result()


def _smoke(rng, height, width, textures):
    short = min(height, width)
    x0, y0 = width * rng.uniform(0.3, 0.7), height * rng.uniform(0.75, 0.95)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    rise = np.clip(y0 - yy, 0, None)
    sway = short * rng.uniform(0.02, 0.1) * np.sin(rise / short * rng.uniform(3, 9) + rng.uniform(0, 6))
    drift = rng.normal(0, 0.4) * rise
    spread = short * rng.uniform(0.01, 0.03) + rise * rng.uniform(0.15, 0.45)
    warp_x = (smooth_noise(rng, height, width, 4, octaves=3) - 0.5) * short * 0.15
    offset = (xx + warp_x - x0 - sway - drift) / spread
    plume = np.exp(-0.5 * offset ** 2) * (yy < y0) * np.exp(-rise / (short * rng.uniform(0.5, 1.2)))
    detail = smooth_noise(rng, height, width, rng.uniform(5, 12), octaves=5)
    density = plume * (0.3 + 1.4 * detail ** 2)
    alpha = _clear_low(1 - np.exp(-rng.uniform(1.5, 4.0) * density), 0.02)
    grey = rng.uniform(0.55, 0.95)
    smoke_colour = np.clip(np.float32([grey, grey, grey]) + rng.normal(0, 0.03, 3), 0, 1)
    colour = np.clip(tint(_soft(textures.patch(rng, height, width)), smoke_colour, 0.9)
                     * (0.85 + 0.3 * detail[..., None]), 0, 1)
    stack = LayerStack(colour)
    source = Canvas(height, width, 4)
    kind = rng.choice(["stick", "chimney", "cup"])
    if kind == "stick":
        source.polygons([stroke_polygon(np.array([[x0, y0], [x0 + rng.normal(0, 10), height + 5]]),
                                        rng.uniform(3, 8) * short / 512)])
    else:
        w = short * (rng.uniform(0.05, 0.1) if kind == "chimney" else rng.uniform(0.1, 0.2))
        source.polygons([np.array([[x0 - w, y0], [x0 + w, y0], [x0 + w * 0.8, height + 5], [x0 - w * 0.8, height + 5]])])
    stack.add(source.coverage(), tint(textures.patch(rng, height, width), sample_colour(rng, colour), 0.2))
    stack.add(np.ones_like(alpha), colour, alpha)
    return stack.result()


def render_transparent(rng: np.random.Generator, height: int, width: int,
                       textures: TextureSource) -> tuple[np.ndarray, np.ndarray]:
    """Glass, a plastic bag, a veil or smoke (each with an opaque part)."""
    style = rng.choice(["glass", "bag", "veil", "smoke"])
    return {"glass": _glass, "bag": _bag, "veil": _veil, "smoke": _smoke}[style](rng, height, width, textures)
