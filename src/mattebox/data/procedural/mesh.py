"""Nets, lace and meshes: lattices of thin threads over a region, with a rim.

Threads are families of parallel lines (two for a square net or a chain-link fence, three
for tulle and honeycomb-like meshes) displaced by a smooth field, as a hanging or draped
fabric is, and seen through a mild random perspective. The lattice is clipped to a region
(a flag-like patch, a round hoop, a cylinder like a mesh pencil cup) whose rim is opaque.
Thick nets give a matte of opaque threads and clear holes; fine tulle, threads thinner than
a pixel, gives a large region of uniform fractional alpha, as real veils and curtains do.
"""

from __future__ import annotations

import cv2
import numpy as np

from ._render import Canvas, LayerStack, radial_blob, smooth_noise
from .solid import draw_silhouette, shaded_texture
from .textures import TextureSource, sample_colour, tint

# name: (spacing px at 512, thread width px, families, knot/motif probability)
_STYLES = {
    "net": ((14.0, 40.0), (0.8, 2.5), 2, 0.8),
    "chainlink": ((14.0, 32.0), (1.3, 3.0), 2, 0.0),
    "tulle": ((3.5, 8.0), (0.35, 0.85), 3, 0.0),
    "lace": ((7.0, 16.0), (0.5, 1.4), 2, 1.0),
    "mesh": ((4.0, 10.0), (0.5, 1.4), 3, 0.0),
}


def _homography(rng: np.random.Generator, height: int, width: int, strength: float) -> np.ndarray:
    src = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    dst = src + rng.uniform(-strength, strength, (4, 2)).astype(np.float32) * [width, height]
    return cv2.getPerspectiveTransform(src, dst.astype(np.float32))


def _warp(points: np.ndarray, homography: np.ndarray, field: tuple[np.ndarray, np.ndarray],
          amplitude: float) -> np.ndarray:
    """Displace points by the smooth field (sampled at the nearest pixel) then project."""
    h, w = field[0].shape
    flat = points.reshape(-1, 2)
    ix = np.clip(flat[:, 0].astype(int), 0, w - 1)
    iy = np.clip(flat[:, 1].astype(int), 0, h - 1)
    moved = flat + amplitude * np.stack([field[0][iy, ix] - 0.5, field[1][iy, ix] - 0.5], axis=1)
    moved = cv2.perspectiveTransform(moved.reshape(-1, 1, 2).astype(np.float64), homography)
    return moved.reshape(points.shape)


