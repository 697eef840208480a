"""Compositing, cut-outs and foreground colour estimation."""

import numpy as np
import pytest

from conftest import make_composite
from mattebox import compose
from mattebox.errors import InputError


def test_composite_equation_and_colour_background():
    fg = np.full((2, 2, 3), [1.0, 0.0, 0.0])
    alpha = np.array([[0.0, 0.25], [0.5, 1.0]])
    out = compose.composite(fg, alpha, "#0000ff")
    np.testing.assert_allclose(out[0, 1], [0.25, 0.0, 0.75])
    np.testing.assert_allclose(out[1, 1], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(compose.composite(fg, alpha, (0, 1, 0))[1, 0], [0.5, 0.5, 0.0])


def test_parse_colour_forms_and_errors():
    np.testing.assert_allclose(compose.parse_colour("#f00"), [1, 0, 0])
    np.testing.assert_allclose(compose.parse_colour("00ff80"), [0, 1, 128 / 255])
    with pytest.raises(InputError, match="#rrggbb"):
        compose.parse_colour("green-ish")
    with pytest.raises(InputError):
        compose.parse_colour((0, 2, 0))


def test_background_image_is_resized_to_cover_and_centre_cropped():
    back = np.zeros((10, 40, 3))
    back[:, 15:25] = 1.0  # a bright centre band
    covered = compose.cover_resize(back, (20, 20))
    assert covered.shape == (20, 20, 3)
    # scale 2 -> 20 x 80, centre crop columns 30..50 = source 15..25: all bright
    assert covered.mean() > 0.95


def test_cutout_straight_and_premultiplied():
    fg = np.full((1, 2, 3), 0.8)
    alpha = np.array([[0.5, 1.0]])
    straight = compose.cutout(fg, alpha)
    premultiplied = compose.cutout(fg, alpha, premultiplied=True)
    assert straight.shape == (1, 2, 4)
    np.testing.assert_allclose(straight[0, 0], [0.8, 0.8, 0.8, 0.5])
    np.testing.assert_allclose(premultiplied[0, 0], [0.4, 0.4, 0.4, 0.5])


@pytest.mark.parametrize("method,bound", [("ml", 0.03), ("cf", 0.03)])
def test_foreground_estimation_recovers_the_true_colours(method, bound):
    image, alpha, fg, bg, _ = make_composite(48, 64)
    fractional = (alpha > 0.1) & (alpha < 0.9)
    estimate, background = compose.estimate_foreground(image, alpha, method, return_background=True)
    error = np.abs(estimate - fg)[fractional].mean()
    assert error < bound, error
    assert error < 0.2 * np.abs(image - fg)[fractional].mean()  # far better than the raw image
    assert np.abs(background - bg)[fractional].mean() < bound
    # the estimate re-composes to the image
    recomposed = alpha[..., None] * estimate + (1 - alpha[..., None]) * background
    assert np.abs(recomposed - image)[fractional].mean() < 0.01


def test_foreground_estimation_unknown_method():
    with pytest.raises(InputError, match="ml"):
        compose.estimate_foreground(np.zeros((2, 2, 3)), np.zeros((2, 2)), "magic")


@pytest.mark.parametrize("method,options,match", [
    ("ml", {"radius": 3}, "unknown option.*'ml': radius; choose from big_iterations, "
                          "gradient_weight, regularization"),
    ("cf", {"small_size": 3}, "unknown option.*'cf': small_size; choose from max_iterations"),
    ("ml", {"small_size": "x"}, "small_size must be a whole number >= 0"),
    ("ml", {"small_iterations": -1}, "small_iterations must be a whole number >= 0 and <= 1000"),
    ("ml", {"big_iterations": 10**12}, "big_iterations must be a whole number >= 0 and <= 1000"),
    ("ml", {"regularization": float("nan")}, "regularization must be a finite number >= 0 and "
                                             "<= 1e\\+06"),
    ("ml", {"regularization": float("inf")}, "regularization"),
    ("ml", {"regularization": -1}, "regularization must be a finite number >= 0"),
    ("ml", {"regularization": 1e300}, "regularization must be a finite number >= 0 and <= 1e"),
    ("ml", {"gradient_weight": float("nan")}, "gradient_weight must be a finite number >= 0"),
    ("ml", {"return_background": "yes"}, "return_background must be True or False"),
    ("cf", {"max_iterations": "a"}, "max_iterations must be a whole number >= 1"),
    ("cf", {"regularization": 0}, "regularization must be a finite number > 0"),
    ("cf", {"regularization": float("nan")}, "regularization must be a finite number > 0"),
    ("cf", {"tolerance": 0}, "tolerance must be a finite number > 0 and < 1"),
])
def test_foreground_options_are_checked_before_any_work(method, options, match):
    image, alpha, *_ = make_composite(12, 16)
    with pytest.raises(InputError, match=match):
        compose.estimate_foreground(image, alpha, method, **options)


def test_foreground_methods_called_directly_check_their_options_too():
    image, alpha, *_ = make_composite(12, 16)
    with pytest.raises(InputError, match="gradient_weight"):
        compose.estimate_foreground_ml(image, alpha, gradient_weight=-1.0)
    with pytest.raises(InputError, match="regularization"):
        compose.estimate_foreground_cf(image, alpha, regularization=-1.0)
    with pytest.raises(InputError, match="unknown foreground method"):
        compose.estimate_foreground(image, alpha, ["ml"])


def test_foreground_options_at_the_ends_of_their_ranges_give_finite_colours():
    image, alpha, *_ = make_composite(12, 16)
    for method, options in [("ml", dict(regularization=0.0, gradient_weight=0.0, small_size=0,
                                        small_iterations=0, big_iterations=compose.MAX_SWEEPS)),
                            ("ml", dict(regularization=1e6, gradient_weight=1e6)),
                            ("cf", dict(regularization=1e6, tolerance=0.5, max_iterations=1))]:
        estimate = compose.estimate_foreground(image, alpha, method, **options)
        assert np.isfinite(estimate).all() and estimate.min() >= 0 and estimate.max() <= 1
