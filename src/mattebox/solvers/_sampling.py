"""Machinery shared by the sampling-based solvers (shared sampling, global sampling).

Sampling methods explain an unknown pixel's colour C as a mix of one foreground sample F and
one background sample B taken from the known regions of the trimap:

    alpha(C; F, B) = clip(((C - B) . (F - B)) / ||F - B||^2, 0, 1)        (projection)
    M(C; F, B)     = ||C - (alpha F + (1 - alpha) B)||                     (chromatic distortion)

Here live these two formulas (scalar Numba functions, to inline into kernels) and what the
samplers need around them: the integer labelling of a trimap (:func:`trimap_labels`) and its
rows of unknown pixels (:func:`label_spans`); the expansion of known regions (Gastal and
Oliveira 2010, Section 3.1); per-class chessboard distances (:func:`chessboard_distance`),
nearest-pixel maps (:func:`nearest_of_class`) and searches (:func:`nearest_of_class_at`);
colour variances of small windows, at every pixel a sampler can pick
(:func:`boundary_colour_variance`). Kernels compile on first use.
"""

from __future__ import annotations

import functools
import math

import numba
import numpy as np
from numba import njit, prange

#: Integer labels of the trimap classes used by the sampling kernels.
BACKGROUND, FOREGROUND, UNKNOWN = 0, 1, 2

#: Added to ||F - B||^2 in the projection so that F == B gives alpha = 0 instead of 0 / 0.
PROJECTION_EPSILON = 1e-10

#: Farther than any pixel; the chessboard distance of a class that is absent from the image.
FAR = 1 << 30
#: Farther than any pixel as a squared Euclidean distance (FAR squared would overflow int64;
#: FAR itself is only the square of 32,768 pixels, less than a wide panorama's width).
FAR_SQ = 1 << 62


def trimap_labels(trimap: np.ndarray) -> np.ndarray:
    """``uint8`` labels of a 0 / 0.5 / 1 trimap: 0 background, 1 foreground, 2 unknown.

    Values <= 0.1 count as background and >= 0.9 as foreground, as in
    :func:`mattebox.checks.as_trimap`.
    """
    trimap = np.ascontiguousarray(trimap)
    return _labels_of(trimap.reshape(-1)).reshape(trimap.shape)


@njit(cache=True)
def _labels_of(values):
    """:func:`trimap_labels` of a flat array, in one pass (four numpy passes took ~10x as long
    on a 400 x 400 trimap)."""
    labels = np.empty(values.shape[0], dtype=np.uint8)
    for i in range(values.shape[0]):
        v = values[i]
        labels[i] = BACKGROUND if v <= 0.1 else (FOREGROUND if v >= 0.9 else UNKNOWN)
    return labels


@njit(cache=True, inline="always")
def project_alpha(c0, c1, c2, f0, f1, f2, b0, b1, b2):
    """alpha of colour C between F and B: the clipped projection of C - B onto F - B."""
    d0, d1, d2 = f0 - b0, f1 - b1, f2 - b2
    num = (c0 - b0) * d0 + (c1 - b1) * d1 + (c2 - b2) * d2
    alpha = num / (d0 * d0 + d1 * d1 + d2 * d2 + PROJECTION_EPSILON)
    return min(1.0, max(0.0, alpha))


@njit(cache=True, inline="always")
def distortion_sq(c0, c1, c2, f0, f1, f2, b0, b1, b2):
    """M(C; F, B)^2: squared distance from C to the composite of its projected alpha."""
    alpha = project_alpha(c0, c1, c2, f0, f1, f2, b0, b1, b2)
    r0 = c0 - (alpha * f0 + (1.0 - alpha) * b0)
    r1 = c1 - (alpha * f1 + (1.0 - alpha) * b1)
    r2 = c2 - (alpha * f2 + (1.0 - alpha) * b2)
    return r0 * r0 + r1 * r1 + r2 * r2


@njit(cache=True, inline="always")
def project_alpha_prepared(c0, c1, c2, b0, b1, b2, d0, d1, d2, denominator):
    """:func:`project_alpha` with d = F - B and ||d||^2 + PROJECTION_EPSILON given (for one
    pair scored against many colours); the same operations in the same order, so the same
    value to the last bit."""
    num = (c0 - b0) * d0 + (c1 - b1) * d1 + (c2 - b2) * d2
    return min(1.0, max(0.0, num / denominator))


