"""Window Laplacians (closed-form, learning-based), the reduced system and the linear solvers."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse

from mattebox.solvers import linear
from mattebox.solvers.laplacian import (
    grid_laplacian,
    matting_laplacian,
    unknown_system,
    window_laplacian,
)


def random_image(height=9, width=11, seed=0):
    return np.random.default_rng(seed).random((height, width, 3))


def levin_window_block(colours: np.ndarray, epsilon: float) -> np.ndarray:
    """Levin et al. Eq. 12 for one window, written out densely."""
    n = colours.shape[0]
    mean = colours.mean(axis=0)
    centred = colours - mean
    covariance = centred.T @ centred / n
    inverse = np.linalg.inv(covariance + epsilon / n * np.eye(3))
    return np.eye(n) - (1.0 + centred @ inverse @ centred.T) / n


def lbdm_window_block(colours: np.ndarray, regulariser: float) -> np.ndarray:
    """Zheng and Kambhamettu: (I - F)^T (I - F), F = X (X^T X + lambda I)^-1 X^T, X = [I, 1]."""
    x = np.hstack([colours, np.ones((colours.shape[0], 1))])
    f = x @ np.linalg.solve(x.T @ x + regulariser * np.eye(4), x.T)
    residual = np.eye(colours.shape[0]) - f
    return residual.T @ residual


@pytest.mark.parametrize("kind, block", [("cf", levin_window_block), ("lbdm", lbdm_window_block)])
def test_single_window_matches_the_dense_formula(kind, block):
    image = random_image(3, 3)
    laplacian = window_laplacian(image, kind=kind, epsilon=1e-3).toarray()
    np.testing.assert_allclose(laplacian, block(image.reshape(9, 3), 1e-3), atol=1e-9)


def test_two_windows_add_up():
    image = random_image(3, 4, seed=3)
    laplacian = matting_laplacian(image, epsilon=1e-4).toarray()
    expected = np.zeros((12, 12))
    index = np.arange(12).reshape(3, 4)
    for left in (0, 1):
        members = index[:, left:left + 3].ravel()
        expected[np.ix_(members, members)] += levin_window_block(image.reshape(-1, 3)[members], 1e-4)
    np.testing.assert_allclose(laplacian, expected, atol=1e-9)


def test_cf_laplacian_is_symmetric_with_zero_row_sums():
    laplacian = matting_laplacian(random_image(), epsilon=1e-7)
    assert abs(laplacian - laplacian.T).max() < 1e-9 * abs(laplacian).max()
    np.testing.assert_allclose(np.asarray(laplacian.sum(axis=1)).ravel(), 0.0, atol=1e-6)


def test_lbdm_laplacian_is_symmetric_positive_semidefinite():
    laplacian = window_laplacian(random_image(6, 7), kind="lbdm", epsilon=1e-7).toarray()
    np.testing.assert_allclose(laplacian, laplacian.T, atol=1e-9)
    assert np.linalg.eigvalsh(laplacian).min() > -1e-8
    # Constants are predicted exactly up to the ridge: rows sum to (almost) zero.
    assert np.abs(laplacian.sum(axis=1)).max() < 1e-4


def test_needed_rows_are_exact():
    image = random_image()
    needed = np.zeros((9, 11), bool)
    needed[4, 2:6] = True
    full = matting_laplacian(image)
    partial = matting_laplacian(image, needed)
    rows = np.flatnonzero(needed)
    assert abs(full[rows] - partial[rows]).max() < 1e-9
    assert partial.nnz < full.nnz


def test_unknown_system_equals_sliced_laplacian():
    image = random_image(10, 12, seed=1)
    trimap = np.zeros((10, 12))
    trimap[:, 6:] = 1.0
    trimap[2:8, 3:9] = 0.5
    matrix, rhs, unknown = unknown_system(image, trimap, kind="lbdm")
    laplacian = window_laplacian(image, trimap == 0.5, kind="lbdm")
    flat = trimap.ravel()
    known = np.flatnonzero(flat != 0.5)
    np.testing.assert_array_equal(unknown, np.flatnonzero(flat == 0.5))
    assert abs(matrix - laplacian[unknown][:, unknown]).max() < 1e-9
    np.testing.assert_allclose(rhs, -(laplacian[unknown][:, known] @ flat[known]), atol=1e-9)


def test_matches_pymatting_cf_laplacian():
    pytest.importorskip("pymatting")
    from pymatting.laplacian.cf_laplacian import cf_laplacian

    image = random_image(8, 10, seed=2)
    ours = matting_laplacian(image, epsilon=1e-7)
    theirs = cf_laplacian(image, epsilon=1e-7, radius=1)
    assert abs(ours - theirs).max() < 1e-6 * abs(theirs).max()


def test_grid_laplacian_of_a_row():
    laplacian = grid_laplacian((1, 4)).toarray()
    expected = np.array([[1, -1, 0, 0], [-1, 2, -1, 0], [0, -1, 2, -1], [0, 0, -1, 1]])
    np.testing.assert_array_equal(laplacian, expected)


def poisson_matrix(side: int):
    """2-D 5-point Laplacian plus a small diagonal: SPD, with a known condition."""
    one = scipy.sparse.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(side, side))
    eye = scipy.sparse.identity(side)
    return (scipy.sparse.kron(one, eye) + scipy.sparse.kron(eye, one) + 1e-3 * scipy.sparse.identity(side**2)).tocsr()


@pytest.mark.parametrize("method", ["ichol", "cg", "direct", "auto"])
def test_solve_spd_methods_agree(method):
    matrix = poisson_matrix(60)
    expected = np.random.default_rng(0).random(3600)
    rhs = matrix @ expected
    solution = linear.solve_spd(matrix, rhs, method=method, tol=1e-10)
    np.testing.assert_allclose(solution, expected, atol=1e-5)


def test_incomplete_cholesky_without_dropping_is_exact():
    matrix = poisson_matrix(7)
    scaled, _ = linear._unit_diagonal(matrix)
    by_rows, by_columns, shift = linear.incomplete_cholesky(scaled, drop_tol=0.0)
    colptr, rows, values = by_columns
    factor = scipy.sparse.csc_matrix((values.astype(np.float64), rows, colptr), shape=matrix.shape)
    assert shift == 0.0
    np.testing.assert_allclose((factor @ factor.T).toarray(), scaled.toarray(), atol=1e-5)


def test_incomplete_cholesky_respects_the_fill_cap():
    matrix = poisson_matrix(40)
    scaled, _ = linear._unit_diagonal(matrix)
    _, by_columns, _ = linear.incomplete_cholesky(scaled, drop_tol=0.0, max_fill=2.0)
    assert by_columns[1].size <= 2.0 * (scaled.nnz + scaled.shape[0]) // 2


def test_unknown_solver_name_is_refused():
    with pytest.raises(ValueError, match="unknown linear solver"):
        linear.solve_spd(poisson_matrix(3), np.ones(9), method="magic")
