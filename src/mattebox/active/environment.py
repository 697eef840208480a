"""The active-matting environment: accumulated trimap, matte solver in the loop, simulated user.

Active Matting (Yang et al., NeurIPS 2018), Section 2.1: the trimap starts all unknown; each
suggested 20 x 20 region that the user labels sets its pixels to foreground or background; the
matte solver turns (image, accumulated trimap) into the current matte alpha_i, and its error
against the ground truth (Eq. 2, RMSE over every pixel) drives the reward.

Conventions of this module (where the paper is silent we say what we chose):

* Work size: images are resized to 400 x 400 (Section 3.1); ``work_size`` may be smaller for
  cheap training, and the region side then scales with it (20 / 400 of the image side), so a
  policy's normalised locations mean the same everywhere.
* Locations are normalised ``(y, x)`` in [-1, 1]; -1 / +1 put the region against the
  top / bottom (left / right) border. Regions always lie fully inside the image (the centre is
  clamped), so every suggestion covers ``region_size ** 2`` pixels.
* The simulated user (Section 2.3) answers "fg" when every pixel of the region has ground-truth
  alpha >= 1 - tolerance, "bg" when every pixel has alpha <= tolerance, otherwise "skip".
  ``tolerance`` is half an 8-bit step (0.5 / 255), because resizing an 8-bit matte leaves
  plateau values like 0.99999999 that a person would call opaque.
* Degenerate trimaps: a matte solver needs both layers, so until the answers include at least
  one foreground and one background region the unknown pixels stay at 0.5 ("not known yet",
  the value with the least worst-case error) and only the answered pixels take their label.
  The first region that completes both layers then earns the solver's whole improvement,
  rather than an arbitrary all-0 or all-1 matte being scored (which, in our first training
  runs, taught the policy to answer background forever).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Literal, Sequence

import numpy as np

from .. import checks
from ..errors import InputError
from ..metrics import rmse
from ..trimap import BACKGROUND, FOREGROUND, UNKNOWN, LabelledRegion, LabelledStroke

#: Side of the square images the paper works on (Section 3.1: "resized to 400 x 400").
WORK_SIZE = 400
#: Side of a suggested region at the work size (Section 2.2: "20 x 20 regions").
REGION_SIZE = 20
#: Oracle tolerance: half an 8-bit step.
ORACLE_TOLERANCE = 0.5 / 255

Answer = Literal["fg", "bg", "skip"]
Solver = Callable[[np.ndarray, np.ndarray], np.ndarray]


def resize_image(image: np.ndarray, size: int = WORK_SIZE) -> np.ndarray:
    """``image`` (H x W x 3 or H x W) resized to ``size`` x ``size`` (area when shrinking)."""
    import cv2

    image = np.asarray(image, dtype=np.float64)
    height, width = image.shape[:2]
    interpolation = cv2.INTER_AREA if size <= min(height, width) else cv2.INTER_LINEAR
    out = cv2.resize(image, (size, size), interpolation=interpolation)
    return np.clip(out, 0.0, 1.0)


def resize_alpha(alpha: np.ndarray, size: int = WORK_SIZE, snap: float = ORACLE_TOLERANCE) -> np.ndarray:
    """A ground-truth matte resized like the image, with values within ``snap`` of 0 / 1 snapped.

    Snapping restores the exact 0 / 1 plateaus that floating-point resizing blurs by ~1e-16.
    """
    out = resize_image(alpha, size)
    out[out <= snap] = 0.0
    out[out >= 1.0 - snap] = 1.0
    return out


def get_solver(solver: str | Solver, **options) -> Solver:
    """A ``(image, trimap) -> alpha`` function: a registered method's name or a callable."""
    if callable(solver):
        return (lambda image, trimap: solver(image, trimap, **options)) if options else solver
    from ..registry import get_method

    spec = get_method(str(solver))
    if spec.needs != "trimap":
        raise InputError(
            f"method {spec.name!r} does not take a trimap, so it cannot be the active-matting "
            "solver; choose a trimap method such as sm, cf, knn or ifm (see `mattebox methods`)"
        )
    fn = spec.fn
    return (lambda image, trimap: fn(image, trimap, **options)) if options else fn


