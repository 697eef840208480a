"""Machinery shared by the propagation solvers: solving a Laplacian for the unknown pixels only."""

from __future__ import annotations

import numpy as np

from .linear import solve_spd

UNKNOWN = 0.5


def trivial_alpha(trimap: np.ndarray) -> np.ndarray | None:
    """The alpha when there is nothing to solve (no unknown pixel), else None."""
    if not np.any(trimap == UNKNOWN):
        return trimap.astype(np.float64, copy=True)
    return None


def solve_for_unknowns(laplacian, trimap: np.ndarray, *, ridge: float = 1e-10,
                       linear_solver: str = "auto") -> np.ndarray:
    """Minimise a^T L a with the known pixels of ``trimap`` held fixed.

    The optimum satisfies L_UU a_U = -L_UK a_K (the limit lambda -> infinity of Levin et al.'s
    soft constraint), a system over the unknown pixels only. A tiny ridge keeps it definite
    when an unknown pixel sits in no window (images a few pixels wide).
    """
    import scipy.sparse

    flat = trimap.ravel()
    unknown = np.flatnonzero(flat == UNKNOWN)
    known = np.flatnonzero(flat != UNKNOWN)
    rows = laplacian[unknown]
    system = rows[:, unknown] + ridge * scipy.sparse.identity(unknown.size, format="csr")
    rhs = -(rows[:, known] @ flat[known])
    alpha = flat.astype(np.float64, copy=True)
    alpha[unknown] = np.clip(solve_spd(system.tocsr(), rhs, method=linear_solver), 0.0, 1.0)
    return alpha.reshape(trimap.shape)
