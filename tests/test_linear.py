"""The shared sparse solvers: row-block products and block smoothers run on two threads."""

from __future__ import annotations

import numba
import numpy as np
import pytest
import scipy.sparse

from conftest import make_composite
from mattebox.solvers import linear
from mattebox.solvers.closed_form import estimate_alpha_cf
from mattebox.solvers.knn import estimate_alpha_knn


def _laplacian_2d(side: int) -> scipy.sparse.csr_matrix:
    """A 5-point Laplacian plus identity: SPD, side^2 unknowns."""
    one = scipy.sparse.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(side, side))
    eye = scipy.sparse.identity(side)
    return (scipy.sparse.kron(one, eye) + scipy.sparse.kron(eye, one) + 0.1 * scipy.sparse.identity(side * side)).tocsr()


def test_row_blocks_multiply_like_the_matrix(monkeypatch):
    monkeypatch.setattr(linear, "PARALLEL_MIN_ROWS", 10)
    matrix = _laplacian_2d(30)
    blocks = linear.RowBlocks(matrix)
    assert len(blocks.blocks) == linear.PARTS
    x = np.random.default_rng(0).random(matrix.shape[0])
    assert np.array_equal(blocks @ x, matrix @ x)


def test_block_smoother_is_a_good_preconditioner(monkeypatch):
    monkeypatch.setattr(linear, "PARALLEL_MIN_ROWS", 10)
    matrix = _laplacian_2d(40)
    smoother = linear._IctSmoother(matrix, 1e-3)
    assert len(smoother.factors) == linear.PARTS
    rhs = np.random.default_rng(1).random(matrix.shape[0])
    x, iterations = linear.conjugate_gradients(linear.RowBlocks(matrix), rhs, smoother, tol=1e-10,
                                               max_iter=500)
    assert iterations > 0
    assert np.abs(matrix @ x - rhs).max() < 1e-8
    # the block-diagonal factor still cuts the iterations of plain CG by far
    _, plain = linear.conjugate_gradients(matrix, rhs, np.copy, tol=1e-10, max_iter=2000)
    assert iterations < plain / 2


@pytest.mark.parametrize("solver", [estimate_alpha_cf, estimate_alpha_knn])
def test_split_solves_do_not_depend_on_the_thread_count(monkeypatch, solver):
    monkeypatch.setattr(linear, "PARALLEL_MIN_ROWS", 500)
    image, alpha, _, _, trimap = make_composite(96, 128, seed=3)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        single = solver(image, trimap)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        double = solver(image, trimap)
    finally:
        numba.set_num_threads(before)
    assert np.array_equal(single, double)
    unknown = trimap == 0.5
    assert np.abs(single - alpha)[unknown].mean() < 0.05


def test_a_column_stored_twice_adds_up_in_the_incomplete_factor():
    """A CSR matrix may hold one (row, column) entry in several pieces, as scipy allows; the
    factor must read their sum and write nowhere past its arrays (it once wrote each piece to
    its own slot of an n-long buffer)."""
    canonical = _laplacian_2d(12) + scipy.sparse.identity(144, format="csr")
    halves = scipy.sparse.csr_matrix(_duplicated(canonical), shape=canonical.shape)
    assert halves.nnz == 2 * canonical.nnz
    rhs = np.random.default_rng(2).random(144)
    expected = linear.solve_spd(canonical, rhs, method="ichol", tol=1e-10)
    got = linear.solve_spd(halves, rhs, method="ichol", tol=1e-10)
    np.testing.assert_allclose(got, expected, atol=1e-8)
    one = linear.incomplete_cholesky(linear._unit_diagonal(canonical)[0])
    two = linear.incomplete_cholesky(linear._unit_diagonal(halves)[0])
    for a, b in zip(one[0] + one[1], two[0] + two[1]):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def _duplicated(matrix):
    """(data, indices, indptr) of ``matrix`` (CSR) with every stored entry split in two halves
    stored one after the other in its row (scipy keeps such duplicates as they are given)."""
    return np.repeat(matrix.data / 2, 2), np.repeat(matrix.indices, 2), matrix.indptr * 2


def test_solve_spd_refuses_a_matrix_with_a_zero_diagonal():
    matrix = scipy.sparse.csr_matrix((3, 3))
    with pytest.raises(ValueError, match="positive definite"):
        linear.solve_spd(matrix, np.ones(3), method="cg")
