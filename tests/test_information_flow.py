"""Information-flow matting: its building blocks on hand-checkable cases, then the solver."""

import numpy as np
import pytest
from conftest import closed_form_on_plant_crop, make_composite, one_pixel_band

from mattebox.registry import get_method
from mattebox.solvers import information_flow as ifm


def unknown_error(alpha, truth, trimap):
    return float(np.abs(alpha - truth)[trimap == 0.5].mean())


def test_registered_under_its_name_and_alias():
    assert get_method("ifm").fn is ifm.estimate_alpha_ifm
    assert get_method("information-flow").fn is ifm.estimate_alpha_ifm


def test_lle_weights_sum_to_one_and_rebuild_a_point_inside_its_neighbours():
    # p = (0.25, 0.25, 0.25) is 1/4 (1,1,1)/... : the mix 0.75 * black + 0.25 * white.
    colours = np.array([[0.25, 0.25, 0.25], [0, 0, 0], [1, 1, 1], [0, 0, 0], [1, 1, 1.0]])
    weights = ifm._lle_weights(colours, np.array([0]), np.array([[1, 2, 3, 4]]), 1e-10)[0]
    assert weights.sum() == pytest.approx(1.0)
    assert weights @ colours[1:] == pytest.approx(colours[0], abs=1e-6)
    # Identical neighbours share the weight equally (minimum-norm solution).
    assert weights == pytest.approx([0.375, 0.125, 0.375, 0.125], abs=1e-6)


def test_lle_weights_are_uniform_when_all_neighbours_equal_the_pixel():
    colours = np.full((4, 3), 0.5)
    weights = ifm._lle_weights(colours, np.array([0]), np.array([[1, 2, 3]]), 1e-10)[0]
    assert weights == pytest.approx([1 / 3] * 3)


def test_flow_operator_applies_b_plus_mt_m_whatever_the_thread_count():
    import numba
    import scipy.sparse

    rng = np.random.default_rng(5)
    n = 301  # not a multiple of the row blocks
    b = scipy.sparse.random(n, n, density=0.03, random_state=1, format="csr")
    b = (b + b.T + scipy.sparse.diags(rng.random(n) + 1.0)).tocsr()
    m = scipy.sparse.random(n, n, density=0.05, random_state=2, format="csr")
    x = rng.random(n)
    expected = b @ x + m.T @ (m @ x)
    operator = ifm.FlowOperator(b, m)
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = operator(x).copy()
        numba.set_num_threads(threads)
        many = operator(x).copy()
    finally:
        numba.set_num_threads(threads)
    assert np.allclose(one, expected, rtol=1e-5, atol=1e-5)
    assert np.array_equal(one, many)
    # Without a colour-mixture matrix: B alone.
    assert np.allclose(ifm.FlowOperator(b)(x), b @ x, rtol=1e-5, atol=1e-5)


def test_nearest_neighbors_never_returns_the_query_itself():
    features = np.array([[0.0], [0.0], [0.1], [0.3], [1.0]])
    found = ifm.nearest_neighbors(features, np.arange(5), np.array([0, 1]), 2)
    assert sorted(found[0]) == [1, 2] and sorted(found[1]) == [0, 2]
    # Disjoint candidates: the k nearest of them.
    found = ifm.nearest_neighbors(features, np.array([3, 4]), np.array([2]), 1)
    assert found.tolist() == [[3]]


def test_pixel_features_scale_coordinates_by_width_and_height():
    features = ifm.pixel_features(np.zeros((2, 4, 3)), 10.0)
    assert features.shape == (8, 5)
    assert features[7, 3:].tolist() == [10.0 * 3 / 4, 10.0 * 1 / 2]


def test_intra_unknown_laplacian_is_symmetric_with_zero_row_sums():
    image, _, _, _, trimap = make_composite(24, 32)
    unknown = np.flatnonzero(trimap.ravel() == 0.5)
    lap = ifm.intra_unknown_laplacian(image, unknown, 5, 0.05)
    assert abs(lap - lap.T).max() < 1e-12
    assert np.abs(np.asarray(lap.sum(axis=1))).max() < 1e-12
    assert (lap.diagonal() > 0).all()


def test_known_to_unknown_estimates_alpha_of_a_two_colour_mix():
    # Foreground red, background blue, unknown pixels 30% red: w^F = 0.3, confident.
    image = np.zeros((3, 8, 3))
    image[:, :3, 2] = 1.0
    image[:, 5:, 0] = 1.0
    image[:, 3:5] = [0.3, 0.0, 0.7]
    trimap = np.zeros((3, 8))
    trimap[:, 5:] = 1.0
    trimap[:, 3:5] = 0.5
    unknown = np.flatnonzero(trimap.ravel() == 0.5)
    weight_f, confidence = ifm.known_to_unknown(image, trimap, unknown, 7, 10.0, 1e-10)
    assert weight_f == pytest.approx(np.full(6, 0.3), abs=1e-6)
    assert confidence == pytest.approx(np.full(6, (0.3**2 + 0.7**2) / 3), abs=1e-6)


