"""Global sampling matting (He, Rhemann, Rother, Tang and Sun, "A Global Sampling Method for
Alpha Matting", CVPR 2011).

Every unknown pixel I picks one foreground sample F_i and one background sample B_j from the
global sample sets: all known foreground (background) pixels on the unknown region's boundary
(Sec. 3.1). A pair is scored by (Sec. 3.2)

    alpha_hat = (I - B_j) . (F_i - B_j) / ||F_i - B_j||^2                       (Eq. 2, clipped)
    eps_c     = ||I - (alpha_hat F_i + (1 - alpha_hat) B_j)||                   (Eq. 3)
    eps_s(F_i) = ||x_Fi - x_I|| / D_F,  D_F = min_i ||x_Fi - x_I||             (Eq. 4)
    eps       = w eps_c + eps_s(F_i) + eps_s(B_j),  w = 1                        (Eq. 5)

with colours on the 0..255 scale in eps_c (the paper's images are 8-bit; on our [0, 1] scale
this is w = 255). The best pair is searched in the N_F x N_B "FB space", F and B each sorted
by intensity, with the randomised correspondence search of PatchMatch (Sec. 4): an initial
pair per pixel, then 10 iterations of propagation (a pixel tries the pairs of its scan-order
predecessors, raster order on even iterations, reversed on odd ones) and random search
around the current pair at radii omega beta^k, omega = max(N_F, N_B), beta = 1/2.

Post-processing. The paper smooths its sampled matte as the sampling methods it compares with
do, without printing the parameters; we use the matting-Laplacian refinement of Gastal and
Oliveira (2010, Sec. 5, after Rhemann et al. 2008):

    alpha = argmin alpha^T L alpha + gamma (alpha - alpha_hat)^T C (alpha - alpha_hat),

known pixels held fixed, L the matting Laplacian (3 x 3 windows, epsilon = 1e-7) and
confidences C = diag(exp(-10 eps_c)), eps_c on the [0, 1] scale (Gastal and Oliveira's
lambda = 10). gamma = 3e-4 was chosen on the alphamatting-dev split (mean SAD, both trimaps,
over 0.1, 0.03, 0.01, 3e-3, 1e-3, 3e-4, 1e-4): Gastal and Oliveira's gamma = 0.1 trusts our
sampled mattes too much and lands near closed-form's error on the small trimaps and above it
on the large ones. ``smooth=False`` returns the raw sampled matte.

Choices where the paper is silent or that we add:

- The initial pair of a pixel is the better of a random pair (the paper's start) and the
  pair of its spatially nearest F and B samples; on alphamatting-dev this lowers the raw
  matte's mean SAD by about 8 % (both trimap sets) at no cost.
- If no known pixel of a layer touches the unknown region, that layer's samples are all its
  pixels; if a layer is empty, alpha is 0 (no foreground) or 1 (no background).
- Random numbers come from a counter-based hash of (seed, pixel, iteration, step), so the
  result depends on ``seed`` only.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..registry import register_method
from ._common import UNKNOWN, check_regulariser, solve_window_with_prior, trivial_alpha

#: Gastal and Oliveira's confidence falloff (f = exp(-10 eps_c), colours in [0, 1]).
CONFIDENCE_FALLOFF = 10.0


@njit(cache=True)
def _uniform(seed, a, b, c):
    """A float in [0, 1) from a SplitMix64-style hash of four integers (deterministic)."""
    z = np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)
    z ^= np.uint64(a) + np.uint64(0x632BE59BD9B4E019) + (z << np.uint64(6)) + (z >> np.uint64(2))
    z ^= np.uint64(b) + np.uint64(0x8CB92BA72F3D8DD7) + (z << np.uint64(6)) + (z >> np.uint64(2))
    z ^= np.uint64(c) + np.uint64(0x9E3779B97F4A7C15) + (z << np.uint64(6)) + (z >> np.uint64(2))
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return float(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def _pair_cost(colour, y, x, f_colour, f_pos, b_colour, b_pos, dist_f, dist_b, colour_weight):
    """(eps, alpha_hat, eps_c) of one (F, B) pair for the pixel at (y, x), Eqs. 2-5."""
    num = 0.0
    den = 1e-12
    for ch in range(3):
        fb = f_colour[ch] - b_colour[ch]
        num += (colour[ch] - b_colour[ch]) * fb
        den += fb * fb
    alpha = min(max(num / den, 0.0), 1.0)
    fit = 0.0
    for ch in range(3):
        r = colour[ch] - (alpha * f_colour[ch] + (1.0 - alpha) * b_colour[ch])
        fit += r * r
    fit = np.sqrt(fit)
    spatial_f = np.sqrt((f_pos[0] - y) ** 2 + (f_pos[1] - x) ** 2) / dist_f
    spatial_b = np.sqrt((b_pos[0] - y) ** 2 + (b_pos[1] - x) ** 2) / dist_b
    return colour_weight * fit + spatial_f + spatial_b, alpha, fit


@njit(cache=True)
def _search(image, pixels, index_map, f_colours, f_pos, b_colours, b_pos, dist_f, dist_b,
            nearest_f, nearest_b, colour_weight, iterations, seed):
    """PatchMatch search of the best (F, B) pair of every unknown pixel (Sec. 4).

    ``pixels``: unknown pixels as (y, x) in raster order; ``index_map``: their index in
    ``pixels`` or -1. Returns the chosen F and B indices, alpha_hat and eps_c.
    """
    count = pixels.shape[0]
    n_f = f_colours.shape[0]
    n_b = b_colours.shape[0]
    best_f = np.empty(count, np.int64)
    best_b = np.empty(count, np.int64)
    cost = np.empty(count)
    alpha = np.empty(count)
    fit = np.empty(count)
    for p in range(count):
        y, x = pixels[p, 0], pixels[p, 1]
        fi = min(int(_uniform(seed, p, 0, 0) * n_f), n_f - 1)
        bj = min(int(_uniform(seed, p, 0, 1) * n_b), n_b - 1)
        c, a, e = _pair_cost(image[y, x], y, x, f_colours[fi], f_pos[fi], b_colours[bj],
                             b_pos[bj], dist_f[p], dist_b[p], colour_weight)
        best_f[p], best_b[p], cost[p], alpha[p], fit[p] = fi, bj, c, a, e
        if nearest_f[p] >= 0:
            fi, bj = nearest_f[p], nearest_b[p]
            c, a, e = _pair_cost(image[y, x], y, x, f_colours[fi], f_pos[fi], b_colours[bj],
                                 b_pos[bj], dist_f[p], dist_b[p], colour_weight)
            if c < cost[p]:
                best_f[p], best_b[p], cost[p], alpha[p], fit[p] = fi, bj, c, a, e
    omega = float(max(n_f, n_b))
    height, width = index_map.shape
    for it in range(iterations):
        forward = it % 2 == 0
        step = -1 if forward else 1  # neighbours already visited in this scan
        for t in range(count):
            p = t if forward else count - 1 - t
            y, x = pixels[p, 0], pixels[p, 1]
            colour = image[y, x]
            # Propagation: the pairs of the horizontal and vertical predecessors.
            for dy, dx in ((0, step), (step, 0)):
                ny, nx = y + dy, x + dx
                if ny < 0 or ny >= height or nx < 0 or nx >= width:
                    continue
                q = index_map[ny, nx]
                if q < 0:
                    continue
                fi, bj = best_f[q], best_b[q]
                if fi == best_f[p] and bj == best_b[p]:
                    continue
                c, a, e = _pair_cost(colour, y, x, f_colours[fi], f_pos[fi], b_colours[bj],
                                     b_pos[bj], dist_f[p], dist_b[p], colour_weight)
                if c < cost[p]:
                    best_f[p], best_b[p], cost[p], alpha[p], fit[p] = fi, bj, c, a, e
            # Random search around the current pair at exponentially shrinking radii.
            radius = omega
            k = 0
            while radius >= 1.0:
                u = 2.0 * _uniform(seed, p, it + 1, 2 * k) - 1.0
                v = 2.0 * _uniform(seed, p, it + 1, 2 * k + 1) - 1.0
                fi = min(max(best_f[p] + int(round(radius * u)), 0), n_f - 1)
                bj = min(max(best_b[p] + int(round(radius * v)), 0), n_b - 1)
                c, a, e = _pair_cost(colour, y, x, f_colours[fi], f_pos[fi], b_colours[bj],
                                     b_pos[bj], dist_f[p], dist_b[p], colour_weight)
                if c < cost[p]:
                    best_f[p], best_b[p], cost[p], alpha[p], fit[p] = fi, bj, c, a, e
                radius *= 0.5
                k += 1
    return best_f, best_b, alpha, fit


def sample_set(layer: np.ndarray, unknown: np.ndarray) -> np.ndarray:
    """Pixels of ``layer`` 4-adjacent to ``unknown`` (all of ``layer`` if none is), as a mask."""
    near = np.zeros_like(unknown)
    near[1:] |= unknown[:-1]
    near[:-1] |= unknown[1:]
    near[:, 1:] |= unknown[:, :-1]
    near[:, :-1] |= unknown[:, 1:]
    boundary = layer & near
    return boundary if boundary.any() else layer


def sampled_alpha(image: np.ndarray, trimap: np.ndarray, *, colour_weight: float = 255.0,
                  iterations: int = 10, seed: int = 0, nearest_start: bool = True,
                  ) -> tuple[np.ndarray, np.ndarray]:
    """The raw global-sampling matte and the colour fit eps_c ([0, 1] scale) per pixel."""
    from scipy import ndimage

    unknown = trimap == UNKNOWN
    alpha = trimap.astype(np.float64, copy=True)
    fit = np.zeros(trimap.shape)
    foreground, background = trimap == 1.0, trimap == 0.0
    if not unknown.any():
        return alpha, fit
    if not foreground.any() or not background.any():
        alpha[unknown] = 1.0 if foreground.any() else 0.0
        return alpha, fit
    pixels = np.argwhere(unknown).astype(np.int64)
    index_map = np.full(trimap.shape, -1, dtype=np.int64)
    index_map[unknown] = np.arange(pixels.shape[0])
    samples = []
    for layer in (foreground, background):
        mask = sample_set(layer, unknown)
        where = np.argwhere(mask).astype(np.int64)
        colours = image[mask]
        order = np.argsort(colours.sum(axis=1), kind="stable")  # the FB space axes: intensity
        distance, (near_y, near_x) = ndimage.distance_transform_edt(~mask, return_indices=True)
        rank = np.full(trimap.shape, -1, dtype=np.int64)
        rank[tuple(where[order].T)] = np.arange(order.size)
        nearest = rank[near_y[unknown], near_x[unknown]]
        if not nearest_start:
            nearest[:] = -1
        samples += [np.ascontiguousarray(colours[order]), np.ascontiguousarray(where[order]),
                    np.maximum(distance[unknown], 1e-12), nearest]
    f_colours, f_pos, dist_f, nearest_f, b_colours, b_pos, dist_b, nearest_b = samples
    _, _, found, fitted = _search(np.ascontiguousarray(image, dtype=np.float64), pixels,
                                  index_map, f_colours, f_pos, b_colours, b_pos, dist_f,
                                  dist_b, nearest_f, nearest_b, float(colour_weight),
                                  int(iterations), int(seed))
    alpha[unknown] = found
    fit[unknown] = fitted
    return alpha, fit


def smooth_alpha(image: np.ndarray, trimap: np.ndarray, estimate: np.ndarray,
                 confidence: np.ndarray, *, gamma: float = 3e-4, radius: int = 1,
                 epsilon: float = 1e-7) -> np.ndarray:
    """argmin a^T L a + gamma (a - estimate)^T diag(confidence) (a - estimate), known fixed."""
    return solve_window_with_prior(image, trimap, estimate, gamma * confidence, radius=radius,
                                   epsilon=epsilon)


@register_method(
    "global",
    needs="trimap",
    summary="Global sampling: PatchMatch search over all boundary F/B sample pairs",
    reference="He, Rhemann, Rother, Tang, Sun. A Global Sampling Method for Alpha Matting. "
    "CVPR 2011",
    aliases=("global-sampling", "global_sampling"),
)
def estimate_alpha_global(
    image: np.ndarray,
    trimap: np.ndarray,
    *,
    iterations: int = 10,
    colour_weight: float = 255.0,
    seed: int = 0,
    smooth: bool = True,
    gamma: float = 3e-4,
    confidence_falloff: float = CONFIDENCE_FALLOFF,
    epsilon: float = 1e-7,
) -> np.ndarray:
    """Global-sampling alpha of ``image`` (H x W x 3, [0, 1]) under ``trimap`` (0 / 0.5 / 1).

    ``colour_weight`` is w of Eq. 5 for colours in [0, 1] (255 = the paper's w = 1 on 8-bit
    colours); ``smooth`` applies the Laplacian post-processing (see the module docstring).

    Examples
    --------
    >>> import numpy as np
    >>> from mattebox.solvers.global_sampling import estimate_alpha_global
    >>> image = np.zeros((8, 8, 3)); image[:, 4:] = 1.0
    >>> trimap = np.full((8, 8), 0.5); trimap[:, 0] = 0.0; trimap[:, -1] = 1.0
    >>> alpha = estimate_alpha_global(image, trimap)
    >>> bool(alpha[:, :4].max() < 0.05 and alpha[:, 4:].min() > 0.95)
    True
    """
    from ..checks import option_number

    iterations = option_number(iterations, "iterations", minimum=0, whole=True)
    seed = option_number(seed, "seed", minimum=0, whole=True)
    colour_weight, gamma, confidence_falloff = (
        option_number(value, name, minimum=0.0) for name, value in (
            ("colour_weight", colour_weight), ("gamma", gamma),
            ("confidence_falloff", confidence_falloff)))
    epsilon = check_regulariser(epsilon)
    done = trivial_alpha(trimap)
    if done is not None:
        return done
    estimate, fit = sampled_alpha(image, trimap, colour_weight=colour_weight,
                                  iterations=iterations, seed=seed)
    if not smooth:
        return estimate
    confidence = np.exp(-confidence_falloff * fit)
    return smooth_alpha(image, trimap, estimate, confidence, gamma=gamma, epsilon=epsilon)
