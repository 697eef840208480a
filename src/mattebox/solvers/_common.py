"""Machinery shared by the propagation solvers: solving a Laplacian for the unknown pixels only."""

from __future__ import annotations

import numpy as np

from ..checks import option_number
from .linear import solve_colour_multigrid, solve_spd

UNKNOWN = 0.5

# Relative residual (of the diagonally scaled system) at which the propagation solvers stop:
# at 1e-6 the alphamatting-dev SADs of cf and knn match pymatting's (which stops at 1e-7 of
# its unscaled system) to within 0.1 % per image; lbdm's differ on GT13, where pymatting stops
# before the solution (BENCHMARKS.md, "Where the lbdm gap comes from").
SOLVER_TOL = 1e-6


LINEAR_SOLVERS = ("auto", "multigrid", "ichol", "cg", "direct")


def check_linear_options(linear_solver: object, tol: object, *, multigrid: bool = True) -> float:
    """InputError unless ``linear_solver`` names a solver of :mod:`.linear` (``multigrid``:
    whether the method can use the colour-line multigrid) and ``tol`` lies in (0, 1); the
    tolerance as a float."""
    from ..errors import InputError

    names = LINEAR_SOLVERS if multigrid else tuple(n for n in LINEAR_SOLVERS if n != "multigrid")
    if linear_solver not in names:
        raise InputError(f"linear_solver must be one of {', '.join(names)}, not {linear_solver!r}")
    return option_number(tol, "tol", above=0.0, below=1.0)


#: Smallest regulariser (epsilon of the window Laplacians) the solvers accept. A window of one
#: or two colours has a singular colour covariance, known only to float64 rounding (~1e-17):
#: below about 1e-15 its 3 x 3 (lbdm: 4 x 4) system is singular too (measured on flat and
#: two-colour images with cf, lbdm, lkm and ifm: ZeroDivisionError or LinAlgError from 1e-16
#: or 1e-20 down); 1e-12 keeps a margin.
SMALLEST_REGULARISER = 1e-12


def check_regulariser(value: object, name: str = "epsilon") -> float:
    """``value`` as a float, or an InputError unless it is a finite number >= 1e-12
    (:data:`SMALLEST_REGULARISER`)."""
    return option_number(value, name, minimum=SMALLEST_REGULARISER,
                         note=" (smaller makes the systems of flat windows singular)")


def trivial_alpha(trimap: np.ndarray) -> np.ndarray | None:
    """The alpha when there is nothing to solve (no unknown pixel), else None."""
    if not np.any(trimap == UNKNOWN):
        return trimap.astype(np.float64, copy=True)
    return None


def add_ridge(matrix, ridge: float):
    """``matrix + ridge * I`` (CSR); keeps a system definite where a pixel has no neighbour."""
    import scipy.sparse

    if ridge <= 0:
        return scipy.sparse.csr_matrix(matrix)
    return (matrix + ridge * scipy.sparse.identity(matrix.shape[0], format="csr")).tocsr()