def downscaled_solver(solver: Solver, size: int) -> Solver:
    """``solver`` run on a copy of the image shrunk to ``size`` on its longer side, the matte
    brought back by the fast guided filter (:func:`mattebox.solvers.preview.guided_upsample`,
    as ``--preview`` does): a faster matte for the interactive loop. The trimap is shrunk by
    nearest neighbour, so labels stay exact; a shrunk trimap that lost one layer keeps every
    unknown pixel at 0.5 (see :func:`solve_matte`)."""
    import cv2

    from ..solvers.preview import guided_upsample

    def solve(image: np.ndarray, trimap: np.ndarray) -> np.ndarray:
        height, width = trimap.shape
        scale = size / max(height, width)
        if scale >= 1.0:
            return solver(image, trimap)
        small = (max(1, round(width * scale)), max(1, round(height * scale)))
        small_image = cv2.resize(image, small, interpolation=cv2.INTER_AREA).clip(0, 1)
        alpha = solve_matte(small_image, cv2.resize(trimap, small, interpolation=cv2.INTER_NEAREST),
                            solver)
        return np.clip(guided_upsample(small_image, alpha, image), 0.0, 1.0)

    return solve


def solve_matte(image: np.ndarray, trimap: np.ndarray, solver: Solver) -> np.ndarray:
    """The matte for an accumulated trimap, handling the degenerate cases (module docstring)."""
    has_fg = bool(np.any(trimap == FOREGROUND))
    has_bg = bool(np.any(trimap == BACKGROUND))
    if has_fg and has_bg:
        if not np.any(trimap == UNKNOWN):
            return trimap.copy()
        alpha = np.asarray(solver(image, trimap), dtype=np.float64)
        alpha = np.clip(alpha, 0.0, 1.0)
        alpha[trimap == FOREGROUND] = 1.0
        alpha[trimap == BACKGROUND] = 0.0
        return alpha
    alpha = np.full(trimap.shape, 0.5)
    alpha[trimap == FOREGROUND] = 1.0
    alpha[trimap == BACKGROUND] = 0.0
    return alpha


def oracle_answer(alpha: np.ndarray, rows: slice, cols: slice, tolerance: float = ORACLE_TOLERANCE) -> Answer:
    """The simulated user: "fg" if the region is all opaque, "bg" if all clear, else "skip"."""
    patch = alpha[rows, cols]
    if patch.size == 0:
        return "skip"
    if float(patch.min()) >= 1.0 - tolerance:
        return "fg"
    if float(patch.max()) <= tolerance:
        return "bg"
    return "skip"


def region_size_for(work_size: int, region_size: int = REGION_SIZE, reference: int = WORK_SIZE) -> int:
    """The region side at ``work_size``: ``region_size`` pixels per ``reference`` pixels, >= 1."""
    return max(1, int(round(region_size * work_size / reference)))


def corner_for(location: Sequence[float], shape: Sequence[int], size: int) -> tuple[int, int]:
    """Top-left corner of the ``size`` x ``size`` region at normalised ``location`` (y, x).

    Location -1 maps to the region against the top / left border, +1 against the bottom /
    right; values outside [-1, 1] are clamped, so the region always lies inside the image.
    """
    corner = []
    for value, extent in zip(location[:2], shape[:2]):
        span = max(int(extent) - size, 0)
        t = (min(max(float(value), -1.0), 1.0) + 1.0) / 2.0
        corner.append(int(round(t * span)))
    return corner[0], corner[1]


def location_for(top: int, left: int, shape: Sequence[int], size: int) -> tuple[float, float]:
    """The normalised location of the region with corner (``top``, ``left``); inverse of corner_for."""
    out = []
    for value, extent in zip((top, left), shape[:2]):
        span = max(int(extent) - size, 0)
        out.append(0.0 if span == 0 else 2.0 * value / span - 1.0)
    return out[0], out[1]


def painted(trimap: np.ndarray, stroke: LabelledStroke) -> tuple[np.ndarray, tuple[int, int, int]]:
    """A copy of ``trimap`` with ``stroke`` painted, and (top, left, larger side) of the
    bounding box of the painted pixels (a stroke :class:`Step` keeps them)."""
    trimap = trimap.copy()
    rows, cols = np.nonzero(stroke.paint(trimap))
    if rows.size == 0:
        raise InputError("the stroke paints no pixel of the image; draw it inside the image")
    top, left = int(rows.min()), int(cols.min())
    return trimap, (top, left, int(max(rows.max() - top, cols.max() - left)) + 1)


