"""KNN matting (Chen, Li and Tang, "KNN Matting", IEEE TPAMI 35(9), 2013).

Each pixel is joined to its K nearest neighbours in a feature space of colour and position
(the nonlocal principle, Sec. 3): A_ij = k(i, j) for j among the K nearest of i, made
symmetric as A + A^T; L = D - A (D the degree matrix) and alpha minimises a^T L a with the
trimap's known pixels held fixed (the paper's lambda -> infinity).

Features: X(i) = (r, g, b, x, y), the position scaled by ``spatial_weights`` (coordinates
in [0, 1] along each axis). The paper's Sec. 3 uses HSV colour and K = 10; its authors'
released code uses RGB and merges two neighbour sets, 10 neighbours with spatial weight 1
(coordinates over the image diagonal) and 2 nearly colour-only ones (weight / 100), with the
soft kernel. pymatting merges (20, 10) neighbours at spatial weights (2.0, 0.1) with a
binary kernel. Our defaults are pymatting's, so that the benchmark compares like with like;
``n_neighbors=(10, 2), spatial_weights=(0.8, 0.008), kernel="soft"`` approximates the
authors' code on a 4:3 image. ``kernel="soft"`` is the paper's k(i, j) = 1 - |X(i) -
X(j)|_1 / C (C = the feature dimension), "binary" uses 1 (within a hair of "soft" because
neighbours are close).

Only what the unknown pixels' rows need is searched: the neighbours of every unknown pixel,
and the neighbours of those known pixels that can have an unknown one among their K nearest
(a known pixel whose nearest unknown pixel is farther than its K-th nearest spatial
neighbour cannot).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..checks import option_number
from ..errors import InputError
from ..registry import register_method
from ._common import SOLVER_TOL, UNKNOWN, check_linear_options, fill_unknowns, trivial_alpha
from .linear import solve_spd
from .neighbours import (build_tree, checked_position_weight, morton_order, order_bound,
                         query_tree)


def knn_features(image: np.ndarray, spatial_weight: float) -> np.ndarray:
    """(r, g, b, w x, w y) per pixel, x and y in [0, 1] along each axis (N x 5, float64)."""
    height, width, _ = image.shape
    x = np.linspace(0.0, 1.0, width) if width > 1 else np.zeros(1)
    y = np.linspace(0.0, 1.0, height) if height > 1 else np.zeros(1)
    features = np.empty((height, width, 5))
    features[..., :3] = image
    features[..., 3] = spatial_weight * x[None, :]
    features[..., 4] = spatial_weight * y[:, None]
    return features.reshape(-1, 5)


LEAF_SIZE = 12
# Below this spatial weight a neighbour set is (nearly) colour-only and its neighbours are
# found along a Z-order curve of the features rather than in raster order.
COLOUR_ONLY = 0.5


def _candidate_known(features, unknown_mask, k, colour_order):
    """Known pixels that may have an unknown pixel among their k nearest neighbours.

    A known pixel j qualifies only if its nearest unknown pixel is closer than its k-th
    nearest neighbour; an upper bound on the latter comes from the pixels next to j in raster
    order (spatially weighted features) or along a Z-order curve of the features (nearly
    colour-only ones), and the nearest unknown pixel is searched only within that bound.
    """
    order = morton_order(features) if colour_order else np.arange(features.shape[0])
    bound = order_bound(features, order, k, k)  # a reach of k: the fastest of k / 2, k, 2k, 4k
    known = np.flatnonzero(~unknown_mask)
    tree = build_tree(features[unknown_mask], LEAF_SIZE)
    # Slightly widened bound: ties at exactly the k-th distance may go either way.
    found, _ = query_tree(tree, features[known], 1, bound[known] * (1 + 1e-9) + 1e-18)
    return known[found[:, 0] >= 0]


def knn_neighbours(image: np.ndarray, trimap: np.ndarray, n_neighbors=(20, 10),
                   spatial_weights=(2.0, 0.1)):
    """Per neighbour set: (queries, neighbours (len(queries) x K), features), where the queries
    are every pixel whose K nearest neighbours (itself included) can touch an unknown pixel."""
    size = image.shape[0] * image.shape[1]
    unknown_mask = (trimap == UNKNOWN).ravel()
    unknown = np.flatnonzero(unknown_mask)
    sets = []
    for k, weight in zip(n_neighbors, spatial_weights):
        k = int(min(k, size))
        if k < 2:
            continue
        features = knn_features(image, weight)
        queries = unknown
        if unknown.size < size:
            candidates = _candidate_known(features, unknown_mask, k, weight < COLOUR_ONLY)
            wanted = unknown_mask.copy()
            wanted[candidates] = True
            queries = np.flatnonzero(wanted)  # sorted, as np.union1d, without its sort
        tree = build_tree(features, LEAF_SIZE)
        neighbours, _ = query_tree(tree, features[queries], k, np.full(queries.size, np.inf))
        sets.append((queries, neighbours, features))
    return sets


@njit(cache=True)
def _edge_entries(queries, neighbours, features, column_of, alpha, soft, degree, rhs,
                  rows, cols, vals, used):
    """Add the edges i -> j (j among the neighbours of query i) of A + A^T to the rows of the
    unknown pixels: degrees, unknown-unknown entries (COO, appended at ``used``) and the
    right-hand side sum_j A_ij alpha_j over known j."""
    dims = features.shape[1]
    for q in range(queries.shape[0]):
        i = queries[q]
        for t in range(neighbours.shape[1]):
            j = neighbours[q, t]
            if j < 0 or j == i:
                continue
            ci = column_of[i]
            cj = column_of[j]
            if ci < 0 and cj < 0:
                continue
            w = 1.0
            if soft:
                d = 0.0
                for c in range(dims):
                    d += abs(features[i, c] - features[j, c])
                w = max(1.0 - d / dims, 0.0)
            if ci >= 0:
                degree[ci] += w
                if cj >= 0:
                    rows[used] = ci
                    cols[used] = cj
                    vals[used] = w
                    used += 1
                else:
                    rhs[ci] += w * alpha[j]
            if cj >= 0:
                degree[cj] += w
                if ci >= 0:
                    rows[used] = cj
                    cols[used] = ci
                    vals[used] = w
                    used += 1
                else:
                    rhs[cj] += w * alpha[i]
    return used


def knn_system(image: np.ndarray, trimap: np.ndarray, *, kernel: str = "binary", **options):
    """Reduced system (L_UU, -L_UK a_K, unknown) of the KNN Laplacian L = D - (A + A^T)."""
    import scipy.sparse

    if kernel not in ("binary", "soft"):
        raise ValueError(f"kernel must be 'binary' or 'soft', not {kernel!r}")
    flat = trimap.ravel().astype(np.float64)
    unknown = np.flatnonzero(flat == UNKNOWN)
    n = unknown.size
    column_of = np.full(flat.size, -1, dtype=np.int64)
    column_of[unknown] = np.arange(n)
    sets = knn_neighbours(image, trimap, **options)
    capacity = sum(2 * nb.size for _, nb, _ in sets)
    rows = np.empty(capacity, dtype=np.int32)
    cols = np.empty(capacity, dtype=np.int32)
    vals = np.empty(capacity)
    degree = np.zeros(n)
    rhs = np.zeros(n)
    used = 0
    for queries, neighbours, features in sets:
        used = _edge_entries(queries, neighbours, features, column_of, flat, kernel == "soft",
                             degree, rhs, rows, cols, vals, used)
    affinity = scipy.sparse.csr_matrix((vals[:used], (rows[:used], cols[:used])), shape=(n, n))
    matrix = (scipy.sparse.diags(degree) - affinity).tocsr()
    matrix.sum_duplicates()
    return matrix, rhs, unknown


@register_method(
    "knn",
    needs="trimap",
    summary="KNN matting: nonlocal K-nearest-neighbour Laplacian solved for the unknown pixels",
    reference="Chen, Li, Tang. KNN Matting. TPAMI 2013",
    aliases=("knn-matting",),
)
def estimate_alpha_knn(
    image: np.ndarray,
    trimap: np.ndarray,
    *,
    n_neighbors: tuple[int, ...] = (20, 10),
    spatial_weights: tuple[float, ...] = (2.0, 0.1),
    kernel: str = "binary",
    linear_solver: str = "cg",
    tol: float = SOLVER_TOL,
) -> np.ndarray:
    """KNN-matting alpha of ``image`` (H x W x 3, [0, 1]) under ``trimap`` (0 / 0.5 / 1).

    Parameters
    ----------
    n_neighbors, spatial_weights : neighbour count and position weight (below 1e6) of each
        neighbour set.
    kernel : "binary" (weight 1) or "soft" (the paper's 1 - |X(i) - X(j)|_1 / C).
    linear_solver, tol : see :func:`mattebox.solvers.linear.solve_spd`; the KNN Laplacian
        is diagonally dominant and Jacobi-preconditioned CG ("cg") beats incomplete
        Cholesky on its scattered sparsity.

    Examples
    --------
    >>> import numpy as np
    >>> from mattebox.solvers.knn import estimate_alpha_knn
    >>> image = np.zeros((8, 8, 3)); image[:, 4:] = 1.0
    >>> trimap = np.full((8, 8), 0.5); trimap[:, 0] = 0.0; trimap[:, -1] = 1.0
    >>> alpha = estimate_alpha_knn(image, trimap)
    >>> bool(alpha[:, :4].max() < 0.05 and alpha[:, 4:].min() > 0.95)
    True
    """
    n_neighbors, spatial_weights = _checked_neighbour_sets(n_neighbors, spatial_weights)
    if kernel not in ("binary", "soft"):
        raise InputError(f"kernel must be 'binary' or 'soft', not {kernel!r}")
    tol = check_linear_options(linear_solver, tol, multigrid=False)
    done = trivial_alpha(trimap)
    if done is not None:
        return done
    matrix, rhs, unknown = knn_system(image, trimap, n_neighbors=n_neighbors,
                                      spatial_weights=spatial_weights, kernel=kernel)
    # A pixel may have no edge at all when the image has fewer pixels than neighbours asked
    # for: a small ridge keeps the system definite (its alpha then goes to 0).
    solution = solve_spd(matrix + 1e-10 * _identity(unknown.size), rhs, method=linear_solver, tol=tol)
    return fill_unknowns(trimap, unknown, solution)


#: The most neighbours per pixel a set may ask for (our bound, not the paper's: beyond it the
#: neighbour lists and the Laplacian's entries outgrow memory on photo-sized problems).
MAX_NEIGHBOURS = 1000


def _checked_neighbour_sets(n_neighbors: object, spatial_weights: object
                            ) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """The neighbour counts and position weights as tuples of equal length (a single number
    counts as a one-set tuple); InputError for anything else."""
    counts = n_neighbors if isinstance(n_neighbors, (tuple, list)) else (n_neighbors,)
    weights = spatial_weights if isinstance(spatial_weights, (tuple, list)) else (spatial_weights,)
    if len(counts) == 0 or len(counts) != len(weights):
        raise InputError(f"n_neighbors and spatial_weights must be sequences of the same length "
                         f"(one entry per neighbour set, e.g. (20, 10) and (2.0, 0.1)), not "
                         f"{n_neighbors!r} and {spatial_weights!r}")
    counts = tuple(option_number(k, "each of n_neighbors", minimum=1, whole=True) for k in counts)
    if max(counts) > MAX_NEIGHBOURS:
        raise InputError(f"n_neighbors {max(counts)} is too many: each pixel's neighbours are held "
                         f"in memory and the Laplacian fills with them; use at most "
                         f"{MAX_NEIGHBOURS} (the paper uses 10, pymatting 20)")
    weights = tuple(checked_position_weight(w, "each of spatial_weights") for w in weights)
    return counts, weights


def _identity(n: int):
    import scipy.sparse

    return scipy.sparse.identity(n, format="csr")
