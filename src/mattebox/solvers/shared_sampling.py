"""Shared matting (Gastal and Oliveira, "Shared Sampling for Real-Time Alpha Matting",
Computer Graphics Forum 29(2), Eurographics 2010), registered as ``sm``.

Four stages; every unknown pixel is computed independently within a stage, so the result does
not depend on the number of threads.

1. Expansion of known regions (Section 3.1): an unknown pixel within k_i = 10 pixels of a
   known pixel whose colour is within k_c = 5/256 takes that pixel's label.
2. Sample gathering (Section 3.2): from each unknown pixel p, k_g = 4 rays 2 pi / k_g apart;
   the rays of the 9 pixels of every 3 x 3 window are rotated by a ninth of that angle from
   one pixel to the next, so a window looks in 9 k_g directions. Each ray keeps the first
   foreground and the first background pixel it meets. Of the k_g^2 pairs at most, p keeps
   the one minimising

       g_p(f, b) = N_p(f, b)^e_N  A_p(f, b)^e_A  D_p(f)^e_f  D_p(b)^e_b,
       (e_N, e_A, e_f, e_b) = (3, 2, 1, 4),

   N_p the sum of the squared chromatic distortions M_q^2 over p's 3 x 3 window (Eq. 4),
   A_p = PF_p + (1 - 2 PF_p) alpha_p (Eq. 6), PF_p = min E_p(b) / (min E_p(f) + min E_p(b))
   (Eq. 5), E_p(s) the integral of |grad I . (s - p) / ||s - p||| along p -> s (Eq. 3) and
   D_p(s) = ||s - p||.
3. Sample refinement (Section 3.3): p scores with M_p the pairs of the unknown pixels of its
   (2 k_r + 1)^2 window, k_r = 5, and averages the 3 best into F^, B^ and the colour
   variances sigma_f^2, sigma_b^2 of 5 x 5 windows around their samples. F^g = C_p where
   ||C_p - F^||^2 <= sigma_f^2, else F^ (likewise B^g); alpha^g projects C_p on (F^g, B^g);
   the confidence is f^g = exp(-lambda M_p(F^, B^)), lambda = 10.
4. Local smoothing (Section 3.4): with G(d) = exp(-d^2 / sigma^2), sigma^2 = m^2 / (9 pi),
   m = 10, over the disk of radius 3 sigma, F and B are averaged with weights G f^g_q
   |alpha_p - alpha_q|; the final alpha mixes the projection on the smoothed pair with a
   low-frequency alpha, by the confidence f^l = min(1, ||F^l - B^l|| / D_FB)
   exp(-lambda M_p(F^l, B^l)) (see :func:`_smooth`).

Speed without changing the result of stage 2: rays jump over pixels by the chessboard
distance to the classes they still seek, path energies are walked nearest sample first and a
walk stops once its energy must exceed the smallest one of its class, and a pair's N_p sum
stops once the pair cannot win. Stages 3 and 4 run along rows of unknown pixels, runs of a row
fewer than JOIN_GAP pixels apart joined (their cost is per run and window offset), and the
refinement keeps its 3 best pairs as sortable integer keys (see :func:`_refine`).

Choices where the paper is silent are listed in :func:`estimate_alpha_sm`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ..registry import register_method
from ._sampling import (
    BACKGROUND,
    FAR,
    FOREGROUND,
    PACKED_FAR,
    PROJECTION_EPSILON,
    UNKNOWN,
    chessboard_distance,
    distortion_sq,
    expand_known_regions,
    joined_spans,
    label_spans,
    nearest_of_both_classes,
    packed_class_distances,
    project_alpha,
    tiled_spans,
    trimap_labels,
    boundary_colour_variance,
)

#: Largest number of rays per pixel the kernels accept (k_g; the paper uses 4).
MAX_RAYS = 64
#: Radius of the 5 x 5 windows whose colour variance gives sigma_f^2, sigma_b^2 (Section 3.3).
VARIANCE_RADIUS = 2
#: Side of the square tiles in which stage 2 visits pixels (locality of the rays' reads).
GATHER_TILE = 64
#: One half in the 32.32 fixed point of the ray positions.
HALF = 1 << 31
#: Points at which a long fallback segment's path energy is read (see _segment_energy).
FALLBACK_POINTS = 32
#: Confidence given to a pixel whose refined F and B both collapse onto its own colour.
TINY_CONFIDENCE = 1e-8
# Stages 3 and 4 run in float32 (twice the vector width, half the memory traffic); these
# typed constants keep Numba from promoting their arithmetic to float64.
ZERO32, ONE32, INF32 = np.float32(0.0), np.float32(1.0), np.float32(np.inf)
#: Bits of float32 infinity, and a key above every (score bits << 32 | index) key (_refine).
INF32_BITS, NO_KEY = 0x7F800000, np.int64(2**63 - 1)
#: Runs of unknown pixels of one row closer than this are joined for stages 3 and 4, whose
#: cost per run (one pass per window offset) outweighs the pixels skipped between runs.
JOIN_GAP = 32


@njit(cache=True, inline="always")
def _power(x, exponent, small_int):
    """x ** exponent, by repeated multiplication when the exponent is a small integer."""
    if small_int >= 0:
        out = 1.0
        for _ in range(small_int):
            out *= x
        return out
    return x**exponent


@njit(cache=True)
def _first_samples(packed, y, x, steps, found_f, found_b, position, value, wanted):
    """Step numbers of the first foreground and background pixel on each ray from (y, x).

    Step i of ray r is pixel floor((y, x) + 1/2 + i steps[r]), computed in 32.32 fixed point
    (see :func:`_ray_steps`); one coordinate of a step is +-1, so a ray advances one pixel
    along its major axis per step and skips no pixel. Pixels k steps apart are at most k
    apart in chessboard distance, so a ray jumps by the chessboard distance to the nearest
    pixel of a class it still seeks (``packed``, see
    :func:`~mattebox.solvers._sampling.packed_class_distances`) without passing one. The rays
    advance in turn, so that the processor overlaps their memory accesses. Writes step
    numbers into ``found_f``, ``found_b`` (-1: the ray left the image first); ``position``,
    ``value`` and ``wanted`` are scratch arrays of one entry per ray.
    """
    height, width = packed.shape
    rays = steps.shape[0]
    origin_y, origin_x = (y << 32) + HALF, (x << 32) + HALF
    start = packed[y, x]
    for r in range(rays):
        found_f[r] = found_b[r] = -1
        position[r] = 0
        value[r] = start
        wanted[r] = 3  # bit 1: foreground, bit 2: background
    active = rays
    while active > 0:
        for r in range(rays):
            want = wanted[r]
            if want == 0:
                continue
            v = value[r]
            jump = PACKED_FAR
            if want & 1:
                jump = min(jump, v >> 16)
            if want & 2:
                jump = min(jump, v & 0xFFFF)
            i = position[r] + max(1, jump)
            qy = (origin_y + i * steps[r, 0]) >> 32
            qx = (origin_x + i * steps[r, 1]) >> 32
            if qy < 0 or qy >= height or qx < 0 or qx >= width:
                wanted[r] = 0
                active -= 1
                continue
            v = packed[qy, qx]
            if want & 1 and (v >> 16) == 0:
                found_f[r] = i
                want &= 2
            elif want & 2 and (v & 0xFFFF) == 0:
                found_b[r] = i
                want &= 1
            if want == 0:
                active -= 1
            wanted[r], value[r], position[r] = want, v, i


@njit(cache=True, parallel=True)
def _neighbour_differences(image):
    """||C_q - C_p|| from every pixel p to its right (E), lower (S), lower-right (SE) and
    lower-left (SW) neighbour q, as float32 H x W x 4 (0 where q is outside the image): the
    four values of a pixel share a cache line, which is what ray walks fetch."""
    height, width, _ = image.shape
    out = np.zeros((height, width, 4), dtype=np.float32)
    for y in prange(height):
        for x in range(width):
            for k in range(4):
                dy = 0 if k == 0 else 1
                dx = 1 if k == 0 or k == 2 else (0 if k == 1 else -1)
                if y + dy >= height or x + dx < 0 or x + dx >= width:
                    continue
                e0 = image[y + dy, x + dx, 0] - image[y, x, 0]
                e1 = image[y + dy, x + dx, 1] - image[y, x, 1]
                e2 = image[y + dy, x + dx, 2] - image[y, x, 2]
                out[y, x, k] = math.sqrt(e0 * e0 + e1 * e1 + e2 * e2)
    return out


@njit(cache=True, inline="always")
def _walk_energy(image, flat_diffs, y, x, step_y, step_x, straight, diagonal, start, energy, stop,
                 bound):
    """Continue the path energy of a ray (fixed-point steps, see :func:`_first_samples`) from
    step ``start`` (energy so far ``energy``) to step ``stop``; returns (last step walked,
    energy). The walk gives up, before ``stop``, once the energy of the whole path to step
    ``stop`` is sure to reach ``bound``: the rest of the path costs at least the colour
    difference between its ends (triangle inequality), checked every 8 steps.

    E_p (Eq. 3) integrates |grad I . direction| along the ray; with one pixel per step it is
    the sum of the colour differences of consecutive ray pixels. A step is straight or
    diagonal; ``straight`` and ``diagonal`` say where its difference lies in the flattened
    :func:`_neighbour_differences` relative to the step's first pixel (see
    :func:`_step_offsets`).
    """
    width = image.shape[1]
    origin_y, origin_x = (y << 32) + HALF, (x << 32) + HALF
    bounded = bound < np.inf
    sy = (origin_y + stop * step_y) >> 32
    sx = (origin_x + stop * step_x) >> 32
    t0, t1, t2 = image[sy, sx, 0], image[sy, sx, 1], image[sy, sx, 2]
    i = start
    py = (origin_y + i * step_y) >> 32
    px = (origin_x + i * step_x) >> 32
    while i < stop:
        if bounded and (i - start) % 8 == 0:
            e0, e1, e2 = image[py, px, 0] - t0, image[py, px, 1] - t1, image[py, px, 2] - t2
            if energy + math.sqrt(e0 * e0 + e1 * e1 + e2 * e2) >= bound:
                break
        i += 1
        qy = (origin_y + i * step_y) >> 32
        qx = (origin_x + i * step_x) >> 32
        step = diagonal if qy != py and qx != px else straight
        energy += flat_diffs[4 * (py * width + px) + step]
        py, px = qy, qx
    return i, energy


@njit(cache=True)
def _insert_sample(pos, ray, step, dist, count, r, i, y, x, step_y, step_x, length):
    """Insert the sample at step ``i`` of ray ``r`` (fixed-point steps, ``length`` the step
    length in pixels) into lists kept sorted by distance along the ray (ties keep ray order);
    returns the new count."""
    d = i * length
    slot = count
    while slot > 0 and dist[slot - 1] > d:
        pos[slot, 0], pos[slot, 1] = pos[slot - 1, 0], pos[slot - 1, 1]
        ray[slot], step[slot], dist[slot] = ray[slot - 1], step[slot - 1], dist[slot - 1]
        slot -= 1
    pos[slot, 0] = ((y << 32) + HALF + i * step_y) >> 32
    pos[slot, 1] = ((x << 32) + HALF + i * step_x) >> 32
    ray[slot], step[slot], dist[slot] = r, i, d
    return count + 1


@njit(cache=True)
def _step_offsets(step_y, step_x, width):
    """Where a straight and a diagonal step of a ray with fixed-point steps (step_y, step_x)
    find their colour difference in the flattened :func:`_neighbour_differences` (H x W x 4:
    E, S, SE, SW), relative to 4 x the flat index of the step's first pixel."""
    sign_y = (step_y > 0) - (step_y < 0)
    sign_x = (step_x > 0) - (step_x < 0)
    up, left, right = min(0, sign_y), min(0, sign_x), max(0, sign_x)
    straight = 4 * left if abs(step_x) >= abs(step_y) else 4 * up * width + 1
    if sign_y == sign_x:
        diagonal = 4 * (up * width + left) + 2
    else:
        diagonal = 4 * (up * width + right) + 3
    return straight, diagonal


