"""Learning-based digital matting (Zheng and Kambhamettu, "Learning Based Digital Matting",
ICCV 2009), the local-learning Laplacian with a linear model.

In every 3 x 3 window the alphas are predicted from the colours by ridge regression on
x = (r, g, b, 1): alpha_w ~ F_w alpha_w with F_w = X (X^T X + lambda I)^-1 X^T (Sec. 3; the
kernel form X X^T (X X^T + lambda I)^-1 is the same matrix). Alpha minimises the summed
prediction error sum_w |(I - F_w) alpha_w|^2 = a^T L a with the trimap's known pixels fixed.

Defaults follow the authors' released code: window radius 1, lambda = 1e-7, the linear
kernel (the paper's Gaussian-kernel variant is not implemented). The paper weights the
known pixels with a large constant c = 800; we hold them fixed (its limit c -> infinity).
The released solver also adds 1e-6 I to the system, (L + C + 1e-6 I) a = C a*, with the
known alphas coded +1 / -1: a pull of weight 1e-6 towards 0 there, towards alpha = 1/2 here
(``pull_to_half``). It only matters where the Laplacian barely ties unknown pixels to any
known one; on alphamatting-dev it lowers the mean SAD by 0.8% / 1.0% on the two trimap sets
(BENCHMARKS.md).
"""

from __future__ import annotations

import numpy as np

from ..checks import non_negative_number, option_number
from ..registry import register_method
from ._common import SOLVER_TOL, check_linear_options, check_regulariser, solve_window_method
from .laplacian import window_laplacian


def lbdm_laplacian(image: np.ndarray, needed: np.ndarray | None = None, *,
                   regulariser: float = 1e-7, radius: int = 1):
    """The learning-based Laplacian sum_w (I - F_w)^T (I - F_w) (N x N CSR), windows touching ``needed``."""
    return window_laplacian(image, needed, kind="lbdm", radius=radius, epsilon=regulariser)


@register_method(
    "lbdm",
    needs="trimap",
    summary="Learning-based matting: local ridge-regression Laplacian solved for the unknown pixels",
    reference="Zheng, Kambhamettu. Learning Based Digital Matting. ICCV 2009",
    aliases=("learning-based", "learning_based"),
    revision=2,  # 2: the released code's pull of 1e-6 towards 1/2 (pull_to_half)
)
def estimate_alpha_lbdm(
    image: np.ndarray,
    trimap: np.ndarray,
    *,
    regulariser: float = 1e-7,
    radius: int = 1,
    pull_to_half: float = 1e-6,
    linear_solver: str = "auto",
    tol: float = SOLVER_TOL,
) -> np.ndarray:
    """Learning-based alpha of ``image`` (H x W x 3, [0, 1]) under ``trimap`` (0 / 0.5 / 1).

    Parameters
    ----------
    regulariser : lambda of the ridge regression (authors' code: 1e-7; at least 1e-12).
    radius : window radius (1: 3 x 3 windows).
    pull_to_half : weight mu of mu (a - 1/2)^2 per unknown pixel (authors' code: 1e-6; 0 for
        the plain Laplacian energy).
    linear_solver, tol : as for :func:`mattebox.solvers.closed_form.estimate_alpha_cf`.

    Examples
    --------
    >>> import numpy as np
    >>> from mattebox.solvers.learning_based import estimate_alpha_lbdm
    >>> image = np.zeros((8, 8, 3)); image[:, 4:] = 1.0
    >>> trimap = np.full((8, 8), 0.5); trimap[:, 0] = 0.0; trimap[:, -1] = 1.0
    >>> alpha = estimate_alpha_lbdm(image, trimap)
    >>> bool(alpha[:, :4].max() < 0.05 and alpha[:, 4:].min() > 0.95)
    True
    """
    pull_to_half = non_negative_number(pull_to_half, "pull_to_half",
                                       " (default 1e-6, 0 to turn it off)")
    tol = check_linear_options(linear_solver, tol)
    radius = option_number(radius, "radius", minimum=1, whole=True)
    regulariser = check_regulariser(regulariser, "regulariser")
    return solve_window_method(image, trimap, kind="lbdm", radius=radius, epsilon=regulariser,
                               linear_solver=linear_solver, tol=tol,
                               pull_to_half=pull_to_half)
