"""A warm start for the active-matting policy: behaviour cloning of a cheap greedy teacher.

Not in the paper, which trains from scratch with REINFORCE on a GPU. On our CPU budget
(~2,400 episodes) REINFORCE from scratch did not move the policy off the image centre (its
validation RMSE after 20 regions stayed at 0.45, worse than random regions), so the policy
is fitted to a teacher; rounds of DAgger (the teacher's answers in the states the policy
itself reaches, :func:`dagger_data`) and REINFORCE (Section 2.3, ``mattebox.active.reinforce``)
can follow, though on top of this warm start neither has yet helped on alphamatting-dev, and
the shipped policy is cloning alone. The teacher sees the ground truth and the policy does
not, so cloning can only teach what the image and the answers so far reveal (BENCHMARKS.md).

The teacher approximates the ideal sequence (B1) at a fraction of its cost: at each step it
scores every answerable, not yet labelled region by the current matte's absolute error
summed over the region, keeps the ``candidates`` best (non-overlapping), runs the solver on
each and takes the one with the lowest RMSE: ``candidates`` solver calls per step instead of
B1's hundreds. Cloning feeds the teacher's own regions and mattes through the joint encoding
net (teacher forcing) and fits the location decoding net to the teacher's l_i: squared error for
the paper's Gaussian head, cross-entropy of the teacher's cell for the grid head
(:class:`mattebox.active.policy.GridScorer`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable

import numpy as np

from ..registry import get_method
from .environment import ActiveEnvironment, location_for, region_size_for, resize_alpha, resize_image


def _window_sums(values: np.ndarray, size: int) -> np.ndarray:
    """Sum of ``values`` over every size x size window; entry [t, l] is the window at corner (t, l)."""
    table = np.pad(values, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    return table[size:, size:] - table[:-size, size:] - table[size:, :-size] + table[:-size, :-size]


def teacher_candidates(env: ActiveEnvironment, count: int,
                       allowed: np.ndarray | None = None) -> list[tuple[int, int, str]]:
    """The ``count`` answerable, not fully labelled, non-overlapping regions of largest error;
    with ``allowed`` (a bool map over region corners) only those corners while any of them
    qualifies (see :func:`candidate_corners_map`)."""
    size = env.region_size
    area = size * size
    opaque = _window_sums((env.alpha >= 1.0 - env.tolerance).astype(np.float64), size) >= area - 0.5
    clear = _window_sums((env.alpha <= env.tolerance).astype(np.float64), size) >= area - 0.5
    known = _window_sums((env.trimap != 0.5).astype(np.float64), size) >= area - 0.5
    error = _window_sums(np.abs(env.matte - env.alpha), size)
    # ties (the first steps, where the error is 0.5 everywhere) go to the region farthest from
    # the layer boundary, the least ambiguous one for a person
    depth = _window_sums(_boundary_distance(env.alpha, env.tolerance), size) / area
    score = error + 1e-3 * depth
    score[known] = -np.inf
    if allowed is not None:
        kept = np.where(allowed, score, -np.inf)
        if np.isfinite(kept[opaque | clear]).any():
            score = kept
    picked: list[tuple[int, int, str]] = []
    # half the candidates from each layer, so a layer nobody has labelled yet gets its chance
    for label, usable, quota in (("fg", opaque, (count + 1) // 2), ("bg", clear, count // 2)):
        layer = np.where(usable, score, -np.inf)
        taken = 0
        for flat in np.argsort(layer, axis=None)[::-1]:
            if taken == quota or not np.isfinite(layer.flat[flat]):
                break
            top, left = divmod(int(flat), layer.shape[1])
            if any(abs(top - t) < size and abs(left - l) < size for t, l, _ in picked):
                continue
            picked.append((top, left, label))
            taken += 1
    return picked


def _boundary_distance(alpha: np.ndarray, tolerance: float) -> np.ndarray:
    from scipy import ndimage

    solid = (alpha >= 1.0 - tolerance) | (alpha <= tolerance)
    return ndimage.distance_transform_edt(solid)


def candidate_corners_map(image: np.ndarray, shape, region_size: int, cells: int, image_size: int,
                          grid: int, spread_weight: float = 0.0) -> np.ndarray:
    """Region corners of the cells a policy with ``PolicyConfig.candidates`` = ``cells`` (and
    ``candidate_spread`` = ``spread_weight``) chooses among first
    (:class:`~mattebox.active.policy.LearnedStrategy`), as a bool map over the corners of an
    environment of ``shape`` and ``region_size``."""
    import torch

    from .environment import corner_for
    from .policy import cell_locations, image_cluster_cue

    marked = torch.nonzero(image_cluster_cue(image, cells, image_size, grid, spread_weight) > 0).flatten()
    locations = cell_locations(marked, grid).tolist()
    allowed = np.zeros((shape[0] - region_size + 1, shape[1] - region_size + 1), dtype=bool)
    for location in locations:
        allowed[corner_for(location, shape, region_size)] = True
    return allowed


def teacher_step(env: ActiveEnvironment, candidates: int, allowed: np.ndarray | None = None):
    """The teacher's choice in ``env``'s current state (not committed), or None when no
    answerable region is left: the candidate whose answer gives the lowest RMSE."""
    options = teacher_candidates(env, candidates, allowed)
    if not options:
        return None
    return min((env.try_answer(t, l, a) for t, l, a in options), key=lambda s: s.rmse)


def teacher_sequence(env: ActiveEnvironment, steps: int, candidates: int = 4,
                     allowed: np.ndarray | None = None) -> list:
    """Run the teacher for ``steps`` steps on ``env`` (reset first); returns the committed steps."""
    env.reset()
    for _ in range(steps):
        best = teacher_step(env, candidates, allowed)
        env.commit(best if best is not None else env.try_answer(0, 0, "skip"))
    return list(env.history)


def teacher_data(images: np.ndarray, alphas: np.ndarray, work_size: int, steps: int, solver: str,
                 candidates: int = 4, cache_dir: str | Path | None = None,
                 log: Callable[[str], None] = print,
                 cells: tuple | None = None) -> dict[str, np.ndarray]:
    """Teacher sequences on every scene: ``images`` (N x S x S x 3 at ``work_size``), the
    normalised ``locations`` (N x steps x 2) and the ``mattes`` after each step (N x steps x S x S,
    float16). Cached in ``cache_dir`` under a key of the inputs and the solver's revision.
    ``cells`` = (k, image_size, grid) or (k, image_size, grid, spread weight) restricts the
    teacher to the policy's k candidate cells while any qualifies
    (:func:`candidate_corners_map`)."""
    settings = [images.shape, float(images[:, ::7, ::7].sum()), work_size, steps, solver, candidates]
    revision = get_method(solver).revision
    if revision > 1:  # (revision 1 keeps the keys made before revisions)
        settings.append(revision)
    if cells is not None:
        settings.append(list(cells))
    key = hashlib.sha1(json.dumps(settings).encode()).hexdigest()[:12]
    path = Path(cache_dir) / f"teacher_{len(images)}_{work_size}_{key}.npz" if cache_dir else None
    if path is not None and path.is_file():
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
    region = region_size_for(work_size)
    small = np.stack([resize_image(i, work_size) for i in images]).astype(np.float32)
    locations = np.zeros((len(images), steps, 2), np.float32)
    mattes = np.zeros((len(images), steps, work_size, work_size), np.float16)
    for i in range(len(images)):
        env = ActiveEnvironment(small[i].astype(np.float64), solver,
                                resize_alpha(np.asarray(alphas[i], np.float64), work_size), region)
        allowed = None
        if cells is not None:
            allowed = candidate_corners_map(small[i], env.shape, region, *cells)
        for k, step in enumerate(teacher_sequence(env, steps, candidates, allowed)):
            locations[i, k] = location_for(step.top, step.left, env.shape, region)
            mattes[i, k] = step.matte
        if (i + 1) % 10 == 0:
            log(f"teacher: {i + 1}/{len(images)} scenes, RMSE after {steps} regions {env.rmse:.4f}")
    data = {"images": small, "locations": locations, "mattes": mattes}
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp.npz")
        np.savez(temporary, **data)
        temporary.replace(path)
    return data


def dagger_data(policy, images: np.ndarray, alphas: np.ndarray, work_size: int, steps: int,
                solver: str, candidates: int = 8, log: Callable[[str], None] = print,
                explore: float = 0.0, seed: int = 0) -> dict[str, np.ndarray]:
    """One round of DAgger (Ross et al. 2011): the policy drives (S = 1 suggestions; with
    probability ``explore`` a uniformly random region instead, to reach states it would not),
    the teacher says at every state where it would have asked. Returns the :func:`clone` data
    with the driven regions and mattes as ``locations`` / ``mattes`` and the teacher's as
    ``targets``."""
    from .policy import LearnedStrategy

    region = region_size_for(work_size)
    small = np.stack([resize_image(i, work_size) for i in images]).astype(np.float32)
    locations = np.zeros((len(images), steps, 2), np.float32)
    targets = np.zeros_like(locations)
    mattes = np.zeros((len(images), steps, work_size, work_size), np.float16)
    strategy = LearnedStrategy(policy)
    policy.eval()
    rng = np.random.default_rng(seed)
    for i in range(len(images)):
        env = ActiveEnvironment(small[i].astype(np.float64), solver,
                                resize_alpha(np.asarray(alphas[i], np.float64), work_size), region)
        strategy.reset(env.image)
        for k in range(steps):
            top, left = strategy.suggest(env)
            if rng.random() < explore:
                top, left = env.corner(rng.uniform(-1.0, 1.0, 2))
            best = teacher_step(env, candidates)
            target = (best.top, best.left) if best is not None else (top, left)
            targets[i, k] = location_for(*target, env.shape, region)
            step = env.try_answer(top, left, env.oracle(top, left))
            env.commit(step)
            strategy.observe(env, step)
            locations[i, k] = location_for(top, left, env.shape, region)
            mattes[i, k] = step.matte
        if (i + 1) % 10 == 0:
            log(f"dagger: {i + 1}/{len(images)} scenes, policy RMSE after {steps} regions {env.rmse:.4f}")
    policy.train()
    return {"images": small, "locations": locations, "targets": targets, "mattes": mattes}


def clone(policy, data: dict[str, np.ndarray], epochs: int, batch: int = 16, lr: float = 1e-3,
          seed: int = 0, log: Callable[[str], None] = print) -> list[float]:
    """Fit ``policy`` to the teacher's locations with teacher forcing; returns the epoch losses.

    Horizontal flips double the data (x -> -x for the locations, mattes mirrored).
    """
    import torch

    generator = np.random.default_rng(seed)
    optimiser = torch.optim.Adam(policy.parameters(), lr=lr)
    images = policy.image_tensor(data["images"])
    locations = torch.as_tensor(data["locations"])
    targets = torch.as_tensor(data.get("targets", data["locations"]))
    mattes = torch.as_tensor(data["mattes"].astype(np.float32))
    count, steps = locations.shape[:2]
    losses = []
    policy.train()
    for epoch in range(epochs):
        order = generator.permutation(count)
        total = 0.0
        for start in range(0, count, batch):
            index = torch.as_tensor(order[start:start + batch])
            flip = bool(generator.random() < 0.5)
            x, seen, target, matte = images[index], locations[index], targets[index], mattes[index]
            if flip:
                x, matte = x.flip(-1), matte.flip(-1)
                seen = seen * torch.tensor([1.0, -1.0])
                target = target * torch.tensor([1.0, -1.0])
            state = policy.begin(x)
            loss = torch.zeros(())
            for k in range(steps):
                output, _ = policy.head(state)
                loss = loss + policy.imitation_loss(output, target[:, k])
                state = policy.observe(state, seen[:, k], matte[:, k].unsqueeze(1))
            loss = loss / steps
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
            optimiser.step()
            total += float(loss.detach()) * len(index)
        losses.append(total / count)
        if epoch % 10 == 0 or epoch == epochs - 1:
            log(f"cloning epoch {epoch + 1}/{epochs}: imitation loss {losses[-1]:.4f}")
    return losses


def pretrain_features(policy, images: np.ndarray, alphas: np.ndarray, epochs: int, grid: int = 16,
                      batch: int = 16, lr: float = 1e-3, seed: int = 0,
                      log: Callable[[str], None] = print) -> list[float]:
    """Teach the feature extraction net where the object is: a linear head on g0 predicts the
    ground-truth alpha shrunk to ``grid`` x ``grid`` (binary cross-entropy); the head is
    dropped afterwards. Not in the paper, which uses VGG16 trained from scratch by REINFORCE;
    it stands in for the visual knowledge we cannot afford to learn by trial and error. With the
    grid head, its coarse alpha guess (a 1 x 1 convolution on the feature map) learns the alpha
    at grid x grid at the same time."""
    import cv2
    import torch
    from torch import nn

    generator = np.random.default_rng(seed)
    targets = torch.as_tensor(np.stack([cv2.resize(np.asarray(a, np.float32), (grid, grid),
                                                   interpolation=cv2.INTER_AREA) for a in alphas]))
    x_all = policy.image_tensor(images)
    head = nn.Linear(policy.config.feature_dim, grid * grid)
    parameters = list(policy.extract.parameters()) + list(head.parameters())
    cells = policy.grid
    if cells is not None:
        # the grid head's coarse alpha guess learns the alpha at its own resolution
        cell_targets = torch.as_tensor(np.stack([cv2.resize(np.asarray(a, np.float32), (cells, cells),
                                                            interpolation=cv2.INTER_AREA) for a in alphas]))
        parameters += list(policy.locate.alpha.parameters())
    optimiser = torch.optim.Adam(parameters, lr=lr)
    losses = []
    for epoch in range(epochs):
        order = generator.permutation(len(images))
        total = 0.0
        for start in range(0, len(images), batch):
            index = torch.as_tensor(order[start:start + batch])
            x, y = x_all[index], targets[index]
            flip = generator.random() < 0.5
            if flip:
                x, y = x.flip(-1), y.flip(-1)
            if cells is None:
                logits = head(policy.extract(x)).view(-1, grid, grid)
                loss = nn.functional.binary_cross_entropy_with_logits(logits, y)
            else:
                g0, fmap = policy.extract.forward_with_map(x)
                logits = head(g0).view(-1, grid, grid)
                maps = nn.functional.interpolate(fmap, size=(cells, cells), mode="bilinear",
                                                 align_corners=False)
                y_cells = cell_targets[index].flip(-1) if flip else cell_targets[index]
                loss = (nn.functional.binary_cross_entropy_with_logits(logits, y)
                        + nn.functional.binary_cross_entropy_with_logits(
                            policy.locate.alpha(maps)[:, 0], y_cells))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(index)
        losses.append(total / len(images))
        if epoch % 10 == 0 or epoch == epochs - 1:
            log(f"feature pretraining epoch {epoch + 1}/{epochs}: coarse-alpha BCE {losses[-1]:.4f}")
    return losses