@njit(cache=True)
def _segment_energy(image, flat_diffs, y, x, sy, sx):
    """E_p(s) along the straight segment (y, x) -> (sy, sx) (fallback samples, see
    :func:`_gather`): exact, one pixel per major-axis step, up to FALLBACK_POINTS steps; a
    longer segment is read at FALLBACK_POINTS evenly spaced points and the colour distances
    between consecutive points are summed (a lower bound of the full walk's sum)."""
    steps = max(abs(sy - y), abs(sx - x))
    if steps == 0:
        return 0.0
    step_y, step_x = ((sy - y) << 32) // steps, ((sx - x) << 32) // steps
    if steps <= FALLBACK_POINTS:
        straight, diagonal = _step_offsets(step_y, step_x, image.shape[1])
        return _walk_energy(image, flat_diffs, y, x, step_y, step_x, straight, diagonal, 0,
                            0.0, steps, np.inf)[1]
    origin_y, origin_x = (y << 32) + HALF, (x << 32) + HALF
    energy = 0.0
    py, px = y, x
    for k in range(1, FALLBACK_POINTS + 1):
        i = (k * steps) // FALLBACK_POINTS
        qy = (origin_y + i * step_y) >> 32
        qx = (origin_x + i * step_x) >> 32
        e0 = image[qy, qx, 0] - image[py, px, 0]
        e1 = image[qy, qx, 1] - image[py, px, 1]
        e2 = image[qy, qx, 2] - image[py, px, 2]
        energy += math.sqrt(e0 * e0 + e1 * e1 + e2 * e2)
        py, px = qy, qx
    return energy


