"""The four baselines of Active Matting (Yang et al. 2018), Section 3.1.

Every strategy here, like :class:`mattebox.active.policy.LearnedStrategy`, has
``reset(image)``, ``suggest(env) -> (top, left)`` and ``observe(env, step)``.

* B1 :class:`IdealStrategy`, the ideal sequence: at each step, the region whose answer lowers
  the RMSE most. The paper searches every region ("a few hours per image"); we search the
  corners of a grid with ``stride`` pixels, only regions the oracle can answer and that are
  not already labelled, optionally on a shrunk copy of the image (``search_size``), and can
  evaluate the candidates' solver calls in a process pool of ``workers`` processes.
* B2 :class:`RegionCNN`: a CNN that outputs N region centres at once (an image -> features ->
  fully connected -> 2N), trained by regression on the first N regions of ideal sequences;
  one network per N, as the paper trains seven. To save CPU we ship one network for N = 20
  and use its first N outputs for smaller N (they regress the first N regions of the same
  sequences, so they are nested heads on one shared trunk). It regresses on the greedy
  teacher's sequences (:mod:`mattebox.active.imitation`, an approximation of B1 that costs 8
  solver calls per step instead of ~100), the same sequences the learned policy starts from.
* B3 :class:`ClusterStrategy`: k-means with k = N clusters of per-pixel colour and position
  (CIE Lab and x, y; the "pre-defined features" of Shahrian et al. 2013 are colour and
  position too); a region goes at each cluster's most typical pixel (the member nearest the
  cluster's centroid), larger clusters first.
* B4 :class:`RandomStrategy`: region corners drawn uniformly (seeded).
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..checks import option_number
from ..errors import InputError
from ..metrics import rmse
from ..trimap import BACKGROUND, FOREGROUND
from .environment import (
    ORACLE_TOLERANCE,
    ActiveEnvironment,
    get_solver,
    location_for,
    oracle_answer,
    solve_matte,
)


# --------------------------------------------------------------------------- B4: random
@dataclass
class RandomStrategy:
    """B4: region corners drawn uniformly over the image; step k's draw depends only on
    (``seed``, k), so undoing and answering again replays the same sequence."""

    seed: int = 0
    name: str = "random"

    def reset(self, image: np.ndarray) -> None:
        pass

    def suggest(self, env: ActiveEnvironment) -> tuple[int, int]:
        asked = sum(1 for step in env.history if step.stroke is None)
        rng = np.random.default_rng([self.seed, asked])
        height, width = env.shape
        size = env.region_size
        return int(rng.integers(0, height - size + 1)), int(rng.integers(0, width - size + 1))

    def observe(self, env: ActiveEnvironment, step) -> None:
        pass


# --------------------------------------------------------------------------- B3: clustering
def cluster_regions(
    image: np.ndarray, k: int, region_size: int, position_weight: float = 1.0,
    max_side: int = 100, seed: int = 0,
) -> list[tuple[int, int]]:
    """Corners of ``k`` regions at the centres of k colour/position clusters (B3).

    Features per pixel: CIE Lab / 100 and (y, x) / image side * ``position_weight``, on a copy
    of the image shrunk to at most ``max_side`` pixels (k-means cost). Each region is centred on
    the cluster member nearest its centroid; larger clusters come first.
    """
    import cv2

    if k < 1:
        raise InputError(f"the number of clusters must be at least 1, not {k}")
    height, width = image.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    small_h, small_w = max(1, round(height * scale)), max(1, round(width * scale))
    small = cv2.resize(image.astype(np.float32), (small_w, small_h), interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB) / 100.0
    yy, xx = np.mgrid[0:small_h, 0:small_w].astype(np.float32)
    side = float(max(small_h, small_w))
    features = np.concatenate(
        [lab.reshape(-1, 3), (np.stack([yy, xx], -1).reshape(-1, 2) / side) * position_weight], axis=1
    ).astype(np.float32)
    k = min(k, features.shape[0])
    cv2.setRNGSeed(seed)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 50, 1e-4)
    _, labels, centres = cv2.kmeans(features, k, None, criteria, 3, cv2.KMEANS_PP_CENTERS)
    labels = labels.ravel()
    counts = np.bincount(labels, minlength=k)
    corners = []
    for cluster in np.argsort(-counts, kind="stable"):
        members = np.flatnonzero(labels == cluster)
        if members.size == 0:
            continue
        nearest = members[np.argmin(((features[members] - centres[cluster]) ** 2).sum(1))]
        cy = (nearest // small_w + 0.5) / scale
        cx = (nearest % small_w + 0.5) / scale
        top = int(np.clip(round(cy - region_size / 2), 0, height - region_size))
        left = int(np.clip(round(cx - region_size / 2), 0, width - region_size))
        corners.append((top, left))
    return corners


@dataclass
class ClusterStrategy:
    """B3: the regions of :func:`cluster_regions` with ``k`` clusters, in order."""

    k: int = 20
    position_weight: float = 1.0
    name: str = "cluster"

    def reset(self, image: np.ndarray) -> None:
        self.image = image
        self.queue: list[tuple[int, int]] | None = None

    def suggest(self, env: ActiveEnvironment) -> tuple[int, int]:
        if self.queue is None:
            self.queue = cluster_regions(self.image, self.k, env.region_size, self.position_weight)
            self.done = 0
        if self.done >= len(self.queue):  # more steps than clusters: cluster again, finer
            self.k *= 2
            self.queue = cluster_regions(self.image, self.k, env.region_size, self.position_weight)
        return self.queue[self.done]

    def observe(self, env: ActiveEnvironment, step) -> None:
        self.done += 1


# --------------------------------------------------------------------------- B1: ideal
def candidate_corners(shape: Sequence[int], size: int, stride: int) -> list[tuple[int, int]]:
    """Region corners on a grid of ``stride`` pixels, the last row / column flush with the border."""
    if stride < 1:
        raise InputError(f"the search stride must be at least 1 pixel, not {stride}")

    def axis(extent: int) -> list[int]:
        values = list(range(0, extent - size + 1, stride))
        if values[-1] != extent - size:
            values.append(extent - size)
        return values

    return [(t, l) for t in axis(int(shape[0])) for l in axis(int(shape[1]))]


_WORKER: dict = {}


def search_stride(stride: int, search_size: int | None, work_size: int) -> int:
    """The grid stride of an ideal search on a copy shrunk to ``search_size`` (None: not
    shrunk) for a ``stride`` given in pixels of the ``work_size`` image."""
    return stride if search_size is None else max(1, round(stride * search_size / work_size))


def _init_worker(image: np.ndarray, alpha: np.ndarray, solver: str, threads: int) -> None:
    os.environ.setdefault("NUMBA_NUM_THREADS", str(threads))
    _WORKER.update(image=image, alpha=alpha, solve=get_solver(solver))


def _evaluate(trimap: np.ndarray, size: int, candidates: list[tuple[int, int, str]],
              image=None, alpha=None, solve=None) -> list[float]:
    image = _WORKER["image"] if image is None else image
    alpha = _WORKER["alpha"] if alpha is None else alpha
    solve = _WORKER["solve"] if solve is None else solve
    errors = []
    for top, left, label in candidates:
        candidate = trimap.copy()
        candidate[top:top + size, left:left + size] = FOREGROUND if label == "fg" else BACKGROUND
        errors.append(rmse(solve_matte(image, candidate, solve), alpha))
    return errors


@dataclass
class IdealStrategy:
    """B1: greedy exhaustive search for the region with the largest RMSE drop (needs the GT).

    ``stride``: grid step of the candidate corners in pixels. ``workers`` > 1 evaluates the
    candidates in a process pool (the solver must then be given by its registered name).
    ``search_size``: search on a copy of the image shrunk to this side (regions and stride
    shrink with it) and scale the chosen corner back; None searches at the environment's size.
    ``last_errors`` keeps the candidates' errors of the latest search (for heat maps).
    """

    stride: int = 10
    workers: int = 1
    search_size: int | None = None
    name: str = "ideal"
    last_errors: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.stride = option_number(self.stride, "the ideal search's stride", minimum=1, whole=True)
        # More processes than a few per CPU only add start-up time and memory (each holds the image).
        most = 4 * (os.cpu_count() or 1)
        self.workers = option_number(self.workers, "the ideal search's workers", minimum=1,
                                     below=most + 1, whole=True,
                                     note=f" (this machine has {os.cpu_count() or 1} CPUs)")
        if self.search_size is not None:
            self.search_size = option_number(self.search_size, "the ideal search size",
                                             minimum=8, whole=True, note=" pixels")
        self._pool = None

    def reset(self, image: np.ndarray) -> None:
        self.close()  # the workers hold the previous image
        self._shadow = None

    def candidates(self, env: ActiveEnvironment) -> list[tuple[int, int, str]]:
        """Answerable regions on the grid that would change the trimap."""
        out = []
        size = env.region_size
        for top, left in candidate_corners(env.shape, size, self.stride):
            rows, cols = slice(top, top + size), slice(left, left + size)
            answer = oracle_answer(env.alpha, rows, cols, env.tolerance)
            if answer == "skip":
                continue
            value = FOREGROUND if answer == "fg" else BACKGROUND
            if np.all(env.trimap[rows, cols] == value):
                continue
            out.append((top, left, answer))
        return out

    def _errors(self, env: ActiveEnvironment, candidates: list) -> list[float]:
        if self.workers <= 1 or len(candidates) < 2 * self.workers:
            return _evaluate(env.trimap, env.region_size, candidates, env.image, env.alpha, env._solve)
        if not isinstance(env.solver, str):
            raise InputError("parallel ideal search needs the solver by its registered name, e.g. 'sm'")
        if self._pool is None:
            # Spawned, not forked: a fork after the solvers' OpenMP threads have started in this
            # process (any solve here, e.g. the previous image's) kills the child at once.
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker, initargs=(env.image, env.alpha, env.solver, 1)
            )
        chunks = [candidates[i::self.workers] for i in range(self.workers)]
        futures = [self._pool.submit(_evaluate, env.trimap, env.region_size, chunk) for chunk in chunks]
        results = [f.result() for f in futures]
        errors = [0.0] * len(candidates)
        for i, chunk_errors in enumerate(results):
            errors[i::self.workers] = chunk_errors
        return errors

    def _search_env(self, env: ActiveEnvironment) -> tuple[ActiveEnvironment, float]:
        """The environment to search in (a shrunk copy mirroring ``env``'s answers) and its scale."""
        if self.search_size is None or self.search_size >= min(env.shape):
            return env, 1.0
        from .environment import resize_alpha, resize_image

        scale = self.search_size / env.shape[0]
        if getattr(self, "_shadow", None) is None:
            size = max(1, int(round(env.region_size * scale)))
            self._shadow = ActiveEnvironment(resize_image(env.image, self.search_size), env.solver,
                                             resize_alpha(env.alpha, self.search_size), size, env.tolerance)
        shadow = self._shadow
        shadow.trimap = np.full(shadow.shape, 0.5)
        for step in env.history:
            if step.stroke is not None:
                step.stroke.scaled(scale, scale).paint(shadow.trimap)
            elif step.answer != "skip":
                top, left = int(round(step.top * scale)), int(round(step.left * scale))
                shadow.trimap[top:top + shadow.region_size, left:left + shadow.region_size] = (
                    FOREGROUND if step.answer == "fg" else BACKGROUND)
        return shadow, scale

    def suggest(self, env: ActiveEnvironment) -> tuple[int, int]:
        if env.alpha is None:
            raise InputError("the ideal sequence needs the ground-truth alpha (an oracle)")
        search, scale = self._search_env(env)
        candidates = self.candidates(search)
        if scale != 1.0:  # answerable in the shrunk copy is not enough: the person sees full size
            candidates = [(t, l, a) for t, l, a in candidates
                          if env.oracle(*self._scale_back(env, t, l, scale)) == a]
        if not candidates:  # nothing answerable is left: any corner (it will be skipped)
            return 0, 0
        errors = self._errors(search, candidates)
        self.last_errors = {(t, l): e for (t, l, _), e in zip(candidates, errors)}
        top, left, _ = candidates[int(np.argmin(errors))]
        return (top, left) if scale == 1.0 else self._scale_back(env, top, left, scale)

    @staticmethod
    def _scale_back(env: ActiveEnvironment, top: int, left: int, scale: float) -> tuple[int, int]:
        limit_y, limit_x = env.shape[0] - env.region_size, env.shape[1] - env.region_size
        return min(int(round(top / scale)), limit_y), min(int(round(left / scale)), limit_x)

    def observe(self, env: ActiveEnvironment, step) -> None:
        pass

    def close(self) -> None:
        if getattr(self, "_pool", None) is not None:
            self._pool.shutdown()
        self._pool = None


def ideal_sequence(env: ActiveEnvironment, steps: int, stride: int = 10, workers: int = 1) -> list:
    """Run B1 for ``steps`` steps on ``env`` (reset first); returns the committed steps."""
    strategy = IdealStrategy(stride=stride, workers=workers)
    env.reset()
    strategy.reset(env.image)
    try:
        for _ in range(steps):
            top, left = strategy.suggest(env)
            env.commit(env.try_answer(top, left, env.oracle(top, left)))
    finally:
        strategy.close()
    return list(env.history)



# ------------------------------------------------------------- every pure region answered
def every_pure_region_trimap(alpha: np.ndarray, size: int, anywhere: bool = False,
                             tolerance: float = ORACLE_TOLERANCE) -> np.ndarray:
    """The trimap a simulated user leaves after answering every region it can answer.

    With ``anywhere`` False, the regions are the tiling of the image by ``size`` x ``size``
    cells (the grid the policy and B1 ask on, the last row / column flush with the border);
    with ``anywhere`` True, every position: a pixel is then labelled when some pure window
    covers it, which is all that answers to regions of this size can ever label. Pure: all
    alpha >= 1 - ``tolerance`` (fg) or all <= ``tolerance`` (bg), as :func:`oracle_answer`.
    Not a strict bound on what fewer regions reach: a solver's error need not fall with
    every label added (ours; the paper has no such reference).
    """
    alpha = np.asarray(alpha, dtype=np.float64)
    if alpha.ndim != 2 or size < 1:
        raise InputError(f"need an H x W alpha and a region size >= 1, not {alpha.shape} and {size}")
    trimap = np.full(alpha.shape, 0.5)
    height, width = alpha.shape
    if size > min(height, width):
        return trimap
    for value, pure in ((FOREGROUND, alpha >= 1.0 - tolerance), (BACKGROUND, alpha <= tolerance)):
        if anywhere:
            # windows whose size x size pixels are all pure (summed-area table), then the
            # pixels that some such window covers (the same table over the windows' corners)
            table = np.pad(pure.astype(np.int64), ((1, 0), (1, 0))).cumsum(0).cumsum(1)
            count = (table[size:, size:] - table[:-size, size:] - table[size:, :-size]
                     + table[:-size, :-size])
            corners = np.zeros((height + size - 1, width + size - 1), dtype=np.int64)
            corners[size - 1:height, size - 1:width] = count == size * size
            table = np.pad(corners, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
            covered = (table[size:, size:] - table[:-size, size:] - table[size:, :-size]
                       + table[:-size, :-size]) > 0
            trimap[covered] = value
        else:
            for top, left in candidate_corners(alpha.shape, size, size):
                if pure[top:top + size, left:left + size].all():
                    trimap[top:top + size, left:left + size] = value
    return trimap

# --------------------------------------------------------------------------- B2: Region-CNN
def _region_cnn_class():
    import torch
    from torch import nn

    from .policy import FeatureExtractionNet, PolicyConfig, SMALL_CONFIG

    class RegionCNN(nn.Module):
        """B2: image -> feature extraction net -> fully connected -> N (y, x) centres in [-1, 1]."""

        def __init__(self, n: int, config: PolicyConfig = SMALL_CONFIG) -> None:
            super().__init__()
            self.n = int(n)
            self.config = config
            self.extract = FeatureExtractionNet(config)
            self.out = nn.Linear(config.feature_dim, 2 * self.n)

        def forward(self, images: torch.Tensor) -> torch.Tensor:
            return torch.tanh(self.out(self.extract(images))).view(-1, self.n, 2)

    return RegionCNN


def build_region_cnn(n: int, config=None):
    """A fresh Region-CNN giving ``n`` regions (small policy config's feature net by default)."""
    cls = _region_cnn_class()
    return cls(n) if config is None else cls(n, config)


def train_region_cnn(images: np.ndarray, targets: np.ndarray, n: int, epochs: int = 80,
                     lr: float = 1e-3, seed: int = 0, batch: int = 16, log=None):
    """Fit a Region-CNN to the first ``n`` ideal locations (``targets``: B x >=n x 2 in [-1, 1]).

    ``images``: B x H x W x 3 in [0, 1]. Mean squared error on the normalised locations,
    Adam on mini-batches, horizontal flips (x -> -x) half of the time.
    """
    import torch

    from .policy import image_tensor

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = build_region_cnn(n)
    x_all = image_tensor(images, net.config.image_size)
    y_all = torch.as_tensor(np.asarray(targets, dtype=np.float32)[:, :n])
    optimiser = torch.optim.Adam(net.parameters(), lr=lr)
    for epoch in range(epochs):
        order = rng.permutation(len(x_all))
        total = 0.0
        for start in range(0, len(order), batch):
            index = torch.as_tensor(order[start:start + batch])
            x, y = x_all[index], y_all[index]
            if rng.random() < 0.5:
                x, y = x.flip(-1), y * torch.tensor([1.0, -1.0])
            loss = ((net(x) - y) ** 2).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(index)
        if log is not None and (epoch % 10 == 0 or epoch == epochs - 1):
            log(f"region-cnn N={n} epoch {epoch + 1}/{epochs}: loss {total / len(order):.4f}")
    net.eval()
    return net


@dataclass
class RegionCNNStrategy:
    """B2 at inference: all N regions from one forward pass, suggested in order."""

    net: object
    name: str = "region-cnn"

    def reset(self, image: np.ndarray) -> None:
        import torch

        from .policy import image_tensor

        with torch.inference_mode():
            self.locations = self.net(image_tensor(image, self.net.config.image_size))[0].tolist()
        self.locations = self.locations[:getattr(self.net, "n_used", len(self.locations))]
        self.done = 0

    def suggest(self, env: ActiveEnvironment) -> tuple[int, int]:
        location = self.locations[min(self.done, len(self.locations) - 1)]
        return env.corner(location)

    def observe(self, env: ActiveEnvironment, step) -> None:
        self.done += 1


def ideal_locations(steps: list, shape: Sequence[int], size: int) -> np.ndarray:
    """Normalised (y, x) locations of committed steps (targets for :func:`train_region_cnn`)."""
    return np.array([location_for(s.top, s.left, shape, size) for s in steps], dtype=np.float32)


def default_region_cnn_weights():
    from pathlib import Path

    return Path(__file__).resolve().parents[1] / "weights" / "active_region_cnn.pt"


def load_region_cnn(n: int, path=None):
    """The Region-CNN giving ``n`` regions from a weights file of :func:`save_region_cnns`.

    A file holds one network per N; asking for an N it lacks uses the next larger network's
    first ``n`` regions (they were trained on the first N ideal regions, so their first n
    approximate the first n).
    """
    from pathlib import Path

    from .policy import PolicyConfig, read_weights_file

    path = Path(path) if path is not None else default_region_cnn_weights()
    payload = read_weights_file(
        path, kind="Region-CNN weights file", key="nets",
        absent=f"no Region-CNN weights at {path}; train them with "
               "`python -m mattebox.active.baselines --out FILE` or choose another policy")
    sizes = sorted(int(k) for k in payload["nets"])
    larger = [k for k in sizes if k >= n]
    pick = larger[0] if larger else sizes[-1]
    net = build_region_cnn(pick, PolicyConfig.from_dict(payload["policy_config"]))
    net.load_state_dict(payload["nets"][str(pick)])
    net.eval()
    if pick != n:
        net.n_used = n
    return net


def save_region_cnns(nets: dict, path, extra: dict | None = None):
    from pathlib import Path

    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    config = next(iter(nets.values())).config.to_dict()
    torch.save({"policy_config": config, "nets": {str(k): v.state_dict() for k, v in nets.items()},
                **(extra or {})}, path)
    return path


def ideal_training_sequences(count: int, seed: int, work_size: int, stride: int, steps: int,
                             solver: str, cache_dir, log=print) -> tuple[np.ndarray, np.ndarray]:
    """B1 sequences on ``count`` training scenes at ``work_size`` (cached per scene as JSON):
    the scenes (count x H x W x 3) and the normalised ideal locations (count x steps x 2)."""
    import json
    from pathlib import Path

    from ..registry import versioned_name
    from .environment import region_size_for, resize_alpha, resize_image
    from .scenes import scene_pool

    images, alphas = scene_pool(count, seed, cache_dir=cache_dir, log=log)
    region = region_size_for(work_size)
    path = Path(cache_dir) / (f"ideal_{count}_{seed}_{work_size}_{stride}_{steps}_"
                              f"{versioned_name(solver)}.json")
    done = json.loads(path.read_text()) if path.is_file() else {}
    small = np.stack([resize_image(i, work_size) for i in images])
    for i in range(count):
        if str(i) in done:
            continue
        env = ActiveEnvironment(small[i], solver, resize_alpha(alphas[i], work_size), region)
        sequence = ideal_sequence(env, steps, stride=stride)
        done[str(i)] = ideal_locations(sequence, env.shape, region).tolist()
        path.write_text(json.dumps(done))
        log(f"ideal sequence {i + 1}/{count}: RMSE {env.rmse:.4f} after {steps}")
    return small, np.array([done[str(i)] for i in range(count)], dtype=np.float32)


def main(argv=None) -> int:
    """Train the Region-CNNs of B2 and write them to one weights file."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m mattebox.active.baselines", description=main.__doc__)
    parser.add_argument("--out", required=True, help="weights file to write")
    parser.add_argument("--targets", choices=("teacher", "ideal"), default="teacher",
                        help="regress on the greedy teacher's sequences (mattebox.active.imitation; "
                             "the ones the learned policy is warm-started with) or on B1 sequences "
                             "(hundreds of solver calls per step)")
    parser.add_argument("--scenes", type=int, default=120, help="training scenes")
    parser.add_argument("--seed", type=int, default=0, help="first training scene")
    parser.add_argument("--pool", type=int, default=200, help="size of the scene pool the scenes come from")
    parser.add_argument("--work-size", type=int, default=100, help="where the sequences are searched")
    parser.add_argument("--stride", type=int, default=10, help="B1 grid stride (work pixels)")
    parser.add_argument("--candidates", type=int, default=8, help="teacher candidates per step")
    parser.add_argument("--sizes", default="1,5,10,15,20", help="the N of each Region-CNN")
    parser.add_argument("--solver", default="sm")
    parser.add_argument("--epochs", type=int, default=80)
    parser.add_argument("--cache", default="runs/active_cache")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.targets == "teacher":
        from .imitation import teacher_data
        from .scenes import scene_pool

        images, alphas = scene_pool(args.pool, args.seed, cache_dir=args.cache)
        count = min(args.scenes, len(images))
        data = teacher_data(images[:count], alphas[:count], args.work_size, max(sizes), args.solver,
                            args.candidates, cache_dir=args.cache)
        images, targets = data["images"], data["locations"]
    else:
        images, targets = ideal_training_sequences(args.scenes, args.seed, args.work_size, args.stride,
                                                   max(sizes), args.solver, args.cache)
    nets = {n: train_region_cnn(images, targets, n, epochs=args.epochs, seed=n, log=print) for n in sizes}
    command = "python -m mattebox.active.baselines " + " ".join(sys.argv[1:] if argv is None else argv)
    save_region_cnns(nets, args.out, {"train_command": command, "scenes": args.scenes,
                                      "targets": args.targets, "work_size": args.work_size})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
