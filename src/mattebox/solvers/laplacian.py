"""Window-based matting Laplacians, built only where they are needed.

Closed-form matting (Levin, Lischinski and Weiss, TPAMI 2008, Eq. 12) and learning-based
matting (Zheng and Kambhamettu, ICCV 2009) both sum one |w| x |w| block per (2r+1) x (2r+1)
window w_k, and both blocks have the same shape,

    B^k_ij = delta_ij - q_k(I_i, I_j),
    q_k(I_i, I_j) = c_k + a_k . (u_i + u_j) + u_i^T S_k u_j,      u = I - mu_k,

a quadratic form in the colours. Closed-form: mu_k the window mean, S_k = (Sigma_k + eps/|w| I)^-1
/ |w|, a_k = 0, c_k = 1/|w|. Learning-based: see :func:`lbdm_coefficients`.

A window's form is stored once (13 numbers); every row of the Laplacian is then gathered from
the windows that contain its pixel, in parallel and without scattering, directly as CSR with
sorted columns. Only windows that touch a needed pixel are visited, so a thin unknown band
costs a fraction of the whole image, and :func:`unknown_system` writes the reduced system
L_UU a_U = -L_UK a_K straight away instead of slicing an N x N matrix.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

COEFFICIENTS = 13  # mu (3), S (xx, xy, xz, yy, yz, zz), a (3), c


@njit(cache=True, inline="always")
def _store_form(coef, k, mean, s, a, c):
    coef[k, 0] = mean[0]
    coef[k, 1] = mean[1]
    coef[k, 2] = mean[2]
    coef[k, 3] = s[0, 0]
    coef[k, 4] = s[0, 1]
    coef[k, 5] = s[0, 2]
    coef[k, 6] = s[1, 1]
    coef[k, 7] = s[1, 2]
    coef[k, 8] = s[2, 2]
    coef[k, 9] = a[0]
    coef[k, 10] = a[1]
    coef[k, 11] = a[2]
    coef[k, 12] = c


@njit(cache=True)
def cf_coefficients(image, centres, radius, epsilon):
    """Closed-form window forms: mean, (Sigma + eps/|w| I)^-1 / |w|, a = 0, c = 1/|w|."""
    width = image.shape[1]
    size = 2 * radius + 1
    n = size * size
    coef = np.empty((centres.shape[0], COEFFICIENTS))
    for k in prange(centres.shape[0]):
        cy = centres[k] // width
        cx = centres[k] % width
        mean = np.zeros(3)
        cov = np.zeros((3, 3))
        for y in range(cy - radius, cy + radius + 1):
            for x in range(cx - radius, cx + radius + 1):
                for p in range(3):
                    mean[p] += image[y, x, p]
        mean /= n
        for y in range(cy - radius, cy + radius + 1):
            for x in range(cx - radius, cx + radius + 1):
                for p in range(3):
                    dp = image[y, x, p] - mean[p]
                    for q in range(p, 3):
                        cov[p, q] += dp * (image[y, x, q] - mean[q])
        for p in range(3):
            for q in range(p, 3):
                cov[p, q] /= n
                cov[q, p] = cov[p, q]
            cov[p, p] += epsilon / n
        inv = _inverse3(cov) / n
        _store_form(coef, k, mean, inv, np.zeros(3), 1.0 / n)
    return coef


@njit(cache=True, inline="always")
def _inverse3(m):
    """Inverse of a symmetric positive definite 3 x 3 matrix by cofactors."""
    c00 = m[1, 1] * m[2, 2] - m[1, 2] * m[2, 1]
    c01 = m[1, 2] * m[2, 0] - m[1, 0] * m[2, 2]
    c02 = m[1, 0] * m[2, 1] - m[1, 1] * m[2, 0]
    det = m[0, 0] * c00 + m[0, 1] * c01 + m[0, 2] * c02
    out = np.empty((3, 3))
    out[0, 0] = c00 / det
    out[1, 0] = c01 / det
    out[2, 0] = c02 / det
    out[0, 1] = (m[0, 2] * m[2, 1] - m[0, 1] * m[2, 2]) / det
    out[1, 1] = (m[0, 0] * m[2, 2] - m[0, 2] * m[2, 0]) / det
    out[2, 1] = (m[0, 1] * m[2, 0] - m[0, 0] * m[2, 1]) / det
    out[0, 2] = (m[0, 1] * m[1, 2] - m[0, 2] * m[1, 1]) / det
    out[1, 2] = (m[0, 2] * m[1, 0] - m[0, 0] * m[1, 2]) / det
    out[2, 2] = (m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0]) / det
    return out


@njit(cache=True)
def lbdm_coefficients(image, centres, radius, regulariser):
    """Learning-based window forms (Zheng and Kambhamettu 2009, Sec. 3).

    In window w each alpha is predicted by ridge regression on x = (r, g, b, 1) over the
    window: alpha_w ~ F alpha_w, F = X (X^T X + lambda I)^-1 X^T. The block is
    (I - F)^T (I - F) = I - X H X^T with H = G + lambda G^2, G = (X^T X + lambda I)^-1
    (F is symmetric and (I - F)^2 expands with X^T X G = I - lambda G).
    """
    width = image.shape[1]
    coef = np.empty((centres.shape[0], COEFFICIENTS))
    for k in prange(centres.shape[0]):
        cy = centres[k] // width
        cx = centres[k] % width
        gram = np.zeros((4, 4))
        mean = np.zeros(3)
        count = 0
        for y in range(cy - radius, cy + radius + 1):
            for x in range(cx - radius, cx + radius + 1):
                v0 = image[y, x, 0]
                v1 = image[y, x, 1]
                v2 = image[y, x, 2]
                mean[0] += v0
                mean[1] += v1
                mean[2] += v2
                count += 1
                gram[0, 0] += v0 * v0
                gram[0, 1] += v0 * v1
                gram[0, 2] += v0 * v2
                gram[0, 3] += v0
                gram[1, 1] += v1 * v1
                gram[1, 2] += v1 * v2
                gram[1, 3] += v1
                gram[2, 2] += v2 * v2
                gram[2, 3] += v2
        gram[3, 3] = count
        mean /= count
        for p in range(4):
            for q in range(p):
                gram[p, q] = gram[q, p]
            gram[p, p] += regulariser
        g = np.linalg.inv(gram)
        h = g + regulariser * (g @ g)
        s = h[:3, :3].copy()
        # Re-centre the form on the window mean: x_i^T H x_j with x = (mu + u, 1).
        a = np.empty(3)
        for p in range(3):
            a[p] = s[p, 0] * mean[0] + s[p, 1] * mean[1] + s[p, 2] * mean[2] + h[p, 3]
        c = h[3, 3]
        for p in range(3):
            c += 2.0 * h[p, 3] * mean[p]
            for q in range(3):
                c += mean[p] * s[p, q] * mean[q]
        _store_form(coef, k, mean, s, a, c)
    return coef


@njit(cache=True, inline="always")
def _row_template(rows, r, width, height, radius, window_id, covered):
    """Mark in ``covered`` ((4r+1)^2) the offsets sharing a selected window with pixel rows[r]."""
    span = 4 * radius + 1
    for t in range(span * span):
        covered[t] = False
    pixel = rows[r]
    py = pixel // width
    px = pixel % width
    for cy in range(max(py - radius, radius), min(py + radius, height - 1 - radius) + 1):
        for cx in range(max(px - radius, radius), min(px + radius, width - 1 - radius) + 1):
            if window_id[cy * width + cx] < 0:
                continue
            for y in range(cy - radius, cy + radius + 1):
                for x in range(cx - radius, cx + radius + 1):
                    covered[(y - py + 2 * radius) * span + (x - px + 2 * radius)] = True


@njit(cache=True)
def _count_entries(rows, width, height, radius, window_id, column_of):
    """Entries per row: covered offsets whose pixel has a column (column_of >= 0)."""
    span = 4 * radius + 1
    counts = np.zeros(rows.shape[0] + 1, dtype=np.int64)
    for r in prange(rows.shape[0]):
        covered = np.empty(span * span, dtype=np.bool_)
        _row_template(rows, r, width, height, radius, window_id, covered)
        pixel = rows[r]
        py = pixel // width
        px = pixel % width
        total = 0
        for t in range(span * span):
            if covered[t]:
                y = py + t // span - 2 * radius
                x = px + t % span - 2 * radius
                if column_of[y * width + x] >= 0:
                    total += 1
        counts[r + 1] = total
    return counts


@njit(cache=True, parallel=True)
def _fill_rows(image, rows, radius, window_id, coef, column_of, known_alpha, indptr,
               indices, data, rhs):
    """Gather each row from its windows; columns without a column index go to ``rhs``.

    rhs[r] = -sum_j L_ij alpha_j over the pixels j with column_of[j] < 0 (the known ones).
    """
    height, width, _ = image.shape
    span = 4 * radius + 1
    for r in prange(rows.shape[0]):
        values = np.zeros(span * span)
        covered = np.empty(span * span, dtype=np.bool_)
        _row_template(rows, r, width, height, radius, window_id, covered)
        pixel = rows[r]
        py = pixel // width
        px = pixel % width
        i0 = image[py, px, 0]
        i1 = image[py, px, 1]
        i2 = image[py, px, 2]
        centre = 2 * radius * span + 2 * radius
        for cy in range(max(py - radius, radius), min(py + radius, height - 1 - radius) + 1):
            for cx in range(max(px - radius, radius), min(px + radius, width - 1 - radius) + 1):
                k = window_id[cy * width + cx]
                if k < 0:
                    continue
                u0 = i0 - coef[k, 0]
                u1 = i1 - coef[k, 1]
                u2 = i2 - coef[k, 2]
                # s u_i, a . u_i and c: q(i, j) = base + v . u_j
                v0 = coef[k, 3] * u0 + coef[k, 4] * u1 + coef[k, 5] * u2 + coef[k, 9]
                v1 = coef[k, 4] * u0 + coef[k, 6] * u1 + coef[k, 7] * u2 + coef[k, 10]
                v2 = coef[k, 5] * u0 + coef[k, 7] * u1 + coef[k, 8] * u2 + coef[k, 11]
                base = coef[k, 12] + coef[k, 9] * u0 + coef[k, 10] * u1 + coef[k, 11] * u2
                values[centre] += 1.0
                for y in range(cy - radius, cy + radius + 1):
                    for x in range(cx - radius, cx + radius + 1):
                        q = (base + v0 * (image[y, x, 0] - coef[k, 0])
                             + v1 * (image[y, x, 1] - coef[k, 1])
                             + v2 * (image[y, x, 2] - coef[k, 2]))
                        values[(y - py + 2 * radius) * span + (x - px + 2 * radius)] -= q
        out = indptr[r]
        known_sum = 0.0
        for t in range(span * span):
            if not covered[t]:
                continue
            j = (py + t // span - 2 * radius) * width + (px + t % span - 2 * radius)
            column = column_of[j]
            if column >= 0:
                indices[out] = column
                data[out] = values[t]
                out += 1
            else:
                known_sum += values[t] * known_alpha[j]
        rhs[r] = -known_sum


def window_centres(needed: np.ndarray, radius: int) -> np.ndarray:
    """Flat indices of the full windows (inside the image) that touch a ``needed`` pixel."""
    from scipy import ndimage

    height, width = needed.shape
    size = 2 * radius + 1
    touched = ndimage.binary_dilation(needed, structure=np.ones((size, size), bool))
    inside = np.zeros_like(touched)
    inside[radius : height - radius, radius : width - radius] = True
    return np.flatnonzero(touched & inside).astype(np.int64)


def _window_forms(image, needed, radius, kind, epsilon):
    """Window-id map (-1 where a window is not used) and the forms of the used windows."""
    height, width, _ = image.shape
    centres = window_centres(needed, radius)
    window_id = np.full(height * width, -1, dtype=np.int32)
    window_id[centres] = np.arange(centres.size, dtype=np.int32)
    if kind == "cf":
        coef = cf_coefficients(image, centres, radius, float(epsilon))
    elif kind == "lbdm":
        coef = lbdm_coefficients(image, centres, radius, float(epsilon))
    else:
        raise ValueError(f"unknown window Laplacian {kind!r}; use 'cf' or 'lbdm'")
    return window_id, coef


def _gather(image, rows, radius, window_id, coef, column_of, known_alpha, n_columns):
    import scipy.sparse

    height, width, _ = image.shape
    indptr = np.cumsum(_count_entries(rows, width, height, radius, window_id, column_of))
    nnz = int(indptr[-1])
    index_type = np.int32 if max(nnz, n_columns) < 2**31 - 1 else np.int64
    indices = np.empty(nnz, dtype=index_type)
    data = np.empty(nnz)
    rhs = np.empty(rows.size)
    _fill_rows(image, rows, radius, window_id, coef, column_of, known_alpha, indptr,
               indices, data, rhs)
    matrix = scipy.sparse.csr_matrix((data, indices, indptr.astype(index_type)),
                                     shape=(rows.size, n_columns))
    matrix.has_sorted_indices = True
    return matrix, rhs


def fits_window(shape: tuple[int, ...], radius: int) -> bool:
    """Whether at least one full (2r+1) x (2r+1) window fits in an image of ``shape``."""
    return shape[0] >= 2 * radius + 1 and shape[1] >= 2 * radius + 1


def window_laplacian(
    image: np.ndarray,
    needed: np.ndarray | None = None,
    *,
    kind: str = "cf",
    radius: int = 1,
    epsilon: float = 1e-7,
):
    """The ``kind`` ("cf" or "lbdm") window Laplacian (N x N CSR) from windows touching ``needed``.

    With ``needed=None`` every window is used and the result is the full Laplacian. It is the
    sum of the blocks of the windows used, so it is symmetric; rows of needed pixels are exact,
    rows of other pixels miss the windows that do not touch a needed pixel.
    """
    import scipy.sparse

    image = np.ascontiguousarray(image, dtype=np.float64)
    height, width, _ = image.shape
    size = height * width
    if needed is None:
        needed = np.ones((height, width), dtype=bool)
    if not fits_window(image.shape, radius):
        return scipy.sparse.csr_matrix((size, size))
    window_id, coef = _window_forms(image, needed, radius, kind, epsilon)
    touched = np.zeros(size, dtype=bool)
    if coef.shape[0]:
        from scipy import ndimage

        touched = ndimage.binary_dilation(
            (window_id >= 0).reshape(height, width), structure=np.ones((2 * radius + 1,) * 2, bool)
        ).ravel()
    rows = np.flatnonzero(touched).astype(np.int64)
    column_of = np.arange(size, dtype=np.int64)
    part, _ = _gather(image, rows, radius, window_id, coef, column_of, np.zeros(size), size)
    indptr = np.zeros(size + 1, dtype=part.indptr.dtype)
    np.add.at(indptr, rows + 1, np.diff(part.indptr))
    np.cumsum(indptr, out=indptr)
    matrix = scipy.sparse.csr_matrix((part.data, part.indices, indptr), shape=(size, size))
    matrix.has_sorted_indices = True
    return matrix


def matting_laplacian(
    image: np.ndarray,
    needed: np.ndarray | None = None,
    *,
    radius: int = 1,
    epsilon: float = 1e-7,
):
    """The matting Laplacian of Levin et al. (N x N, CSR) from every window touching ``needed``.

    With ``needed=None`` every window is used and the result is the full Laplacian. Rows of
    needed pixels are exact; other rows may miss windows and must not be relied upon.
    """
    return window_laplacian(image, needed, kind="cf", radius=radius, epsilon=epsilon)


def unknown_system(
    image: np.ndarray,
    trimap: np.ndarray,
    *,
    kind: str = "cf",
    radius: int = 1,
    epsilon: float = 1e-7,
):
    """The reduced system L_UU a_U = -L_UK a_K of a window Laplacian, built directly.

    Returns ``(matrix, rhs, unknown)``: the CSR matrix over the unknown pixels (columns in the
    order of ``unknown``, the flat indices of the pixels with trimap == 0.5) and its right-hand
    side. The image must hold at least one full window (see :func:`fits_window`).
    """
    image = np.ascontiguousarray(image, dtype=np.float64)
    flat = np.ascontiguousarray(trimap, dtype=np.float64).ravel()
    unknown_mask = flat == 0.5
    unknown = np.flatnonzero(unknown_mask).astype(np.int64)
    window_id, coef = _window_forms(image, unknown_mask.reshape(trimap.shape), radius, kind, epsilon)
    column_of = np.full(flat.size, -1, dtype=np.int64)
    column_of[unknown] = np.arange(unknown.size)
    known_alpha = np.where(unknown_mask, 0.0, flat)
    matrix, rhs = _gather(image, unknown, radius, window_id, coef, column_of, known_alpha, unknown.size)
    return matrix, rhs, unknown


def grid_laplacian(shape: tuple[int, int]):
    """The 4-neighbour graph Laplacian of an image grid (unit weights), N x N CSR.

    Used where an image is too small to hold one matting window: it makes the solution the
    harmonic interpolation of the known pixels.
    """
    import scipy.sparse

    height, width = shape[:2]
    index = np.arange(height * width).reshape(height, width)
    pairs = [(index[:, :-1].ravel(), index[:, 1:].ravel()), (index[:-1, :].ravel(), index[1:, :].ravel())]
    a = np.concatenate([p[0] for p in pairs])
    b = np.concatenate([p[1] for p in pairs])
    size = height * width
    weights = scipy.sparse.csr_matrix(
        (np.ones(2 * a.size), (np.concatenate([a, b]), np.concatenate([b, a]))), shape=(size, size)
    )
    degree = np.asarray(weights.sum(axis=1)).ravel()
    return (scipy.sparse.diags(degree) - weights).tocsr()