@njit(cache=True, parallel=True)
def _gather(image, diffs, packed, variance, nearest_f, nearest_b, spans, step_table, step_length,
            walk_offsets, exponents, int_exponents, out_f, out_b, out_d, out_inv, out_var,
            out_pf):
    """Stage 2 (Section 3.2): the best (foreground, background) pair of every unknown pixel.

    Writes the pair's colours into the planes ``out_f``, ``out_b`` (3 x H x W), for stage 3
    d = F - B (``out_d``) and 1 / (||d||^2 + epsilon) (``out_inv``), and the colour variances
    of the 5 x 5 windows around the two samples (read from ``variance``) into ``out_var``,
    and PF_p into ``out_pf`` (H x W). A pixel whose rays meet no pixel of a class takes the
    pixel that ``nearest_f`` or ``nearest_b`` names (see
    :func:`~mattebox.solvers._sampling.nearest_of_class`); when these are empty, its PF_p is
    set to NaN and nothing else is written, for a second call on those pixels alone.
    """
    height, width = packed.shape
    flat_diffs = diffs.ravel()
    num_rays = step_table.shape[1]
    e_n, e_a, e_f, e_b = exponents[0], exponents[1], exponents[2], exponents[3]
    i_n, i_a, i_f, i_b = int_exponents[0], int_exponents[1], int_exponents[2], int_exponents[3]
    for span in prange(spans.shape[0]):
        f_pos = np.empty((num_rays + 1, 2), dtype=np.int64)
        b_pos = np.empty((num_rays + 1, 2), dtype=np.int64)
        f_cost = np.empty(num_rays + 1)
        b_cost = np.empty(num_rays + 1)
        f_ray = np.empty(num_rays + 1, dtype=np.int64)
        b_ray = np.empty(num_rays + 1, dtype=np.int64)
        f_step = np.empty(num_rays + 1, dtype=np.int64)
        b_step = np.empty(num_rays + 1, dtype=np.int64)
        f_dist = np.empty(num_rays + 1)
        b_dist = np.empty(num_rays + 1)
        ray_step = np.empty(num_rays, dtype=np.int64)
        ray_energy = np.empty(num_rays)
        found_f = np.empty(num_rays, dtype=np.int64)
        found_b = np.empty(num_rays, dtype=np.int64)
        scratch_i = np.empty(num_rays, dtype=np.int64)
        scratch_v = np.empty(num_rays, dtype=np.int64)
        scratch_w = np.empty(num_rays, dtype=np.int64)
        y = spans[span, 0]
        for x in range(spans[span, 1], spans[span, 2]):
            rotation = 3 * (y % 3) + (x % 3)
            # Samples: the first foreground and background pixel of every ray, nearest first.
            nf = nb = 0
            _first_samples(packed, y, x, step_table[rotation], found_f, found_b, scratch_i,
                           scratch_v, scratch_w)
            for r in range(num_rays):
                sy, sx = step_table[rotation, r, 0], step_table[rotation, r, 1]
                step_f, step_b = found_f[r], found_b[r]
                if step_f >= 0:
                    nf = _insert_sample(f_pos, f_ray, f_step, f_dist, nf, r, step_f, y, x, sy, sx,
                                        step_length[rotation, r])
                if step_b >= 0:
                    nb = _insert_sample(b_pos, b_ray, b_step, b_dist, nb, r, step_b, y, x, sy, sx,
                                        step_length[rotation, r])
            # min E_p of each class (Eq. 5). Samples are visited nearest first and a walk
            # stops once its energy must reach the class minimum so far: the minima are exact.
            ray_step[:] = 0
            ray_energy[:] = 0.0
            min_ef = min_eb = np.inf
            done_f = done_b = 0
            while done_f < nf or done_b < nb:
                take_f = done_b >= nb or (done_f < nf and f_dist[done_f] <= b_dist[done_b])
                if take_f:
                    r, target, bound = f_ray[done_f], f_step[done_f], min_ef
                    done_f += 1
                else:
                    r, target, bound = b_ray[done_b], b_step[done_b], min_eb
                    done_b += 1
                if ray_step[r] < target:
                    ray_step[r], ray_energy[r] = _walk_energy(
                        image, flat_diffs, y, x, step_table[rotation, r, 0],
                        step_table[rotation, r, 1], walk_offsets[rotation, r, 0],
                        walk_offsets[rotation, r, 1], ray_step[r], ray_energy[r], target, bound)
                if ray_step[r] == target:
                    if take_f:
                        min_ef = min(min_ef, ray_energy[r])
                    else:
                        min_eb = min(min_eb, ray_energy[r])
            # No ray met a class: fall back on its nearest pixel (the paper is silent).
            if (nf == 0 or nb == 0) and nearest_f.size == 0:
                out_pf[y, x] = np.nan
                continue
            if nf == 0:
                fy, fx = nearest_f[y, x] // width, nearest_f[y, x] % width
                f_pos[0, 0], f_pos[0, 1] = fy, fx
                nf = 1
                min_ef = _segment_energy(image, flat_diffs, y, x, fy, fx)
            if nb == 0:
                by, bx = nearest_b[y, x] // width, nearest_b[y, x] % width
                b_pos[0, 0], b_pos[0, 1] = by, bx
                nb = 1
                min_eb = _segment_energy(image, flat_diffs, y, x, by, bx)
            total = min_ef + min_eb
            pf = min_eb / total if total > 0.0 else 0.5  # PF_p, Eq. 5
            out_pf[y, x] = pf
            for i in range(nf):
                d = math.sqrt(float((f_pos[i, 0] - y) ** 2 + (f_pos[i, 1] - x) ** 2))
                f_cost[i] = _power(d, e_f, i_f)  # D_p(f)^e_f
            for j in range(nb):
                d = math.sqrt(float((b_pos[j, 0] - y) ** 2 + (b_pos[j, 1] - x) ** 2))
                b_cost[j] = _power(d, e_b, i_b)
            c0, c1, c2 = image[y, x, 0], image[y, x, 1], image[y, x, 2]
            best = np.inf
            best_i = best_j = 0
            for i in range(nf):
                f0 = image[f_pos[i, 0], f_pos[i, 1], 0]
                f1 = image[f_pos[i, 0], f_pos[i, 1], 1]
                f2 = image[f_pos[i, 0], f_pos[i, 1], 2]
                for j in range(nb):
                    b0 = image[b_pos[j, 0], b_pos[j, 1], 0]
                    b1 = image[b_pos[j, 0], b_pos[j, 1], 1]
                    b2 = image[b_pos[j, 0], b_pos[j, 1], 2]
                    alpha = project_alpha(c0, c1, c2, f0, f1, f2, b0, b1, b2)
                    a_p = pf + (1.0 - 2.0 * pf) * alpha  # A_p, Eq. 6
                    rest = _power(a_p, e_a, i_a) * f_cost[i] * b_cost[j]
                    # N_p (Eq. 4) is summed row by row; stop once the pair cannot win.
                    n_p = distortion_sq(c0, c1, c2, f0, f1, f2, b0, b1, b2)
                    if _power(n_p, e_n, i_n) * rest >= best:
                        continue
                    lost = False
                    for yy in range(max(0, y - 1), min(height, y + 2)):
                        for xx in range(max(0, x - 1), min(width, x + 2)):
                            if yy != y or xx != x:
                                n_p += distortion_sq(image[yy, xx, 0], image[yy, xx, 1],
                                                     image[yy, xx, 2], f0, f1, f2, b0, b1, b2)
                        if _power(n_p, e_n, i_n) * rest >= best:
                            lost = True
                            break
                    if not lost:
                        best = _power(n_p, e_n, i_n) * rest
                        best_i, best_j = i, j
            fy, fx = f_pos[best_i, 0], f_pos[best_i, 1]
            by, bx = b_pos[best_j, 0], b_pos[best_j, 1]
            norm = PROJECTION_EPSILON
            for ch in range(3):
                out_f[ch, y, x] = image[fy, fx, ch]
                out_b[ch, y, x] = image[by, bx, ch]
                out_d[ch, y, x] = image[fy, fx, ch] - image[by, bx, ch]
                norm += out_d[ch, y, x] * out_d[ch, y, x]
            out_inv[y, x] = 1.0 / norm
            out_var[0, y, x] = variance[fy, fx]
            out_var[1, y, x] = variance[by, bx]


