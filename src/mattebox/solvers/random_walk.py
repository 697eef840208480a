"""Random-walk matting (Grady, Schiwietz, Aharon and Westermann, "Random Walks for Interactive
Alpha-Matting", VIIP 2005), registered as ``rw``.

The image is a graph whose edges join each pixel to its neighbours, weighted by colour
similarity (Sec. 2, Eq. 4 with the colour distance for the feature distance):

    w_ij = exp(-||C_i - C_j||^2 / sigma^2)   (+ 1e-6, see below).

Alpha at an unknown pixel is the probability that a random walker leaving it reaches a
foreground pixel before a background one: the harmonic function of the graph with the
trimap's known pixels as boundary values, L_UU a_U = W_UK a_K with L = D - W (Sec. 2.1).

Choices where the paper is silent or that we made differently, said here:

- Neighbours: every pixel of the (2r + 1) x (2r + 1) window around a pixel (r = 1: the
  8-neighbourhood); the paper speaks of neighbouring pixels on the lattice. Edges stop at the
  image border.
- Colours are RGB in [0, 1]. The paper first maps them through a locality-preserving
  projection of LUV colour; we do not.
- sigma = 1/30 (weights exp(-900 d^2)), the scale pymatting uses, so that the benchmark
  compares like with like; the paper leaves beta = 1 / sigma^2 to the user.
- Every edge weight gets 1e-6 added. With sigma = 1/30 two pixels half the colour range
  apart are joined by exp(-675) ~ 1e-293, and a region walled off by such edges would be
  decided by rounding; the floor lets the walker cross it at a tiny rate (a one-pixel band
  halfway between a black and a white region then gets 0.5, as symmetry demands).
- The known pixels are held fixed (the Dirichlet problem of the paper), and only the
  unknown pixels are solved for, by conjugate gradients preconditioned with an incomplete
  Cholesky factor (:mod:`.linear`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ..registry import register_method
from ._common import SOLVER_TOL, UNKNOWN, check_linear_options, solve_system, trivial_alpha

#: sigma of the edge weights exp(-||C_i - C_j||^2 / sigma^2) (see the module docstring).
DEFAULT_SIGMA = 1.0 / 30.0
#: Added to every edge weight (see the module docstring).
WEIGHT_FLOOR = 1e-6
#: Smallest sigma accepted: already at 1e-3 one 8-bit colour step weighs exp(-15), below the
#: floor, and below about 1e-154 1 / sigma^2 overflows (every weight would be NaN).
SMALLEST_SIGMA = 1e-6


@njit(cache=True, parallel=True)
def _unknown_rows(image, alpha, column_of, rows, radius, inv_sigma_sq, floor):
    """CSR arrays of L_UU and the right-hand side W_UK a_K, one row per unknown pixel.

    ``column_of`` maps a flat pixel index to its unknown-pixel column (-1 for known pixels);
    ``rows`` lists the unknown pixels' flat indices in raster order, so that visiting a
    window in raster order yields each row's columns sorted.
    """
    height, width = alpha.shape
    count = rows.shape[0]
    sizes = np.zeros(count + 1, dtype=np.int64)
    for r in prange(count):
        y, x = rows[r] // width, rows[r] % width
        n = 1
        for yy in range(max(0, y - radius), min(height, y + radius + 1)):
            for xx in range(max(0, x - radius), min(width, x + radius + 1)):
                if (yy != y or xx != x) and column_of[yy * width + xx] >= 0:
                    n += 1
        sizes[r + 1] = n
    indptr = np.cumsum(sizes)
    indices = np.empty(indptr[-1], dtype=np.int64)
    data = np.empty(indptr[-1])
    rhs = np.zeros(count)
    for r in prange(count):
        y, x = rows[r] // width, rows[r] % width
        c0, c1, c2 = image[y, x, 0], image[y, x, 1], image[y, x, 2]
        k = indptr[r]
        diagonal_slot = -1
        degree = 0.0
        for yy in range(max(0, y - radius), min(height, y + radius + 1)):
            for xx in range(max(0, x - radius), min(width, x + radius + 1)):
                if yy == y and xx == x:
                    diagonal_slot = k
                    indices[k] = r
                    k += 1
                    continue
                e0 = image[yy, xx, 0] - c0
                e1 = image[yy, xx, 1] - c1
                e2 = image[yy, xx, 2] - c2
                weight = math.exp(-(e0 * e0 + e1 * e1 + e2 * e2) * inv_sigma_sq) + floor
                degree += weight
                column = column_of[yy * width + xx]
                if column >= 0:
                    indices[k] = column
                    data[k] = -weight
                    k += 1
                else:
                    rhs[r] += weight * alpha[yy, xx]
        data[diagonal_slot] = degree
    return indptr, indices, data, rhs


def random_walk_system(image: np.ndarray, trimap: np.ndarray, *, sigma: float = DEFAULT_SIGMA,
                       radius: int = 1):
    """(L_UU as CSR, W_UK a_K, flat indices of the unknown pixels) of the random-walk graph."""
    import scipy.sparse

    flat = trimap.ravel()
    unknown = np.flatnonzero(flat == UNKNOWN)
    column_of = np.full(flat.size, -1, dtype=np.int64)
    column_of[unknown] = np.arange(unknown.size)
    image = np.ascontiguousarray(image, dtype=np.float64)
    alpha = np.ascontiguousarray(trimap, dtype=np.float64)
    indptr, indices, data, rhs = _unknown_rows(image, alpha, column_of, unknown, int(radius),
                                               1.0 / (sigma * sigma), WEIGHT_FLOOR)
    matrix = scipy.sparse.csr_matrix((data, indices, indptr), shape=(unknown.size, unknown.size))
    return matrix, rhs, unknown


@register_method(
    "rw",
    needs="trimap",
    summary="Random-walk matting: harmonic alpha on a colour-weighted pixel graph",
    reference="Grady, Schiwietz, Aharon, Westermann. Random Walks for Interactive Alpha-Matting. "
    "VIIP 2005",
    aliases=("random-walk", "random_walk"),
)
def estimate_alpha_rw(
    image: np.ndarray,
    trimap: np.ndarray,
    *,
    sigma: float = DEFAULT_SIGMA,
    radius: int = 1,
    linear_solver: str = "auto",
    tol: float = SOLVER_TOL,
) -> np.ndarray:
    """Random-walk alpha of ``image`` (H x W x 3, [0, 1]) under ``trimap`` (0 / 0.5 / 1).

    Parameters
    ----------
    sigma : scale of the edge weights exp(-||C_i - C_j||^2 / sigma^2) (default 1/30; at least
        1e-6).
    radius : neighbours are the pixels of the (2 radius + 1)^2 window (1: 8-neighbourhood).
    linear_solver : "auto" (direct up to 2,000 unknowns, else "ichol"), "ichol", "cg",
        "direct" or "multigrid" (see :mod:`.linear`).
    tol : relative residual at which the iterative solver stops.

    A trimap without unknown pixels is returned as it is; one without known pixels gives 0
    (the tiny ridge that keeps the system definite pulls every pixel there).

    Examples
    --------
    A grey ramp between a black and a white column: the walker's chance of reaching the white
    side first rises from left to right.

    >>> import numpy as np
    >>> from mattebox.solvers.random_walk import estimate_alpha_rw
    >>> image = np.repeat(np.linspace(0.0, 1.0, 10)[None, :, None], 3, axis=2).repeat(6, axis=0)
    >>> trimap = np.full((6, 10), 0.5); trimap[:, 0] = 0.0; trimap[:, -1] = 1.0
    >>> alpha = estimate_alpha_rw(image, trimap)
    >>> bool(np.all(np.diff(alpha, axis=1) > 0))
    True
    """
    from ..checks import option_number

    sigma = option_number(sigma, "sigma", minimum=SMALLEST_SIGMA)
    radius = option_number(radius, "radius", minimum=1, whole=True)
    tol = check_linear_options(linear_solver, tol)
    done = trivial_alpha(trimap)
    if done is not None:
        return done
    matrix, rhs, unknown = random_walk_system(image, trimap, sigma=sigma, radius=int(radius))
    # No image for the solver: "auto" is then a direct solve up to 2,000 unknowns and an
    # incomplete-Cholesky CG above. The colour-line multigrid, built for window Laplacians,
    # was 2.5-4x slower on this graph (alphamatting-dev GT04, GT13).
    return solve_system(matrix, rhs, unknown, trimap, linear_solver=linear_solver, tol=tol,
                        image=image if linear_solver == "multigrid" else None)
