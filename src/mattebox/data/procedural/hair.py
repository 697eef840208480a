"""Hair and fur: thousands of thin anti-aliased strands in clumps around an opaque mass.

Strands grow from roots on (and just inside) the outline of a body, integrating a heading
that bends with a per-clump curvature and is pulled towards a flow direction (gravity, wind,
combing). Strands of one clump follow a guide strand with an offset that shrinks towards the
tip (clumps converge, as wet or styled hair and fur tufts do) plus a small individual wave;
single flyaway wisps leave the clumps. Widths are about 0.35..1.85 px, tips thinner, some
strands translucent, so the matte has the hair-like mixture of near-opaque strands and faint
fractional wisps.
"""

from __future__ import annotations

import cv2
import numpy as np

from ._render import Canvas, LayerStack, outline_normals, radial_blob
from .textures import TextureSource, sample_colour, tint

#: Natural hair and fur colours (sRGB): black, dark/mid/light brown, blonde, auburn, ginger,
#: grey, white. Half of the samples take their colour from the photo patch instead.
HAIR_COLOURS = np.array([
    [0.05, 0.04, 0.04], [0.20, 0.13, 0.09], [0.38, 0.26, 0.17], [0.55, 0.42, 0.30],
    [0.82, 0.70, 0.48], [0.45, 0.18, 0.10], [0.72, 0.38, 0.18], [0.60, 0.60, 0.58],
    [0.92, 0.90, 0.86],
], np.float32)

_STYLES = {
    # name: (clumps, members per clump, length (fraction of body radius), clump width (px),
    #        curl (rad per length), flow pull, root depth (fraction of radius))
    "head": ((60, 160), (8, 30), (0.4, 1.3), (4, 14), (0.0, 2.5), (0.5, 2.0), 0.08),
    "fur": ((250, 700), (3, 10), (0.1, 0.35), (1.5, 5), (0.0, 1.5), (0.0, 0.8), 0.03),
    "flyaway": ((25, 70), (8, 35), (0.8, 2.2), (5, 18), (0.5, 3.5), (0.8, 2.5), 0.05),
}


def _grow_guides(rng: np.random.Generator, roots: np.ndarray, headings: np.ndarray,
                 lengths: np.ndarray, curls: np.ndarray, flow: float, pull: float,
                 steps: int) -> np.ndarray:
    """Integrate K guide strands (K x (steps+1) x 2) from roots along bending headings."""
    k = len(roots)
    points = np.empty((k, steps + 1, 2))
    points[:, 0] = roots
    heading = headings.copy()
    step = lengths / steps
    wobble = rng.normal(0, 0.04, (k, steps))
    for i in range(steps):
        heading += curls * step / np.maximum(lengths, 1) + wobble[:, i]
        heading += pull * 0.06 * np.sin(flow - heading)
        points[:, i + 1, 0] = points[:, i, 0] + step * np.cos(heading)
        points[:, i + 1, 1] = points[:, i, 1] + step * np.sin(heading)
    return points