@njit(cache=True, parallel=True)
def _refine(planes, spans, gathered_f, gathered_b, gathered_d, gathered_inv, gathered_var, radius,
            confidence_lambda, fg, bg, alpha, confidence, fb_weight, fb_distance):
    """Stage 3 (Section 3.3): average the 3 pairs of the window that best explain C_p.

    Each unknown pixel p scores the pairs gathered by the unknown pixels q of its window with
    M_p(F_q, B_q)^2 = ||C_p - B_q - alpha d_q||^2, alpha = clip((C_p - B_q) . d_q / ||d_q||^2),
    and keeps the 3 lowest (ties: the earlier q in row-major order). Inputs are float32;
    ``gathered_inv`` is NaN on known pixels, which excludes them as q and as p (``spans``
    may cover known pixels, see :func:`~mattebox.solvers._sampling.joined_spans`). Writes
    F^g, B^g (planes), alpha^g, the confidence f^g and, for stage 4, f^g alpha^g
    (1 - alpha^g) and ||F^g - B^g||.

    The inner loops run along a row so that the compiler vectorises them. The 3 lowest are
    kept as int64 keys (float32 bits of the score << 32 | flat index of q): the scores are
    >= 0, so their bits order as they do, and equal scores order by q; a 3-element sorting
    network of min / max then keeps them without branches, twice as fast as tracking scores
    and indices apart.
    """
    height, width = planes.shape[1], planes.shape[2]
    for span in prange(spans.shape[0]):
        y, x0, x1 = spans[span, 0], spans[span, 1], spans[span, 2]
        size = x1 - x0
        key0 = np.full(size, NO_KEY)
        key1 = np.full(size, NO_KEY)
        key2 = np.full(size, NO_KEY)
        score_row = np.empty(size, dtype=np.float32)
        bits_row = score_row.view(np.int32)
        for yy in range(max(0, y - radius), min(height, y + radius + 1)):
            for dx in range(-radius, radius + 1):
                lo, hi = max(x0, -dx), min(x1, width - dx)
                if lo >= hi:
                    continue
                # Slices indexed from 0 give the compiler contiguous vector loads.
                n, s0, s1 = hi - lo, lo - x0, lo + dx
                pc0, pc1, pc2 = planes[0, y, lo:hi], planes[1, y, lo:hi], planes[2, y, lo:hi]
                qb0, qb1 = gathered_b[0, yy, s1:], gathered_b[1, yy, s1:]
                qb2, qd0 = gathered_b[2, yy, s1:], gathered_d[0, yy, s1:]
                qd1, qd2 = gathered_d[1, yy, s1:], gathered_d[2, yy, s1:]
                qi = gathered_inv[yy, s1:]
                k0, k1, k2 = key0[s0:], key1[s0:], key2[s0:]
                score, bits = score_row[:n], bits_row[:n]
                for j in range(n):
                    e0, e1, e2 = pc0[j] - qb0[j], pc1[j] - qb1[j], pc2[j] - qb2[j]
                    a = min(ONE32, max(ZERO32, (e0 * qd0[j] + e1 * qd1[j] + e2 * qd2[j]) * qi[j]))
                    r0, r1, r2 = e0 - a * qd0[j], e1 - a * qd1[j], e2 - a * qd2[j]
                    c = r0 * r0 + r1 * r1 + r2 * r2
                    score[j] = c if qi[j] == qi[j] else INF32  # NaN: q is not unknown
                first = yy * width + s1
                for j in range(n):
                    key = (np.int64(bits[j]) << 32) | (first + j)
                    k2[j] = min(k2[j], max(k1[j], key))
                    k1[j] = min(k1[j], max(k0[j], key))
                    k0[j] = min(k0[j], key)
        for x in range(x0, x1):
            if gathered_inv[y, x] != gathered_inv[y, x]:
                continue  # a known pixel between two joined runs
            j = x - x0
            c0, c1, c2 = float(planes[0, y, x]), float(planes[1, y, x]), float(planes[2, y, x])
            f0 = f1 = f2 = g0 = g1 = g2 = var_f = var_b = 0.0
            found = 0
            for t in range(3):
                key = key0[j] if t == 0 else (key1[j] if t == 1 else key2[j])
                if (key >> 32) >= INF32_BITS:
                    break  # fewer than 3 unknown pixels in the window
                q = key & 0xFFFFFFFF
                qy, qx = q // width, q % width
                f0 += gathered_f[0, qy, qx]
                f1 += gathered_f[1, qy, qx]
                f2 += gathered_f[2, qy, qx]
                g0 += gathered_b[0, qy, qx]
                g1 += gathered_b[1, qy, qx]
                g2 += gathered_b[2, qy, qx]
                var_f += gathered_var[0, qy, qx]
                var_b += gathered_var[1, qy, qx]
                found += 1
            f0, f1, f2 = f0 / found, f1 / found, f2 / found
            g0, g1, g2 = g0 / found, g1 / found, g2 / found
            var_f, var_b = var_f / found, var_b / found
            distortion = math.sqrt(distortion_sq(c0, c1, c2, f0, f1, f2, g0, g1, g2))
            near_f = (c0 - f0) ** 2 + (c1 - f1) ** 2 + (c2 - f2) ** 2 <= var_f
            near_b = (c0 - g0) ** 2 + (c1 - g1) ** 2 + (c2 - g2) ** 2 <= var_b
            if near_f and near_b:
                # C_p lies within the spread of both samples (the paper leaves this open):
                # keep the averaged pair and mark the pixel unreliable.
                a_g = project_alpha(c0, c1, c2, f0, f1, f2, g0, g1, g2)
                conf = TINY_CONFIDENCE
            else:
                if near_f:
                    f0, f1, f2 = c0, c1, c2
                if near_b:
                    g0, g1, g2 = c0, c1, c2
                a_g = project_alpha(c0, c1, c2, f0, f1, f2, g0, g1, g2)
                conf = math.exp(-confidence_lambda * distortion)
            fg[0, y, x], fg[1, y, x], fg[2, y, x] = f0, f1, f2
            bg[0, y, x], bg[1, y, x], bg[2, y, x] = g0, g1, g2
            alpha[y, x] = a_g
            confidence[y, x] = conf
            fb_weight[y, x] = conf * a_g * (1.0 - a_g)
            fb_distance[y, x] = math.sqrt((f0 - g0) ** 2 + (f1 - g1) ** 2 + (f2 - g2) ** 2)


