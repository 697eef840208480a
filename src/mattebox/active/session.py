"""An active-matting session for a person: the system suggests regions, the person answers.

>>> session = ActiveSession(image, solver="sm")                     # doctest: +SKIP
>>> top, left, size = session.suggest()                             # doctest: +SKIP
>>> session.answer((top, left), "fg")                               # doctest: +SKIP
>>> session.stroke([(120, 40), (150, 52)], "fg", radius=2)          # doctest: +SKIP
>>> alpha = session.matte()                                         # doctest: +SKIP

The session works on the image resized to 400 x 400 (the paper's size, Section 3.1); region
corners are in those coordinates. Where a region is too coarse for a thin structure, the
person may paint a stroke instead (:meth:`ActiveSession.stroke`; beyond the paper, its future
work): it labels the pixels it covers, the matte is solved again, and the next suggestion
starts from that matte. :meth:`ActiveSession.full_matte` solves once more at the original
resolution with the answered regions and strokes scaled up. Undo replays the remaining answers
(the policy's LSTM state depends on the whole history); a saved session (``.npz``) holds the
work image, every answer and the matte after each one, so restoring costs no solver call.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .. import checks
from ..errors import InputError
from ..trimap import LabelledRegion, LabelledStroke, trimap_from_regions
from .environment import (
    WORK_SIZE,
    ActiveEnvironment,
    Step,
    downscaled_solver,
    get_solver,
    painted,
    region_size_for,
    resize_image,
    solve_matte,
)

SESSION_FORMAT = "mattebox-active-session-2"
#: Session files this version reads: format 1 had regions only, format 2 adds strokes.
READABLE_FORMATS = ("mattebox-active-session-1", SESSION_FORMAT)
POLICIES = ("learned", "ideal", "region-cnn", "cluster", "random")
#: Largest work size: every answer solves the matte of a work_size x work_size image, which
#: at 2048 already takes seconds with sm (the paper works at 400).
MAX_WORK_SIZE = 2048
#: The options :func:`make_strategy` takes, for a clear error on any other.
STRATEGY_OPTIONS = ("weights", "seed", "steps", "stride", "workers", "search_size", "region_cnn")


def make_strategy(name: str, *, weights: str | Path | None = None, seed: int = 0, steps: int = 20,
                  stride: int = 10, workers: int = 1, search_size: int | None = None,
                  region_cnn: str | Path | None = None):
    """A suggestion strategy by name: the learned policy or one of the baselines B1-B4
    (``stride``, ``workers`` and ``search_size`` are the ideal search's, see
    :class:`~mattebox.active.baselines.IdealStrategy`)."""
    from . import baselines

    seed = checks.option_number(seed, "seed", minimum=0, whole=True)
    if name == "learned":
        from .policy import LearnedStrategy, load_policy

        return LearnedStrategy(load_policy(weights))
    if name == "ideal":
        return baselines.IdealStrategy(stride=stride, workers=workers, search_size=search_size)
    if name == "cluster":
        return baselines.ClusterStrategy(k=steps)
    if name == "random":
        return baselines.RandomStrategy(seed=seed)
    if name == "region-cnn":
        return baselines.RegionCNNStrategy(baselines.load_region_cnn(steps, region_cnn))
    raise InputError(f"unknown policy {name!r}; choose one of {', '.join(POLICIES)}")


class ActiveSession:
    """Suggest / answer / matte / undo / save for one image (see the module docstring).

    Parameters
    ----------
    image
        H x W x 3 float image in [0, 1] (any size; resized to ``work_size`` inside).
    solver
        Registered trimap method name (default "sm", shared matting) or a callable.
    policy
        "learned" (default), "ideal" (needs ``alpha``), "region-cnn", "cluster", "random", or
        a strategy object with reset / suggest / observe.
    alpha
        Optional ground-truth matte (any size): enables :meth:`oracle` and :meth:`rmse`.
    solve_size
        Solve the interactive mattes on a copy shrunk to this side and bring them back
        guided by the photo (faster suggestions, slightly less accurate intermediate mattes;
        :func:`~mattebox.active.environment.downscaled_solver`); None solves at the work size.
    """

    def __init__(self, image: np.ndarray, solver: Any = "sm", policy: Any = "learned",
                 alpha: np.ndarray | None = None, work_size: int = WORK_SIZE,
                 region_size: int | None = None, solve_size: int | None = None,
                 **strategy_options) -> None:
        if isinstance(policy, str) and policy not in POLICIES:
            raise InputError(f"unknown policy {policy!r}; choose one of {', '.join(POLICIES)}")
        unknown = sorted(set(strategy_options) - set(STRATEGY_OPTIONS))
        if unknown:
            raise InputError(f"unknown session option(s) {', '.join(unknown)}; the policies take "
                             f"{', '.join(STRATEGY_OPTIONS)}")
        image = checks.as_image(image)
        self.original_shape = image.shape[:2]
        self.work_size = checks.option_number(work_size, "work size", minimum=32,
                                              maximum=MAX_WORK_SIZE, whole=True,
                                              note=" (the paper's: 400)")
        work_alpha = None
        if alpha is not None:
            alpha = checks.as_alpha(alpha, "ground-truth alpha")
            checks.check_same_size(image, alpha, "image", "ground-truth alpha")
            from .environment import resize_alpha

            work_alpha = resize_alpha(alpha, self.work_size)
        self.solver_name = solver if isinstance(solver, str) else getattr(solver, "__name__", "callable")
        self._solver = solver
        size = region_size_for(self.work_size) if region_size is None else int(region_size)
        loop_solver = solver
        if solve_size is not None:
            solve_size = checks.option_number(solve_size, "solve size", minimum=16, whole=True,
                                              note=" pixels")
            loop_solver = downscaled_solver(get_solver(solver), solve_size)
        self.env = ActiveEnvironment(resize_image(image, self.work_size), loop_solver, work_alpha, size)
        self._image = image
        if isinstance(policy, str):
            self.policy_name = policy
            self.strategy = make_strategy(policy, **strategy_options)
        else:
            self.policy_name = getattr(policy, "name", type(policy).__name__)
            self.strategy = policy
        self.strategy.reset(self.env.image)
        self._pending: tuple[int, int] | None = None

    def set_oracle(self, alpha: np.ndarray) -> None:
        """Give the session a ground-truth matte (the photo's size), for :meth:`oracle` and
        :meth:`rmse` (a session restored from a file saved without one, say)."""
        from .environment import resize_alpha

        alpha = checks.as_alpha(alpha, "ground-truth alpha")
        checks.check_same_size(self._image, alpha, "image", "ground-truth alpha")
        self.env.alpha = resize_alpha(alpha, self.work_size)

    # ------------------------------------------------------------------ the loop
    @property
    def region_size(self) -> int:
        return self.env.region_size

    @property
    def history(self) -> list[Step]:
        return self.env.history

    def suggest(self) -> tuple[int, int, int]:
        """The next region to ask about: (top, left, size) in work-image pixels."""
        if self._pending is None:
            self._pending = self.strategy.suggest(self.env)
        return self._pending[0], self._pending[1], self.region_size

    def answer(self, region: tuple[int, ...] | LabelledRegion | None, label: Literal["fg", "bg", "skip"]) -> Step:
        """Record ``label`` for ``region`` ((top, left[, size]); None: the pending suggestion).

        The matte is re-solved (unless skipped) and the strategy is told.
        """
        if region is None:
            top, left, _ = self.suggest()
        elif isinstance(region, LabelledRegion):
            top, left = region.top, region.left
        else:
            top, left = self._region_corner(region)
        height, width = self.env.shape
        if not (0 <= top <= height - self.region_size and 0 <= left <= width - self.region_size):
            raise InputError(
                f"region corner ({top}, {left}) puts a {self.region_size}-pixel region outside the "
                f"{height}x{width} work image; use a corner from suggest()"
            )
        step = self.env.try_answer(top, left, label)
        self.env.commit(step)
        self.strategy.observe(self.env, step)
        self._pending = None
        return step

    def _region_corner(self, region: object) -> tuple[int, int]:
        """(top, left) of a region given as (top, left) or (top, left, size); InputError for
        anything else, a corner that is not whole pixels or a size not this session's."""
        from ..checks import option_number

        try:
            values = () if isinstance(region, (str, bytes)) else tuple(region)
        except TypeError:
            values = ()
        if len(values) not in (2, 3):
            raise InputError(f"a region is (top, left) or (top, left, size) as suggest() returns "
                             f"it, not {region!r}")
        top = option_number(values[0], "a region's top", whole=True)
        left = option_number(values[1], "a region's left", whole=True)
        if len(values) == 3 and values[2] != self.region_size:
            raise InputError(f"regions are {self.region_size} x {self.region_size} pixels in this "
                             f"session, not {values[2]!r}; pass the region suggest() returned")
        return top, left

    def stroke(self, points, label: Literal["fg", "bg"], radius: float = 3.0,
               original: bool = False) -> Step:
        """Paint a stroke: the polyline through ``points`` ((y, x) pixels, in order; one point
        is a dot) with a round brush of ``radius`` pixels, labelled ``label``. Points and radius
        are in work-image pixels, or in the original image's with ``original=True``.

        The matte is solved again; the strategy is not told of a question (a stroke answers
        none) but sees the new matte (:meth:`LearnedStrategy.notice`), and the pending
        suggestion is dropped. Undo removes strokes like answers.
        """
        stroke = LabelledStroke(points, label, radius)
        if original:
            stroke.check_inside(self.original_shape, "image")
            height, width = self.env.shape
            scaled = stroke.scaled(height / self.original_shape[0], width / self.original_shape[1])
            # a point on the last pixel row may land a fraction past the work image's last one
            stroke = LabelledStroke(tuple((min(max(y, 0.0), height - 1.0), min(max(x, 0.0), width - 1.0))
                                          for y, x in scaled.points), label, scaled.radius)
        step = self.env.try_stroke(stroke)
        self.env.commit(step)
        _notice(self.strategy, self.env)
        self._pending = None
        return step

    def oracle(self) -> str:
        """The ground truth's answer for the pending suggestion (needs ``alpha``)."""
        top, left, _ = self.suggest()
        return self.env.oracle(top, left)

    def matte(self) -> np.ndarray:
        """The current matte at the work size."""
        return self.env.matte

    def trimap(self) -> np.ndarray:
        """The accumulated trimap at the work size."""
        return self.env.trimap

    def rmse(self) -> float | None:
        """RMSE of the current matte against the ground truth at the work size (Eq. 2)."""
        return self.env.rmse

    def _scale_to_original(self) -> tuple[float, float]:
        """Original-image pixels per work-image pixel, (y, x)."""
        return self.original_shape[0] / self.env.shape[0], self.original_shape[1] / self.env.shape[1]

    def strokes(self, original: bool = False) -> list[LabelledStroke]:
        """The painted strokes, in work pixels or scaled to the original image."""
        out = [s.stroke for s in self.history if s.stroke is not None]
        return [stroke.scaled(*self._scale_to_original()) for stroke in out] if original else out

    def regions(self, original: bool = False) -> list[LabelledRegion]:
        """The answered (not skipped) regions, in work pixels or scaled to the original image."""
        out = [s.region for s in self.history if s.region is not None]
        if not original:
            return out
        sy, sx = self._scale_to_original()
        return [LabelledRegion(int(round(r.top * sy)), int(round(r.left * sx)), r.label,
                               max(1, int(round(r.height * sy))), max(1, int(round(r.width * sx))))
                for r in out]

    def labelled(self, original: bool = False) -> list[LabelledRegion | LabelledStroke]:
        """The answered regions and painted strokes in the order given (later ones win where
        they overlap), in work pixels or scaled to the original image."""
        regions, strokes = iter(self.regions(original)), iter(self.strokes(original))
        return [next(strokes) if s.stroke is not None else next(regions)
                for s in self.history if s.labelled is not None]

    def full_matte(self, solver: Any = None, **options) -> np.ndarray:
        """A matte at the original resolution: the answered regions and strokes scaled up and
        solved again, by ``solver`` (default: the session's) with ``options``, e.g.
        ``full_matte(refine="laplacian")`` for sm's slower, smoother matte."""
        trimap = trimap_from_regions(self.original_shape, self.labelled(original=True))
        chosen = get_solver(solver if solver is not None else self._solver, **options)
        return solve_matte(self._image, trimap, chosen)

    def undo(self) -> Step | None:
        """Forget the latest answer or stroke; returns it (None when there is nothing to undo)."""
        if not self.history:
            return None
        steps = list(self.history)
        removed = steps.pop()
        self._replay(steps)
        return removed

    def _replay(self, steps: list[Step]) -> None:
        self.env.reset()
        self.strategy.reset(self.env.image)
        for step in steps:
            self.env.commit(step)
            if step.stroke is None:
                self.strategy.observe(self.env, step)
            else:
                _notice(self.strategy, self.env)
        self._pending = None

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path, protect: Any = ()) -> Path:
        """Write the session to ``path`` (.npz): work image, answers, mattes, settings (JSON).
        Atomic (:func:`mattebox.io.atomic_output`), its folder made if missing, refused over
        a ``protect`` file."""
        from ..io import atomic_output, make_output_folder

        path = Path(path)
        if path.suffix != ".npz":
            raise InputError(f"a session file must end in .npz, not {path.name!r}")
        meta = {
            "format": SESSION_FORMAT, "solver": self.solver_name, "policy": self.policy_name,
            "work_size": self.work_size, "region_size": self.region_size,
            "original_shape": list(self.original_shape),
            "steps": [_step_record(s) for s in self.history],
        }
        mattes = np.stack([s.matte for s in self.history]) if self.history else np.zeros((0,) + self.env.shape)
        arrays = {
            "meta": np.array(json.dumps(meta)),
            "image": self._image.astype(np.float32),
            "mattes": np.round(mattes * 65535).astype(np.uint16),
        }
        if self.env.alpha is not None:
            arrays["alpha"] = self.env.alpha.astype(np.float32)
        make_output_folder(path.parent)
        with atomic_output(path, protect, (".npz",)) as temporary:
            np.savez_compressed(temporary, **arrays)
        return path

    @classmethod
    def restore(cls, path: str | Path, solver: Any = None, policy: Any = None, **strategy_options) -> "ActiveSession":
        """A session saved by :meth:`save`, at the same step (solver / policy may be overridden)."""
        path = Path(path)
        damaged = (f"{path} is not a readable active-matting session (not a file --save-session or "
                   f"ActiveSession.save wrote, or a damaged one)")
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                image = data["image"].astype(np.float64)
                mattes = data["mattes"].astype(np.float64) / 65535
                alpha = data["alpha"].astype(np.float64) if "alpha" in data else None
        except Exception as exc:  # any reader's error (zip, npy, JSON): the file is not a session
            raise InputError(f"{damaged[:-1]}; {type(exc).__name__})") from None
        if not isinstance(meta, dict) or meta.get("format") not in READABLE_FORMATS:
            found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
            raise InputError(f"{path} is not an active-matting session file (format {found!r})")
        try:
            session = cls(image, solver=solver if solver is not None else meta["solver"],
                          policy=policy if policy is not None else meta["policy"],
                          work_size=meta["work_size"], region_size=meta["region_size"],
                          **strategy_options)
            if alpha is not None:
                if alpha.shape != session.env.shape:
                    raise ValueError("ground truth of another size")
                session.env.alpha = alpha
            steps = _replayed_steps(session, meta["steps"], mattes)
        except InputError:
            raise
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise InputError(f"{damaged[:-1]}: {type(exc).__name__} {exc})") from None
        session._replay(steps)
        return session