@dataclass
class Step:
    """One suggestion and what came of it (``matte`` and ``rmse`` are after the answer), or a
    stroke the person painted (``stroke`` set, ``answer`` its label; ``top``, ``left`` the
    corner of its bounding box and ``size`` the box's larger side)."""

    top: int
    left: int
    size: int
    answer: Answer
    matte: np.ndarray
    trimap: np.ndarray
    rmse: float | None = None
    stroke: LabelledStroke | None = None

    @property
    def region(self) -> LabelledRegion | None:
        """The labelled region, or None when the region was skipped or this is a stroke."""
        if self.answer == "skip" or self.stroke is not None:
            return None
        return LabelledRegion(self.top, self.left, self.answer, self.size, self.size)

    @property
    def labelled(self) -> LabelledRegion | LabelledStroke | None:
        """What this step labelled: its region, its stroke, or None (skipped)."""
        return self.stroke if self.stroke is not None else self.region

    @property
    def centre(self) -> tuple[float, float]:
        return self.top + self.size / 2.0, self.left + self.size / 2.0


@dataclass
class ActiveEnvironment:
    """Accumulated trimap + matte solver + (optionally) a ground-truth matte for the oracle.

    ``image`` and ``alpha`` must already be at the work size (see :func:`resize_image`,
    :func:`resize_alpha`); without ``alpha`` the answers must come from a person
    (:meth:`try_answer`).

    >>> import numpy as np
    >>> image = np.zeros((40, 40, 3)); image[:, 20:] = 1.0
    >>> alpha = np.zeros((40, 40)); alpha[:, 20:] = 1.0
    >>> env = ActiveEnvironment(image, alpha=alpha, solver=lambda i, t: i[..., 0], region_size=10)
    >>> env.step((0.0, -1.0)).answer, env.step((0.0, 1.0)).answer, env.rmse
    ('bg', 'fg', 0.0)
    """

    image: np.ndarray
    solver: str | Solver = "sm"
    alpha: np.ndarray | None = None
    region_size: int = REGION_SIZE
    tolerance: float = ORACLE_TOLERANCE
    history: list[Step] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.image = checks.as_image(self.image)
        if self.alpha is not None:
            self.alpha = checks.as_alpha(self.alpha, "ground-truth alpha")
            checks.check_same_size(self.image, self.alpha, "image", "ground-truth alpha")
        size = int(self.region_size)
        if size < 1 or size > min(self.image.shape[:2]):
            raise InputError(
                f"region size {size} does not fit a {self.image.shape[0]}x{self.image.shape[1]} "
                "image; use a region size between 1 and the image's shorter side"
            )
        self.region_size = size
        self._solve = get_solver(self.solver)
        self.reset()

    @property
    def shape(self) -> tuple[int, int]:
        return self.image.shape[0], self.image.shape[1]

    def reset(self) -> np.ndarray:
        """Back to the all-unknown trimap; returns the initial matte."""
        self.history = []
        self.trimap = np.full(self.shape, UNKNOWN)
        self.matte = solve_matte(self.image, self.trimap, self._solve)
        self.rmse = self.error(self.matte)
        return self.matte

    def error(self, matte: np.ndarray) -> float | None:
        """RMSE of ``matte`` against the ground truth (Eq. 2), or None without one."""
        return None if self.alpha is None else rmse(matte, self.alpha)

    def corner(self, location: Sequence[float]) -> tuple[int, int]:
        return corner_for(location, self.shape, self.region_size)

    def oracle(self, top: int, left: int) -> Answer:
        """The simulated user's answer for the region at (``top``, ``left``)."""
        if self.alpha is None:
            raise InputError("this environment has no ground-truth alpha, so it cannot answer by itself")
        rows, cols = self._slices(top, left)
        return oracle_answer(self.alpha, rows, cols, self.tolerance)

    def oracle_stroke(self, radius: float = 2.0, max_length: int = 40) -> LabelledStroke | None:
        """A simulated person's stroke (for benchmarks; strokes are beyond the paper): a straight
        stroke of ``radius`` pixels over pixels the ground truth calls pure fg or pure bg,
        none of them labelled yet. It starts at the unlabelled pixel of largest matte error
        whose whole brush disk is pure (in the layer nobody has labelled yet, if one), and runs
        up to ``max_length`` pixels in the one of 8 directions whose line pixels add the most
        error while the disk stays pure. None when no such pixel is left. (Our choice of simulation: a person traces the worst wrong
        part of a structure they can see.)"""
        import cv2

        if self.alpha is None:
            raise InputError("this environment has no ground-truth alpha, so it cannot paint by itself")
        r = int(np.ceil(radius))
        yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
        disk = (yy * yy + xx * xx <= radius * radius).astype(np.uint8)
        unlabelled = (self.trimap == UNKNOWN).astype(np.uint8)
        cores = {}
        for label, pure in (("fg", self.alpha >= 1.0 - self.tolerance),
                            ("bg", self.alpha <= self.tolerance)):
            # every pixel of the brush disk pure and unlabelled (outside the image counts as not)
            cores[label] = cv2.erode(pure.astype(np.uint8) & unlabelled, disk,
                                     borderType=cv2.BORDER_CONSTANT, borderValue=0).astype(bool)
        error = np.abs(self.matte - self.alpha)
        candidates = cores["fg"] | cores["bg"]
        # while one layer has no label the matte is 0.5 everywhere: paint that layer first
        for label, value in (("fg", FOREGROUND), ("bg", BACKGROUND)):
            if not np.any(self.trimap == value) and cores[label].any():
                candidates = cores[label]
                break
        if not candidates.any():
            return None
        start = int(np.argmax(np.where(candidates, error, -1.0)))
        y, x = divmod(start, self.shape[1])
        label = "fg" if cores["fg"][y, x] else "bg"
        core = cores[label]
        best, end = -1.0, (y, x)
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                if dy == dx == 0:
                    continue
                gain, k = 0.0, 0
                while k < max_length:
                    ny, nx = y + (k + 1) * dy, x + (k + 1) * dx
                    if not (0 <= ny < self.shape[0] and 0 <= nx < self.shape[1]) or not core[ny, nx]:
                        break
                    k += 1
                    gain += error[ny, nx]
                if gain > best:
                    best, end = gain, (y + k * dy, x + k * dx)
        points = ((y, x),) if end == (y, x) else ((y, x), end)
        return LabelledStroke(points, label, radius)

    def _slices(self, top: int, left: int) -> tuple[slice, slice]:
        return slice(top, top + self.region_size), slice(left, left + self.region_size)

    def try_answer(self, top: int, left: int, answer: Answer) -> Step:
        """What the matte would be after ``answer`` for the region at (top, left); no commit."""
        if answer not in ("fg", "bg", "skip"):
            raise InputError(f"an answer must be 'fg', 'bg' or 'skip', not {answer!r}")
        if answer == "skip":
            return Step(top, left, self.region_size, answer, self.matte, self.trimap, self.rmse)
        trimap = self.trimap.copy()
        rows, cols = self._slices(top, left)
        trimap[rows, cols] = FOREGROUND if answer == "fg" else BACKGROUND
        if np.array_equal(trimap, self.trimap):
            return Step(top, left, self.region_size, answer, self.matte, self.trimap, self.rmse)
        matte = solve_matte(self.image, trimap, self._solve)
        return Step(top, left, self.region_size, answer, matte, trimap, self.error(matte))

    def try_stroke(self, stroke: LabelledStroke) -> Step:
        """What the matte would be after the person paints ``stroke``; no commit."""
        stroke.check_inside(self.shape, "work image")
        trimap, (top, left, size) = painted(self.trimap, stroke)
        if np.array_equal(trimap, self.trimap):
            return Step(top, left, size, stroke.label, self.matte, self.trimap, self.rmse, stroke)
        matte = solve_matte(self.image, trimap, self._solve)
        return Step(top, left, size, stroke.label, matte, trimap, self.error(matte), stroke)

    def propose(self, location: Sequence[float]) -> Step:
        """The oracle's answer for the region at ``location`` and the resulting matte; no commit."""
        top, left = self.corner(location)
        return self.try_answer(top, left, self.oracle(top, left))

    def commit(self, step: Step) -> None:
        """Accept ``step`` (an answer or a stroke): its trimap and matte become the current ones."""
        self.trimap, self.matte, self.rmse = step.trimap, step.matte, step.rmse
        self.history.append(step)

    def step(self, location: Sequence[float]) -> Step:
        """Propose and commit the region at ``location`` (the oracle answers)."""
        result = self.propose(location)
        self.commit(result)
        return result