@njit(cache=True, parallel=True)
def _smooth(planes, known, spans, fg, bg, alpha, confidence, fb_weight, fb_distance, offsets,
            weights, confidence_lambda, out_alpha, out_f, out_b):
    """Stage 4 (Section 3.4): confidence- and Gaussian-weighted smoothing of F, B and alpha.

    For q in the disk around p, G the Gaussian weight of ||p - q||:
    W_c = G f^g_q |alpha^g_p - alpha^g_q| (G f^g_p for q = p); F^l = sum W_c alpha_q F_q /
    sum W_c alpha_q, B^l likewise with 1 - alpha_q; D_FB = sum w_q ||F_q - B_q|| / sum w_q,
    w_q = f^g_q alpha_q (1 - alpha_q); f^l = min(1, ||F^l - B^l|| / D_FB) exp(-lambda
    M_p(F^l, B^l)); low-frequency alpha = sum W_a alpha_q / sum W_a, W_a = f^g_q G + [q known];
    alpha = f^l alpha(C_p; F^l, B^l) + (1 - f^l) low-frequency alpha. ``known`` is 1.0 on
    known pixels and 0.0 on unknown ones; known pixels that ``spans`` covers are skipped.
    Inputs are float32 and so are the sums; the final
    per-pixel arithmetic is float64.
    """
    height, width = known.shape
    count = offsets.shape[0]
    for span in prange(spans.shape[0]):
        y, x0, x1 = spans[span, 0], spans[span, 1], spans[span, 2]
        size = x1 - x0
        acc = np.zeros((12, size), dtype=np.float32)
        a_p = alpha[y, x0:x1]
        for t in range(count):
            dy, dx, g = offsets[t, 0], offsets[t, 1], weights[t]
            yy = y + dy
            if yy < 0 or yy >= height:
                continue
            lo, hi = max(x0, -dx), min(x1, width - dx)
            if lo >= hi:
                continue
            n = hi - lo
            s0, s1 = lo - x0, lo + dx
            ap = a_p[s0:s0 + n]
            aq = alpha[yy, s1:s1 + n]
            cq = confidence[yy, s1:s1 + n]
            f0, f1, f2 = fg[0, yy, s1:], fg[1, yy, s1:], fg[2, yy, s1:]
            b0, b1, b2 = bg[0, yy, s1:], bg[1, yy, s1:], bg[2, yy, s1:]
            acc0, acc1, acc2, acc3 = acc[0, s0:], acc[1, s0:], acc[2, s0:], acc[3, s0:]
            acc4, acc5, acc6, acc7 = acc[4, s0:], acc[5, s0:], acc[6, s0:], acc[7, s0:]
            centre = ONE32 if (dy == 0 and dx == 0) else ZERO32  # W_c of q = p: no |alpha| factor
            for j in range(n):
                w_c = g * cq[j] * max(centre, abs(ap[j] - aq[j]))
                w_f = w_c * aq[j]
                w_b = w_c - w_f
                acc0[j] += w_f * f0[j]
                acc1[j] += w_f * f1[j]
                acc2[j] += w_f * f2[j]
                acc3[j] += w_f
                acc4[j] += w_b * b0[j]
                acc5[j] += w_b * b1[j]
                acc6[j] += w_b * b2[j]
                acc7[j] += w_b
            fw, fd, kn = fb_weight[yy, s1:], fb_distance[yy, s1:], known[yy, s1:]
            acc8, acc9, acc10, acc11 = acc[8, s0:], acc[9, s0:], acc[10, s0:], acc[11, s0:]
            for j in range(n):
                acc8[j] += fw[j] * fd[j]
                acc9[j] += fw[j]
                w_a = cq[j] * g + kn[j]
                acc10[j] += w_a * aq[j]
                acc11[j] += w_a
        for x in range(x0, x1):
            if known[y, x] != ZERO32:
                continue  # a known pixel between two joined runs
            j = x - x0
            sum_f, sum_b = float(acc[3, j]), float(acc[7, j])
            if sum_f > 0.0:
                f0_, f1_, f2_ = acc[0, j] / sum_f, acc[1, j] / sum_f, acc[2, j] / sum_f
            else:
                f0_, f1_, f2_ = float(fg[0, y, x]), float(fg[1, y, x]), float(fg[2, y, x])
            if sum_b > 0.0:
                b0_, b1_, b2_ = acc[4, j] / sum_b, acc[5, j] / sum_b, acc[6, j] / sum_b
            else:
                b0_, b1_, b2_ = float(bg[0, y, x]), float(bg[1, y, x]), float(bg[2, y, x])
            c0, c1, c2 = float(planes[0, y, x]), float(planes[1, y, x]), float(planes[2, y, x])
            spread = math.sqrt((f0_ - b0_) ** 2 + (f1_ - b1_) ** 2 + (f2_ - b2_) ** 2)
            ratio = 1.0
            if acc[8, j] > 0.0:
                ratio = min(1.0, spread / (float(acc[8, j]) / float(acc[9, j])))
            distortion = math.sqrt(distortion_sq(c0, c1, c2, f0_, f1_, f2_, b0_, b1_, b2_))
            conf = ratio * math.exp(-confidence_lambda * distortion)
            low = float(acc[10, j]) / float(acc[11, j]) if acc[11, j] > 0.0 else float(alpha[y, x])
            a_l = project_alpha(c0, c1, c2, f0_, f1_, f2_, b0_, b1_, b2_)
            out_alpha[y, x] = min(1.0, max(0.0, conf * a_l + (1.0 - conf) * low))
            out_f[0, y, x], out_f[1, y, x], out_f[2, y, x] = f0_, f1_, f2_
            out_b[0, y, x], out_b[1, y, x], out_b[2, y, x] = b0_, b1_, b2_