@njit(cache=True, inline="always")
def composite_residual_sq(c0, c1, c2, f0, f1, f2, b0, b1, b2, alpha):
    """||C - (alpha F + (1 - alpha) B)||^2: :func:`distortion_sq` at a given alpha."""
    r0 = c0 - (alpha * f0 + (1.0 - alpha) * b0)
    r1 = c1 - (alpha * f1 + (1.0 - alpha) * b1)
    r2 = c2 - (alpha * f2 + (1.0 - alpha) * b2)
    return r0 * r0 + r1 * r1 + r2 * r2


@njit(cache=True, inline="always")
def distortion_sq_prepared(c0, c1, c2, f0, f1, f2, b0, b1, b2, d0, d1, d2, denominator):
    """:func:`distortion_sq` with d and ||d||^2 + PROJECTION_EPSILON given, to the last bit
    (see :func:`project_alpha_prepared`)."""
    alpha = project_alpha_prepared(c0, c1, c2, b0, b1, b2, d0, d1, d2, denominator)
    return composite_residual_sq(c0, c1, c2, f0, f1, f2, b0, b1, b2, alpha)


@njit(cache=True)
def window_colour_variance(image, y, x, radius):
    """Colour variance (mean squared distance to the mean colour) of the window around (y, x).

    The window is (2 radius + 1)^2 pixels, cut at the image border.
    """
    height, width, _ = image.shape
    y0, y1 = max(0, y - radius), min(height, y + radius + 1)
    x0, x1 = max(0, x - radius), min(width, x + radius + 1)
    s0 = s1 = s2 = q = 0.0
    for yy in range(y0, y1):
        for xx in range(x0, x1):
            v0, v1, v2 = image[yy, xx, 0], image[yy, xx, 1], image[yy, xx, 2]
            s0 += v0
            s1 += v1
            s2 += v2
            q += v0 * v0 + v1 * v1 + v2 * v2
    n = (y1 - y0) * (x1 - x0)
    m0, m1, m2 = s0 / n, s1 / n, s2 / n
    return max(0.0, q / n - (m0 * m0 + m1 * m1 + m2 * m2))


@njit(cache=True, parallel=True)
def boundary_colour_variance(image, labels, radius):
    """:func:`window_colour_variance` at every known pixel with an 8-neighbour of another
    label (0 elsewhere). The first pixel of a class met along a path from an unknown pixel
    is such a pixel, so this is every variance a sampling method needs."""
    height, width = labels.shape
    out = np.zeros((height, width))
    for y in prange(height):
        # Which pixels of the row have a neighbour of another label, one neighbour offset
        # at a time along the row (unsigned indices, so that it vectorises).
        edge = np.zeros(width, dtype=np.uint8)
        for yy in range(max(0, y - 1), min(height, y + 2)):
            for dx in range(-1, 2):
                lo, hi = max(0, -dx), min(width, width - dx)
                p0, q0 = np.uint64(lo), np.uint64(lo + dx)
                for j in range(np.uint64(max(0, hi - lo))):
                    edge[p0 + j] |= labels[y, p0 + j] != labels[yy, q0 + j]
        for x in range(width):
            if edge[x] and labels[y, x] != UNKNOWN:
                out[y, x] = window_colour_variance(image, y, x, radius)
    return out


@njit(cache=True)
def chessboard_distance(labels, value):
    """Chessboard (L-infinity) distance from every pixel to the nearest pixel labelled ``value``.

    Two raster passes (Rosenfeld and Pfaltz 1966). Pixels of an absent class are ``FAR`` away.
    """
    height, width = labels.shape
    dist = np.empty((height, width), dtype=np.int32)
    for y in range(height):
        for x in range(width):
            if labels[y, x] == value:
                dist[y, x] = 0
                continue
            d = FAR
            if y > 0:
                d = min(d, dist[y - 1, x] + 1)
                if x > 0:
                    d = min(d, dist[y - 1, x - 1] + 1)
                if x + 1 < width:
                    d = min(d, dist[y - 1, x + 1] + 1)
            if x > 0:
                d = min(d, dist[y, x - 1] + 1)
            dist[y, x] = d
    for y in range(height - 1, -1, -1):
        for x in range(width - 1, -1, -1):
            d = dist[y, x]
            if d == 0:
                continue
            if y + 1 < height:
                d = min(d, dist[y + 1, x] + 1)
                if x > 0:
                    d = min(d, dist[y + 1, x - 1] + 1)
                if x + 1 < width:
                    d = min(d, dist[y + 1, x + 1] + 1)
            if x + 1 < width:
                d = min(d, dist[y, x + 1] + 1)
            dist[y, x] = min(d, FAR)
    return dist


