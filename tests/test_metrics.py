"""The metrics on small cases computed by hand from the DIM evaluation code's definitions."""

import math

import numpy as np
import pytest

from mattebox import metrics
from mattebox.errors import InputError

ALL_UNKNOWN = np.full((2, 2), 0.5)


def test_sad_counts_only_unknown_pixels_and_divides_by_1000():
    pred = np.array([[0.5, 1.0], [0.0, 0.2]])
    gt = np.zeros((2, 2))
    assert metrics.sad(pred, gt, ALL_UNKNOWN) == pytest.approx(1.7 / 1000)
    trimap = np.array([[0.5, 1.0], [0.5, 0.0]])  # only (0,0) and (1,0) unknown
    assert metrics.sad(pred, gt, trimap) == pytest.approx(0.5 / 1000)


def test_mse_is_mean_over_unknown_pixels_without_1000():
    pred = np.array([[0.5, 1.0], [0.0, 0.0]])
    gt = np.zeros((2, 2))
    assert metrics.mse(pred, gt, ALL_UNKNOWN) == pytest.approx((0.25 + 1.0) / 4)
    trimap = np.array([[0.5, 0.5], [1.0, 1.0]])
    assert metrics.mse(pred, gt, trimap) == pytest.approx((0.25 + 1.0) / 2)


def test_mse_of_trimap_without_unknown_is_zero_not_nan():
    assert metrics.mse(np.ones((2, 2)), np.zeros((2, 2)), np.ones((2, 2))) == 0.0


def test_rmse_scores_the_whole_image():
    pred = np.array([[0.0, 1.0]])
    gt = np.zeros((1, 2))
    assert metrics.rmse(pred, gt, np.ones((1, 2))) == pytest.approx(math.sqrt(0.5))


def test_gradient_kernel_is_the_dim_9x9_unit_norm_derivative_of_gaussian():
    kernel = metrics.gaussian_derivative_kernel(1.4)
    assert kernel.shape == (9, 9)
    assert np.sum(kernel**2) == pytest.approx(1.0)
    # antisymmetric in x (derivative), symmetric in y (Gaussian)
    np.testing.assert_allclose(kernel, -kernel[:, ::-1], atol=1e-15)
    np.testing.assert_allclose(kernel, kernel[::-1, :], atol=1e-15)
    # the half size from the formula: ceil(1.4 sqrt(-2 ln(sqrt(2 pi) 1.4 0.01))) = 4
    assert math.ceil(1.4 * math.sqrt(-2 * math.log(math.sqrt(2 * math.pi) * 1.4 * 0.01))) == 4


def test_gradient_error_of_a_ramp_against_a_flat_matte():
    # On a horizontal ramp f(x) = x / (W - 1) (already in [0, 1]), away from the borders the
    # filter response is sum_ij k_ij f(x - j) = -sum_ij k_ij j / (W - 1), since sum k = 0.
    width = 21
    ramp = np.tile(np.arange(width) / (width - 1), (15, 1))
    flat = np.zeros_like(ramp)
    trimap = np.zeros_like(ramp)
    trimap[7, 10] = 0.5  # one interior pixel
    sigma = 1.4
    u = np.arange(-4, 5)
    g = np.exp(-(u**2) / (2 * sigma**2)) / (sigma * math.sqrt(2 * math.pi))
    dg = -u * g / sigma**2
    norm = math.sqrt(np.sum(np.outer(g, dg) ** 2))
    response = g.sum() * np.sum(dg * u) / norm / (width - 1)
    expected = response**2 / 1000  # the flat matte has no gradient
    assert metrics.gradient_error(ramp, flat, trimap) == pytest.approx(expected, rel=1e-9)


def test_gradient_error_is_zero_for_identical_and_for_scaled_mattes():
    rng = np.random.default_rng(0)
    a = rng.random((20, 20))
    assert metrics.gradient_error(a, a, np.full(a.shape, 0.5)) == 0.0
    # mat2gray: each matte is normalised by its own min and max
    scaled = 0.25 + 0.5 * (a - a.min()) / (a.max() - a.min())
    assert metrics.gradient_error(scaled, a, np.full(a.shape, 0.5)) == pytest.approx(0.0, abs=1e-12)


def test_connectivity_binary_row_by_hand():
    # gt [1 1 0], pred [1 0 1]: at every threshold the largest component of the intersection
    # is pixel 0, so l = [1, 0, 0]; phi_pred = [1 1 0], phi_gt = [1 0 1]; error 2 / 1000.
    pred = np.array([[1.0, 0.0, 1.0]])
    gt = np.array([[1.0, 1.0, 0.0]])
    assert metrics.connectivity_error(pred, gt, np.full((1, 3), 0.5)) == pytest.approx(0.002)