def _smoothing_kernel(window: float) -> tuple[np.ndarray, np.ndarray]:
    """Offsets of the disk of radius 3 sigma, sigma^2 = m^2 / (9 pi), and their weights
    G(d) = exp(-d^2 / sigma^2) (Section 3.4; G(0) = 1, see :func:`estimate_alpha_sm`)."""
    sigma_sq = window * window / (9.0 * math.pi)
    reach = 3.0 * math.sqrt(sigma_sq)
    r = int(math.floor(reach))
    dy, dx = np.mgrid[-r : r + 1, -r : r + 1]
    dy, dx = dy.ravel(), dx.ravel()
    d2 = dy * dy + dx * dx
    keep = d2 <= reach * reach
    offsets = np.stack([dy[keep], dx[keep]], axis=1).astype(np.int64)
    weights = np.exp(-d2[keep] / sigma_sq)
    return offsets, weights


def _ray_steps(rays: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-step (dy, dx) of the k_g rays of each of the 9 pixels of a 3 x 3 window, in 32.32
    fixed point, and the step lengths in pixels. Ray j of window pixel w = 3 (y mod 3) +
    (x mod 3) has angle 2 pi (j + w / 9) / k_g (Section 3.2); steps are scaled so that the
    major axis advances exactly one pixel per step."""
    angles = (np.arange(rays)[None, :] + np.arange(9)[:, None] / 9.0) * (2.0 * math.pi / rays)
    steps = np.stack([np.sin(angles), np.cos(angles)], axis=2)
    steps /= np.abs(steps).max(axis=2, keepdims=True)
    fixed = np.round(steps * float(1 << 32)).astype(np.int64)
    return fixed, np.hypot(steps[..., 0], steps[..., 1])


def _walk_offsets(steps: np.ndarray, width: int) -> np.ndarray:
    """:func:`_step_offsets` (straight, diagonal) of every ray of :func:`_ray_steps`."""
    out = np.empty(steps.shape, dtype=np.int64)
    for index in np.ndindex(steps.shape[:2]):
        out[index] = _step_offsets(int(steps[index][0]), int(steps[index][1]), width)
    return out


def _small_int(value: float) -> int:
    return int(value) if float(value).is_integer() and 0 <= value <= 16 else -1


def _mean_colour(image: np.ndarray, labels: np.ndarray, value: int) -> np.ndarray:
    """Mean colour of the pixels labelled ``value`` (zeros when there are none)."""
    mask = labels == value
    return image[mask].mean(axis=0) if mask.any() else np.zeros(3)


def _layers(image, labels, fg_planes=None, bg_planes=None):
    """F and B as H x W x 3: the estimates (3 x H x W planes) on unknown pixels, the image on
    pixels of their own class and that class's mean colour on pixels of the other class."""
    fg, bg = image.copy(), image.copy()
    if fg_planes is not None:
        unknown = labels == UNKNOWN
        fg[unknown] = fg_planes[:, unknown].T
        bg[unknown] = bg_planes[:, unknown].T
    fg[labels == BACKGROUND] = _mean_colour(image, labels, FOREGROUND)
    bg[labels == FOREGROUND] = _mean_colour(image, labels, BACKGROUND)
    return fg, bg


def _solve(image, trimap, *, expansion_radius, expansion_threshold, rays, exponents,
           refinement_radius, confidence_lambda, smoothing_window,
           layers=True):
    """The four stages on validated inputs; returns alpha and (when ``layers``) F and B."""
    image = np.ascontiguousarray(image, dtype=np.float64)
    labels = trimap_labels(np.asarray(trimap))
    unknown = labels == UNKNOWN
    has_f = bool((labels == FOREGROUND).any())
    has_b = bool((labels == BACKGROUND).any())
    if not unknown.any() or not (has_f and has_b):
        alpha = (labels == FOREGROUND).astype(np.float64)
        alpha[unknown] = 1.0 if has_f else (0.0 if has_b else 0.5)
        return (alpha, *_layers(image, labels)) if layers else (alpha, None, None)

    labels = expand_known_regions(image, labels, expansion_radius, expansion_threshold)
    alpha = (labels == FOREGROUND).astype(np.float64)
    spans = label_spans(labels, UNKNOWN)
    if spans.shape[0] == 0:  # the expansion labelled every unknown pixel
        return (alpha, *_layers(image, labels)) if layers else (alpha, None, None)

    height, width = labels.shape
    exps = np.asarray(exponents, dtype=np.float64)
    int_exps = np.array([_small_int(e) for e in exps], dtype=np.int64)
    gathered_f = np.empty((3, height, width), dtype=np.float32)
    gathered_b = np.empty((3, height, width), dtype=np.float32)
    gathered_d = np.empty((3, height, width), dtype=np.float32)
    gathered_inv = np.full((height, width), np.nan, dtype=np.float32)
    gathered_var = np.empty((2, height, width), dtype=np.float32)
    variance = boundary_colour_variance(image, labels, VARIANCE_RADIUS)
    steps, step_length = _ray_steps(rays)
    diffs, packed = _neighbour_differences(image), packed_class_distances(labels)
    walks = _walk_offsets(steps, width)
    pf = np.empty((height, width), dtype=np.float32)
    gathered = (gathered_f, gathered_b, gathered_d, gathered_inv, gathered_var, pf)
    # Nearest-pixel maps for pixels whose rays miss a class: built up front when most of the
    # image is unknown (then most pixels need them), else only if a first pass needs them.
    unknown = labels == UNKNOWN
    if 2 * np.count_nonzero(unknown) > unknown.size:
        maps = nearest_of_both_classes(labels)
    else:
        maps = np.empty((0, 0), dtype=np.int64), np.empty((0, 0), dtype=np.int64)
    _gather(image, diffs, packed, variance, *maps, tiled_spans(spans, GATHER_TILE), steps,
            step_length, walks, exps, int_exps, *gathered)
    missing = np.isnan(pf) & unknown
    if missing.any():
        maps = nearest_of_both_classes(labels)
        again = tiled_spans(label_spans(missing.view(np.uint8), 1), GATHER_TILE)
        _gather(image, diffs, packed, variance, *maps, again, steps, step_length, walks, exps,
                int_exps, *gathered)

    planes = np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32)
    fg, bg = planes.copy(), planes.copy()
    refined_alpha = alpha.astype(np.float32)
    confidence = np.ones((height, width), dtype=np.float32)
    fb_weight = np.zeros((height, width), dtype=np.float32)
    fb_distance = np.zeros((height, width), dtype=np.float32)
    joined = joined_spans(spans, JOIN_GAP)
    _refine(planes, joined, gathered_f, gathered_b, gathered_d, gathered_inv, gathered_var,
            int(refinement_radius), float(confidence_lambda), fg, bg, refined_alpha, confidence,
            fb_weight, fb_distance)

    offsets, weights = _smoothing_kernel(float(smoothing_window))
    out_f, out_b = fg.copy(), bg.copy()
    known = (labels != UNKNOWN).astype(np.float32)
    _smooth(planes, known, joined, fg, bg, refined_alpha, confidence, fb_weight, fb_distance,
            offsets, weights.astype(np.float32), float(confidence_lambda), alpha, out_f, out_b)
    if not layers:
        return alpha, None, None
    return (alpha, *_layers(image, labels, out_f, out_b))


