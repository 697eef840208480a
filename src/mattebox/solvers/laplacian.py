"""The matting Laplacian of Levin, Lischinski and Weiss (2008), built only where it is needed.

For each (2r+1) x (2r+1) window w_k with colour mean mu_k and covariance Sigma_k,

    L_ij = sum_{k: i,j in w_k} ( delta_ij - (1 + (I_i - mu_k)^T (Sigma_k + eps/|w_k| I_3)^-1
                                              (I_j - mu_k)) / |w_k| )      (Levin et al., Eq. 12)

Only the rows of unknown pixels enter the linear system, so only windows that contain an
unknown pixel are visited: a thin unknown band costs a fraction of the full image.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, parallel=True)
def _window_blocks(image, centres, radius, epsilon):
    """For each window centre, the |w| x |w| block of Eq. 12 (without the delta term)."""
    height, width, _ = image.shape
    size = 2 * radius + 1
    n = size * size
    count = centres.shape[0]
    values = np.empty((count, n, n))
    for c in prange(count):
        cy = centres[c] // width
        cx = centres[c] % width
        patch = np.empty((n, 3))
        t = 0
        for dy in range(-radius, radius + 1):
            for dx in range(-radius, radius + 1):
                for ch in range(3):
                    patch[t, ch] = image[cy + dy, cx + dx, ch]
                t += 1
        mean = np.zeros(3)
        for t in range(n):
            for ch in range(3):
                mean[ch] += patch[t, ch]
        mean /= n
        cov = np.zeros((3, 3))
        for t in range(n):
            for a in range(3):
                for b in range(3):
                    cov[a, b] += (patch[t, a] - mean[a]) * (patch[t, b] - mean[b])
        cov /= n
        for a in range(3):
            cov[a, a] += epsilon / n
        inv = np.linalg.inv(cov)
        for t in range(n):
            for ch in range(3):
                patch[t, ch] -= mean[ch]
        projected = patch @ inv
        for i in range(n):
            for j in range(n):
                dot = 0.0
                for ch in range(3):
                    dot += projected[i, ch] * patch[j, ch]
                values[c, i, j] = (1.0 + dot) / n
    return values


def window_centres(needed: np.ndarray, radius: int) -> np.ndarray:
    """Flat indices of the full windows (inside the image) that touch a ``needed`` pixel."""
    from scipy import ndimage

    height, width = needed.shape
    size = 2 * radius + 1
    touched = ndimage.binary_dilation(needed, structure=np.ones((size, size), bool))
    inside = np.zeros_like(touched)
    inside[radius : height - radius, radius : width - radius] = True
    return np.flatnonzero(touched & inside).astype(np.int64)


def matting_laplacian(
    image: np.ndarray,
    needed: np.ndarray | None = None,
    *,
    radius: int = 1,
    epsilon: float = 1e-7,
):
    """The matting Laplacian (N x N, CSR) from every window that touches a ``needed`` pixel.

    With ``needed=None`` every window is used and the result is the full Laplacian. Rows of
    needed pixels are exact; other rows may miss windows and must not be relied upon.
    """
    import scipy.sparse

    height, width, _ = image.shape
    if needed is None:
        needed = np.ones((height, width), dtype=bool)
    if height < 2 * radius + 1 or width < 2 * radius + 1:
        return scipy.sparse.csr_matrix((height * width, height * width))
    centres = window_centres(needed, radius)
    blocks = _window_blocks(np.ascontiguousarray(image, dtype=np.float64), centres, radius, epsilon)
    offsets = (np.arange(-radius, radius + 1)[:, None] * width + np.arange(-radius, radius + 1)[None, :]).ravel()
    members = centres[:, None] + offsets[None, :]  # count x n pixel indices
    n = offsets.size
    rows = np.repeat(members, n, axis=1).ravel()
    cols = np.tile(members, (1, n)).ravel()
    affinity = scipy.sparse.csr_matrix(
        (blocks.ravel(), (rows, cols)), shape=(height * width, height * width)
    )
    degree = np.zeros(height * width)
    np.add.at(degree, members.ravel(), 1.0)  # sum over windows of delta_ij = window count
    return (scipy.sparse.diags(degree) - affinity).tocsr()