def fill_unknowns(trimap: np.ndarray, unknown: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The trimap with ``values`` (clipped to [0, 1]) written at the flat indices ``unknown``."""
    alpha = trimap.astype(np.float64, copy=True).ravel()
    alpha[unknown] = np.clip(values, 0.0, 1.0)
    return alpha.reshape(trimap.shape)


def solve_system(matrix, rhs: np.ndarray, unknown: np.ndarray, trimap: np.ndarray, *,
                 ridge: float = 1e-10, linear_solver: str = "auto", tol: float = SOLVER_TOL,
                 x0: np.ndarray | None = None, image: np.ndarray | None = None) -> np.ndarray:
    """Solve the reduced system ``matrix a_U = rhs`` and return the full alpha (clipped).

    With ``image`` given, "auto" uses the colour-line multigrid of :mod:`.linear` (the right
    preconditioner for window Laplacians); ``linear_solver="multigrid"`` asks for it, and
    without an image (an image too small for one window) is read as "auto".
    """
    matrix = add_ridge(matrix, ridge)
    if linear_solver == "multigrid" and image is None:
        linear_solver = "auto"  # an image too small for one window: a tiny harmonic system
    if linear_solver == "multigrid" or (linear_solver == "auto" and image is not None):
        solution = solve_colour_multigrid(matrix, rhs, unknown, image, tol=tol, x0=x0)
    else:
        solution = solve_spd(matrix, rhs, method=linear_solver, tol=tol, x0=x0)
    return fill_unknowns(trimap, unknown, solution)


def reduce_laplacian(laplacian, trimap: np.ndarray):
    """``(matrix, rhs, unknown)`` of L_UU a_U = -L_UK a_K: the rows and columns of ``laplacian``
    at the unknown pixels of ``trimap`` (flat indices ``unknown``), the known ones moved right."""
    import scipy.sparse

    flat = trimap.ravel().astype(np.float64)
    unknown = np.flatnonzero(flat == UNKNOWN)
    known = np.flatnonzero(flat != UNKNOWN)
    rows = scipy.sparse.csr_matrix(laplacian)[unknown]
    return rows[:, unknown], -(rows[:, known] @ flat[known]), unknown


def solve_for_unknowns(laplacian, trimap: np.ndarray, *, ridge: float = 1e-10,
                       linear_solver: str = "auto", tol: float = SOLVER_TOL,
                       x0: np.ndarray | None = None) -> np.ndarray:
    """Minimise a^T L a with the known pixels of ``trimap`` held fixed.

    The optimum satisfies L_UU a_U = -L_UK a_K (the limit lambda -> infinity of Levin et al.'s
    soft constraint), a system over the unknown pixels only. A tiny ridge keeps it definite
    when an unknown pixel sits in no window (images a few pixels wide).
    """
    system, rhs, unknown = reduce_laplacian(laplacian, trimap)
    return solve_system(system, rhs, unknown, trimap, ridge=ridge, linear_solver=linear_solver,
                        tol=tol, x0=x0)


def _reduced_window_system(image: np.ndarray, trimap: np.ndarray, *, kind: str, radius: int,
                           epsilon: float):
    """``(matrix, rhs, unknown, image_or_none)`` of L_UU a_U = -L_UK a_K for a window Laplacian.

    An image too small for one window gets the 4-neighbour graph Laplacian instead (and None
    for the image, which keeps the multigrid out of it).
    """
    from .laplacian import fits_window, grid_laplacian, unknown_system

    if fits_window(trimap.shape, radius):
        matrix, rhs, unknown = unknown_system(image, trimap, kind=kind, radius=radius,
                                              epsilon=epsilon)
        return matrix, rhs, unknown, image
    return (*reduce_laplacian(grid_laplacian(trimap.shape), trimap), None)


def solve_window_method(image: np.ndarray, trimap: np.ndarray, *, kind: str, radius: int,
                        epsilon: float, linear_solver: str, tol: float,
                        pull_to_half: float = 0.0) -> np.ndarray:
    """Alpha from a window Laplacian of ``kind`` ("cf" or "lbdm") with the known pixels fixed.

    No unknown pixel: the trimap. An image too small for one window: the harmonic
    interpolation of the known pixels (4-neighbour graph Laplacian). Otherwise the reduced
    system over the unknown pixels, gathered directly from the windows that touch them.
    ``pull_to_half`` = mu > 0 adds mu (a - 1/2)^2 per unknown pixel to the energy: the system
    becomes (L_UU + mu I) a_U = -L_UK a_K + mu / 2.
    """
    done = trivial_alpha(trimap)
    if done is not None:
        return done
    matrix, rhs, unknown, image = _reduced_window_system(image, trimap, kind=kind, radius=radius,
                                                         epsilon=epsilon)
    if pull_to_half > 0.0 and image is not None:  # the harmonic fallback takes no pull
        return solve_system(matrix, rhs + 0.5 * pull_to_half, unknown, trimap, ridge=pull_to_half,
                            linear_solver=linear_solver, tol=tol, image=image)
    return solve_system(matrix, rhs, unknown, trimap, linear_solver=linear_solver, tol=tol,
                        image=image)


def solve_window_with_prior(image: np.ndarray, trimap: np.ndarray, prior: np.ndarray,
                            weight: np.ndarray, *, kind: str = "cf", radius: int = 1,
                            epsilon: float = 1e-7, linear_solver: str = "auto",
                            tol: float = SOLVER_TOL) -> np.ndarray:
    """argmin a^T L a + sum_i w_i (a_i - p_i)^2 over the unknown pixels, known pixels fixed.

    ``prior`` p and ``weight`` w are H x W arrays (only their unknown pixels are read; w >= 0).
    The optimum solves (L_UU + diag(w_U)) a_U = -L_UK a_K + w_U p_U, the data term of
    Rhemann et al. (2008) and Gastal and Oliveira (2010, Sec. 5); with w = 0 it is
    :func:`solve_window_method`'s matte.
    """
    import scipy.sparse

    done = trivial_alpha(trimap)
    if done is not None:
        return done
    matrix, rhs, unknown, image = _reduced_window_system(image, trimap, kind=kind, radius=radius,
                                                         epsilon=epsilon)
    w = np.asarray(weight, dtype=np.float64).ravel()[unknown]
    p = np.asarray(prior, dtype=np.float64).ravel()[unknown]
    matrix = (scipy.sparse.csr_matrix(matrix) + scipy.sparse.diags(w, format="csr")).tocsr()
    return solve_system(matrix, rhs + w * p, unknown, trimap, linear_solver=linear_solver,
                        tol=tol, image=image)
