"""Sparse symmetric positive (semi-)definite solvers shared by the propagation-based methods."""

from __future__ import annotations

import numpy as np


def solve_spd(matrix, rhs: np.ndarray, *, tol: float = 1e-7, max_iter: int = 10000,
              method: str = "auto") -> np.ndarray:
    """Solve ``matrix @ x = rhs`` for a sparse symmetric positive definite ``matrix``.

    ``method``: "direct" (sparse Cholesky-like LU factorisation, exact), "cg" (conjugate
    gradient with a Jacobi preconditioner) or "auto" (direct below 300k unknowns).
    """
    import scipy.sparse
    import scipy.sparse.linalg

    n = matrix.shape[0]
    if n == 0:
        return np.zeros(0)
    if method == "auto":
        method = "direct" if n <= 300_000 else "cg"
    if method == "direct":
        return scipy.sparse.linalg.spsolve(matrix.tocsc(), rhs)
    if method == "cg":
        diagonal = matrix.diagonal()
        inverse = np.where(diagonal > 0, 1.0 / np.maximum(diagonal, 1e-300), 1.0)
        preconditioner = scipy.sparse.diags(inverse)
        x, _ = scipy.sparse.linalg.cg(matrix, rhs, rtol=tol, maxiter=max_iter, M=preconditioner)
        return x
    raise ValueError(f"unknown linear solver {method!r}; use 'direct', 'cg' or 'auto'")