def _region(rng: np.random.Generator, height: int, width: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The region the mesh fills (polygons) and its rims (open or closed polylines)."""
    short = min(height, width)
    shape = rng.choice(["hoop", "panel", "cup"], p=[0.35, 0.35, 0.3])
    cx, cy = width * rng.uniform(0.4, 0.6), height * rng.uniform(0.4, 0.6)
    if shape == "hoop":
        outline = radial_blob(rng, (cx, cy), short * rng.uniform(0.32, 0.5), roughness=0.1,
                              harmonics=3, aspect=rng.uniform(0.7, 1.3), angle=rng.uniform(0, np.pi))
        return [outline], [np.vstack([outline, outline[:1]])]
    if shape == "panel":  # a hanging panel, the top edge on a bar, sides swaying
        w2, h2 = width * rng.uniform(0.3, 0.48), height * rng.uniform(0.35, 0.55)
        y = np.linspace(cy - h2, cy + h2, 40)
        sway = rng.normal(0, 0.06) * short * np.sin(np.linspace(0, np.pi, 40) * rng.uniform(0.5, 1.5))
        left = np.stack([cx - w2 + sway, y], 1)
        right = np.stack([cx + w2 + sway * rng.uniform(0.5, 1.5), y], 1)[::-1]
        outline = np.vstack([left, right])
        bar = np.array([[cx - w2 * 1.15, cy - h2], [cx + w2 * 1.15, cy - h2]])
        return [outline], [bar]
    # cup: a cylinder seen from slightly above (a mesh pencil cup), elliptical rims
    w2, h2 = short * rng.uniform(0.22, 0.34), short * rng.uniform(0.3, 0.45)
    t = np.linspace(0, 2 * np.pi, 96)
    e = w2 * rng.uniform(0.15, 0.3)
    top = np.stack([cx + w2 * np.cos(t), cy - h2 + e * np.sin(t)], 1)
    bottom = np.stack([cx + w2 * 0.85 * np.cos(t), cy + h2 + e * 0.85 * np.sin(t)], 1)
    side = np.array([[cx - w2, cy - h2], [cx + w2, cy - h2], [cx + w2 * 0.85, cy + h2],
                     [cx - w2 * 0.85, cy + h2]])
    return [side, top, bottom], [top, bottom]


def render_net(rng: np.random.Generator, height: int, width: int,
               textures: TextureSource) -> tuple[np.ndarray, np.ndarray]:
    """A net, chain-link fence, tulle, lace or fine mesh in a hoop, panel or cup."""
    short = min(height, width)
    scale = short / 512
    style = str(rng.choice(list(_STYLES), p=[0.25, 0.15, 0.2, 0.2, 0.2]))
    spacing_r, width_r, families, motif_p = _STYLES[style]
    # Fine fabrics keep their thread pitch (it sets their opacity); coarse nets scale with the image.
    spacing = rng.uniform(*spacing_r) * (1.0 if style == "tulle" else max(scale, 0.5))
    thread = rng.uniform(*width_r)
    region_polys, rims = _region(rng, height, width)

    ss = 4
    threads = Canvas(height, width, ss)
    homography = _homography(rng, height, width, rng.uniform(0.0, 0.12))
    field = (smooth_noise(rng, height, width, 2), smooth_noise(rng, height, width, 2))
    amplitude = rng.uniform(0, 3) * spacing
    diagonal = float(np.hypot(height, width))
    centre = np.array([width / 2, height / 2])
    theta0 = rng.uniform(0, np.pi)
    if style == "chainlink":
        angles = [theta0, theta0 + rng.uniform(0.9, 1.3)]
    else:
        angles = [theta0 + k * np.pi / families + rng.normal(0, 0.05) for k in range(families)]
    samples = max(16, int(diagonal / 6))
    s = np.linspace(-diagonal / 2, diagonal / 2, samples)
    normals = []
    for angle in angles:
        u = np.array([np.cos(angle), np.sin(angle)])
        v = np.array([-u[1], u[0]])
        normals.append(v)
        offsets = np.arange(-diagonal / 2, diagonal / 2, spacing) + rng.uniform(0, spacing)
        lines = centre + offsets[:, None, None] * v + s[None, :, None] * u
        if style == "chainlink":  # the wire zig-zags where it links with its neighbours
            lines += v * (0.25 * spacing * np.sign(np.sin(s / spacing * np.pi)))[None, :, None]
        lines = _warp(lines, homography, field, amplitude)
        threads.strands(lines, np.full(len(lines), samples), thread)

    if motif_p > 0:  # knots at crossings (nets), rings and flowers (lace)
        o1 = np.arange(-diagonal / 2, diagonal / 2, spacing)
        if style == "lace":  # motifs on a regular sub-lattice, as a lace pattern repeats
            step = int(rng.integers(2, 5))
            o1 = o1[int(rng.integers(step))::step]
        grid = np.stack(np.meshgrid(o1, o1), -1).reshape(-1, 2)
        matrix = np.stack(normals[:2])
        points = np.linalg.solve(matrix, grid.T).T + centre
        points = points[(points[:, 0] > -spacing) & (points[:, 0] < width + spacing)
                        & (points[:, 1] > -spacing) & (points[:, 1] < height + spacing)]
        points = _warp(points, homography, field, amplitude)
        if style == "net":
            r = np.full((len(points), 2), thread * rng.uniform(0.9, 1.6))
            threads.ellipses(points, r, np.zeros(len(points)))
        else:
            motif = rng.choice(["ring", "flower", "both"])
            ring = rng.uniform(0.3, 0.9) * spacing * step
            petal = rng.uniform(0.2, 0.4) * spacing * step
            t = np.linspace(0, 2 * np.pi, 96, endpoint=False)
            petals = int(rng.integers(4, 9))
            r = 0.45 + 0.55 * np.abs(np.cos(petals * t / 2)) ** rng.uniform(0.5, 1.5)
            template = np.stack([r * np.cos(t), r * np.sin(t)], axis=1)  # a flower (rose curve)
            if motif in ("ring", "both"):
                threads.ellipses(points, np.full((len(points), 2), ring), np.zeros(len(points)),
                                 width=thread * 1.5)
            if motif in ("flower", "both"):
                threads.polygons([p + template * petal for p in points])

    clip = Canvas(height, width, 2)
    clip.polygons(region_polys)
    mesh_alpha = threads.coverage() * clip.coverage()
    rim = Canvas(height, width, 4)
    rim_width = rng.uniform(2.5, 10.0) * scale
    rim.lines(rims, rim_width)

    # Threads and rim are dyed or painted: nearly uniform colours with the photo's shading.
    patch = textures.patch(rng, height, width)
    small = cv2.resize(patch, (max(4, width // 8), max(4, height // 8)), interpolation=cv2.INTER_AREA)
    soft = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    thread_colour = tint(soft, sample_colour(rng, textures.patch(rng, 32, 32)), rng.uniform(0.8, 1.0))
    rim_colour = tint(soft, sample_colour(rng, patch), rng.uniform(0.6, 1.0))
    stack = LayerStack(thread_colour)
    if rng.random() < 0.5:  # something held by the net or standing in the cup, seen through it
        body = Canvas(height, width, 4)
        centre = np.mean(region_polys[0], axis=0) + rng.normal(0, 0.05 * short, 2)
        draw_silhouette(rng, body, tuple(centre), short * rng.uniform(0.12, 0.22))
        coverage = body.coverage() * clip.coverage()
        stack.add(coverage, shaded_texture(rng, textures, height, width, coverage))
    stack.add(mesh_alpha, thread_colour, rng.uniform(0.85, 1.0) if style != "tulle" else 1.0)
    stack.add(rim.coverage(), rim_colour)
    return stack.result()