def test_transparency_test_separates_mixtures_from_new_colours():
    # Unknown pixels take the foreground's and the background's colours: well explained.
    image = np.zeros((20, 20, 3))
    image[:, :10] = [0.1, 0.2, 0.9]
    image[:, 10:] = [0.9, 0.3, 0.1]
    trimap = np.zeros((20, 20))
    trimap[:, 12:] = 1.0
    trimap[:, 7:12] = 0.5
    assert not ifm.is_highly_transparent(image, trimap)
    # Unknown pixels of a colour neither layer has: poorly explained, highly transparent.
    image[:, 7:12] = [0.5, 0.95, 0.5]
    assert ifm.is_highly_transparent(image, trimap)


def test_conjugate_gradient_solves_a_small_spd_system():
    rng = np.random.default_rng(1)
    basis = rng.normal(size=(30, 30))
    matrix = basis @ basis.T + 30 * np.eye(30)
    rhs = rng.normal(size=30)
    x, iterations = ifm.conjugate_gradient(lambda v: matrix @ v, rhs, np.diag(matrix),
                                           np.zeros(30), tol=1e-10, max_iter=200)
    assert 0 < iterations <= 30 + 5
    assert x == pytest.approx(np.linalg.solve(matrix, rhs), abs=1e-8)


@pytest.mark.parametrize("use_ku", [None, False, True])
def test_recovers_synthetic_alpha(use_ku):
    image, alpha, _, _, trimap = make_composite()
    result = ifm.estimate_alpha_ifm(image, trimap, use_known_to_unknown=use_ku)
    assert result.shape == alpha.shape
    assert unknown_error(result, alpha, trimap) < 0.015  # measured 0.0084 (closed-form 0.0083)
    assert np.abs(result - alpha).max() < 0.1
    known = trimap != 0.5
    assert np.array_equal(result[known], trimap[known])


def test_deterministic():
    image, _, _, _, trimap = make_composite(seed=3)
    first = ifm.estimate_alpha_ifm(image, trimap)
    assert np.array_equal(first, ifm.estimate_alpha_ifm(image, trimap))


def test_no_unknown_pixels_returns_the_trimap():
    trimap = np.zeros((5, 6))
    trimap[:, 3:] = 1.0
    result = ifm.estimate_alpha_ifm(np.random.default_rng(0).random((5, 6, 3)), trimap)
    assert np.array_equal(result, trimap)


def test_tiny_images():
    image = np.zeros((3, 3, 3))
    image[:, 2] = 1.0
    image[1, 1] = 0.5  # half-way between the dark and bright columns
    trimap = np.zeros((3, 3))
    trimap[:, 2] = 1.0
    trimap[1, 1] = 0.5
    result = ifm.estimate_alpha_ifm(image, trimap)
    assert result[1, 1] == pytest.approx(0.5, abs=0.05)

    ramp = np.linspace(0, 1, 6)
    image = np.repeat(ramp[None, :, None], 3, axis=2)
    trimap = np.array([[0.0, 0.5, 0.5, 0.5, 0.5, 1.0]])
    result = ifm.estimate_alpha_ifm(image, trimap)
    assert np.all(np.isfinite(result)) and result.shape == (1, 6)
    assert np.all(np.diff(result[0]) >= -1e-9)  # monotone between the ends
    assert result[0, 1:5] == pytest.approx(ramp[1:5], abs=0.1)


@pytest.mark.parametrize("value", [0, 0.0, -1e-10])
def test_lle_regulariser_must_be_positive(value):
    """At 0 the Gram matrix of a flat neighbourhood is singular: once a ZeroDivisionError
    inside Numba (surfacing as a SystemError), now refused up front."""
    from mattebox.errors import InputError

    image = np.zeros((8, 8, 3))
    image[:, 4:] = 1.0
    trimap = np.full((8, 8), 0.5)
    trimap[:, 0], trimap[:, -1] = 0.0, 1.0
    with pytest.raises(InputError, match="lle_regulariser must be a finite number > 0"):
        ifm.estimate_alpha_ifm(image, trimap, lle_regulariser=value)
    tiny = ifm.estimate_alpha_ifm(image, trimap, lle_regulariser=1e-300)
    assert np.isfinite(tiny).all()


def test_one_pixel_unknown_band():
    image, alpha, trimap = one_pixel_band()
    result = ifm.estimate_alpha_ifm(image, trimap)
    assert unknown_error(result, alpha, trimap) < 0.02  # measured 0.008


def test_beats_closed_form_on_a_real_crop(dev_set):
    # A 160 x 160 crop of the plant (GT13): measured SAD ifm 0.50, closed-form 1.19.
    from mattebox.metrics import sad

    image, trimap, truth, closed_form = closed_form_on_plant_crop(dev_set)
    assert sad(ifm.estimate_alpha_ifm(image, trimap), truth, trimap) < 0.7 * closed_form
