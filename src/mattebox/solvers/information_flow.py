"""Information-flow matting (Aksoy, Aydin and Pollefeys, "Designing Effective Inter-Pixel
Information Flow for Natural Image Matting", CVPR 2017).

Alpha minimises one quadratic energy made of four kinds of information flow (Sec. 3),

    E = s_CM E_CM + s_KU E_KU + s_UU E_UU + s_L E_L,     s_CM = 1, s_KU = 0.05, s_UU = 0.01, s_L = 1

- colour-mixture flow: E_CM = sum_{p in U} (a_p - sum_q w_pq a_q)^2, the w_pq the locally-linear-
  embedding weights that rebuild c_p from its K_CM = 20 nearest neighbours in [r, g, b, x/W, y/H];
- K-to-U flow: E_KU = sum_{p in U} eta_p (a_p - w^F_p)^2, with LLE weights of c_p over its K_KU = 7
  nearest foreground and 7 nearest background pixels in [r, g, b, 10 x/W, 10 y/H], w^F_p the sum
  of the foreground weights and eta_p = ||sum_F w_pq c_q - sum_B w_pq c_q||^2 / 3 its confidence;
- intra-U flow: E_UU = sum_{p, q in U} w_pq (a_p - a_q)^2 over the K_U = 5 nearest unknown pixels
  in [r, g, b, 0.05 x/W, 0.05 y/H], w_pq = max(1 - ||f_p - f_q||_1 / 5, 0), symmetrised;
- local flow: E_L = a^T L a, L the matting Laplacian of Levin et al. (3 x 3 windows).

Choices where the paper is silent or where we depart from it, each with its reason:

- The paper holds known pixels with a soft constraint (lambda = 100). We take lambda -> infinity:
  known pixels are fixed and only the unknown pixels are solved for (a smaller system, the same
  matte up to the small drift lambda = 100 allows). ``lambda_`` is therefore not an option.
- The LLE regulariser (the paper prints none) is 1e-10 on the neighbourhood Gram matrix, the
  value of the authors' public code; we centre the Gram matrix on c_p (Roweis and Saul's form),
  which keeps it well scaled, and solve it through its rank-3 structure (Woodbury identity).
- Spatial weights 10 (K-to-U) and 0.05 (intra-U), epsilon = 1e-6 for the matting Laplacian and
  the KNN-matting normalisation of w_pq by the feature count follow the authors' code. That
  code also gives each unknown pixel one more intra-U neighbour found with spatial weight
  0.05 / 100 (a habit of KNN matting's code); the paper has K_U = 5 only, and so do we.
- The K-to-U flow is dropped (the paper's E_2 instead of E_1) when the matte is predicted to be
  highly transparent: the 10-bin per-channel histograms of the unknown region are fitted as a
  linear mix of those of the foreground and background pixels in a 20 x 20 neighbourhood of it,
  and a reconstruction error above 0.0099 (the authors' code's threshold) selects E_2. We use
  the R, G and B histograms; the authors' code reads the blue channel twice, a slip we do not
  copy. On alphamatting-dev every image, with either trimap, keeps the K-to-U flow.
- The paper's optional trimap trimming (pre-processing) and edge-based post-trimming are not
  applied.
- The system is solved with conjugate gradients, Jacobi-preconditioned, on the unknown pixels,
  to a relative residual of 1e-4, products in single precision: on alphamatting-dev the mean
  SAD is within 0.1 % of a double-precision 1e-5 solve's, in about two thirds of the iterations.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ..registry import register_method
from ._common import UNKNOWN, check_regulariser, trivial_alpha
from .laplacian import matting_laplacian
from .neighbours import build_tree, checked_position_weight, query_tree

#: Points per leaf of the neighbour searches' k-d trees (faster than 12 or 32 on these searches).
TREE_LEAF_SIZE = 24

#: Reconstruction error above which the matte is taken as highly transparent (paper's value).
TRANSPARENCY_THRESHOLD = 0.0099


# --------------------------------------------------------------------------- features, kNN

def pixel_features(image: np.ndarray, xy_weight: float) -> np.ndarray:
    """N x 5 features [r, g, b, xy_weight * x / W, xy_weight * y / H] of every pixel."""
    height, width, _ = image.shape
    yy, xx = np.mgrid[0:height, 0:width]
    return np.column_stack(
        (
            image.reshape(-1, 3),
            (xy_weight / width) * xx.ravel(),
            (xy_weight / height) * yy.ravel(),
        )
    )


def nearest_neighbors(
    features: np.ndarray, candidates: np.ndarray, queries: np.ndarray, k: int,
    *, disjoint: bool = False,
) -> np.ndarray:
    """For each flat index in ``queries``, the flat indices of its ``k`` nearest ``candidates``
    (sorted, distinct flat indices).

    A query is never its own neighbour; ``disjoint=True`` promises that no query is a
    candidate, which saves looking for it. ``k`` must not exceed the number of candidates
    other than the query itself.
    """
    points = features if candidates.size == features.shape[0] else features[candidates]
    found = min(k if disjoint else k + 1, candidates.size)
    tree = build_tree(points, TREE_LEAF_SIZE)
    local, _ = query_tree(tree, features[queries], found, np.full(queries.size, np.inf))
    neighbours = candidates[local]
    if found == k:  # no spare column: no query can be among its neighbours
        return neighbours
    own = neighbours == queries[:, None]
    # Drop the query itself where found, otherwise the farthest of the k + 1.
    own[:, -1] |= ~own.any(axis=1)
    return neighbours[~own].reshape(queries.size, k)


@njit(cache=True)
def _solve_spd3(a, b):
    """x with a x = b for a symmetric positive definite 3 x 3 ``a`` (Cholesky, no LAPACK)."""
    l00 = np.sqrt(a[0, 0])
    l10 = a[1, 0] / l00
    l20 = a[2, 0] / l00
    l11 = np.sqrt(max(a[1, 1] - l10 * l10, 1e-300))
    l21 = (a[2, 1] - l20 * l10) / l11
    l22 = np.sqrt(max(a[2, 2] - l20 * l20 - l21 * l21, 1e-300))
    y0 = b[0] / l00
    y1 = (b[1] - l10 * y0) / l11
    y2 = (b[2] - l20 * y0 - l21 * y1) / l22
    x = np.empty(3)
    x[2] = y2 / l22
    x[1] = (y1 - l21 * x[2]) / l11
    x[0] = (y0 - l10 * x[1] - l20 * x[2]) / l00
    return x


@njit(cache=True, parallel=True)
def _lle_weights(colours, centres, neighbours, regulariser):
    """Weights w (sum 1) minimising ||c_p - sum_q w_q c_q||^2 + regulariser * ||w||^2.

    With D the K x 3 differences c_q - c_p and G = D D^T + r I, w is proportional to G^-1 1 =
    (1 - D (r I_3 + D^T D)^-1 D^T 1) / r (Woodbury), so each pixel costs one 3 x 3 solve.
    """
    count, k = neighbours.shape
    weights = np.empty((count, k))
    for i in prange(count):
        p = centres[i]
        diffs = np.empty((k, 3))
        for j in range(k):
            for ch in range(3):
                diffs[j, ch] = colours[neighbours[i, j], ch] - colours[p, ch]
        gram = np.zeros((3, 3))
        summed = np.zeros(3)
        for j in range(k):
            for a in range(3):
                summed[a] += diffs[j, a]
                for b in range(3):
                    gram[a, b] += diffs[j, a] * diffs[j, b]
        for a in range(3):
            gram[a, a] += regulariser
        z = _solve_spd3(gram, summed)
        total = 0.0
        for j in range(k):
            value = 1.0 - (diffs[j, 0] * z[0] + diffs[j, 1] * z[1] + diffs[j, 2] * z[2])
            weights[i, j] = value
            total += value
        if total == 0.0 or not np.isfinite(total):
            for j in range(k):
                weights[i, j] = 1.0 / k
        else:
            for j in range(k):
                weights[i, j] /= total
    return weights


# --------------------------------------------------------------------------- the four flows

def colour_mixture_rows(image, trimap, k, xy_weight, regulariser):
    """The colour-mixture residuals (I - W_CM) a over the rows p in U, as M a_U + offset.

    M (|U| x |U|, CSR) holds the identity minus the weights on unknown neighbours; ``offset``
    is -sum_q w_pq a_q over each row's known neighbours. ``k`` must be at least 1.
    """
    import scipy.sparse

    flat = trimap.ravel()
    unknown = np.flatnonzero(flat == UNKNOWN)
    count = unknown.size
    position = np.full(flat.size, -1, dtype=np.int64)
    position[unknown] = np.arange(count)
    k = min(k, flat.size - 1)
    features = pixel_features(image, xy_weight)
    neighbours = nearest_neighbors(features, np.arange(flat.size), unknown, k)
    weights = _lle_weights(image.reshape(-1, 3), unknown, neighbours, regulariser)
    column = position[neighbours]  # index among the unknowns, -1 for a known pixel
    inside = column >= 0
    offset = -(weights * np.where(inside, 0.0, flat[neighbours])).sum(axis=1)
    rows = np.repeat(np.arange(count), k)[inside.ravel()]
    matrix = scipy.sparse.csr_matrix(
        (-weights[inside], (rows, column[inside])), shape=(count, count)
    ) + scipy.sparse.identity(count, format="csr")
    return matrix.tocsr(), offset


def known_to_unknown(image, trimap, unknown, k, xy_weight, regulariser):
    """(w^F, eta) for every unknown pixel, or None when either known layer is empty."""
    flat = trimap.ravel()
    foreground = np.flatnonzero(flat == 1.0)
    background = np.flatnonzero(flat == 0.0)
    kf, kb = min(k, foreground.size), min(k, background.size)
    if kf == 0 or kb == 0:
        return None
    features = pixel_features(image, xy_weight)
    neighbours = np.hstack(
        (
            nearest_neighbors(features, foreground, unknown, kf, disjoint=True),
            nearest_neighbors(features, background, unknown, kb, disjoint=True),
        )
    )
    colours = image.reshape(-1, 3)
    weights = _lle_weights(colours, unknown, neighbours, regulariser)
    weight_f = weights[:, :kf].sum(axis=1)
    mixed_f = np.einsum("nk,nkc->nc", weights[:, :kf], colours[neighbours[:, :kf]])
    mixed_b = np.einsum("nk,nkc->nc", weights[:, kf:], colours[neighbours[:, kf:]])
    confidence = ((mixed_f - mixed_b) ** 2).sum(axis=1) / 3.0
    return weight_f, confidence


def intra_unknown_laplacian(image, unknown, k, xy_weight):
    """Graph Laplacian D - W over the unknown pixels of the symmetrised intra-U affinities."""
    import scipy.sparse

    count = unknown.size
    k = min(k, count - 1)
    if k < 1:
        return scipy.sparse.csr_matrix((count, count))
    features = pixel_features(image, xy_weight)
    chosen = nearest_neighbors(features, unknown, unknown, k)
    position = np.empty(image.shape[0] * image.shape[1], dtype=np.int64)
    position[unknown] = np.arange(count)
    distance = np.abs(features[unknown][:, None, :] - features[chosen]).sum(axis=2)
    weights = np.maximum(1.0 - distance / features.shape[1], 0.0)
    affinity = scipy.sparse.csr_matrix(
        (weights.ravel(), (np.repeat(np.arange(count), k), position[chosen].ravel())),
        shape=(count, count),
    )
    affinity = 0.5 * (affinity + affinity.T)
    degree = np.asarray(affinity.sum(axis=1)).ravel()
    return (scipy.sparse.diags(degree) - affinity).tocsr()


def is_highly_transparent(image: np.ndarray, trimap: np.ndarray, *, margin: int = 20,
                          threshold: float = TRANSPARENCY_THRESHOLD) -> bool:
    """The paper's test for a highly transparent matte, where the K-to-U flow is left out.

    The unknown region's R, G, B histograms (10 bins each, normalised) are fitted by least
    squares as a combination of the foreground's and background's (pixels in a ``margin`` x
    ``margin`` neighbourhood of the unknown region); a residual norm / 30 above ``threshold``
    means transparent.
    """
    from scipy import ndimage

    unknown = trimap == UNKNOWN
    near = ndimage.maximum_filter(unknown, size=margin)  # dilation by a margin x margin box
    regions = (trimap == 1.0) & near, (trimap == 0.0) & near, unknown
    if not all(region.any() for region in regions):
        return False
    half_bin = 0.5 / 9  # bins centred on 0, 1/9, ..., 1 as MATLAB's imhist(x, 10)
    histograms = []
    for region in regions:
        pixels = image[region]
        parts = [np.histogram(pixels[:, ch], bins=10, range=(-half_bin, 1 + half_bin))[0]
                 for ch in range(3)]
        histograms.append(np.concatenate(parts) / region.sum())
    basis = np.column_stack(histograms[:2])
    mix, *_ = np.linalg.lstsq(basis, histograms[2], rcond=None)
    residual = basis @ mix - histograms[2]
    return bool(np.linalg.norm(residual) / residual.size > threshold)


# --------------------------------------------------------------------------- solver

@njit(cache=True)
def _dot(a, b):
    """a . b in one thread (BLAS threads fight numba's and other processes' on busy machines)."""
    total = 0.0
    for i in range(a.size):
        total += a[i] * b[i]
    return total


@njit(cache=True)
def _cg_update(x, residual, z, direction, product, inverse_diagonal, step):
    """x += step d; r -= step A d; z = M^-1 r; returns r . z and r . r."""
    rz = 0.0
    rr = 0.0
    for i in range(x.size):
        x[i] += step * direction[i]
        residual[i] -= step * product[i]
        z[i] = inverse_diagonal[i] * residual[i]
        rz += residual[i] * z[i]
        rr += residual[i] * residual[i]
    return rz, rr


#: The CG products are cut into this many row blocks, each summed into its own buffer: a
#: fixed number, so the result does not depend on how many threads run them.
PRODUCT_PARTS = 4


@njit(cache=True, parallel=True)
def _apply_flows(bounds, upper_ptr, upper_idx, upper_val, diag, mix_ptr, mix_idx, mix_val, x,
                 buffers, out):
    """out = (B + M^T M) x in one pass over each matrix, B symmetric (float32).

    B is given by its diagonal and strict upper triangle (CSR): row i adds B_ij x_j to out_i
    and B_ij x_i to out_j. M (CSR, may have no rows) adds (M_r . x) M_r^T per row r. Row
    block k writes into ``buffers[k]``; the blocks are summed in order at the end.
    """
    n = x.size
    parts = bounds.size - 1
    for k in prange(parts):
        buffer = buffers[k]
        buffer[:] = 0.0
        for i in range(bounds[k], bounds[k + 1]):
            xi = x[i]
            total = diag[i] * xi
            for p in range(upper_ptr[i], upper_ptr[i + 1]):
                j = upper_idx[p]
                total += upper_val[p] * x[j]
                buffer[j] += upper_val[p] * xi
            buffer[i] += total
        if mix_ptr.size > 1:
            for r in range(bounds[k], bounds[k + 1]):
                mixed = np.float32(0.0)
                for p in range(mix_ptr[r], mix_ptr[r + 1]):
                    mixed += mix_val[p] * x[mix_idx[p]]
                for p in range(mix_ptr[r], mix_ptr[r + 1]):
                    buffer[mix_idx[p]] += mix_val[p] * mixed
    for i in prange(n):
        total = buffers[0, i]
        for k in range(1, parts):
            total += buffers[k, i]
        out[i] = np.float64(total)


class FlowOperator:
    """x -> (B + s_CM M^T M) x for the CG solve, in single precision on all threads.

    Stores B's strict upper triangle and diagonal and M once (float32), about half the
    entries of B, M and M^T stored for three CSR products; each product reads every stored
    entry once. On GT04 / trimap2 of alphamatting-dev a product takes 9.8 ms on two threads
    against 12.7 ms for scipy's three (BENCHMARKS.md).
    """

    def __init__(self, matrix, mixing=None):
        import scipy.sparse

        matrix = scipy.sparse.csr_matrix(matrix)
        n = matrix.shape[0]
        upper = scipy.sparse.triu(matrix, k=1, format="csr").astype(np.float32)
        upper.sort_indices()
        self._upper = (upper.indptr, upper.indices, upper.data)
        self._diag = matrix.diagonal().astype(np.float32)
        if mixing is None:
            self._mixing = (np.zeros(1, dtype=np.int32), np.zeros(0, dtype=np.int32),
                            np.zeros(0, dtype=np.float32))
        else:
            mixing = scipy.sparse.csr_matrix(mixing, dtype=np.float32)
            mixing.sort_indices()
            self._mixing = (mixing.indptr, mixing.indices, mixing.data)
        self._bounds = np.linspace(0, n, PRODUCT_PARTS + 1).astype(np.int64)
        self._buffers = np.empty((PRODUCT_PARTS, n), dtype=np.float32)
        self._out = np.empty(n)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """The product as float64; the returned array is reused by the next call."""
        _apply_flows(self._bounds, *self._upper, self._diag, *self._mixing,
                     x.astype(np.float32), self._buffers, self._out)
        return self._out


@njit(cache=True)
def _cg_direction(direction, z, beta):
    for i in range(direction.size):
        direction[i] = z[i] + beta * direction[i]


def conjugate_gradient(apply, rhs: np.ndarray, diagonal: np.ndarray, x0: np.ndarray, *,
                       tol: float = 1e-6, max_iter: int = 2000) -> tuple[np.ndarray, int]:
    """Jacobi-preconditioned conjugate gradients for A x = rhs, A given by ``apply(x)``.

    Stops when ||r|| <= tol ||rhs||. Returns (x, iterations). Deterministic: the reductions
    run in a fixed order.
    """
    inverse = np.where(diagonal > 0, 1.0 / np.maximum(diagonal, 1e-300), 1.0)
    x = np.array(x0, dtype=np.float64)
    residual = rhs - apply(x)
    z = inverse * residual
    direction = z.copy()
    rz = _dot(residual, z)
    rr = _dot(residual, residual)
    target = tol * tol * _dot(rhs, rhs)
    for iteration in range(max_iter):
        if rr <= target:
            return x, iteration
        product = apply(direction)
        curvature = _dot(direction, product)
        if curvature <= 0:
            return x, iteration
        rz_next, rr = _cg_update(x, residual, z, direction, product, inverse, rz / curvature)
        _cg_direction(direction, z, rz_next / rz)
        rz = rz_next
    return x, max_iter


@register_method(
    "ifm",
    needs="trimap",
    summary="Information-flow matting: colour-mixture, K-to-U, intra-U and local flows",
    reference="Aksoy, Aydin, Pollefeys. Designing Effective Inter-Pixel Information Flow "
    "for Natural Image Matting. CVPR 2017",
    aliases=("information-flow", "information_flow"),
)
def estimate_alpha_ifm(
    image: np.ndarray,
    trimap: np.ndarray,
    *,
    cm_neighbors: int = 20,
    ku_neighbors: int = 7,
    uu_neighbors: int = 5,
    cm_weight: float = 1.0,
    ku_weight: float = 0.05,
    uu_weight: float = 0.01,
    local_weight: float = 1.0,
    cm_xy: float = 1.0,
    ku_xy: float = 10.0,
    uu_xy: float = 0.05,
    radius: int = 1,
    epsilon: float = 1e-6,
    lle_regulariser: float = 1e-10,
    use_known_to_unknown: bool | None = None,
    tol: float = 1e-4,
    max_iter: int = 2000,
) -> np.ndarray:
    """Information-flow alpha of ``image`` (H x W x 3, [0, 1]) under ``trimap`` (0 / 0.5 / 1).

    ``use_known_to_unknown=None`` applies the paper's transparency test (see
    :func:`is_highly_transparent`); True or False forces the K-to-U flow on or off.

    Examples
    --------
    >>> import numpy as np
    >>> from mattebox.solvers.information_flow import estimate_alpha_ifm
    >>> image = np.zeros((8, 8, 3)); image[:, 4:] = 1.0
    >>> trimap = np.full((8, 8), 0.5); trimap[:, 0] = 0.0; trimap[:, -1] = 1.0
    >>> alpha = estimate_alpha_ifm(image, trimap)
    >>> bool(alpha[:, :4].max() < 0.05 and alpha[:, 4:].min() > 0.95)
    True
    """
    import scipy.sparse

    from ..checks import option_number
    from ..errors import InputError

    cm_neighbors, ku_neighbors, uu_neighbors, radius, max_iter = (
        option_number(value, name, minimum=1, whole=True) for name, value in (
            ("cm_neighbors", cm_neighbors), ("ku_neighbors", ku_neighbors),
            ("uu_neighbors", uu_neighbors), ("radius", radius), ("max_iter", max_iter)))
    cm_weight, ku_weight, uu_weight, local_weight = (
        option_number(value, name, minimum=0.0) for name, value in (
            ("cm_weight", cm_weight), ("ku_weight", ku_weight), ("uu_weight", uu_weight),
            ("local_weight", local_weight)))
    # Without it the Gram matrix of a pixel whose neighbours share a channel's value with it
    # is singular, and the LLE solve (_lle_weights) divides by zero.
    lle_regulariser = option_number(lle_regulariser, "lle_regulariser", above=0.0,
                                    note=" (default 1e-10)")
    cm_xy, ku_xy, uu_xy = (checked_position_weight(value, name) for name, value in (
        ("cm_xy", cm_xy), ("ku_xy", ku_xy), ("uu_xy", uu_xy)))
    epsilon = check_regulariser(epsilon)
    tol = option_number(tol, "tol", above=0.0, below=1.0)
    if use_known_to_unknown not in (None, True, False):
        raise InputError(f"use_known_to_unknown must be None (the paper's test), True or False, "
                         f"not {use_known_to_unknown!r}")
    done = trivial_alpha(trimap)
    if done is not None:
        return done
    flat = trimap.ravel().astype(np.float64)
    unknown_mask = trimap == UNKNOWN
    unknown = np.flatnonzero(unknown_mask)
    known = np.flatnonzero(~unknown_mask.ravel())

    # Local and intra-U flows, and the K-to-U flow's diagonal, in one sparse matrix B.
    laplacian = matting_laplacian(image, unknown_mask, radius=radius, epsilon=epsilon)
    rows = laplacian[unknown]
    matrix = local_weight * rows[:, unknown]
    rhs = -local_weight * (rows[:, known] @ flat[known])
    if uu_weight > 0:
        matrix = matrix + uu_weight * intra_unknown_laplacian(image, unknown, uu_neighbors, uu_xy)
    start = np.full(unknown.size, 0.5)
    diagonal = np.full(unknown.size, 1e-10)  # keeps the system definite on isolated pixels
    if use_known_to_unknown is None:
        use_known_to_unknown = not is_highly_transparent(image, trimap)
    if use_known_to_unknown and ku_weight > 0:
        flow = known_to_unknown(image, trimap, unknown, ku_neighbors, ku_xy, lle_regulariser)
        if flow is not None:
            weight_f, confidence = flow
            diagonal += ku_weight * confidence
            rhs = rhs + ku_weight * confidence * weight_f
            start = np.clip(weight_f, 0.0, 1.0)
    matrix = (matrix + scipy.sparse.diags(diagonal)).tocsr()
    diagonal = matrix.diagonal()

    # Colour-mixture flow: s_CM ||M a_U + offset||^2 adds s_CM M^T M, applied as two products
    # (M^T M is far denser than M). The products run in single precision (far below the CG
    # tolerance) and on all threads (:class:`FlowOperator`).
    mixing = None
    if cm_weight > 0 and min(cm_neighbors, flat.size - 1) >= 1:
        mixing, offset = colour_mixture_rows(image, trimap, cm_neighbors, cm_xy, lle_regulariser)
        rhs = rhs - cm_weight * (mixing.T @ offset)
        diagonal = diagonal + cm_weight * np.asarray(mixing.multiply(mixing).sum(axis=0)).ravel()
        mixing = math.sqrt(cm_weight) * mixing
    apply = FlowOperator(matrix, mixing)

    solution, _ = conjugate_gradient(apply, np.asarray(rhs, dtype=np.float64), diagonal, start,
                                     tol=tol, max_iter=max_iter)
    alpha = flat.copy()
    alpha[unknown] = np.clip(solution, 0.0, 1.0)
    return alpha.reshape(trimap.shape)
