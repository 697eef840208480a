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

Speed: the rays of one direction are the digital lines of that direction, so a single sweep
over the image finds, for every pixel at once, the first sample of each class and the path
energy to it (see :func:`_sweep_direction`); the N_p sums of a pixel's pairs are computed
together, pair by pair in the innermost loop, which vectorises; the expansion skips the
searches that no 4 x 4 tile's known colours can satisfy (none of these changes the result).
Stages 3 and 4 run along rows of unknown pixels, runs of a row fewer than JOIN_GAP pixels
apart joined (their cost is per run and window offset), and the refinement keeps its 3 best
pairs as sortable integer keys (see :func:`_refine`). Inner loops index with unsigned
integers, not slices or signed offsets, so that they vectorise whether Numba compiles them
afresh or loads them from its cache (see :func:`_sweep_row`). The expansion and stages 2-4
hand each thread one contiguous part of the rows of nearly equal work
(:func:`~mattebox.solvers._sampling.balanced_bounds`), not an equal count of rows or runs:
the unknown pixels of a band are rarely spread evenly (on the 400 x 400 band cases one half
of the runs held up to 86% of the pixels).

Choices where the paper is silent are listed in :func:`estimate_alpha_sm`.

Optional, off by default: ``refine="laplacian"``, the paper's optimisation of Section 5
(after Rhemann et al. 2008):

    alpha = argmin a^T L a + gamma sum_p f_p (a_p - alpha_p)^2,   gamma = 0.1 (REFINE_GAMMA),

L the matting Laplacian (3 x 3 windows, epsilon = 1e-7), alpha_p and f_p stage 4's alpha and
confidence f^l, the pixels known after the expansion held fixed (see :func:`_refined`).
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numba import get_num_threads, njit, prange

from ..registry import register_method
from ._sampling import (
    BACKGROUND,
    FOREGROUND,
    PROJECTION_EPSILON,
    UNKNOWN,
    boundary_colour_variance,
    composite_residual_sq,
    distortion_sq,
    distortion_sq_prepared,
    expand_known_regions,
    joined_spans,
    label_spans,
    nearest_of_both_classes,
    nearest_of_class_at,
    project_alpha,
    project_alpha_prepared,
    span_bounds,
    tiled_spans,
    trimap_labels,
)

#: Largest number of rays per pixel the kernels accept (k_g; the paper uses 4).
MAX_RAYS = 64
#: Radius of the 5 x 5 windows whose colour variance gives sigma_f^2, sigma_b^2 (Section 3.3).
VARIANCE_RADIUS = 2
#: Side of the square tiles in which stage 2 visits pixels (locality of its reads: the sweeps'
#: answers of rays nearer the x axis are stored by columns, and the samples lie near p).
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
#: Pixels an image may hold: the refinement keeps a pixel's flat index in the low 32 bits of
#: its sort keys (see :func:`_refine`).
MAX_PIXELS = 1 << 32
#: Runs of unknown pixels of one row closer than this are joined for stages 3 and 4, whose
#: cost per run (one pass per window offset) outweighs the pixels skipped between runs.
JOIN_GAP = 32
#: gamma of the optional Laplacian refinement (Section 5): the weight of stage 4's alpha,
#: times its confidence, against the matting Laplacian.
REFINE_GAMMA = 0.1
#: Regulariser epsilon of that Laplacian (Levin et al.'s).
REFINE_EPSILON = 1e-7
#: Largest radius, in pixels, of the expansion's disk (k_i), the refinement's window (k_r) and
#: the smoothing's disk (m / sqrt(pi)) accepted. Their work per unknown pixel grows with the
#: square of the radius: at 1000, 10^4 times that at the paper's k_i = 10; far larger values
#: are slips, whose offset tables would not fit in memory. Radii that reach beyond the image
#: are cut to it in :func:`_solve` (same result, less work).
MAX_RADIUS = 1000


@njit(cache=True, inline="always")
def _power(x, exponent, small_int):
    """x ** exponent, by repeated multiplication when the exponent is a small integer."""
    if small_int >= 0:
        out = 1.0
        for _ in range(small_int):
            out *= x
        return out
    return x**exponent


@njit(cache=True, parallel=True)
def _difference_planes(planes):
    """||C_q - C_p|| from every pixel p to its right (E), lower (S), lower-right (SE) and
    lower-left (SW) neighbour q, as float32 planes 4 x H x W (0 where q is outside the
    image), from the colour planes (3 x H x W, float32): the colour steps of the ray sweeps
    (see :func:`_sweep_direction`)."""
    _, height, width = planes.shape
    out = np.zeros((4, height, width), dtype=np.float32)
    for y in prange(height):
        for k in range(4):
            dy = 0 if k == 0 else 1
            dx = 1 if k == 0 or k == 2 else (0 if k == 1 else -1)
            if y + dy >= height:
                continue
            lo, hi = max(0, -dx), min(width, width - dx)
            # Slices (once per row, so their cost does not matter) with loop-counter indices
            # vectorise; see _sweep_row.
            p0, p1, p2 = planes[0, y, lo:hi], planes[1, y, lo:hi], planes[2, y, lo:hi]
            q0 = planes[0, y + dy, lo + dx:hi + dx]
            q1 = planes[1, y + dy, lo + dx:hi + dx]
            q2 = planes[2, y + dy, lo + dx:hi + dx]
            row = out[k, y, lo:hi]
            for i in range(hi - lo):
                e0, e1, e2 = q0[i] - p0[i], q1[i] - p1[i], q2[i] - p2[i]
                row[i] = math.sqrt(e0 * e0 + e1 * e1 + e2 * e2)
    return out


