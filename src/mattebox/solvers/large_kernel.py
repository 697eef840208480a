"""Large-kernel matting (He, Sun and Tang, "Fast Matting Using Large Kernel Matting Laplacian
Matrices", CVPR 2010), registered as ``lkm``.

The matting Laplacian of Levin et al. with large windows (radius r = 10 here, 21 x 21), never
formed as a matrix: its product with a vector p costs O(N) whatever r, from box sums
(Sec. 3, the linear-coefficient form of Eq. 9). For a window w_k of n pixels, colour mean
mu_k and covariance Sigma_k, Delta_k = Sigma_k + (epsilon / n) I:

    a_k = Delta_k^-1 ( (1/n) sum_{j in w_k} I_j p_j - mu_k pbar_k ),  b_k = pbar_k - a_k . mu_k,
    (L p)_i = sum_{k : i in w_k} ( p_i - a_k . I_i - b_k ).

Alpha minimises a^T L a with the trimap's known pixels held fixed: conjugate gradients on the
unknown pixels (the system L_UU a_U = -L_UK a_K), preconditioned by L's diagonal, also from
box sums. Larger windows carry the constraints farther per iteration, which is the paper's
point: fewer iterations than with 3 x 3 windows.

Choices, said here: only windows wholly inside the image count (as in closed-form matting);
the work is done on the crop of the image that reaches 2r beyond the unknown pixels, which
holds every window that touches one. The paper also adapts the window size to a KD-tree
segmentation of the trimap; we keep one size. An image smaller than one window uses the
largest radius that fits (the harmonic interpolation when none does).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..registry import register_method
from ._common import (SOLVER_TOL, UNKNOWN, check_regulariser, fill_unknowns, solve_for_unknowns,
                      trivial_alpha)
from .linear import conjugate_gradients, warn_if_not_converged

#: Window radius (21 x 21 windows): our choice within the paper's range of large kernels.
DEFAULT_RADIUS = 10


def box_sum(values: np.ndarray, radius: int) -> np.ndarray:
    """Sum of ``values`` (H x W x C) over the (2r + 1)^2 window around each pixel, the window
    clipped to the image (zeros outside); same shape. OpenCV's box filter: O(N) for any r."""
    import cv2

    size = 2 * int(radius) + 1
    values = np.ascontiguousarray(values, dtype=np.float64)
    return cv2.boxFilter(values, -1, (size, size), normalize=False,
                         borderType=cv2.BORDER_CONSTANT).reshape(values.shape)


@njit(cache=True, parallel=True)
def _with_colour_products(p, image):
    """H x W x 4: p and p I per pixel."""
    height, width = p.shape
    out = np.empty((height, width, 4))
    for y in prange(height):
        for x in range(width):
            out[y, x, 0] = p[y, x]
            for c in range(3):
                out[y, x, c + 1] = p[y, x] * image[y, x, c]
    return out


@njit(cache=True, parallel=True)
def _window_coefficients(sums, mean, inverse, size):
    """(a_k, b_k) per window centre from the window sums of p and p I (Eq. 9 of the paper in
    linear-coefficient form, see the module docstring), as one H' x W' x 4 array."""
    rows, columns = mean.shape[:2]
    out = np.empty((rows, columns, 4))
    for y in prange(rows):
        for x in range(columns):
            mean_p = sums[y, x, 0] / size
            c0 = sums[y, x, 1] / size - mean[y, x, 0] * mean_p
            c1 = sums[y, x, 2] / size - mean[y, x, 1] * mean_p
            c2 = sums[y, x, 3] / size - mean[y, x, 2] * mean_p
            b = mean_p
            for i in range(3):
                a = inverse[y, x, i, 0] * c0 + inverse[y, x, i, 1] * c1 + inverse[y, x, i, 2] * c2
                out[y, x, i] = a
                b -= a * mean[y, x, i]
            out[y, x, 3] = b
    return out


@njit(cache=True, parallel=True)
def _apply(image, count, p, scattered):
    """(L p)_i = count_i p_i - (sum_k a_k) . I_i - sum_k b_k, flat."""
    height, width = p.shape
    out = np.empty(height * width)
    for y in prange(height):
        for x in range(width):
            out[y * width + x] = (count[y, x] * p[y, x]
                                  - image[y, x, 0] * scattered[y, x, 0]
                                  - image[y, x, 1] * scattered[y, x, 1]
                                  - image[y, x, 2] * scattered[y, x, 2] - scattered[y, x, 3])
    return out