def test_connectivity_fractional_pixels_by_hand():
    # gt [0.5 0.5], pred [0.5 0]: pixel 1 leaves at t=0.1 (l=0), pixel 0 at t=0.6 (l=0.5);
    # d_pred = [0 0], d_gt = [0 0.5] -> phi_gt = [1 0.5]; error 0.5 / 1000.
    pred = np.array([[0.5, 0.0]])
    gt = np.array([[0.5, 0.5]])
    assert metrics.connectivity_error(pred, gt, np.full((1, 2), 0.5)) == pytest.approx(0.0005)


def test_connectivity_uses_4_connectivity():
    # Diagonal neighbours are separate components under 4-connectivity: pixels (0,0) and (1,1)
    # are each of size 1, so the first found wins and the other is disconnected.
    pred = np.array([[1.0, 0.0], [0.0, 1.0]])
    gt = pred.copy()
    assert metrics.connectivity_error(pred, gt, np.full((2, 2), 0.5)) == 0.0
    pred2 = np.array([[1.0, 0.0], [0.0, 0.9]])
    # gt has both pixels at 1; l = [1 0; 0 0] for both: phi_pred(1,1) = 1 - 0.9, phi_gt = 0
    assert metrics.connectivity_error(pred2, gt, np.full((2, 2), 0.5)) == pytest.approx(0.0001)


def test_connectivity_empty_intersection_does_not_crash():
    zeros = np.zeros((4, 4))
    assert metrics.connectivity_error(zeros, zeros, np.full((4, 4), 0.5)) == 0.0
    ones = np.ones((4, 4))
    assert metrics.connectivity_error(ones, zeros, np.full((4, 4), 0.5)) == pytest.approx(16 / 1000)


def test_metrics_reject_mismatched_sizes_with_a_clear_message():
    with pytest.raises(InputError, match="same size"):
        metrics.sad(np.zeros((3, 3)), np.zeros((3, 4)), np.full((3, 4), 0.5))


def test_trimap_scores_by_hand():
    pred = np.array([[0.0, 0.5, 1.0, 1.0]])
    true = np.array([[0.0, 0.5, 0.5, 1.0]])
    scores = metrics.trimap_scores(pred, true)
    assert scores["accuracy"] == pytest.approx(0.75)
    assert scores["iou_background"] == pytest.approx(1.0)
    assert scores["iou_unknown"] == pytest.approx(0.5)
    assert scores["iou_foreground"] == pytest.approx(0.5)
    assert scores["miou"] == pytest.approx(2 / 3)


def test_all_metrics_on_a_perfect_prediction_are_zero():
    rng = np.random.default_rng(1)
    gt = rng.random((16, 16))
    values = metrics.all_metrics(gt, gt, np.full(gt.shape, 0.5))
    assert all(v == 0.0 for v in values.values())


@pytest.mark.parametrize("sigma", [0, -1, float("nan"), "x", True, 0.05, 40, 100])
def test_gradient_sigma_outside_the_kernels_range_is_refused(sigma):
    with pytest.raises(InputError, match="sigma must be a finite number >= 0.1 and < 39.89"):
        metrics.gradient_error(np.zeros((3, 3)), np.ones((3, 3)), np.full((3, 3), 0.5), sigma=sigma)


def test_gradient_sigma_at_either_end_of_its_range_gives_a_finite_error():
    rng = np.random.default_rng(2)
    pred, gt = rng.random((12, 12)), rng.random((12, 12))
    for sigma in (metrics.MIN_SIGMA, 39.89):
        assert math.isfinite(metrics.gradient_error(pred, gt, sigma=sigma))


@pytest.mark.parametrize("step", [0, float("nan"), "x", -0.1, 2, 1e-5, 1e-9])
def test_connectivity_step_outside_its_range_is_refused(step):
    with pytest.raises(InputError, match="step must be a finite number >= 0.001 and <= 1"):
        metrics.connectivity_error(np.zeros((3, 3)), np.ones((3, 3)), np.full((3, 3), 0.5),
                                   step=step)


def test_connectivity_step_at_either_end_of_its_range():
    pred, gt = np.array([[0.0, 0.25, 1.0]]), np.array([[0.0, 1.0, 1.0]])
    # step 1: thresholds 0 and 1; omega = {2}, l = (0, 0, 1), phi_p = (1, 0.75, 1), phi_g = (1, 0, 1)
    assert metrics.connectivity_error(pred, gt, np.full((1, 3), 0.5), step=1) == pytest.approx(7.5e-4)
    assert math.isfinite(metrics.connectivity_error(pred, gt, np.full((1, 3), 0.5), step=1e-3))


@pytest.mark.parametrize("measure", [metrics.sad, metrics.mse, metrics.rmse,
                                     metrics.gradient_error, metrics.connectivity_error])
@pytest.mark.parametrize("shape", [(0, 0), (0, 4)])
def test_every_measure_refuses_empty_mattes(measure, shape):
    empty = np.zeros(shape)
    with pytest.raises(InputError, match="empty"):
        measure(empty, empty, np.full(shape, 0.5))
    with pytest.raises(InputError, match="empty"):
        measure(empty, empty)