def estimate_alpha_sm(
    image: np.ndarray,
    trimap: np.ndarray,
    *,
    return_foreground_background: bool = False,
    expansion_radius: float = 10.0,
    expansion_threshold: float = 5.0 / 256.0,
    rays: int = 4,
    exponents: tuple[float, float, float, float] = (3.0, 2.0, 1.0, 4.0),
    refinement_radius: int = 5,
    confidence_lambda: float = 10.0,
    smoothing_window: float = 10.0,
) -> np.ndarray | tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shared-matting alpha of ``image`` (H x W x 3, [0, 1]) under ``trimap`` (0 / 0.5 / 1).

    Gastal and Oliveira (2010); the stages and their equations are in the module docstring.

    Parameters (defaults: the paper's)
    ----------
    return_foreground_background
        Also return the estimated foreground F and background B (H x W x 3).
    expansion_radius, expansion_threshold
        k_i = 10 (pixels) and k_c = 5/256 (RGB distance, colours in [0, 1]), Section 3.1;
        0 disables the expansion.
    rays
        k_g = 4 sampling rays per pixel, Section 3.2.
    exponents
        (e_N, e_A, e_f, e_b) = (3, 2, 1, 4) of the pair objective g_p, Section 3.2.
    refinement_radius
        k_r = 5: the (2 k_r + 1)^2 window whose 3 best pairs are averaged, Section 3.3.
    confidence_lambda
        lambda = 10 in the confidences exp(-lambda M_p), Sections 3.3 and 3.4.
    smoothing_window
        m = 10: the smoothing Gaussian has sigma^2 = m^2 / (9 pi) and reaches 3 sigma,
        Section 3.4.

    Returns
    -------
    alpha, or (alpha, F, B). Known trimap pixels keep their value; F is the image colour on
    foreground pixels and the mean foreground colour on background pixels (B likewise).

    Notes
    -----
    Choices where the paper is silent, or where we could not pin its text down:

    - Rays advance one pixel along their major axis (32.32 fixed-point positions), and the
      path energy E_p(s) sums the colour differences of consecutive ray pixels, the discrete
      form of the line integral of Eq. 3. A pixel whose rays meet no pixel of a class takes
      a nearest pixel of that class (Euclidean, by two-pass propagation) as its sample. The
      E_p of such a sample is walked pixel by pixel up to 32 steps; a longer segment is read
      at 32 evenly spaced points (a lower bound of the full walk). With only a few answered
      regions, as in active matting's first steps, most pixels need these long walks, and
      reading every pixel took ~40% of the gathering (no change on alphamatting-dev's trimaps).
    - N_p skips window pixels outside the image; the refinement window is square and only
      unknown pixels contribute their pairs; ties go to the earlier pair in scan order.
    - sigma_f^2 and sigma_b^2 are the colour variances (mean squared distance to the window
      mean) of 5 x 5 windows around the samples; when C_p lies within both, the averaged
      pair is kept and the pixel's confidence set to ~0.
    - D_FB weights the neighbours by f^g alpha^g (1 - alpha^g) with no spatial factor.
    - G(d) = exp(-d^2 / sigma^2), G(0) = 1, over the disk of radius 3 sigma. Its scale
      matters only in the low-frequency alpha, where known pixels add 1 to G: the
      normalised Gaussian 1 / (2 pi sigma^2) exp(-d^2 / (2 sigma^2)) instead gives mean SAD
      4.51 / 5.74 on alphamatting-dev (trimap / trimap2) against 4.00 / 5.43 with ours.
    - A trimap without foreground (background) pixels gives alpha 0 (1) on its unknown
      pixels, one with neither 0.5.

    Stages 3 and 4 compute in float32. The result does not depend on the number of threads.

    Examples
    --------
    >>> import numpy as np
    >>> from mattebox.solvers.shared_sampling import estimate_alpha_sm
    >>> image = np.zeros((9, 12, 3)); image[:, 6:] = 1.0
    >>> trimap = np.full((9, 12), 0.5); trimap[:, :2] = 0.0; trimap[:, -2:] = 1.0
    >>> alpha = estimate_alpha_sm(image, trimap)
    >>> bool(alpha[:, :6].max() < 0.05 and alpha[:, 6:].min() > 0.95)
    True
    """
    from ..checks import as_image, as_trimap, check_same_size

    image = as_image(image)
    trimap = as_trimap(trimap)
    check_same_size(image, trimap, "the image", "the trimap")
    options = _checked_options(
        expansion_radius=expansion_radius, expansion_threshold=expansion_threshold, rays=rays,
        exponents=exponents, refinement_radius=refinement_radius,
        confidence_lambda=confidence_lambda, smoothing_window=smoothing_window,
    )
    alpha, fg, bg = _solve(image, trimap, layers=return_foreground_background, **options)
    if return_foreground_background:
        return alpha, fg, bg
    return alpha


_DEFAULTS = dict(
    expansion_radius=10.0, expansion_threshold=5.0 / 256.0, rays=4, exponents=(3.0, 2.0, 1.0, 4.0),
    refinement_radius=5, confidence_lambda=10.0, smoothing_window=10.0,
)


def _checked_options(**options) -> dict:
    """The solver's options with defaults filled in; InputError for unknown or bad ones."""
    from ..errors import InputError

    unknown = set(options) - set(_DEFAULTS)
    if unknown:
        raise InputError(
            f"unknown option(s) for 'sm': {', '.join(sorted(unknown))}; "
            f"choose from {', '.join(sorted(_DEFAULTS))}"
        )
    options = {**_DEFAULTS, **options}
    rays, exponents = options["rays"], tuple(options["exponents"])
    if int(rays) != rays or not 1 <= rays <= MAX_RAYS:
        raise InputError(f"rays must be a whole number from 1 to {MAX_RAYS}, not {rays}")
    if len(exponents) != 4 or not all(math.isfinite(e) and e >= 0 for e in exponents):
        raise InputError(
            f"exponents must be four finite numbers >= 0 (e_N, e_A, e_f, e_b), not {exponents}"
        )
    radius = options["refinement_radius"]
    if int(radius) != radius or radius < 0:
        raise InputError(f"refinement_radius must be a whole number >= 0, not {radius}")
    if not options["smoothing_window"] > 0 or not options["confidence_lambda"] >= 0:
        raise InputError("smoothing_window must be > 0 and confidence_lambda >= 0")
    if not options["expansion_radius"] >= 0 or not options["expansion_threshold"] >= 0:
        raise InputError("expansion_radius and expansion_threshold must be >= 0 (0 disables)")
    options.update(rays=int(rays), exponents=exponents, refinement_radius=int(radius))
    return options


@register_method(
    "sm",
    needs="trimap",
    returns=("alpha", "foreground"),
    summary="Shared matting: sample pairs gathered along rays, shared by neighbours, smoothed",
    reference="Gastal, Oliveira. Shared Sampling for Real-Time Alpha Matting. Eurographics 2010",
    aliases=("shared", "shared-matting"),
)
def shared_matting(
    image: np.ndarray, trimap: np.ndarray, *, return_foreground: bool = False, **options
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Registry entry: :func:`estimate_alpha_sm` on inputs the caller has validated (so that
    repeated calls, as in active matting, pay only for the solver); returns alpha, or
    (alpha, F) with ``return_foreground``."""
    alpha, fg, _ = _solve(image, trimap, layers=return_foreground, **_checked_options(**options))
    if return_foreground:
        return alpha, fg
    return alpha