class LargeKernelLaplacian:
    """The matting Laplacian of ``image`` (H x W x 3) with (2r + 1)^2 windows, as an operator.

    ``laplacian @ p`` (p of H x W values, flat or not) returns L p, flat; ``diagonal`` is
    L's diagonal (H x W).
    """

    def __init__(self, image: np.ndarray, radius: int = DEFAULT_RADIUS, epsilon: float = 1e-7):
        self.image = np.ascontiguousarray(image, dtype=np.float64)
        self.radius = r = int(radius)
        height, width = self.image.shape[:2]
        if min(height, width) < 2 * r + 1:
            raise ValueError(f"a {height} x {width} image holds no {2 * r + 1} x {2 * r + 1} window")
        self.size = n = (2 * r + 1) ** 2
        # Products of the colour channels, per pixel: I I^T as 9 channels.
        outer = (self.image[..., :, None] * self.image[..., None, :]).reshape(height, width, 9)
        sums = self._window_sums(np.concatenate([self.image, outer], axis=2)) / n
        self.mean = np.ascontiguousarray(sums[..., :3])
        covariance = sums[..., 3:].reshape(sums.shape[:2] + (3, 3))
        covariance -= self.mean[..., :, None] * self.mean[..., None, :]
        covariance += (epsilon / n) * np.eye(3)
        self.inverse = np.ascontiguousarray(np.linalg.inv(covariance))  # Delta_k^-1 per centre
        # Windows containing each pixel.
        self.count = self._scatter(np.ones(self.mean.shape[:2] + (1,)))[..., 0]
        # diag L_ii = sum_k [1 - (1 + (I_i - mu_k)^T Delta_k^-1 (I_i - mu_k)) / n]
        inverse_mean = np.einsum("...ij,...j->...i", self.inverse, self.mean)
        mean_quadratic = np.einsum("...i,...i->...", self.mean, inverse_mean)
        scattered = self._scatter(np.concatenate(
            [self.inverse.reshape(self.mean.shape[:2] + (9,)), inverse_mean,
             mean_quadratic[..., None]], axis=2))
        sum_inverse = scattered[..., :9].reshape(height, width, 3, 3)
        quadratic = (np.einsum("...i,...ij,...j->...", self.image, sum_inverse, self.image)
                     - 2.0 * np.einsum("...i,...i->...", self.image, scattered[..., 9:12])
                     + scattered[..., 12])
        self.diagonal = self.count * (1.0 - 1.0 / n) - quadratic / n
        self.shape = (height * width, height * width)

    def _window_sums(self, values: np.ndarray) -> np.ndarray:
        """Sums over the windows wholly inside the image, one per window centre."""
        r = self.radius
        height, width = values.shape[:2]
        return box_sum(values, r)[r : height - r, r : width - r]

    def _scatter(self, per_window: np.ndarray) -> np.ndarray:
        """For each pixel, the sum of ``per_window`` over the windows that contain it."""
        r = self.radius
        return box_sum(np.pad(per_window, ((r, r), (r, r), (0, 0))), r)

    def __matmul__(self, p: np.ndarray) -> np.ndarray:
        height, width = self.image.shape[:2]
        p = np.asarray(p, dtype=np.float64).reshape(height, width)
        sums = self._window_sums(_with_colour_products(p, self.image))
        coefficients = _window_coefficients(sums, self.mean, self.inverse, float(self.size))
        return _apply(self.image, self.count, p, self._scatter(coefficients))


class _UnknownRows:
    """x_U -> s (L (s x_U embedded with zeros))_U: the unknown pixels' block of L, scaled by
    s = diag^-1/2 to a unit diagonal."""

    def __init__(self, laplacian: LargeKernelLaplacian, unknown: np.ndarray, scale: np.ndarray):
        self.laplacian, self.unknown, self.scale = laplacian, unknown, scale
        self.full = np.zeros(laplacian.shape[0])

    def __matmul__(self, x: np.ndarray) -> np.ndarray:
        self.full[self.unknown] = self.scale * x
        return self.scale * (self.laplacian @ self.full)[self.unknown]