@njit(cache=True, parallel=True)
def _transposed_differences(differences):
    """:func:`_difference_planes` of the transposed image (4 x W x H) from those of the
    image: its E and S steps are the image's S and E, its SE the image's SE, and its SW
    step from (x, y) is the image's SW step from (y - 1, x + 1), taken backwards."""
    _, height, width = differences.shape
    out = np.empty((4, width, height), dtype=np.float32)
    block = 32
    for bx in prange((width + block - 1) // block):
        for y in range(height):
            for x in range(bx * block, min(width, (bx + 1) * block)):
                out[0, x, y] = differences[1, y, x]
                out[1, x, y] = differences[0, y, x]
                out[2, x, y] = differences[2, y, x]
                out[3, x, y] = differences[3, y - 1, x + 1] if y >= 1 and x + 1 < width else 0.0
    return out


@njit(cache=True, parallel=True)
def _colour_planes(image):
    """The image (H x W x 3) as float32 colour planes, 3 x H x W."""
    height, width = image.shape[0], image.shape[1]
    planes = np.empty((3, height, width), dtype=np.float32)
    for y in prange(height):
        for x in range(width):
            for ch in range(3):
                planes[ch, y, x] = image[y, x, ch]
    return planes


@njit(cache=True, parallel=True)
def _stage_buffers(planes, labels):
    """The planes stages 3 and 4 start from, in one pass: F and B (the image), alpha^g (0 / 1
    on known pixels; float32), the confidence (1), f^g alpha^g (1 - alpha^g) and ||F^g - B^g||
    (0), the known mask (float32 1 / 0) and the output alpha (float64, 0 / 1 on known
    pixels). Stage 3 overwrites every unknown pixel of the first six, stage 4 of the last."""
    _, height, width = planes.shape
    fg = np.empty_like(planes)
    bg = np.empty_like(planes)
    alpha_g = np.empty((height, width), dtype=np.float32)
    confidence = np.empty((height, width), dtype=np.float32)
    fb_weight = np.empty((height, width), dtype=np.float32)
    fb_distance = np.empty((height, width), dtype=np.float32)
    known = np.empty((height, width), dtype=np.float32)
    alpha = np.empty((height, width))
    for y in prange(height):
        for x in range(width):
            for ch in range(3):
                fg[ch, y, x] = planes[ch, y, x]
                bg[ch, y, x] = planes[ch, y, x]
            a = 1.0 if labels[y, x] == FOREGROUND else 0.0
            alpha[y, x] = a
            alpha_g[y, x] = a
            confidence[y, x] = 1.0
            fb_weight[y, x] = 0.0
            fb_distance[y, x] = 0.0
            known[y, x] = 0.0 if labels[y, x] == UNKNOWN else 1.0
    return fg, bg, alpha_g, confidence, fb_weight, fb_distance, known, alpha


@njit(cache=True, inline="always")
def _colour_distance(image, y, x, qy, qx):
    """||C_q - C_p|| for p = (y, x), q = (qy, qx)."""
    e0 = image[qy, qx, 0] - image[y, x, 0]
    e1 = image[qy, qx, 1] - image[y, x, 1]
    e2 = image[qy, qx, 2] - image[y, x, 2]
    return math.sqrt(e0 * e0 + e1 * e1 + e2 * e2)


@njit(cache=True)
def _segment_energy(image, y, x, sy, sx):
    """E_p(s) along the straight segment (y, x) -> (sy, sx) (fallback samples, see
    :func:`_gather`): exact, one pixel per major-axis step (32.32 fixed point, the pixel
    floor(p + 1/2 + i step)), up to FALLBACK_POINTS steps; a longer segment is read at
    FALLBACK_POINTS evenly spaced points and the colour distances between consecutive points
    are summed (a lower bound of the full walk's sum)."""
    steps = max(abs(sy - y), abs(sx - x))
    if steps == 0:
        return 0.0
    step_y, step_x = ((sy - y) << 32) // steps, ((sx - x) << 32) // steps
    origin_y, origin_x = (y << 32) + HALF, (x << 32) + HALF
    points = min(steps, FALLBACK_POINTS)
    energy = 0.0
    py, px = y, x
    for k in range(1, points + 1):
        i = (k * steps) // points
        qy = (origin_y + i * step_y) >> 32
        qx = (origin_x + i * step_x) >> 32
        energy += _colour_distance(image, py, px, qy, qx)
        py, px = qy, qx
    return energy


#: Step count of a ray that leaves the image before meeting a pixel of the class.
NO_SAMPLE = 1 << 30


@njit(cache=True, inline="always")
def _line_offset(a, slope):
    """Minor coordinate of a ray line at major coordinate ``a``: floor(a kappa + 1/2), with
    kappa in 32.32 fixed point (``slope``, see :func:`_ray_lines`)."""
    return (a * slope + HALF) >> 32


@njit(cache=True, inline="always")
def _sweep_slot(a, b, sub_width):
    """Where pixel (a, b) of a frame keeps a sweep's answers: (a // 3) W3 + b // 3, with
    W3 = ceil(W / 3) = ``sub_width`` (one slot per pixel of a 3 x 3 window position)."""
    return (a // 3) * sub_width + b // 3


@njit(cache=True)
def _sweep_direction(is_f, is_b, planes, sigma, slope, row_phase, col_phase, steps_f, steps_b,
                     energy_f, energy_b):
    """First foreground and background pixel, and the path energy to each, along one ray
    direction from the pixels of a frame (see :func:`_ray_lines`).

    The rays of a direction are the digital lines b = c + floor(a kappa + 1/2) of the frame
    (a its major, b its minor coordinate), walked towards sign ``sigma`` of a. Every pixel
    lies on one line and its ray is the rest of that line, so a pixel's answers follow from
    those of its successor (a + sigma, b + delta(a)):

        n(p) = 0 if p is of the class, else n(successor) + 1     (steps to the first one)
        E(p) = 0 if p is of the class, else E(successor) + ||C_successor - C_p||

    (Eq. 3 summed pixel by pixel). Rows are swept from the far end of the rays; delta is the
    same along a row, so the inner loop reads contiguous memory and vectorises. ``planes``
    are the frame's E, S, SE, SW colour differences (:func:`_difference_planes`). Answers
    are kept for the pixels whose row and column are ``row_phase``, ``col_phase`` modulo 3
    (the window pixel whose ray this is), at :func:`_sweep_slot` of the flat outputs, so
    that they are written in order; NO_SAMPLE steps: the ray leaves the image first.
    """
    height, width = is_f.shape
    sub_width = (width + 2) // 3
    # Answers of the rows of even and odd sweep step t: counts and energies, foreground and
    # background. Separate arrays, so that the compiler can tell them apart.
    n_f0, n_b0 = np.empty(width, dtype=np.int32), np.empty(width, dtype=np.int32)
    n_f1, n_b1 = np.empty(width, dtype=np.int32), np.empty(width, dtype=np.int32)
    e_f0, e_b0 = np.empty(width, dtype=np.float32), np.empty(width, dtype=np.float32)
    e_f1, e_b1 = np.empty(width, dtype=np.float32), np.empty(width, dtype=np.float32)
    for t in range(height):
        a = height - 1 - t if sigma > 0 else t
        if t % 2 == 0:
            _sweep_row(is_f, is_b, planes, a, t, sigma, slope, n_f0, n_b0, e_f0, e_b0, n_f1,
                       n_b1, e_f1, e_b1)
        else:
            _sweep_row(is_f, is_b, planes, a, t, sigma, slope, n_f1, n_b1, e_f1, e_b1, n_f0,
                       n_b0, e_f0, e_b0)
        if a % 3 == row_phase:
            this_row = (n_f0, n_b0, e_f0, e_b0) if t % 2 == 0 else (n_f1, n_b1, e_f1, e_b1)
            n_f, n_b, e_f, e_b = this_row
            for b in range(col_phase, width, 3):
                slot = _sweep_slot(a, b, sub_width)
                steps_f[slot], steps_b[slot] = n_f[b], n_b[b]
                energy_f[slot], energy_b[slot] = e_f[b], e_b[b]


@njit(cache=True, inline="always")
def _sweep_row(is_f, is_b, planes, a, t, sigma, slope, n_f, n_b, e_f, e_b, next_n_f, next_n_b,
               next_e_f, next_e_b):
    """Row a (sweep step t) of :func:`_sweep_direction`: its answers into n_f .. e_b from
    those of its successor row, next_n_f .. next_e_b."""
    width = is_f.shape[1]
    zero = np.float32(0.0)
    lo = hi = 0
    if t > 0:
        delta = _line_offset(a + sigma, slope) - _line_offset(a, slope)
        # Where the colour step (a, b) -> (a + sigma, b + delta) is stored.
        if sigma > 0:
            plane, row, shift = (1 if delta == 0 else (2 if delta > 0 else 3)), a, 0
        else:
            plane, row, shift = (1 if delta == 0 else (3 if delta > 0 else 2)), a - 1, delta
        lo, hi = max(0, -delta), min(width, width - delta)
        # Unsigned indices: Numba checks a signed index for wraparound, and the loop then
        # runs ~20x slower (it no longer vectorises). Slices avoid that too, but taken in
        # a loop they ran ~5x slower freshly compiled than loaded from Numba's cache.
        # The successor's answers are read before the choices, whatever they are: read
        # inside a choice, the compiler keeps each read conditional (masked loads), and the
        # loop ran 2.6x slower.
        to, source, step = np.uint64(lo), np.uint64(lo + delta), np.uint64(lo + shift)
        for i in range(np.uint64(hi - lo)):
            b, c = to + i, source + i
            f, g, colour_step = is_f[a, b], is_b[a, b], planes[plane, row, step + i]
            steps_f, steps_b = min(next_n_f[c] + 1, NO_SAMPLE), min(next_n_b[c] + 1, NO_SAMPLE)
            path_f, path_b = next_e_f[c] + colour_step, next_e_b[c] + colour_step
            n_f[b] = 0 if f else steps_f
            e_f[b] = zero if f else path_f
            n_b[b] = 0 if g else steps_b
            e_b[b] = zero if g else path_b
    # Pixels without a successor: all of the first row swept, at most one of the others.
    for b in range(0, width if t == 0 else lo):
        n_f[b], n_b[b] = (0 if is_f[a, b] else NO_SAMPLE), (0 if is_b[a, b] else NO_SAMPLE)
        e_f[b] = e_b[b] = zero
    for b in range(hi if t > 0 else width, width):
        n_f[b], n_b[b] = (0 if is_f[a, b] else NO_SAMPLE), (0 if is_b[a, b] else NO_SAMPLE)
        e_f[b] = e_b[b] = zero


@njit(cache=True, parallel=True)
def _sweep_rays(frame_f, frame_b, frame_planes, lines, steps_f, steps_b, energy_f, energy_b):
    """:func:`_sweep_direction` for every direction of :func:`_ray_lines`, one task each,
    into row (window pixel w, ray r) of the outputs (9 x k_g x ceil(H / 3) ceil(W / 3)).
    The frame arguments are pairs: the image's frame, then the transposed one."""
    rays = lines.shape[1]
    for task in prange(9 * rays):
        w, r = task // rays, task % rays
        frame, sigma, slope = lines[w, r, 0], lines[w, r, 1], lines[w, r, 2]
        row_phase, col_phase = (w // 3, w % 3) if frame == 0 else (w % 3, w // 3)
        _sweep_direction(frame_f[frame], frame_b[frame], frame_planes[frame], sigma, slope,
                         row_phase, col_phase, steps_f[w, r], steps_b[w, r], energy_f[w, r],
                         energy_b[w, r])


@njit(cache=True, inline="always")
def _ray_pixel(lines, w, r, y, x, steps):
    """The pixel ``steps`` steps along ray r of window pixel w from (y, x)."""
    frame, sigma, slope = lines[w, r, 0], lines[w, r, 1], lines[w, r, 2]
    a, b = (y, x) if frame == 0 else (x, y)
    a2 = a + sigma * steps
    b2 = b + _line_offset(a2, slope) - _line_offset(a, slope)
    return (a2, b2) if frame == 0 else (b2, a2)


@njit(cache=True, parallel=True)
def _gather(image, steps_f, steps_b, energy_f, energy_b, lines, variance, nearest_f, nearest_b,
            spans, parts, exponents, int_exponents, out_f, out_b, out_d, out_inv, out_var,
            out_pf):
    """Stage 2 (Section 3.2): the best (foreground, background) pair of every unknown pixel.

    The rays' first samples and path energies come from :func:`_sweep_rays`. Writes the pair's
    colours into the planes ``out_f``, ``out_b`` (3 x H x W), for stage 3 d = F - B
    (``out_d``) and 1 / (||d||^2 + epsilon) (``out_inv``), the colour variances of the 5 x 5
    windows around the two samples (read from ``variance``) into ``out_var``, and PF_p into
    ``out_pf`` (H x W). A pixel whose rays meet no pixel of a class takes the pixel that
    ``nearest_f`` or ``nearest_b`` names (see :func:`_gather_stage`); when these are empty,
    its PF_p is set to NaN and nothing else is written, for a second call on those pixels.
    """
    height, width = image.shape[0], image.shape[1]
    sub_height, sub_width = (height + 2) // 3, (width + 2) // 3
    num_rays = lines.shape[1]
    e_n, e_a, e_f, e_b = exponents[0], exponents[1], exponents[2], exponents[3]
    i_n, i_a, i_f, i_b = int_exponents[0], int_exponents[1], int_exponents[2], int_exponents[3]
    bounds = span_bounds(spans, 0, parts)
    for part in prange(bounds.shape[0] - 1):
        f_pos = np.empty((num_rays, 2), dtype=np.int64)
        b_pos = np.empty((num_rays, 2), dtype=np.int64)
        f_cost = np.empty(num_rays)
        b_cost = np.empty(num_rays)
        most = num_rays * num_rays  # pairs of one pixel: their colours, A_p D_f D_b and N_p
        pair_f0, pair_f1, pair_f2 = np.empty(most), np.empty(most), np.empty(most)
        pair_b0, pair_b1, pair_b2 = np.empty(most), np.empty(most), np.empty(most)
        pair_d0, pair_d1, pair_d2 = np.empty(most), np.empty(most), np.empty(most)
        pair_den, pair_rest, pair_n = np.empty(most), np.empty(most), np.empty(most)
        for span in range(bounds[part], bounds[part + 1]):
            y = spans[span, 0]
            for x in range(spans[span, 1], spans[span, 2]):
                rotation = 3 * (y % 3) + (x % 3)
                # Samples: the first foreground and background pixel of every ray, and min E_p
                # of each class (Eq. 5); where the sweeps put them, see _sweep_direction.
                nf = nb = 0
                min_ef = min_eb = np.inf
                for r in range(num_rays):
                    if lines[rotation, r, 0] == 0:
                        k = _sweep_slot(y, x, sub_width)
                    else:  # swept in the transposed frame
                        k = _sweep_slot(x, y, sub_height)
                    if steps_f[rotation, r, k] < NO_SAMPLE:
                        f_pos[nf, 0], f_pos[nf, 1] = _ray_pixel(lines, rotation, r, y, x,
                                                                steps_f[rotation, r, k])
                        min_ef = min(min_ef, energy_f[rotation, r, k])
                        nf += 1
                    if steps_b[rotation, r, k] < NO_SAMPLE:
                        b_pos[nb, 0], b_pos[nb, 1] = _ray_pixel(lines, rotation, r, y, x,
                                                                steps_b[rotation, r, k])
                        min_eb = min(min_eb, energy_b[rotation, r, k])
                        nb += 1
                # No ray met a class: fall back on its nearest pixel (the paper is silent).
                if (nf == 0 or nb == 0) and nearest_f.size == 0:
                    out_pf[y, x] = np.nan
                    continue
                if nf == 0:
                    fy, fx = nearest_f[y, x] // width, nearest_f[y, x] % width
                    f_pos[0, 0], f_pos[0, 1] = fy, fx
                    nf = 1
                    min_ef = _segment_energy(image, y, x, fy, fx)
                if nb == 0:
                    by, bx = nearest_b[y, x] // width, nearest_b[y, x] % width
                    b_pos[0, 0], b_pos[0, 1] = by, bx
                    nb = 1
                    min_eb = _segment_energy(image, y, x, by, bx)
                total = min_ef + min_eb
                pf = min_eb / total if total > 0.0 else 0.5  # PF_p, Eq. 5
                out_pf[y, x] = pf
                for i in range(nf):
                    d = math.sqrt(float((f_pos[i, 0] - y) ** 2 + (f_pos[i, 1] - x) ** 2))
                    f_cost[i] = _power(d, e_f, i_f)  # D_p(f)^e_f
                for j in range(nb):
                    d = math.sqrt(float((b_pos[j, 0] - y) ** 2 + (b_pos[j, 1] - x) ** 2))
                    b_cost[j] = _power(d, e_b, i_b)
                # g_p of every pair at once: N_p summed over the window in a fixed order (the
                # centre first, then row by row), pair by pair in the innermost loop so that
                # it vectorises; the strict minimum keeps the first of equal pairs.
                c0, c1, c2 = image[y, x, 0], image[y, x, 1], image[y, x, 2]
                pairs = nf * nb
                for i in range(nf):
                    f0 = image[f_pos[i, 0], f_pos[i, 1], 0]
                    f1 = image[f_pos[i, 0], f_pos[i, 1], 1]
                    f2 = image[f_pos[i, 0], f_pos[i, 1], 2]
                    for j in range(nb):
                        b0 = image[b_pos[j, 0], b_pos[j, 1], 0]
                        b1 = image[b_pos[j, 0], b_pos[j, 1], 1]
                        b2 = image[b_pos[j, 0], b_pos[j, 1], 2]
                        k = i * nb + j
                        pair_f0[k], pair_f1[k], pair_f2[k] = f0, f1, f2
                        pair_b0[k], pair_b1[k], pair_b2[k] = b0, b1, b2
                        d0, d1, d2 = f0 - b0, f1 - b1, f2 - b2
                        den = d0 * d0 + d1 * d1 + d2 * d2 + PROJECTION_EPSILON
                        pair_d0[k], pair_d1[k], pair_d2[k], pair_den[k] = d0, d1, d2, den
                        alpha = project_alpha_prepared(c0, c1, c2, b0, b1, b2, d0, d1, d2, den)
                        a_p = pf + (1.0 - 2.0 * pf) * alpha  # A_p, Eq. 6
                        pair_rest[k] = _power(a_p, e_a, i_a) * f_cost[i] * b_cost[j]
                        # M_p^2 of the centre pixel, from the same alpha
                        pair_n[k] = composite_residual_sq(c0, c1, c2, f0, f1, f2, b0, b1, b2,
                                                          alpha)
                for yy in range(max(0, y - 1), min(height, y + 2)):
                    for xx in range(max(0, x - 1), min(width, x + 2)):
                        if yy == y and xx == x:
                            continue
                        q0, q1, q2 = image[yy, xx, 0], image[yy, xx, 1], image[yy, xx, 2]
                        for k in range(pairs):
                            pair_n[k] += distortion_sq_prepared(
                                q0, q1, q2, pair_f0[k], pair_f1[k], pair_f2[k], pair_b0[k],
                                pair_b1[k], pair_b2[k], pair_d0[k], pair_d1[k], pair_d2[k],
                                pair_den[k])  # N_p, Eq. 4
                best = np.inf
                best_k = 0
                for k in range(pairs):
                    score = _power(pair_n[k], e_n, i_n) * pair_rest[k]
                    if score < best:
                        best, best_k = score, k
                best_i, best_j = best_k // nb, best_k % nb
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
def _refine(planes, spans, parts, gathered_f, gathered_b, gathered_d, gathered_inv, gathered_var,
            radius, confidence_lambda, fg, bg, alpha, confidence, fb_weight, fb_distance):
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
    bounds = span_bounds(spans, 8, parts)
    for part in prange(bounds.shape[0] - 1):
        for span in range(bounds[part], bounds[part + 1]):
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
                    # Unsigned indices, no slices (see _sweep_row): column lo + j of row y, its
                    # entry j0 + j of the run's keys, column q0 + j of row yy.
                    p0, j0, q0 = np.uint64(lo), np.uint64(lo - x0), np.uint64(lo + dx)
                    for j in range(np.uint64(hi - lo)):
                        c, q = p0 + j, q0 + j
                        d0, d1 = gathered_d[0, yy, q], gathered_d[1, yy, q]
                        d2 = gathered_d[2, yy, q]
                        e0 = planes[0, y, c] - gathered_b[0, yy, q]
                        e1 = planes[1, y, c] - gathered_b[1, yy, q]
                        e2 = planes[2, y, c] - gathered_b[2, yy, q]
                        inv = gathered_inv[yy, q]
                        a = min(ONE32, max(ZERO32, (e0 * d0 + e1 * d1 + e2 * d2) * inv))
                        r0, r1, r2 = e0 - a * d0, e1 - a * d1, e2 - a * d2
                        score = r0 * r0 + r1 * r1 + r2 * r2
                        score_row[j] = score if inv == inv else INF32  # NaN: q is not unknown
                    first = yy * width + lo + dx
                    for j in range(np.uint64(hi - lo)):
                        key = (np.int64(bits_row[j]) << 32) | (first + np.int64(j))
                        p = j0 + j
                        key2[p] = min(key2[p], max(key1[p], key))
                        key1[p] = min(key1[p], max(key0[p], key))
                        key0[p] = min(key0[p], key)
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
def _smooth(planes, known, spans, parts, fg, bg, alpha, confidence, fb_weight, fb_distance,
            offsets, weights, confidence_lambda, out_alpha, out_f, out_b, out_confidence):
    """Stage 4 (Section 3.4): confidence- and Gaussian-weighted smoothing of F, B and alpha.

    For q in the disk around p, G the Gaussian weight of ||p - q||:
    W_c = G f^g_q |alpha^g_p - alpha^g_q| (G f^g_p for q = p); F^l = sum W_c alpha_q F_q /
    sum W_c alpha_q, B^l likewise with 1 - alpha_q; D_FB = sum w_q ||F_q - B_q|| / sum w_q,
    w_q = f^g_q alpha_q (1 - alpha_q); f^l = min(1, ||F^l - B^l|| / D_FB) exp(-lambda
    M_p(F^l, B^l)); low-frequency alpha = sum W_a alpha_q / sum W_a, W_a = f^g_q G + [q known];
    alpha = f^l alpha(C_p; F^l, B^l) + (1 - f^l) low-frequency alpha. ``known`` is 1.0 on
    known pixels and 0.0 on unknown ones; known pixels that ``spans`` covers are skipped.
    F^l and B^l go to ``out_f`` and ``out_b`` unless these are empty, f^l to
    ``out_confidence`` unless it is empty.
    Inputs are float32 and so are the sums; the final
    per-pixel arithmetic is float64.
    """
    height, width = known.shape
    count = offsets.shape[0]
    bounds = span_bounds(spans, 8, parts)
    for part in prange(bounds.shape[0] - 1):
        for span in range(bounds[part], bounds[part + 1]):
            y, x0, x1 = spans[span, 0], spans[span, 1], spans[span, 2]
            size = x1 - x0
            acc = np.zeros((12, size), dtype=np.float32)
            for t in range(count):
                dy, dx, g = offsets[t, 0], offsets[t, 1], weights[t]
                yy = y + dy
                if yy < 0 or yy >= height:
                    continue
                lo, hi = max(x0, -dx), min(x1, width - dx)
                if lo >= hi:
                    continue
                # Unsigned indices, no slices (see _sweep_row): j0 + j in the run, q0 + j in row yy.
                j0, q0 = np.uint64(lo - x0), np.uint64(lo + dx)
                # W_c of q = p: no |alpha| factor
                centre = ONE32 if (dy == 0 and dx == 0) else ZERO32
                for j in range(np.uint64(hi - lo)):
                    p, q = j0 + j, q0 + j
                    a_q = alpha[yy, q]
                    a_p = alpha[y, np.uint64(x0) + p]
                    w_c = g * confidence[yy, q] * max(centre, abs(a_p - a_q))
                    w_f = w_c * a_q
                    w_b = w_c - w_f
                    acc[0, p] += w_f * fg[0, yy, q]
                    acc[1, p] += w_f * fg[1, yy, q]
                    acc[2, p] += w_f * fg[2, yy, q]
                    acc[3, p] += w_f
                    acc[4, p] += w_b * bg[0, yy, q]
                    acc[5, p] += w_b * bg[1, yy, q]
                    acc[6, p] += w_b * bg[2, yy, q]
                    acc[7, p] += w_b
                for j in range(np.uint64(hi - lo)):
                    p, q = j0 + j, q0 + j
                    acc[8, p] += fb_weight[yy, q] * fb_distance[yy, q]
                    acc[9, p] += fb_weight[yy, q]
                    w_a = confidence[yy, q] * g + known[yy, q]
                    acc[10, p] += w_a * alpha[yy, q]
                    acc[11, p] += w_a
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
                low = float(alpha[y, x])
                if acc[11, j] > 0.0:
                    low = float(acc[10, j]) / float(acc[11, j])
                a_l = project_alpha(c0, c1, c2, f0_, f1_, f2_, b0_, b1_, b2_)
                out_alpha[y, x] = min(1.0, max(0.0, conf * a_l + (1.0 - conf) * low))
                if out_f.shape[0] > 0:
                    out_f[0, y, x], out_f[1, y, x], out_f[2, y, x] = f0_, f1_, f2_
                    out_b[0, y, x], out_b[1, y, x], out_b[2, y, x] = b0_, b1_, b2_
                if out_confidence.shape[0] > 0:
                    out_confidence[y, x] = conf


@functools.lru_cache(maxsize=8)
def _smoothing_kernel(window: float, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Offsets of the disk of radius 3 sigma, sigma^2 = m^2 / (9 pi), and their weights
    G(d) = exp(-d^2 / sigma^2) as float32 (Section 3.4; G(0) = 1, see
    :func:`estimate_alpha_sm`), less those that pair no two pixels of a ``height`` x
    ``width`` image (|dy| >= height or |dx| >= width; the others keep their order, so the
    result is the same). Cached: every call shares the arrays; do not modify them."""
    sigma_sq = window * window / (9.0 * math.pi)
    reach = 3.0 * math.sqrt(sigma_sq)
    r = int(math.floor(reach))
    ry, rx = min(r, height - 1), min(r, width - 1)
    dy, dx = np.mgrid[-ry : ry + 1, -rx : rx + 1]
    dy, dx = dy.ravel(), dx.ravel()
    d2 = dy * dy + dx * dx
    keep = d2 <= reach * reach
    offsets = np.stack([dy[keep], dx[keep]], axis=1).astype(np.int64)
    weights = np.exp(-d2[keep] / sigma_sq).astype(np.float32)
    return offsets, weights


@functools.lru_cache(maxsize=8)
def _ray_lines(rays: int) -> np.ndarray:
    """The k_g ray directions of each of the 9 pixels of a 3 x 3 window, as (frame, sigma,
    kappa) int64 rows, 9 x k_g x 3. Ray j of window pixel w = 3 (y mod 3) + (x mod 3) has
    angle 2 pi (j + w / 9) / k_g (Section 3.2). A ray whose direction is nearer the y axis
    (|dy| >= |dx|) is swept in the image's frame (0), any other in the transposed one (1), so
    that it always advances one pixel per step along the frame's major axis a: sigma = +-1
    is its sign there, and kappa = d(minor) / d(major) (|kappa| <= 1, 32.32 fixed point)
    gives the digital lines b = c + floor(a kappa + 1/2) it follows (see
    :func:`_sweep_direction`). Cached: every call shares the array; do not modify it."""
    out = np.empty((9, rays, 3), dtype=np.int64)
    for w in range(9):
        for r in range(rays):
            angle = (r + w / 9.0) * (2.0 * math.pi / rays)
            dy, dx = math.sin(angle), math.cos(angle)
            frame, major, minor = (0, dy, dx) if abs(dy) >= abs(dx) else (1, dx, dy)
            out[w, r] = frame, 1 if major > 0 else -1, round(minor / major * float(1 << 32))
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


def _gather_stage(image, planes, labels, spans, rays, exps, int_exps, parts):
    """Stage 2 on every unknown pixel of ``labels`` (runs ``spans``; ``planes``: the image as
    float32 3 x H x W): the rays swept direction by direction (:func:`_sweep_rays`), then
    the pairs chosen (:func:`_gather`). Returns the planes F, B, d = F - B,
    1 / (||d||^2 + epsilon), the samples' colour variances and PF_p (see :func:`_gather`)."""
    height, width = labels.shape
    # The rays' first samples and path energies, direction by direction; frame 0 is the
    # image, frame 1 its transpose (for the rays nearer the x axis).
    lines = _ray_lines(rays)
    size = (9, rays, ((height + 2) // 3) * ((width + 2) // 3))
    found = (np.empty(size, dtype=np.int32), np.empty(size, dtype=np.int32),
             np.empty(size, dtype=np.float32), np.empty(size, dtype=np.float32))
    is_f = (labels == FOREGROUND).view(np.uint8)
    is_b = (labels == BACKGROUND).view(np.uint8)
    differences = _difference_planes(planes)
    _sweep_rays((is_f, np.ascontiguousarray(is_f.T)), (is_b, np.ascontiguousarray(is_b.T)),
                (differences, _transposed_differences(differences)), lines, *found)

    gathered = (
        np.empty((3, height, width), dtype=np.float32),  # F
        np.empty((3, height, width), dtype=np.float32),  # B
        np.empty((3, height, width), dtype=np.float32),  # d = F - B
        np.full((height, width), np.nan, dtype=np.float32),  # 1 / (||d||^2 + epsilon)
        np.empty((2, height, width), dtype=np.float32),  # sigma_f^2, sigma_b^2
        np.empty((height, width), dtype=np.float32),  # PF_p
    )
    inputs = (*found, lines, boundary_colour_variance(image, labels, VARIANCE_RADIUS))
    # Nearest-pixel maps for pixels whose rays miss a class: built up front when most of the
    # image is unknown (then most pixels need them), else only if a first pass needs them.
    unknown = labels == UNKNOWN
    if 2 * np.count_nonzero(unknown) > unknown.size:
        maps = nearest_of_both_classes(labels)
    else:
        maps = np.empty((0, 0), dtype=np.int64), np.empty((0, 0), dtype=np.int64)
    _gather(image, *inputs, *maps, tiled_spans(spans, GATHER_TILE), parts, exps, int_exps,
            *gathered)
    missing = np.isnan(gathered[5]) & unknown
    if missing.any():
        pixels = np.flatnonzero(missing)
        if pixels.size * height <= 4 * labels.size:
            # Few pixels (their search costs at most ~4 passes over the image): exact. The
            # second pass reads the maps on these pixels only.
            maps = np.empty((2, height, width), dtype=np.int64)
            maps[0].flat[pixels] = nearest_of_class_at(labels, FOREGROUND, pixels)
            maps[1].flat[pixels] = nearest_of_class_at(labels, BACKGROUND, pixels)
        else:
            maps = nearest_of_both_classes(labels)
        again = label_spans(missing.view(np.uint8), 1)
        _gather(image, *inputs, *maps, tiled_spans(again, GATHER_TILE), parts, exps, int_exps,
                *gathered)
    return gathered


def _solve(image, trimap, *, expansion_radius, expansion_threshold, rays, exponents,
           refinement_radius, confidence_lambda, smoothing_window, refine="none",
           layers=True, details=None):
    """The four stages on validated inputs, and the refinement ``refine`` names; returns alpha
    and (when ``layers``) F and B. A dict ``details`` receives the labels after the expansion
    (``"labels"``) and stage 4's confidence f^l (``"confidence"``, float32, 0 where the
    labels are known)."""
    if refine != "none" and _both_classes_and_unknown(trimap):
        stages: dict = {}
        alpha, _, _ = _solve(image, trimap, expansion_radius=expansion_radius,
                             expansion_threshold=expansion_threshold, rays=rays,
                             exponents=exponents, refinement_radius=refinement_radius,
                             confidence_lambda=confidence_lambda,
                             smoothing_window=smoothing_window, layers=False, details=stages)
        return _refined(image, alpha, stages, layers)
    image = np.ascontiguousarray(image, dtype=np.float64)
    labels = trimap_labels(np.asarray(trimap))
    unknown = labels == UNKNOWN
    has_f = bool((labels == FOREGROUND).any())
    has_b = bool((labels == BACKGROUND).any())
    if not unknown.any() or not (has_f and has_b):
        alpha = (labels == FOREGROUND).astype(np.float64)
        alpha[unknown] = 1.0 if has_f else (0.0 if has_b else 0.5)
        return (alpha, *_layers(image, labels)) if layers else (alpha, None, None)

    # hypot(H, W) exceeds the distance between any two pixels, and 2 that between any two
    # colours of [0, 1]^3 (sqrt(3)); larger values change nothing (and 1e300^2 overflows).
    expansion_radius = min(expansion_radius, math.hypot(*labels.shape))
    expansion_threshold = min(expansion_threshold, 2.0)
    labels = expand_known_regions(image, labels, expansion_radius, expansion_threshold)
    if details is not None:
        details["labels"] = labels
        details["confidence"] = np.zeros(labels.shape, dtype=np.float32)
    spans = label_spans(labels, UNKNOWN)
    if spans.shape[0] == 0:  # the expansion labelled every unknown pixel
        alpha = (labels == FOREGROUND).astype(np.float64)
        return (alpha, *_layers(image, labels)) if layers else (alpha, None, None)

    exps = np.asarray(exponents, dtype=np.float64)
    int_exps = np.array([_small_int(e) for e in exps], dtype=np.int64)
    planes = _colour_planes(image)
    parts = get_num_threads()  # stages 2-4 cut their work into this many equal parts
    gathered_f, gathered_b, gathered_d, gathered_inv, gathered_var, _ = _gather_stage(
        image, planes, labels, spans, rays, exps, int_exps, parts)

    fg, bg, refined_alpha, confidence, fb_weight, fb_distance, known, alpha = _stage_buffers(
        planes, labels)
    joined = joined_spans(spans, JOIN_GAP)
    # A window or disk reaching beyond the image pairs no more pixels (the same result), so
    # the refinement window and the smoothing kernel are cut to the image's size.
    height, width = labels.shape
    radius = int(min(refinement_radius, max(height, width)))
    _refine(planes, joined, parts, gathered_f, gathered_b, gathered_d, gathered_inv, gathered_var,
            radius, float(confidence_lambda), fg, bg, refined_alpha, confidence,
            fb_weight, fb_distance)

    offsets, weights = _smoothing_kernel(float(smoothing_window), height, width)
    # Stage 4 writes F and B on every unknown pixel, and only those are read (_layers).
    shape = planes.shape if layers else (0, 0, 0)
    out_f, out_b = np.empty(shape, dtype=np.float32), np.empty(shape, dtype=np.float32)
    out_confidence = (details["confidence"] if details is not None
                      else np.empty((0, 0), dtype=np.float32))
    _smooth(planes, known, joined, parts, fg, bg, refined_alpha, confidence, fb_weight, fb_distance,
            offsets, weights, float(confidence_lambda), alpha, out_f, out_b, out_confidence)
    if not layers:
        return alpha, None, None
    return (alpha, *_layers(image, labels, out_f, out_b))


def _both_classes_and_unknown(trimap) -> bool:
    """Whether ``trimap`` has foreground, background and unknown pixels: without all three,
    sm's matte is settled by its degenerate-case rules and refining has nothing to add."""
    labels = trimap_labels(np.asarray(trimap))
    return all(bool((labels == value).any()) for value in (FOREGROUND, BACKGROUND, UNKNOWN))


def _refined(image, alpha, details, layers):
    """Stage 4's ``alpha`` refined as in Section 5 (module docstring), with the labels after
    the expansion and the confidence f^l that :func:`_solve` put in ``details`` (when the
    expansion settled every pixel it put nothing there, and there is nothing to refine). F and
    B (when ``layers``) are estimated anew for the refined matte
    (:func:`mattebox.compose.estimate_foreground_ml`): the sampled pairs belong to the matte
    before it. The paper does not say which pixels stay fixed; we fix those known after the
    expansion, as stages 2-4 treat them (fixing only the trimap's known pixels, the expanded
    ones pulled with confidence 1, gave a higher mean SAD on the synthetic composites and on
    alphamatting-dev)."""
    image = np.ascontiguousarray(image, dtype=np.float64)
    if "labels" in details:
        from ._common import solve_window_with_prior

        labels = details["labels"]
        known = np.where(labels == FOREGROUND, 1.0, np.where(labels == BACKGROUND, 0.0, 0.5))
        weight = REFINE_GAMMA * details["confidence"].astype(np.float64)
        alpha = solve_window_with_prior(image, known, alpha, weight, radius=1,
                                        epsilon=REFINE_EPSILON)
    if not layers:
        return alpha, None, None
    from ..compose import estimate_foreground_ml

    fg, bg = estimate_foreground_ml(image, alpha, return_background=True)
    return alpha, fg, bg


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
    refine: str = "none",
) -> np.ndarray | tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shared-matting alpha of ``image`` (H x W x 3, [0, 1]) under ``trimap`` (0 / 0.5 / 1).

    Gastal and Oliveira (2010); the stages and their equations are in the module docstring.

    Parameters (defaults: the paper's)
    ----------
    return_foreground_background
        Also return the estimated foreground F and background B (H x W x 3).
    expansion_radius, expansion_threshold
        k_i = 10 (pixels) and k_c = 5/256 (RGB distance, colours in [0, 1]), Section 3.1;
        0 disables the expansion. The radius may be at most 1000 (:data:`MAX_RADIUS`).
    rays
        k_g = 4 sampling rays per pixel, Section 3.2.
    exponents
        (e_N, e_A, e_f, e_b) = (3, 2, 1, 4) of the pair objective g_p, Section 3.2.
    refinement_radius
        k_r = 5: the (2 k_r + 1)^2 window whose 3 best pairs are averaged, Section 3.3;
        at most 1000.
    confidence_lambda
        lambda = 10 in the confidences exp(-lambda M_p), Sections 3.3 and 3.4.
    smoothing_window
        m = 10: the smoothing Gaussian has sigma^2 = m^2 / (9 pi) and reaches 3 sigma,
        Section 3.4; at most 1772 (a reach of 1000 pixels).
    refine
        "none" (the real-time matte) or "laplacian": the matte refined by the matting
        Laplacian as in Section 5 (module docstring). On alphamatting-dev it lowers mean SAD
        by 6-7% and MSE by 12-15% and takes 5-9x the time (BENCHMARKS.md); F and B are then
        estimated for the refined matte by the multi-level method.

    Returns
    -------
    alpha, or (alpha, F, B). Known trimap pixels keep their value; F is the image colour on
    foreground pixels and the mean foreground colour on background pixels (B likewise).

    Notes
    -----
    Choices where the paper is silent, or where we could not pin its text down:

    - Rays advance one pixel along their major axis and follow the digital lines
      b = c + floor(a kappa + 1/2) of their direction (a the major, b the minor coordinate,
      kappa the slope), so they stay within a pixel of the exact line from p; the path
      energy E_p(s) sums the colour differences of consecutive ray pixels, the discrete form
      of the line integral of Eq. 3. A pixel whose rays meet no pixel of a class takes
      a nearest pixel of that class (Euclidean) as its sample: exact when few pixels need
      one, else by two-pass propagation (exact for most pixels, never far off). The
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

    pixels = math.prod(np.shape(trimap)[:2])
    if pixels >= MAX_PIXELS:  # before the checks, which copy the image
        from ..errors import InputError

        raise InputError(f"shared matting takes images of fewer than 2^32 pixels (its refinement "
                         f"keys hold a pixel's index in 32 bits), not {pixels:,}; split the "
                         f"image into tiles")
    image = as_image(image)
    trimap = as_trimap(trimap)
    check_same_size(image, trimap, "the image", "the trimap")
    options = _checked_options(
        expansion_radius=expansion_radius, expansion_threshold=expansion_threshold, rays=rays,
        exponents=exponents, refinement_radius=refinement_radius,
        confidence_lambda=confidence_lambda, smoothing_window=smoothing_window, refine=refine,
    )
    alpha, fg, bg = _solve(image, trimap, layers=return_foreground_background, **options)
    if return_foreground_background:
        return alpha, fg, bg
    return alpha


_DEFAULTS = dict(
    expansion_radius=10.0, expansion_threshold=5.0 / 256.0, rays=4, exponents=(3.0, 2.0, 1.0, 4.0),
    refinement_radius=5, confidence_lambda=10.0, smoothing_window=10.0, refine="none",
)


def _checked_options(**options) -> dict:
    """The solver's options with defaults filled in; InputError for unknown or bad ones."""
    from ..checks import check_option_types, option_number
    from ..errors import InputError
    from .prior_refine import checked_refinement

    unknown = set(options) - set(_DEFAULTS)
    if unknown:
        raise InputError(
            f"unknown option(s) for 'sm': {', '.join(sorted(unknown))}; "
            f"choose from {', '.join(sorted(_DEFAULTS))}"
        )
    check_option_types("sm", options, _DEFAULTS)
    options = {**_DEFAULTS, **options}
    rays = options["rays"]
    if int(rays) != rays or not 1 <= rays <= MAX_RAYS:
        raise InputError(f"rays must be a whole number from 1 to {MAX_RAYS}, not {rays}")
    exponents = _checked_exponents(options["exponents"])
    option_number(options["confidence_lambda"], "confidence_lambda", minimum=0.0)
    option_number(options["expansion_threshold"], "expansion_threshold", minimum=0.0,
                  note=" (0 disables the expansion)")
    # Each radius at most MAX_RADIUS pixels; the smoothing disk's radius is m / sqrt(pi).
    reach = f"a reach of at most {MAX_RADIUS} pixels; the work grows with its square"
    radius = option_number(options["refinement_radius"], "refinement_radius", minimum=0,
                           maximum=MAX_RADIUS, whole=True, note=f" ({reach})")
    option_number(options["expansion_radius"], "expansion_radius", minimum=0.0,
                  maximum=MAX_RADIUS, note=f" (0 disables the expansion; {reach})")
    option_number(options["smoothing_window"], "smoothing_window", above=0.0,
                  maximum=round(MAX_RADIUS * math.sqrt(math.pi)), note=f" ({reach})")
    options.update(rays=int(rays), exponents=exponents, refinement_radius=radius,
                   refine=checked_refinement(options["refine"]))
    return options


def _checked_exponents(value: object) -> tuple[float, float, float, float]:
    """``value`` as four floats, or an InputError unless it holds four finite numbers >= 0."""
    from ..errors import InputError

    items = () if isinstance(value, (str, bytes)) else value
    try:
        items = tuple(items)
    except TypeError:  # not a sequence: a single number, None, ...
        items = ()
    if len(items) != 4 or not all(
            not isinstance(e, (bool, np.bool_)) and isinstance(e, (int, float, np.integer,
                                                                   np.floating))
            and math.isfinite(e) and e >= 0 for e in items):
        raise InputError(f"exponents must be four finite numbers >= 0 (e_N, e_A, e_f, e_b), "
                         f"e.g. (3, 2, 1, 4), not {value!r}")
    return tuple(float(e) for e in items)


@register_method(
    "sm",
    needs="trimap",
    returns=("alpha", "foreground"),
    summary="Shared matting: sample pairs gathered along rays, shared by neighbours, smoothed",
    reference="Gastal, Oliveira. Shared Sampling for Real-Time Alpha Matting. Eurographics 2010",
    aliases=("shared", "shared-matting"),
    revision=2,  # 2: rays follow the digital lines of their direction (swept, see _sweep_rays)
    options=_DEFAULTS,
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