def _notice(strategy, env: ActiveEnvironment) -> None:
    """Tell ``strategy`` the matte changed without a question (a stroke), if it listens."""
    notice = getattr(strategy, "notice", None)
    if notice is not None:
        notice(env)


def _replayed_steps(session: ActiveSession, records: list, mattes: np.ndarray) -> list[Step]:
    """The steps of a session file's records (:func:`_step_record`) and mattes; ValueError,
    KeyError or TypeError where a record is not one this module wrote."""
    if not isinstance(records, list) or len(records) != len(mattes):
        raise ValueError(f"{len(mattes)} mattes for the steps {records!r:.60}")
    if mattes.shape[1:] != session.env.shape:
        raise ValueError(f"mattes of {mattes.shape[1:]} for a {session.env.shape} work image")
    steps = []
    trimap = session.env.trimap
    size = session.region_size
    for record, matte in zip(records, mattes):
        answer = record["answer"]
        if "stroke" in record:
            stroke = LabelledStroke(record["stroke"]["points"], answer, record["stroke"]["radius"])
            trimap, box = painted(trimap, stroke)
            steps.append(Step(*box, stroke.label, matte, trimap, session.env.error(matte), stroke))
            continue
        top, left = int(record["top"]), int(record["left"])
        if answer not in ("fg", "bg", "skip"):
            raise ValueError(f"answer {answer!r}")
        if not (0 <= top <= trimap.shape[0] - size and 0 <= left <= trimap.shape[1] - size):
            raise ValueError(f"region at ({top}, {left}) outside the {trimap.shape} work image")
        if answer != "skip":
            trimap = trimap.copy()
            trimap[top:top + size, left:left + size] = 1.0 if answer == "fg" else 0.0
        steps.append(Step(top, left, size, answer, matte, trimap, session.env.error(matte)))
    return steps


def _step_record(step: Step) -> dict:
    """A step as the session file's JSON keeps it."""
    record = {"top": step.top, "left": step.left, "answer": step.answer}
    if step.stroke is not None:
        record["stroke"] = {"points": [list(p) for p in step.stroke.points], "radius": step.stroke.radius}
    return record