def _crop_around(unknown: np.ndarray, reach: int) -> tuple[slice, slice]:
    """Rows and columns of the box ``reach`` pixels beyond the True pixels of ``unknown``."""
    rows = np.flatnonzero(unknown.any(axis=1))
    columns = np.flatnonzero(unknown.any(axis=0))
    height, width = unknown.shape
    return (slice(max(0, rows[0] - reach), min(height, rows[-1] + reach + 1)),
            slice(max(0, columns[0] - reach), min(width, columns[-1] + reach + 1)))


@register_method(
    "lkm",
    needs="trimap",
    summary="Large-kernel matting: the matting Laplacian with 21 x 21 windows, matrix-free",
    reference="He, Sun, Tang. Fast Matting Using Large Kernel Matting Laplacian Matrices. "
    "CVPR 2010",
    aliases=("large-kernel", "large_kernel"),
)
def estimate_alpha_lkm(
    image: np.ndarray,
    trimap: np.ndarray,
    *,
    radius: int = DEFAULT_RADIUS,
    epsilon: float = 1e-7,
    tol: float = SOLVER_TOL,
    max_iter: int = 5000,
) -> np.ndarray:
    """Large-kernel alpha of ``image`` (H x W x 3, [0, 1]) under ``trimap`` (0 / 0.5 / 1).

    Parameters
    ----------
    radius : window radius (10: 21 x 21 windows); an image too small for it uses the largest
        radius that fits.
    epsilon : the regulariser of Levin et al. (1e-7).
    tol, max_iter : relative residual of the diagonally scaled system at which conjugate
        gradients stop, and their iteration cap (a warning says when it is reached).

    Examples
    --------
    A hard vertical edge inside a band of unknown columns; only the crop around the band is
    solved, and the band splits at the edge.

    >>> import numpy as np
    >>> from mattebox.solvers.large_kernel import estimate_alpha_lkm
    >>> image = np.zeros((40, 60, 3)); image[:, 30:] = 1.0
    >>> trimap = (np.arange(60) >= 30).astype(float)[None].repeat(40, axis=0)
    >>> trimap[:, 26:34] = 0.5
    >>> alpha = estimate_alpha_lkm(image, trimap, radius=4)
    >>> [round(float(alpha[:, 26:30].max()), 3), round(float(alpha[:, 30:34].min()), 3)]
    [0.0, 1.0]
    """
    from ..checks import option_number
    from .laplacian import grid_laplacian

    radius = option_number(radius, "radius", minimum=1, whole=True)
    epsilon = check_regulariser(epsilon)
    tol = option_number(tol, "tol", above=0.0, below=1.0)
    max_iter = option_number(max_iter, "max_iter", minimum=1, whole=True)
    done = trivial_alpha(trimap)
    if done is not None:
        return done
    radius = min(int(radius), (min(trimap.shape) - 1) // 2)
    if radius < 1:
        return solve_for_unknowns(grid_laplacian(trimap.shape), trimap, tol=tol)
    unknown_mask = trimap == UNKNOWN
    rows, columns = _crop_around(unknown_mask, 2 * radius)
    crop_image, crop_trimap = image[rows, columns], trimap[rows, columns]
    laplacian = LargeKernelLaplacian(crop_image, radius, epsilon)
    flat = crop_trimap.ravel().astype(np.float64)
    unknown = np.flatnonzero(flat == UNKNOWN)
    known_values = np.where(flat == UNKNOWN, 0.0, flat)
    diagonal = laplacian.diagonal.ravel()[unknown]
    # A pixel in no window (none here: every pixel of a valid crop is in one) would have a
    # zero diagonal; the ridge keeps the scaling finite regardless.
    scale = 1.0 / np.sqrt(np.maximum(diagonal, 1e-12))
    rhs = -scale * (laplacian @ known_values)[unknown]
    solution, iterations = conjugate_gradients(_UnknownRows(laplacian, unknown, scale), rhs,
                                               np.copy, tol=tol, max_iter=int(max_iter))
    warn_if_not_converged(iterations, tol, max_iter)
    crop_alpha = fill_unknowns(crop_trimap, unknown, scale * solution)
    alpha = trimap.astype(np.float64, copy=True)
    alpha[rows, columns] = crop_alpha
    return alpha