def render_hair(rng: np.random.Generator, height: int, width: int,
                textures: TextureSource) -> tuple[np.ndarray, np.ndarray]:
    """Hair on a head, a furry animal or toy, or loose flyaway locks."""
    short = min(height, width)
    style = str(rng.choice(list(_STYLES), p=[0.45, 0.35, 0.2]))
    clumps_r, members_r, length_r, clump_w_r, curl_r, pull_r, depth = _STYLES[style]
    if style == "head":
        centre = (width * rng.uniform(0.3, 0.7), height * rng.uniform(0.55, 1.0))
        radius = short * rng.uniform(0.25, 0.4)
    elif style == "fur":
        centre = (width * rng.uniform(0.3, 0.7), height * rng.uniform(0.3, 0.7))
        radius = short * rng.uniform(0.26, 0.42)
    else:
        centre = (width * rng.uniform(0.2, 0.8), height * rng.uniform(0.2, 0.8))
        radius = short * rng.uniform(0.15, 0.25)
    body = radial_blob(rng, centre, radius, roughness=rng.uniform(0.05, 0.3), harmonics=6,
                       aspect=rng.uniform(0.75, 1.3), angle=rng.uniform(0, np.pi), points=512)
    normals = outline_normals(body)

    # Guide strands, one per clump, rooted on the outline.
    n_clumps = int(rng.integers(*clumps_r) * (short / 512) ** 0.5)
    idx = rng.integers(len(body), size=n_clumps)
    roots = body[idx] - normals[idx] * radius * rng.uniform(0, depth, (n_clumps, 1))
    flow = rng.uniform(0, 2 * np.pi) if style != "head" else np.pi / 2 + rng.normal(0, 0.5)
    pull = rng.uniform(*pull_r)
    normal_angle = np.arctan2(normals[idx, 1], normals[idx, 0])
    headings = normal_angle + rng.normal(0, 0.35, n_clumps)
    lengths = radius * rng.uniform(*length_r) * rng.uniform(0.5, 1.0, n_clumps)
    curls = rng.uniform(*curl_r) * rng.choice([-1, 1], n_clumps) * rng.uniform(0.3, 1.0, n_clumps)
    steps = 24
    guides = _grow_guides(rng, roots, headings, lengths, curls, flow, pull, steps)

    # Members: the guide plus an offset converging towards the tip plus a small wave.
    members = rng.integers(*members_r, size=n_clumps)
    owner = np.repeat(np.arange(n_clumps), members)
    s = len(owner)
    t = np.linspace(0, 1, steps + 1)[None, :, None]
    tangent = guides[:, 1] - guides[:, 0]
    tangent /= np.maximum(np.linalg.norm(tangent, axis=1, keepdims=True), 1e-9)
    perp = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)[owner][:, None, :]
    clump_width = rng.uniform(*clump_w_r) * (short / 512)
    offset = rng.normal(0, clump_width, (s, 1, 1))
    convergence = rng.uniform(0.3, 1.0, (s, 1, 1))
    wave = rng.normal(0, 0.8, (s, 1, 1)) * np.sin(t * rng.uniform(2, 9, (s, 1, 1)) + rng.uniform(0, 6.3, (s, 1, 1)))
    strands = guides[owner] + perp * (offset * (1 - convergence * t) + wave * t)
    counts = np.round((steps + 1) * rng.uniform(0.45, 1.0, s)).astype(int)

    # Wisps: single thin strands outside the clumps, long and often translucent (flyaways).
    n_wisps = int(rng.integers(30, 400) * (short / 512) ** 0.5)
    w_idx = rng.integers(len(body), size=n_wisps)
    wisps = _grow_guides(rng, body[w_idx] - normals[w_idx] * radius * depth,
                         np.arctan2(normals[w_idx, 1], normals[w_idx, 0]) + rng.normal(0, 0.5, n_wisps),
                         radius * rng.uniform(*length_r) * rng.uniform(0.6, 1.3, n_wisps),
                         rng.uniform(*curl_r) * rng.normal(0, 1, n_wisps), flow, pull, steps)
    strands = np.concatenate([strands, wisps])
    counts = np.concatenate([counts, np.round((steps + 1) * rng.uniform(0.6, 1.0, n_wisps)).astype(int)])
    owner = np.concatenate([owner, rng.integers(n_clumps, size=n_wisps)])
    is_wisp = np.arange(len(strands)) >= s
    s = len(strands)

    ss = 4
    opaque, translucent = Canvas(height, width, ss), Canvas(height, width, ss)
    opaque.polygons([body])
    # OpenCV thickness at 4x supersampling 1, 2, 3, 6 -> lines about 0.35, 0.85, 1.35, 1.85 px wide.
    thick = rng.choice([1, 1, 1, 2, 2, 3, 6] if style != "fur" else [1, 2, 2, 3], size=s)
    thick[is_wisp] = 1
    faint = (rng.random(s) < rng.uniform(0.1, 0.5)) | (is_wisp & (rng.random(s) < 0.7))
    for value in np.unique(thick):
        for canvas, chosen in ((opaque, ~faint), (translucent, faint)):
            sel = np.flatnonzero((thick == value) & chosen)
            if len(sel) == 0:
                continue
            head = np.minimum(counts[sel], (counts[sel] * 0.65).astype(int) + 1)
            canvas.strands(strands[sel], head, value / ss)
            canvas.strands(strands[sel], counts[sel], max(1, value // 2) / ss, starts=head - 1)

    # Colour: the hair colour with the texture of a photo patch, combed along the flow, and
    # each strand (plus as many again inside the mass) in one of 8 brightness levels.
    patch = textures.patch(rng, height, width)
    base = HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))] if rng.random() < 0.5 else sample_colour(rng, patch)
    from .blur import motion_kernel

    quarter = cv2.resize(patch, (max(8, width // 4), max(8, height // 4)), interpolation=cv2.INTER_AREA)
    quarter = cv2.filter2D(quarter, -1, motion_kernel(short * 0.02, flow), borderType=cv2.BORDER_REFLECT)
    combed = cv2.resize(quarter, (width, height), interpolation=cv2.INTER_LINEAR)
    mass = tint(combed, base, rng.uniform(0.75, 0.95))
    colour = mass.copy()
    inner_roots = np.asarray(centre) + (body[rng.integers(len(body), size=s)] - centre) * rng.uniform(0, 1, (s, 1))
    # inside the mass hair lies outwards from the centre, bent towards the flow
    outward = inner_roots - np.asarray(centre)
    outward /= np.maximum(np.linalg.norm(outward, axis=1, keepdims=True), 1e-6)
    lie = outward + 0.5 * pull * np.array([np.cos(flow), np.sin(flow)])
    inner = _grow_guides(rng, inner_roots, np.arctan2(lie[:, 1], lie[:, 0]) + rng.normal(0, 0.2, s),
                         lengths[owner], curls[owner], flow, pull, steps)
    everything = np.concatenate([inner, strands])
    every_count = np.concatenate([counts, counts])
    pixel_paths = np.round(everything - 0.5).astype(np.int32)
    brightness = np.clip(rng.lognormal(0, 0.3, len(everything)), 0.4, 2.2)
    bins = np.minimum((np.log(brightness / 0.4) / np.log(2.2 / 0.4) * 8).astype(int), 7)
    for b in rng.permutation(8):
        sel = np.flatnonzero(bins == b)
        if len(sel) == 0:
            continue
        level = 0.4 * (2.2 / 0.4) ** ((b + 0.5) / 8)
        strand_colour = np.clip(base * level + rng.normal(0, 0.02, 3), 0, 1)
        curves = [pixel_paths[i, :every_count[i]].reshape(-1, 1, 2) for i in sel]
        cv2.polylines(colour, curves, False, tuple(float(c) for c in strand_colour), 1, cv2.LINE_8)

    stack = LayerStack(mass)
    stack.add(translucent.coverage(), colour, rng.uniform(0.35, 0.75))
    stack.add(opaque.coverage(), colour)
    return stack.result()