@njit(cache=True)
def nearest_of_class(labels, value):
    """Flat index of a nearest pixel labelled ``value`` for every pixel (-1 if there is none).

    Two raster passes that hand each pixel the nearest of its already-visited 8-neighbours'
    nearest pixels in Euclidean distance (Danielsson 1980): exact for most pixels and never
    far off, in O(H W).
    """
    height, width = labels.shape
    near = np.full((height, width), -1, dtype=np.int64)
    for sweep in range(2):
        step = 1 if sweep == 0 else -1
        for y in range(0, height) if sweep == 0 else range(height - 1, -1, -1):
            for x in range(0, width) if sweep == 0 else range(width - 1, -1, -1):
                if labels[y, x] == value:
                    near[y, x] = y * width + x
                    continue
                best, best_d2 = near[y, x], FAR_SQ
                if best >= 0:
                    best_d2 = (best // width - y) ** 2 + (best % width - x) ** 2
                for dy, dx in ((-step, -1), (-step, 0), (-step, 1), (0, -step)):
                    yy, xx = y + dy, x + dx
                    if yy < 0 or yy >= height or xx < 0 or xx >= width or near[yy, xx] < 0:
                        continue
                    q = near[yy, xx]
                    d2 = (q // width - y) ** 2 + (q % width - x) ** 2
                    if d2 < best_d2:
                        best, best_d2 = q, d2
                near[y, x] = best
    return near


@njit(cache=True)
def _known_chessboard_distance(labels):
    """Chessboard distance to the nearest known (foreground or background) pixel."""
    known = np.empty(labels.shape, dtype=np.uint8)
    for y in range(labels.shape[0]):
        for x in range(labels.shape[1]):
            known[y, x] = 1 if labels[y, x] != UNKNOWN else 0
    return chessboard_distance(known, 1)


@njit(cache=True)
def label_spans(labels, value):
    """Runs of pixels labelled ``value`` along rows: an (m, 4) array of (y, x0, x1, k0), the
    run covering x0 <= x < x1 of row y; k0 counts the labelled pixels before it in raster
    order (the run's offset in ``np.flatnonzero(labels.ravel() == value)``)."""
    height, width = labels.shape
    count = 0
    for y in range(height):
        for x in range(width):
            if labels[y, x] == value and (x == 0 or labels[y, x - 1] != value):
                count += 1
    spans = np.empty((count, 4), dtype=np.int64)
    m = k = 0
    for y in range(height):
        x = 0
        while x < width:
            if labels[y, x] != value:
                x += 1
                continue
            x0 = x
            while x < width and labels[y, x] == value:
                x += 1
            spans[m, 0], spans[m, 1], spans[m, 2], spans[m, 3] = y, x0, x, k
            k += x - x0
            m += 1
    return spans


@njit(cache=True)
def joined_spans(spans, gap):
    """``spans`` (see :func:`label_spans`) with the runs of one row that are fewer than ``gap``
    pixels apart joined into one (k0 of the first kept). Kernels whose cost per run is high
    against their cost per pixel run on these and skip the pixels between the runs."""
    out = spans.copy()
    m = 0
    for s in range(spans.shape[0]):
        if m > 0 and out[m - 1, 0] == spans[s, 0] and spans[s, 1] - out[m - 1, 2] < gap:
            out[m - 1, 2] = spans[s, 2]
        else:
            out[m] = spans[s]
            m += 1
    return out[:m].copy()


@njit(cache=True)
def balanced_bounds(weights, parts):
    """Bounds b (``parts`` + 1 entries) cutting work units 0..n-1 into ``parts`` contiguous
    runs [b[i], b[i + 1]) of nearly equal summed ``weights``: a unit goes to the run that
    holds the midpoint of its weight.

    Kernels loop ``prange`` over these runs, one per thread, instead of over the units: Numba
    hands each thread an equal count of iterations, and the unknown pixels of a band are
    rarely spread evenly over the rows (on the 400 x 400 band cases one half of the rows
    held up to 91% of them). Which thread computes a pixel never changes its value."""
    n = weights.shape[0]
    total = 0.0
    for i in range(n):
        total += weights[i]
    bounds = np.empty(parts + 1, dtype=np.int64)
    bounds[0] = 0
    part = 1
    before = 0.0
    for i in range(n):
        middle = before + 0.5 * weights[i]
        while part < parts and middle >= total * part / parts:
            bounds[part] = i
            part += 1
        before += weights[i]
    while part <= parts:
        bounds[part] = n
        part += 1
    return bounds


@njit(cache=True)
def span_bounds(spans, per_span, parts):
    """:func:`balanced_bounds` over ``spans`` (see :func:`label_spans`), a span weighing its
    pixel count plus ``per_span`` (its fixed cost in pixels)."""
    weights = np.empty(spans.shape[0])
    for s in range(spans.shape[0]):
        weights[s] = spans[s, 2] - spans[s, 1] + per_span
    return balanced_bounds(weights, parts)


@njit(cache=True, parallel=True)
def nearest_of_both_classes(labels):
    """(:func:`nearest_of_class` for FOREGROUND, for BACKGROUND), one per thread."""
    height, width = labels.shape
    out = np.empty((2, height, width), dtype=np.int64)
    for k in prange(2):
        out[k] = nearest_of_class(labels, FOREGROUND if k == 0 else BACKGROUND)
    return out[0], out[1]


@njit(cache=True)
def _nearest_in_row(runs, first, last, x):
    """Column of the pixel of runs[first:last] (one row's, ordered, see :func:`label_spans`)
    nearest to column x (the leftmost of two at equal distance); -1 if there are none."""
    if first == last:
        return -1
    lo, hi = first, last  # the first run ending after x
    while lo < hi:
        mid = (lo + hi) // 2
        if runs[mid, 2] <= x:
            lo = mid + 1
        else:
            hi = mid
    if lo < last and runs[lo, 1] <= x:
        return x  # inside a run
    best = -1
    if lo > first:
        best = runs[lo - 1, 2] - 1  # end of the run on the left
    if lo < last and (best < 0 or runs[lo, 1] - x < x - best):
        best = runs[lo, 1]
    return best


@njit(cache=True, parallel=True)
def nearest_of_class_at(labels, value, pixels):
    """Flat index of the nearest pixel labelled ``value`` (Euclidean; ties: the smaller row,
    then column) for each of ``pixels`` (flat indices); -1 if there is none.

    Exact, and cheap for a few pixels: rows are searched outwards from the pixel's own,
    each through its runs of the class by bisection, until a row is farther than the best
    pixel found (at most O(H log W) per pixel, against O(H W) for :func:`nearest_of_class`).
    """
    height, width = labels.shape
    runs = label_spans(labels, value)
    row_first = np.zeros(height + 1, dtype=np.int64)
    for m in range(runs.shape[0]):
        row_first[runs[m, 0] + 1] += 1
    for y in range(height):
        row_first[y + 1] += row_first[y]
    out = np.full(pixels.shape[0], -1, dtype=np.int64)
    for n in prange(pixels.shape[0]):
        y, x = pixels[n] // width, pixels[n] % width
        best_d2 = FAR_SQ
        for step in range(2 * height):
            dy = (step + 1) // 2 * (1 if step % 2 == 0 else -1)  # 0, -1, 1, -2, 2, ...
            if dy * dy > best_d2:
                break
            yy = y + dy
            if yy < 0 or yy >= height:
                continue
            xx = _nearest_in_row(runs, row_first[yy], row_first[yy + 1], x)
            if xx < 0:
                continue
            d2 = dy * dy + (xx - x) * (xx - x)
            if d2 < best_d2 or (d2 == best_d2 and yy * width + xx < out[n]):
                best_d2, out[n] = d2, yy * width + xx
    return out


@njit(cache=True)
def tiled_spans(spans, tile):
    """``spans`` (see :func:`label_spans`) cut at multiples of ``tile`` along x and ordered
    tile by tile (tile row, tile column, then y and x): consecutive work items then touch
    nearby memory, which matters on large images for kernels that read far from each pixel."""
    count = 0
    for s in range(spans.shape[0]):
        count += (spans[s, 2] - 1) // tile - spans[s, 1] // tile + 1
    pieces = np.empty((count, 4), dtype=np.int64)
    keys = np.empty(count, dtype=np.int64)
    height = spans[:, 0].max() + 1 if spans.shape[0] else 1
    width = spans[:, 2].max() + 1 if spans.shape[0] else 1
    columns = (width + tile - 1) // tile
    m = 0
    for s in range(spans.shape[0]):
        y, x0, x1, k0 = spans[s, 0], spans[s, 1], spans[s, 2], spans[s, 3]
        start = x0
        while start < x1:
            stop = min(x1, (start // tile + 1) * tile)
            pieces[m, 0], pieces[m, 1], pieces[m, 2], pieces[m, 3] = y, start, stop, k0 + start - x0
            cell = (y // tile) * columns + start // tile
            keys[m] = (cell * height + y) * width + start
            start = stop
            m += 1
    return pieces[np.argsort(keys, kind="mergesort")]


@functools.lru_cache(maxsize=8)
def disk_offsets(radius: float) -> np.ndarray:
    """Rows (dy, dx, dy^2 + dx^2) of the integer offsets with dy^2 + dx^2 <= radius^2, nearest
    first, then by (dy, dx). Cached: every call shares the array; do not modify it."""
    r = int(math.floor(radius))
    dy, dx = np.mgrid[-r : r + 1, -r : r + 1]
    dy, dx = dy.ravel(), dx.ravel()
    d2 = dy * dy + dx * dx
    keep = d2 <= radius * radius
    dy, dx, d2 = dy[keep], dx[keep], d2[keep]
    order = np.lexsort((dx, dy, d2))
    return np.stack([dy[order], dx[order], d2[order]], axis=1).astype(np.int64)


#: Side of the tiles whose known colours :func:`_expand` bounds (a sweep of 4 and 8 on the
#: alphamatting-dev band cases: 4 rejects more of the searches that fail).
COLOUR_TILE = 4


@njit(cache=True, parallel=True)
def _known_colour_boxes(image, labels, tile):
    """Per ``tile`` x ``tile`` tile, the channel-wise min and max colour of its known pixels
    (T_h x T_w x 3 each; +inf / -inf in a tile without known pixels)."""
    height, width = labels.shape
    tiles_y, tiles_x = (height + tile - 1) // tile, (width + tile - 1) // tile
    lo = np.full((tiles_y, tiles_x, 3), np.inf)
    hi = np.full((tiles_y, tiles_x, 3), -np.inf)
    for ty in prange(tiles_y):
        for y in range(ty * tile, min(height, (ty + 1) * tile)):
            for x in range(width):
                if labels[y, x] == UNKNOWN:
                    continue
                tx = x // tile
                for ch in range(3):
                    lo[ty, tx, ch] = min(lo[ty, tx, ch], image[y, x, ch])
                    hi[ty, tx, ch] = max(hi[ty, tx, ch], image[y, x, ch])
    return lo, hi


@njit(cache=True, inline="always")
def _matching_tiles(lo, hi, tile, y, x, radius, c0, c1, c2, margin, found, limit):
    """The tiles within ``radius`` of (y, x) with a known colour within ``margin`` of C_p in
    every channel, written into ``found`` (rows (ty, tx)); returns their number, or stops
    at ``limit`` + 1 of them (the caller then needs no list). A known pixel in any other
    tile is farther than ``margin`` in RGB distance (a channel's difference is at most the
    Euclidean one)."""
    tiles_y, tiles_x = lo.shape[0], lo.shape[1]
    n = 0
    for ty in range(max(0, y - radius) // tile, min(tiles_y * tile - 1, y + radius) // tile + 1):
        for tx in range(max(0, x - radius) // tile, min(tiles_x * tile - 1, x + radius) // tile + 1):
            if (lo[ty, tx, 0] - margin <= c0 <= hi[ty, tx, 0] + margin
                    and lo[ty, tx, 1] - margin <= c1 <= hi[ty, tx, 1] + margin
                    and lo[ty, tx, 2] - margin <= c2 <= hi[ty, tx, 2] + margin):
                found[n, 0], found[n, 1] = ty, tx
                n += 1
                if n > limit:
                    return n
    return n


#: Up to this many matching tiles :func:`_expand` reads their pixels instead of the disk.
FEW_TILES = 8


@njit(cache=True, parallel=True)
def _expand(image, labels, offsets, radius, threshold_sq, parts):
    height, width = labels.shape
    near = _known_chessboard_distance(labels)
    # About half the searches find nothing and would read the whole disk; the tiles' colour
    # bounds settle most of those at once, and when few tiles can match, their pixels are
    # read instead of the disk (the result is the same).
    lo, hi = _known_colour_boxes(image, labels, COLOUR_TILE)
    margin = math.sqrt(threshold_sq) * (1.0 + 1e-9)
    span = 2 * radius // COLOUR_TILE + 2
    out = labels.copy()
    count = offsets.shape[0]
    max_d2 = offsets[count - 1, 2] if count > 0 else -1  # the disk's edge (nearest first)
    # Rows weighted by their pixels that search, and by one for the pass over the row.
    searching = np.ones(height)
    for y in range(height):
        for x in range(width):
            if labels[y, x] == UNKNOWN and near[y, x] <= radius:
                searching[y] += 1.0
    bounds = balanced_bounds(searching, parts)
    for part in prange(bounds.shape[0] - 1):
        tiles = np.empty((span * span, 2), dtype=np.int64)
        for y in range(bounds[part], bounds[part + 1]):
            for x in range(width):
                if labels[y, x] != UNKNOWN or near[y, x] > radius:
                    continue
                c0, c1, c2 = image[y, x, 0], image[y, x, 1], image[y, x, 2]
                n = _matching_tiles(lo, hi, COLOUR_TILE, y, x, radius, c0, c1, c2, margin,
                                     tiles, FEW_TILES)
                if n == 0:
                    continue
                if n <= FEW_TILES:
                    # The nearest match in the tiles, ties to the smaller (dy, dx): the disk's
                    # order.
                    best_d2, best_dy, best_dx, best = FAR_SQ, 0, 0, UNKNOWN
                    for t in range(n):
                        top, left = tiles[t, 0] * COLOUR_TILE, tiles[t, 1] * COLOUR_TILE
                        gap_y = max(0, top - y, y - (top + COLOUR_TILE - 1))
                        gap_x = max(0, left - x, x - (left + COLOUR_TILE - 1))
                        if gap_y * gap_y + gap_x * gap_x > min(best_d2, max_d2):
                            continue  # every pixel of the tile is farther than the best so far
                        for yy in range(tiles[t, 0] * COLOUR_TILE,
                                        min(height, (tiles[t, 0] + 1) * COLOUR_TILE)):
                            dy = yy - y
                            for xx in range(tiles[t, 1] * COLOUR_TILE,
                                            min(width, (tiles[t, 1] + 1) * COLOUR_TILE)):
                                label = labels[yy, xx]
                                if label == UNKNOWN:
                                    continue
                                dx = xx - x
                                d2 = dy * dy + dx * dx
                                if d2 > max_d2 or d2 > best_d2:
                                    continue
                                if d2 == best_d2 and (
                                        dy > best_dy or (dy == best_dy and dx > best_dx)):
                                    continue
                                e0 = image[yy, xx, 0] - c0
                                e1 = image[yy, xx, 1] - c1
                                e2 = image[yy, xx, 2] - c2
                                if e0 * e0 + e1 * e1 + e2 * e2 <= threshold_sq:
                                    best_d2, best_dy, best_dx, best = d2, dy, dx, label
                    out[y, x] = best
                    continue
                # Euclidean distance >= chessboard distance: skip offsets nearer than that.
                min_d2 = near[y, x] * near[y, x]
                for k in range(count):
                    if offsets[k, 2] < min_d2:
                        continue
                    yy, xx = y + offsets[k, 0], x + offsets[k, 1]
                    if yy < 0 or yy >= height or xx < 0 or xx >= width:
                        continue
                    label = labels[yy, xx]
                    if label == UNKNOWN:
                        continue
                    e0 = image[yy, xx, 0] - c0
                    e1 = image[yy, xx, 1] - c1
                    e2 = image[yy, xx, 2] - c2
                    if e0 * e0 + e1 * e1 + e2 * e2 <= threshold_sq:
                        out[y, x] = label
                        break
    return out


def expand_known_regions(
    image: np.ndarray,
    labels: np.ndarray,
    radius: float = 10.0,
    colour_threshold: float = 5.0 / 256.0,
) -> np.ndarray:
    """Labels with unknown pixels that evidently belong to a known region relabelled.

    Gastal and Oliveira (2010), Section 3.1: an unknown pixel p takes the label of a known
    pixel q when ||p - q|| <= ``radius`` (k_i) and ||C_p - C_q|| <= ``colour_threshold``
    (k_c, RGB in [0, 1]). Only the input labels count as known (no chain reaction); where
    several q qualify the spatially nearest wins (ties: smaller dy, then smaller dx), a choice
    the paper leaves open.
    """
    if radius <= 0 or colour_threshold <= 0:
        return labels.copy()
    offsets = disk_offsets(radius)
    return _expand(image, labels, offsets, int(math.floor(radius)), float(colour_threshold) ** 2,
                   numba.get_num_threads())
