"""KNN matting (Chen, Li and Tang, "KNN Matting", IEEE TPAMI 35(9), 2013).

Each pixel is joined to its K nearest neighbours in a feature space of colour and position
(the nonlocal principle, Sec. 3): A_ij = k(i, j) for j among the K nearest of i, made
symmetric as A + A^T; L = D - A (D the degree matrix) and alpha minimises a^T L a with the
trimap's known pixels held fixed (the paper's lambda -> infinity).

Features (Sec. 3.2 and the authors' released code): X(i) = (r, g, b, x, y), the position
scaled by ``spatial_weights`` (coordinates in [0, 1] along each axis). As in the authors'
code and in pymatting, two neighbour sets are merged: a first with strong spatial weight and
a second, nearly colour-only, that reaches across the image. Defaults are pymatting's
((20, 10) neighbours at spatial weights (2.0, 0.1)), which the paper's K = 10 approaches
with a matching spatial weight; ``kernel="soft"`` uses the paper's k(i, j) = 1 - |X(i) -
X(j)|_1 / C (C = the feature dimension), "binary" uses 1 (pymatting's default, within
a hair of "soft" because neighbours are close).

Only what the unknown pixels' rows need is searched: the neighbours of every unknown pixel,
and the neighbours of those known pixels that can have an unknown one among their K nearest
(a known pixel whose nearest unknown pixel is farther than its K-th nearest spatial
neighbour cannot).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..registry import register_method
from ._common import SOLVER_TOL, UNKNOWN, fill_unknowns, trivial_alpha
from .linear import solve_spd


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


@njit(cache=True)
def _spatial_bound(features, height, width, k, radius):
    """Per pixel, the k-th smallest feature distance to its spatial neighbours: >= its true
    distance to its k-th nearest neighbour (counting itself) over the whole image."""
    bound = np.empty(height * width)
    size = (2 * radius + 1) ** 2
    distances = np.empty(size)
    for y in range(height):
        for x in range(width):
            i = y * width + x
            count = 0
            distances[count] = 0.0  # the pixel itself
            count += 1
            for yy in range(max(0, y - radius), min(height, y + radius + 1)):
                for xx in range(max(0, x - radius), min(width, x + radius + 1)):
                    if yy == y and xx == x:
                        continue
                    j = yy * width + xx
                    s = 0.0
                    for c in range(features.shape[1]):
                        d = features[i, c] - features[j, c]
                        s += d * d
                    distances[count] = np.sqrt(s)
                    count += 1
            if count < k:
                bound[i] = np.inf
            else:
                bound[i] = np.sort(distances[:count])[k - 1]
    return bound


def _candidate_known(features, unknown_mask, height, width, k, tree_unknown):
    """Known pixels that may have an unknown pixel among their k nearest neighbours."""
    radius = 1
    while (2 * radius + 1) ** 2 < k:
        radius += 1
    bound = _spatial_bound(features, height, width, k, radius + 1)
    known = np.flatnonzero(~unknown_mask)
    limits = bound[known]
    finite = np.isfinite(limits)
    candidates = [known[~finite]]
    known, limits = known[finite], limits[finite]
    if known.size:
        # cKDTree takes one distance bound per query call: group the pixels by bound.
        order = np.argsort(limits)
        for group in np.array_split(order, min(16, order.size)):
            if group.size == 0:
                continue
            top = float(limits[group[-1]]) * (1 + 1e-9) + 1e-12
            distance, _ = tree_unknown.query(features[known[group]], k=1, distance_upper_bound=top)
            candidates.append(known[group][distance <= limits[group] * (1 + 1e-9) + 1e-12])
    return np.sort(np.concatenate(candidates))


def knn_edges(image: np.ndarray, trimap: np.ndarray, n_neighbors=(20, 10),
              spatial_weights=(2.0, 0.1), kernel: str = "binary"):
    """Directed edges (i, j, weight), j among the K nearest of i, for every i whose edges can
    touch an unknown pixel; edges between two known pixels are left out."""
    from scipy.spatial import cKDTree

    height, width, _ = image.shape
    size = height * width
    unknown_mask = (trimap == UNKNOWN).ravel()
    unknown = np.flatnonzero(unknown_mask)
    sources, targets, weights = [], [], []
    for k, weight in zip(n_neighbors, spatial_weights):
        k = int(min(k, size))
        if k < 2:
            continue
        features = knn_features(image, weight)
        tree = cKDTree(features)
        queries = unknown
        if unknown.size < size:
            tree_unknown = cKDTree(features[unknown])
            queries = np.union1d(unknown, _candidate_known(features, unknown_mask, height, width,
                                                           k, tree_unknown))
        _, neighbours = tree.query(features[queries], k=k, workers=-1)
        source = np.repeat(queries, k)
        target = neighbours.ravel()
        keep = (source != target) & (unknown_mask[source] | unknown_mask[target])
        source, target = source[keep], target[keep]
        if kernel == "soft":
            w = 1.0 - np.abs(features[source] - features[target]).sum(axis=1) / features.shape[1]
            w = np.maximum(w, 0.0)
        elif kernel == "binary":
            w = np.ones(source.size)
        else:
            raise ValueError(f"kernel must be 'binary' or 'soft', not {kernel!r}")
        sources.append(source)
        targets.append(target)
        weights.append(w)
    if not sources:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    return np.concatenate(sources), np.concatenate(targets), np.concatenate(weights)


def knn_system(image: np.ndarray, trimap: np.ndarray, **options):
    """Reduced system (L_UU, -L_UK a_K, unknown) of the KNN Laplacian L = D - (A + A^T)."""
    import scipy.sparse

    flat = trimap.ravel().astype(np.float64)
    size = flat.size
    unknown_mask = flat == UNKNOWN
    unknown = np.flatnonzero(unknown_mask)
    column_of = np.full(size, -1, dtype=np.int64)
    column_of[unknown] = np.arange(unknown.size)
    source, target, weight = knn_edges(image, trimap, **options)
    # Symmetric A + A^T: every directed edge counts at both of its ends.
    a = np.concatenate([source, target])
    b = np.concatenate([target, source])
    w = np.concatenate([weight, weight])
    rows = column_of[a]
    at_unknown = rows >= 0
    a, b, w, rows = a[at_unknown], b[at_unknown], w[at_unknown], rows[at_unknown]
    degree = np.bincount(rows, weights=w, minlength=unknown.size)
    columns = column_of[b]
    inner = columns >= 0
    rhs = np.bincount(rows[~inner], weights=w[~inner] * flat[b[~inner]], minlength=unknown.size)
    affinity = scipy.sparse.csr_matrix((w[inner], (rows[inner], columns[inner])),
                                       shape=(unknown.size, unknown.size))
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
    linear_solver: str = "auto",
    tol: float = SOLVER_TOL,
) -> np.ndarray:
    """KNN-matting alpha of ``image`` (H x W x 3, [0, 1]) under ``trimap`` (0 / 0.5 / 1).

    Parameters
    ----------
    n_neighbors, spatial_weights : neighbour count and position weight of each neighbour set.
    kernel : "binary" (weight 1) or "soft" (the paper's 1 - |X(i) - X(j)|_1 / C).
    linear_solver, tol : see :func:`mattebox.solvers.linear.solve_spd`.

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
    if len(n_neighbors) != len(spatial_weights):
        raise ValueError("n_neighbors and spatial_weights must have the same length")
    done = trivial_alpha(trimap)
    if done is not None:
        return done
    matrix, rhs, unknown = knn_system(image, trimap, n_neighbors=n_neighbors,
                                      spatial_weights=spatial_weights, kernel=kernel)
    # A pixel may have no edge at all when the image has fewer pixels than neighbours asked
    # for: a small ridge keeps the system definite (its alpha then goes to 0).
    solution = solve_spd(matrix + 1e-10 * _identity(unknown.size), rhs, method=linear_solver, tol=tol)
    return fill_unknowns(trimap, unknown, solution)


def _identity(n: int):
    import scipy.sparse

    return scipy.sparse.identity(n, format="csr")
