"""The matting community's error measures, computed as the Deep Image Matting evaluation code does.

All functions take ``(pred, gt, trimap)``: float arrays in [0, 1] of the same H x W size, the
trimap with 0 / 0.5 / 1. Following the reference MATLAB code of Xu et al. (2017), mattes are
put on the 0..255 scale and only pixels with trimap == 128 (our 0.5) are counted. Unlike that
code we do not round the mattes to 8 bits first; pass quantised mattes to reproduce it bit for
bit.

- SAD = sum |p - g| / 255 over unknown pixels, reported / 1000.
- MSE = sum ((p - g) / 255)^2 / (number of unknown pixels); no / 1000.
- Gradient: both mattes min-max normalised (MATLAB ``mat2gray``), derivative-of-Gaussian
  filtering with sigma 1.4 (9 x 9 kernel, replicate borders), amplitude sqrt(gx^2 + gy^2);
  sum of squared amplitude differences over unknown pixels, reported / 1000.
- Connectivity (Rhemann et al. 2009, DIM code, step 0.1): see :func:`connectivity_error`.
- RMSE over the whole image (Active Matting, Eq. 2) and trimap classification scores.

Empty mattes (no pixels) raise :class:`~mattebox.errors.InputError` in every measure: an
empty matte is a failed load or crop, not a perfect prediction.
"""

from __future__ import annotations

import math

import numpy as np

from . import checks
from .errors import InputError

UNKNOWN = 0.5

#: The DIM code's kernel cut-off: the derivative-of-Gaussian kernel reaches out to where the
#: Gaussian falls to epsilon.
KERNEL_EPSILON = 1e-2
#: Smallest gradient sigma: at 0.1 the kernel is already the central difference [-1, 0, 1] /
#: sqrt(2) to within 2e-22 (its other weights are exp(-50) of it), and below about 0.04 its
#: weights underflow to zeros (a NaN error).
MIN_SIGMA = 0.1
#: Smallest connectivity step: finer than the 1/255 of the 8-bit mattes the measure is meant
#: for, and each of the 1/step thresholds labels the whole image's components (a step of
#: 1e-5 took 10 s on 60 x 80 pixels, 1e-9 would take days).
MIN_STEP = 1e-3


def _largest_sigma(epsilon: float) -> float:
    """Sigma below which the DIM kernel's half size, sigma sqrt(-2 ln(sqrt(2 pi) sigma
    epsilon)), is defined: the logarithm's argument must stay below 1."""
    return 1.0 / (math.sqrt(2 * math.pi) * epsilon)


def _checked_sigma(sigma: object, epsilon: float = KERNEL_EPSILON) -> float:
    """``sigma`` as a float, or an InputError unless MIN_SIGMA <= sigma < 1 / (sqrt(2 pi)
    epsilon) (39.89 for the DIM code's epsilon 1e-2)."""
    return checks.option_number(sigma, "sigma", minimum=MIN_SIGMA, below=_largest_sigma(epsilon),
                                note=" (the DIM code uses 1.4; its kernel-size formula fails "
                                     "at the upper bound)")


def _prepare(pred: np.ndarray, gt: np.ndarray, trimap: np.ndarray | None):
    pred = checks.as_alpha(pred, "predicted alpha")
    gt = checks.as_alpha(gt, "ground-truth alpha")
    checks.check_same_size(gt, pred, "the ground truth", "the prediction")
    if trimap is None:
        unknown = np.ones(gt.shape, dtype=bool)
    else:
        trimap = checks.as_trimap(trimap)
        checks.check_same_size(gt, trimap, "the ground truth", "the trimap")
        unknown = trimap == UNKNOWN
    if gt.size == 0:
        raise InputError(f"the mattes are empty (shape {gt.shape}); pass mattes of at least one "
                         f"pixel")
    return pred, gt, unknown


def sad(pred: np.ndarray, gt: np.ndarray, trimap: np.ndarray | None = None) -> float:
    """Sum of absolute differences over unknown pixels (0..255 scale / 255), divided by 1000."""
    pred, gt, unknown = _prepare(pred, gt, trimap)
    return float(np.abs(pred - gt)[unknown].sum() / 1000.0)


def mse(pred: np.ndarray, gt: np.ndarray, trimap: np.ndarray | None = None) -> float:
    """Mean squared error over unknown pixels (mattes in [0, 1]); 0 when nothing is unknown."""
    pred, gt, unknown = _prepare(pred, gt, trimap)
    count = int(unknown.sum())
    if count == 0:
        return 0.0
    return float(((pred - gt) ** 2)[unknown].sum() / count)


def rmse(pred: np.ndarray, gt: np.ndarray, trimap: np.ndarray | None = None) -> float:
    """Root mean squared error over the whole image (Active Matting, Eq. 2).

    The trimap is accepted for a uniform signature and ignored: the active-matting paper
    scores every pixel, since its accumulated trimap changes from step to step.
    """
    pred, gt, _ = _prepare(pred, gt, None)
    return float(math.sqrt(((pred - gt) ** 2).mean()))


def _mat2gray(array: np.ndarray) -> np.ndarray:
    lo, hi = float(array.min()), float(array.max())
    if hi == lo:
        return np.zeros_like(array)  # a constant matte has no gradient; any constant will do
    return (array - lo) / (hi - lo)


