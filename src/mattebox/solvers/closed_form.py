"""Closed-form matting (Levin, Lischinski and Weiss, "A Closed-Form Solution to Natural Image
Matting", IEEE TPAMI 30(2), 2008).

Alpha minimises a^T L a (L the matting Laplacian, Eq. 12) subject to the trimap's known
pixels. Defaults follow the paper: 3 x 3 windows (radius 1), epsilon = 1e-7.

Only the unknown pixels are solved for: the reduced system L_UU a_U = -L_UK a_K is gathered
directly from the windows that touch an unknown pixel and solved by conjugate gradients with
a colour-line multigrid preconditioner (:mod:`.linear`).
"""

from __future__ import annotations

import numpy as np

from ..checks import option_number
from ..registry import register_method
from ._common import SOLVER_TOL, check_linear_options, check_regulariser, solve_window_method


@register_method(
    "cf",
    needs="trimap",
    summary="Closed-form matting: the matting Laplacian solved for the unknown pixels",
    reference="Levin, Lischinski, Weiss. A Closed-Form Solution to Natural Image Matting. TPAMI 2008",
    aliases=("closed-form", "closed_form"),
)
def estimate_alpha_cf(
    image: np.ndarray,
    trimap: np.ndarray,
    *,
    epsilon: float = 1e-7,
    radius: int = 1,
    linear_solver: str = "auto",
    tol: float = SOLVER_TOL,
) -> np.ndarray:
    """Closed-form alpha of ``image`` (H x W x 3, [0, 1]) under ``trimap`` (0 / 0.5 / 1).

    Parameters
    ----------
    epsilon, radius : the regulariser (at least 1e-12) and window radius of Levin et al.
        (paper defaults).
    linear_solver : "auto" (= "multigrid"), "ichol", "cg" or "direct" (see :mod:`.linear`).
    tol : relative residual at which the iterative solver stops.

    An image too small to hold one window gets the harmonic interpolation of the known
    pixels (4-neighbour graph Laplacian) instead.

    Examples
    --------
    >>> import numpy as np
    >>> from mattebox.solvers.closed_form import estimate_alpha_cf
    >>> image = np.zeros((8, 8, 3)); image[:, 4:] = 1.0
    >>> trimap = np.full((8, 8), 0.5); trimap[:, 0] = 0.0; trimap[:, -1] = 1.0
    >>> alpha = estimate_alpha_cf(image, trimap)
    >>> bool(alpha[:, :4].max() < 0.05 and alpha[:, 4:].min() > 0.95)
    True
    """
    tol = check_linear_options(linear_solver, tol)
    radius = option_number(radius, "radius", minimum=1, whole=True)
    epsilon = check_regulariser(epsilon)
    return solve_window_method(image, trimap, kind="cf", radius=radius, epsilon=epsilon,
                               linear_solver=linear_solver, tol=tol)
