"""Global sampling matting: the cost function and sample sets by hand, then the solver."""

import numpy as np
import pytest
from conftest import closed_form_on_plant_crop, make_composite, one_pixel_band

from mattebox.registry import get_method
from mattebox.solvers import global_sampling as gs


def unknown_error(alpha, truth, trimap):
    return float(np.abs(alpha - truth)[trimap == 0.5].mean())


def test_registered_under_its_name_and_alias():
    assert get_method("global").fn is gs.estimate_alpha_global
    assert get_method("global-sampling").fn is gs.estimate_alpha_global


def test_pair_cost_follows_equations_2_to_5():
    white, black = np.ones(3), np.zeros(3)
    # I exactly between F and B: alpha 1/2, perfect fit; F 3 px away with D_F = 1, B 4 px
    # away with D_B = 2: eps = w * 0 + 3 + 2.
    cost, alpha, fit = gs._pair_cost(np.full(3, 0.5), 0, 0, white, np.array([3, 0]), black,
                                     np.array([0, 4]), 1.0, 2.0, 255.0)
    assert (alpha, fit, cost) == pytest.approx((0.5, 0.0, 5.0))
    # I off the F-B line: alpha from the projection, fit the distance to the line.
    cost, alpha, fit = gs._pair_cost(np.array([0.5, 0.5, 0.8]), 0, 0, white, np.array([0, 0]),
                                     black, np.array([0, 0]), 1.0, 1.0, 2.0)
    assert alpha == pytest.approx(0.6)
    assert fit == pytest.approx(np.linalg.norm([0.5, 0.5, 0.8] - np.full(3, 0.6)))
    assert cost == pytest.approx(2.0 * fit)
    # Projection beyond F clips alpha to 1.
    _, alpha, _ = gs._pair_cost(np.full(3, 1.2), 0, 0, white, np.zeros(2), black, np.zeros(2),
                                1.0, 1.0, 1.0)
    assert alpha == 1.0


def test_random_numbers_are_uniform_and_reproducible():
    draws = np.array([gs._uniform(7, p, 1, 0) for p in range(4000)])
    assert draws.min() >= 0.0 and draws.max() < 1.0
    assert abs(draws.mean() - 0.5) < 0.02
    assert gs._uniform(7, 3, 1, 0) == gs._uniform(7, 3, 1, 0) != gs._uniform(8, 3, 1, 0)


def test_sample_set_is_the_known_boundary_or_the_whole_layer():
    unknown = np.zeros((4, 5), bool)
    unknown[1:3, 2] = True
    layer = np.zeros((4, 5), bool)
    layer[:, 3:] = True
    expected = np.zeros((4, 5), bool)
    expected[1:3, 3] = True
    assert np.array_equal(gs.sample_set(layer, unknown), expected)
    far = np.zeros((4, 5), bool)
    far[:, 4] = True  # touches no unknown pixel: every pixel of the layer is a sample
    assert np.array_equal(gs.sample_set(far, unknown), far)


def test_search_finds_the_exact_pair_among_many():
    # Two-colour image: every unknown pixel is 0.3 red + 0.7 blue, samples of many shades.
    rng = np.random.default_rng(0)
    image = rng.uniform(0.0, 1.0, (20, 20, 3))
    trimap = np.full((20, 20), 0.5)
    trimap[:, :3], trimap[:, 17:] = 0.0, 1.0
    image[:, 2] = [0.0, 0.0, 1.0]  # the true background on the boundary
    image[:, 17] = [1.0, 0.0, 0.0]  # the true foreground on the boundary
    image[:, 3:17] = [0.3, 0.0, 0.7]
    raw, fit = gs.sampled_alpha(image, trimap)
    unknown = trimap == 0.5
    assert raw[unknown] == pytest.approx(0.3, abs=1e-9)
    assert fit[unknown].max() < 1e-9


@pytest.mark.parametrize("smooth, bound", [(True, 0.015), (False, 0.025)])
def test_recovers_synthetic_alpha(smooth, bound):
    image, alpha, _, _, trimap = make_composite()
    result = gs.estimate_alpha_global(image, trimap, smooth=smooth)
    assert unknown_error(result, alpha, trimap) < bound  # measured 0.0083 / 0.0145
    known = trimap != 0.5
    assert np.array_equal(result[known], trimap[known])


def test_deterministic_given_a_seed():
    image, _, _, _, trimap = make_composite(seed=2)
    first = gs.estimate_alpha_global(image, trimap, seed=5, smooth=False)
    assert np.array_equal(first, gs.estimate_alpha_global(image, trimap, seed=5, smooth=False))
    smoothed = gs.estimate_alpha_global(image, trimap, seed=5)
    assert np.array_equal(smoothed, gs.estimate_alpha_global(image, trimap, seed=5))


def test_no_unknown_pixels_returns_the_trimap():
    trimap = np.zeros((5, 6))
    trimap[:, 3:] = 1.0
    result = gs.estimate_alpha_global(np.random.default_rng(0).random((5, 6, 3)), trimap)
    assert np.array_equal(result, trimap)


def test_missing_layer_gives_the_other_layer():
    trimap = np.full((4, 4), 0.5)
    trimap[0] = 0.0
    result = gs.estimate_alpha_global(np.random.default_rng(0).random((4, 4, 3)), trimap)
    assert np.array_equal(result, np.zeros((4, 4)))


def test_tiny_images():
    image = np.zeros((3, 3, 3))
    image[:, 2] = 1.0
    image[1, 1] = 0.5
    trimap = np.zeros((3, 3))
    trimap[:, 2] = 1.0
    trimap[1, 1] = 0.5
    assert gs.estimate_alpha_global(image, trimap)[1, 1] == pytest.approx(0.5, abs=0.05)

    ramp = np.linspace(0, 1, 6)
    image = np.repeat(ramp[None, :, None], 3, axis=2)
    trimap = np.array([[0.0, 0.5, 0.5, 0.5, 0.5, 1.0]])
    result = gs.estimate_alpha_global(image, trimap)
    assert result[0] == pytest.approx(ramp, abs=1e-6)  # each pixel is an exact F/B mix


def test_one_pixel_unknown_band():
    image, alpha, trimap = one_pixel_band()
    result = gs.estimate_alpha_global(image, trimap)
    assert unknown_error(result, alpha, trimap) < 0.02  # measured 0.008


def test_beats_closed_form_on_a_real_crop(dev_set):
    # A 160 x 160 crop of the plant (GT13): measured SAD global 0.52, closed-form 1.19.
    from mattebox.metrics import sad

    image, trimap, truth, closed_form = closed_form_on_plant_crop(dev_set)
    assert sad(gs.estimate_alpha_global(image, trimap), truth, trimap) < 0.7 * closed_form