def gaussian_derivative_kernel(sigma: float = 1.4, epsilon: float = KERNEL_EPSILON) -> np.ndarray:
    """The x-derivative-of-Gaussian kernel of the DIM evaluation code, unit L2 norm.

    half size = ceil(sigma * sqrt(-2 ln(sqrt(2 pi) sigma epsilon))), 4 for sigma 1.4;
    k[i, j] = gauss(y_i) * dgauss(x_j) with dgauss(x) = -x gauss(x) / sigma^2. ``sigma``
    must be at least 0.1 and below 1 / (sqrt(2 pi) epsilon), ``epsilon`` in (0, 1).
    """
    epsilon = checks.option_number(epsilon, "epsilon", above=0.0, below=1.0)
    sigma = _checked_sigma(sigma, epsilon)
    half = int(math.ceil(sigma * math.sqrt(-2.0 * math.log(math.sqrt(2 * math.pi) * sigma * epsilon))))
    u = np.arange(-half, half + 1, dtype=np.float64)
    gauss = np.exp(-(u**2) / (2 * sigma**2)) / (sigma * math.sqrt(2 * math.pi))
    dgauss = -u * gauss / sigma**2
    kernel = np.outer(gauss, dgauss)
    return kernel / math.sqrt(float((kernel**2).sum()))


def _gradient_amplitude(matte: np.ndarray, sigma: float) -> np.ndarray:
    from scipy import ndimage

    hx = gaussian_derivative_kernel(sigma)
    # MATLAB imfilter(..., 'replicate', 'conv'); convolution flips the kernel, which only
    # changes the sign of the derivative and so not the amplitude.
    gx = ndimage.convolve(matte, hx, mode="nearest")
    gy = ndimage.convolve(matte, hx.T, mode="nearest")
    return np.sqrt(gx**2 + gy**2)


def gradient_error(
    pred: np.ndarray, gt: np.ndarray, trimap: np.ndarray | None = None, sigma: float = 1.4
) -> float:
    """Gradient error of Rhemann et al. (2009) as computed by the DIM code, divided by 1000.

    ``sigma`` (DIM: 1.4) must be at least 0.1 (:data:`MIN_SIGMA`) and below 39.89, where the
    DIM code's kernel size stops being defined.
    """
    sigma = _checked_sigma(sigma)
    pred, gt, unknown = _prepare(pred, gt, trimap)
    amp_pred = _gradient_amplitude(_mat2gray(pred * 255.0), sigma)
    amp_gt = _gradient_amplitude(_mat2gray(gt * 255.0), sigma)
    return float(((amp_pred - amp_gt) ** 2)[unknown].sum() / 1000.0)


def _largest_component(mask: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    four_connected = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=bool)
    labels, count = ndimage.label(mask, structure=four_connected)
    if count == 0:
        return np.zeros(mask.shape, dtype=bool)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == int(np.argmax(sizes))  # the first largest, as MATLAB's max() picks


def connectivity_error(
    pred: np.ndarray, gt: np.ndarray, trimap: np.ndarray | None = None, step: float = 0.1
) -> float:
    """Connectivity error (Rhemann et al. 2009) as computed by the DIM code, divided by 1000.

    For thresholds t_i = 0, step, ..., 1 and i >= 1, omega is the largest 4-connected component
    of (p >= t_i) & (g >= t_i); a pixel outside omega whose level l is still unset gets
    l = t_{i-1}; unset levels become 1. With d = a - l, phi = 1 - d [d >= 0.15]; the error is
    sum |phi_p - phi_g| over unknown pixels. An empty intersection leaves omega empty.
    ``step`` (DIM: 0.1) must lie in [1e-3, 1] (see :data:`MIN_STEP`).
    """
    checks.option_number(step, "step", minimum=MIN_STEP, maximum=1.0,
                         note=" (the DIM code uses 0.1)")
    pred, gt, unknown = _prepare(pred, gt, trimap)
    count = int(round(1.0 / step))
    thresholds = np.arange(count + 1) / count  # k / 10 exactly, as 51/255 == 2/10 must hold
    level = np.full(gt.shape, -1.0)
    for i in range(1, len(thresholds)):
        omega = _largest_component((pred >= thresholds[i]) & (gt >= thresholds[i]))
        level[(level == -1) & ~omega] = thresholds[i - 1]
    level[level == -1] = 1.0
    d_pred = pred - level
    d_gt = gt - level
    phi_pred = 1.0 - d_pred * (d_pred >= 0.15)
    phi_gt = 1.0 - d_gt * (d_gt >= 0.15)
    return float(np.abs(phi_pred - phi_gt)[unknown].sum() / 1000.0)


def all_metrics(pred: np.ndarray, gt: np.ndarray, trimap: np.ndarray) -> dict[str, float]:
    """SAD, MSE, Grad, Conn (on the trimap's unknown region) and RMSE (whole image)."""
    return {
        "sad": sad(pred, gt, trimap),
        "mse": mse(pred, gt, trimap),
        "grad": gradient_error(pred, gt, trimap),
        "conn": connectivity_error(pred, gt, trimap),
        "rmse": rmse(pred, gt, trimap),
    }


TRIMAP_CLASSES = ("background", "unknown", "foreground")


def trimap_scores(pred_trimap: np.ndarray, true_trimap: np.ndarray) -> dict[str, float]:
    """Pixel accuracy, IoU of each class (background, unknown, foreground) and their mean.

    A class absent from both trimaps has no IoU (NaN) and is left out of the mean.
    """
    pred = checks.as_trimap(pred_trimap, "predicted trimap")
    true = checks.as_trimap(true_trimap, "true trimap")
    checks.check_same_size(true, pred, "the true trimap", "the predicted trimap")
    if pred.size == 0:
        raise InputError("the trimaps are empty")
    scores: dict[str, float] = {"accuracy": float((pred == true).mean())}
    ious = []
    for name, value in zip(TRIMAP_CLASSES, (0.0, 0.5, 1.0)):
        p, t = pred == value, true == value
        union = int((p | t).sum())
        iou = float((p & t).sum() / union) if union else float("nan")
        scores[f"iou_{name}"] = iou
        if union:
            ious.append(iou)
    scores["miou"] = float(np.mean(ious))
    return scores
