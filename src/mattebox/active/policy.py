"""The recurrent active-matting policy of Yang et al. (NeurIPS 2018), Section 2.2.

Four networks (Fig. 2):

* Feature extraction net, g0 = f_Extra(I): VGG16 without its softmax on the image resized to
  400 x 400, a 1000-d vector ("paper" config). Torchvision's VGG16 pools the last feature map
  to 7 x 7 before its fully connected layers, so a 400 x 400 input gives the same 138 M
  parameters as at 224 x 224; we do the same.
* RNN unit: an LSTM with a 128-d state; its input sequence is g0, g1, g2, ... and its output
  v_{i+1} after input g_i gives the next region.
* Location decoding net, l_i = f_loc(v_i): a linear layer giving a normalised (y, x) centre;
  the environment clamps locations to [-1, 1] (see :mod:`mattebox.active.environment` for how
  they map to 20 x 20 regions). No tanh: a saturated tanh has no gradient, and a policy
  that wandered into a corner could never come back.
* Joint encoding net, g_i = f_jEnc(l_i, alpha_i): a small VGG-style stack on the 75 x 75 patch
  of the current matte centred on l_i, concatenated with l_i, then fully connected to 1000-d
  (the paper gives the input and output only; the layers are our choice).
* g0 and g_i pass through a layer normalisation before the LSTM (our addition): without it
  the policy gradient inflated g0 until every LSTM gate saturated and v stopped depending on
  the image (seen in our first run: gate pre-activations of +-13, v equal for all images).
* Baseline net, b_i = f_base(v_i): a linear layer (Eq. 6). It reads v_i detached, so its
  regression loss trains only itself and never shapes the policy's state (our choice).

Weights start from a truncated normal (Section 3.1) with He scaling, biases 0.

The "small" config keeps the structure and the 128-d LSTM but shrinks the image (128 px),
the convolution widths, g (256-d) and the patch tensor (the same 75/400 of the image side,
sampled at 24 x 24), so that it trains on a CPU; about 0.5 M parameters.

Exploration (Section 2.3): during training a location is drawn from N(l_hat, Omega^2 I);
Omega = 0.15 in normalised units (about 1.5 region widths at 400 x 400; the paper does not
give its value).

The grid head (``location_head = "grid"``, ours, used by the shipped small policy): the
location decoding net gives a categorical distribution over the grid x grid tiling of the
image by regions instead of one mean (:class:`GridScorer`); exploration draws cells from it,
REINFORCE uses its log-softmax, and S = 1 takes the most likely cell. It also reads the image
feature map and the current matte per cell, and never proposes a cell it has already asked
about. Why: with the Gaussian head, a policy cloned from a teacher whose next region lies in
one of several places regresses to their average, near the image centre; that policy did
worse than random regions on alphamatting-dev (BENCHMARKS.md). With ``colour_cues`` (the
shipped policy) the grid head also reads how unlike the answered regions each cell's colour
is, and where it lies in the frame (:func:`colour_cues`). With ``candidates`` (the shipped
policy: 20) it chooses, at inference, among the cells of colour / position cluster centroids
first (:class:`CandidateLevels`, which also allows several levels, coarse to fine;
:class:`LearnedStrategy`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..errors import InputError
from .environment import REGION_SIZE, WORK_SIZE, location_for

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class PolicyConfig:
    """Sizes of the four networks (module docstring)."""

    name: str = "small"
    #: Side of the image the feature extraction net sees.
    image_size: int = 128
    #: VGG blocks: (channels, 3x3 convolutions) per block, each block ends in a 2x2 max-pool.
    feature_blocks: tuple[tuple[int, int], ...] = ((16, 1), (32, 1), (64, 1), (64, 1))
    #: Side of the adaptive average pool after the blocks (VGG16: 7).
    feature_pool: int = 4
    #: Hidden fully connected widths before g0 (VGG16: 4096, 4096).
    feature_fc: tuple[int, ...] = ()
    #: Size of g0 and of every g_i (paper: 1000).
    feature_dim: int = 256
    #: LSTM state size (paper: 128).
    hidden_size: int = 128
    #: Side of the matte patch as a fraction of the image side (paper: 75 / 400).
    patch_extent: float = 75 / 400
    #: Pixels per side of the patch tensor the joint encoding net sees.
    patch_size: int = 24
    #: Joint encoding blocks on the patch, as feature_blocks.
    patch_blocks: tuple[tuple[int, int], ...] = ((8, 1), (16, 1), (32, 1))
    #: Region side as a fraction of the image side (paper: 20 / 400).
    region_extent: float = REGION_SIZE / WORK_SIZE
    #: Std of the Gaussian exploration around the predicted location, normalised units.
    omega: float = 0.15
    #: How the location decoding net gives l_i: "gaussian" (the paper: l_hat from a linear
    #: layer on v_i, exploration N(l_hat, Omega^2 I)) or "grid" (ours: a categorical
    #: distribution over the ``grid`` x ``grid`` tiling of the image by regions; module docstring).
    location_head: str = "gaussian"
    #: Cells per side of the grid head; 20 tiles a 400 x 400 image by the paper's 20 x 20 regions.
    grid: int = 20
    #: Channels of the grid head's scoring maps.
    grid_channels: int = 32
    #: Give the grid head the colour cues of :func:`colour_cues` (ours; False in policies
    #: trained before they existed).
    colour_cues: bool = False
    #: Give the grid head the colour / position cluster cue of :func:`cluster_cue` (ours;
    #: False in policies trained before it existed).
    cluster_cue: bool = False
    #: At inference only (:class:`LearnedStrategy`; training never reads it): cluster counts,
    #: coarse to fine, of the :class:`CandidateLevels` the grid head chooses among before it
    #: may take any cell (ours). One number K means (K,); 0 or () every cell (policies shipped
    #: before it existed). The shipped policy: (20,).
    candidates: int | tuple[int, ...] = 0
    #: With ``candidates``: the weight w of a cell's colour spread (:func:`cell_spread`) when
    #: each cluster's candidate cell is picked, least distance to the centroid plus w times
    #: the spread (ours; 0: the nearest cell, as policies shipped before it). Read at
    #: inference and by a teacher restricted to the candidate cells (``teacher_cells``).
    candidate_spread: float = 0.0
    #: With ``candidates``: a cluster whose candidate cell was skipped offers its next cell
    #: (ours; see :class:`CandidateLevels`; False: it drops out, as policies shipped before).
    #: Inference only.
    candidate_retry: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "PolicyConfig":
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InputError(f"unknown policy config key(s): {', '.join(unknown)}")
        fixed = dict(values)
        for key in ("feature_blocks", "patch_blocks"):
            if key in fixed:
                fixed[key] = tuple(tuple(int(v) for v in pair) for pair in fixed[key])
        if "feature_fc" in fixed:
            fixed["feature_fc"] = tuple(int(v) for v in fixed["feature_fc"])
        config = cls(**fixed)
        if config.location_head not in LOCATION_HEADS:
            raise InputError(f"location_head must be one of {', '.join(LOCATION_HEADS)}, "
                             f"not {config.location_head!r}")
        for key in ("colour_cues", "cluster_cue", "candidate_retry"):
            if not isinstance(getattr(config, key), bool):
                raise InputError(f"{key} must be true or false, not {getattr(config, key)!r}")
        if config.grid < 2:
            raise InputError(f"grid must be at least 2 cells per side, not {config.grid}")
        spread = config.candidate_spread
        if (isinstance(spread, bool) or not isinstance(spread, (int, float, np.integer, np.floating))
                or not math.isfinite(spread) or spread < 0):
            raise InputError(f"candidate_spread must be a number >= 0 (0: the cell nearest each "
                             f"centroid), not {spread!r}")
        config = replace(config, candidates=candidate_levels(config.candidates),
                         candidate_spread=float(spread))
        return config


def candidate_levels(candidates: Any) -> tuple[int, ...]:
    """``PolicyConfig.candidates`` as a tuple of cluster counts, coarse to fine (0 or []: none);
    an InputError says what is wrong with anything else."""
    if isinstance(candidates, (int, np.integer)) and not isinstance(candidates, bool):
        if candidates < 0:
            raise InputError(f"candidates must be a whole number >= 0 (0: every cell) or a list "
                             f"of increasing cluster counts, not {candidates!r}")
        return (int(candidates),) if candidates else ()
    if isinstance(candidates, (list, tuple)) and all(
            isinstance(k, (int, np.integer)) and not isinstance(k, bool) and k >= 1 for k in candidates):
        levels = tuple(int(k) for k in candidates)
        if all(a < b for a, b in zip(levels, levels[1:])):
            return levels
    raise InputError(f"candidates must be a whole number >= 0 (0: every cell) or a list of "
                     f"increasing cluster counts >= 1 such as [5, 10, 20], not {candidates!r}")


LOCATION_HEADS = ("gaussian", "grid")


#: The paper's sizes (Section 2.2): VGG16 on 400 x 400, 1000-d g, 128-d LSTM, 75 x 75 patch.
PAPER_CONFIG = PolicyConfig(
    name="paper",
    image_size=400,
    feature_blocks=((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)),
    feature_pool=7,
    feature_fc=(4096, 4096),
    feature_dim=1000,
    hidden_size=128,
    patch_size=75,
    patch_blocks=((32, 2), (64, 2), (128, 2)),
)
#: The CPU-sized configuration we train and ship.
SMALL_CONFIG = PolicyConfig()
CONFIGS = {"paper": PAPER_CONFIG, "small": SMALL_CONFIG}


def _vgg_blocks(in_channels: int, blocks: tuple[tuple[int, int], ...]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for channels, convs in blocks:
        for _ in range(convs):
            layers += [nn.Conv2d(in_channels, channels, 3, padding=1), nn.ReLU(inplace=True)]
            in_channels = channels
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


def _mlp(sizes: list[int], final_relu: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2 or final_relu:
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def image_tensor(images: np.ndarray | torch.Tensor, size: int) -> torch.Tensor:
    """H x W x 3 (or B x H x W x 3) images in [0, 1] -> B x 3 x size x size, ImageNet-normalised."""
    tensor = torch.as_tensor(np.asarray(images, dtype=np.float32))
    if tensor.ndim == 3:
        tensor = tensor.unsqueeze(0)
    tensor = tensor.permute(0, 3, 1, 2)
    if tensor.shape[-2:] != (size, size):
        tensor = F.interpolate(tensor, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (tensor - mean) / std


class FeatureExtractionNet(nn.Module):
    """g0 = f_Extra(I): VGG-style convolutions, adaptive pooling, fully connected layers."""

    def __init__(self, config: PolicyConfig) -> None:
        super().__init__()
        self.features = _vgg_blocks(3, config.feature_blocks)
        self.pool = nn.AdaptiveAvgPool2d(config.feature_pool)
        flat = config.feature_blocks[-1][0] * config.feature_pool**2
        self.classifier = _mlp([flat, *config.feature_fc, config.feature_dim], final_relu=True)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(images)), 1))

    def forward_with_map(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """g0 and the feature map after the second-to-last block (for the grid head)."""
        pools = [i for i, m in enumerate(self.features) if isinstance(m, nn.MaxPool2d)]
        cut = pools[-2] + 1 if len(pools) > 1 else 0
        fmap = self.features[:cut](images) if cut else images
        out = self.features[cut:](fmap)
        return self.classifier(torch.flatten(self.pool(out), 1)), fmap


#: Answers as the grid head's record codes them.
ANSWER_CODES = {"fg": 1.0, "bg": -1.0, "skip": 0.0}
#: Channels of the question record per cell: asked, answered fg, answered bg.
RECORD = 3
#: Derived cue channels of the grid head (see GridScorer.forward).
CUES = 3
#: Channels of :func:`colour_cues`.
COLOUR_CUES = 4


def colour_cues(colours: torch.Tensor, record: torch.Tensor) -> torch.Tensor:
    """Low-level cues of the questions so far, B x 4 x grid x grid (ours, not in the paper).

    ``colours`` (B x 3 x grid x grid) are the cells' mean colours, ``record`` the question
    record (B x 3 x cells). Per cell, with d(S) the colour distance to the nearest cell of the
    set S (0 while S is empty) squashed by tanh(d / 2):

    * d(answered bg), while no fg answer exists: where the foreground may be, judged by looking
      unlike every background answer;
    * d(answered fg), while no bg answer exists: likewise for the background;
    * d(asked): how unlike everything asked so far the cell looks;
    * the distance of the cell from the image centre (0 at the centre, 1 at a corner).

    Why: the grid head's learned alpha guess comes from features trained on synthetic scenes
    and transfers poorly to photos; a policy without these cues kept asking about the
    background of four of the nine alphamatting-dev images for all 20 questions (BENCHMARKS.md).
    Colour contrast and position are cues that do not depend on the scenes' look.
    """
    batch, _, grid, _ = colours.shape
    flat = colours.flatten(2).transpose(1, 2)  # B x cells x 3
    distance = torch.cdist(flat, flat)  # B x cells x cells

    def nearest(mask: torch.Tensor) -> torch.Tensor:
        d = distance.masked_fill(~mask[:, None, :], float("inf")).amin(dim=2)
        return torch.where(mask.any(dim=1, keepdim=True), torch.tanh(d / 2.0), torch.zeros_like(d))

    asked, fg, bg = record[:, 0] > 0, record[:, 1] > 0, record[:, 2] > 0
    missing_fg = (~fg.any(dim=1, keepdim=True)).to(colours.dtype)
    missing_bg = (~bg.any(dim=1, keepdim=True)).to(colours.dtype)
    axis = torch.linspace(-1.0, 1.0, grid, dtype=colours.dtype, device=colours.device)
    centre = (torch.sqrt(axis[:, None] ** 2 + axis[None, :] ** 2) / math.sqrt(2.0)).flatten()
    cues = torch.stack([nearest(bg) * missing_fg, nearest(fg) * missing_bg, nearest(asked),
                        centre.expand(batch, -1)], dim=1)
    return cues.view(batch, COLOUR_CUES, grid, grid)


#: Colour / position clusters of :func:`cluster_cue` (as many as the regions asked).
CLUSTERS = 20
#: Lloyd iterations of :func:`cluster_cue`.
CLUSTER_ITERATIONS = 10


def cell_clusters(colours: torch.Tensor, clusters: int, spread: torch.Tensor | None = None,
                  spread_weight: float = 0.0, with_order: bool = False) -> tuple[torch.Tensor, ...]:
    """k-means of the grid cells by mean colour (of the normalised image tensor, B x 3 x grid x
    grid) and position in [-1, 1] into ``clusters`` clusters (at most one per cell).

    Deterministic: Lloyd iterations from cells evenly spaced in raster order. Returns each
    cell's cluster (B x cells), the cell nearest each centroid (B x k) and the clusters' sizes
    in cells (B x k). With ``spread`` (B x cells, :func:`cell_spread`) and ``spread_weight``
    w > 0, a cluster's cell is the one with the least distance to its centroid plus w times
    the cell's spread instead: a cell mixing two colours is likelier to straddle an edge and
    be skipped by the person. With ``with_order``, a fourth tensor (B x cells): each cell's
    distance to its own cluster's centroid (plus w times its spread), the order in which
    :class:`CandidateLevels` with ``retry`` offers a cluster's other cells.
    """
    batch, _, grid, _ = colours.shape
    cells = grid * grid
    with torch.no_grad():
        axis = torch.linspace(-1.0, 1.0, grid, dtype=colours.dtype, device=colours.device)
        yy, xx = torch.meshgrid(axis, axis, indexing="ij")
        position = torch.stack([yy.flatten(), xx.flatten()])[None].expand(batch, -1, -1)
        features = torch.cat([colours.flatten(2), position], dim=1).transpose(1, 2)
        k = min(clusters, cells)
        start = torch.linspace(0, cells - 1, k, device=colours.device).round().long()
        centres = features[:, start]
        counts = features.new_zeros(batch, k)
        for _ in range(CLUSTER_ITERATIONS):
            members = F.one_hot(torch.cdist(features, centres).argmin(dim=2), k).to(features.dtype)
            counts = members.sum(dim=1)
            sums = members.transpose(1, 2) @ features
            centres = torch.where(counts[..., None] > 0, sums / counts.clamp(min=1.0)[..., None],
                                  centres)
        member = torch.cdist(features, centres).argmin(dim=2)
        distance = torch.cdist(centres, features)
        if spread is not None and spread_weight > 0.0:
            distance = distance + spread_weight * spread.to(distance.dtype)[:, None, :]
        nearest = distance.argmin(dim=2)
        if with_order:
            return member, nearest, counts, distance.gather(1, member[:, None, :]).squeeze(1)
    return member, nearest, counts


def cell_spread(image: np.ndarray, grid: int) -> torch.Tensor:
    """Colour spread of each cell of a ``grid`` x ``grid`` grid over one H x W x 3 image in
    [0, 1], at the image's own size (1 x cells): the root of the summed per-channel
    variances, each channel in units of its ImageNet standard deviation, as the policy's
    colours are (ours, for ``PolicyConfig.candidate_spread``)."""
    with torch.no_grad():
        # float64: E[x^2] - E[x]^2 in float32 leaves ~1e-3 on a uniform cell
        std = torch.tensor(IMAGENET_STD, dtype=torch.float64).view(1, 3, 1, 1)
        tensor = torch.as_tensor(np.asarray(image, dtype=np.float64)).permute(2, 0, 1)[None] / std
        mean = F.adaptive_avg_pool2d(tensor, grid)
        variance = F.adaptive_avg_pool2d(tensor * tensor, grid) - mean * mean
        return variance.clamp(min=0.0).sum(dim=1).sqrt().flatten(1).float()


def cluster_cue(colours: torch.Tensor, clusters: int = CLUSTERS, spread: torch.Tensor | None = None,
                spread_weight: float = 0.0) -> torch.Tensor:
    """Where the clustering baseline (B3) would ask, B x 1 x grid x grid (ours, not in the paper).

    The cells are grouped by :func:`cell_clusters`; the cell nearest each centroid gets the
    cluster's size over the largest cluster's, every other cell 0. Why: the clustering
    baseline beats the learned policy on alphamatting-dev (BENCHMARKS.md); this gives the grid
    head its choices to take or leave.
    """
    batch, _, grid, _ = colours.shape
    _, nearest, counts = cell_clusters(colours, clusters, spread, spread_weight)
    weight = counts / counts.amax(dim=1, keepdim=True)
    cue = counts.new_zeros(batch, grid * grid).scatter_reduce(1, nearest, weight, reduce="amax")
    return cue.view(batch, 1, grid, grid)


@dataclass
class CandidateLevels:
    """Coarse-to-fine candidate cells for the grid head at inference (ours, not in the paper).

    ``levels`` are cluster counts, coarse to fine (the shipped policy: just 20). For each,
    the cells are clustered by :func:`cell_clusters`. A cluster is *covered* once one of its
    cells has been answered fg or bg. The candidates are the unasked cells nearest the
    centroids of the uncovered clusters of the first level that has any; when no level has
    one, :meth:`open_cells` returns None (every cell). So the first questions spread over a
    few broad colour / position groups, the later ones over finer groups that no answer
    has touched yet. Why: with one level of 20 clusters, the tenth question still lies in
    one of 20 groups, half of them unvisited, where the clustering baseline B3 asking 10
    regions spreads them over 10 groups. Measured (BENCHMARKS.md, "Coarse-to-fine candidate
    cells"): levels 5, 10, 20 beat one level of 20 on alphamatting-dev after 5, 10 and 15
    regions, mostly through one image, and lose to it on held-out scenes after 15 and 20; so
    the shipped policy keeps one level.

    With ``order`` (``retry``; ``PolicyConfig.candidate_retry``): a cluster whose candidate
    cell was asked and skipped (neither all foreground nor all background) stays uncovered and
    offers its next cell, the unasked member nearest its centroid, instead of dropping out.
    """

    member: list[torch.Tensor]  # per level: B x cells, each cell's cluster
    nearest: list[torch.Tensor]  # per level: B x k, the cell nearest each centroid
    sizes: list[torch.Tensor]  # per level: B x k, the clusters' sizes in cells
    order: list[torch.Tensor] | None = None  # per level: B x cells, distance to own centroid

    @classmethod
    def of(cls, colours: torch.Tensor, levels: tuple[int, ...], spread: torch.Tensor | None = None,
           spread_weight: float = 0.0, retry: bool = False) -> "CandidateLevels":
        """The clusterings of the cells' ``colours`` (B x 3 x grid x grid) for ``levels``
        (``spread``, ``spread_weight``: see :func:`cell_clusters`; ``retry``: see the class)."""
        clusterings = [cell_clusters(colours, k, spread, spread_weight, with_order=retry) for k in levels]
        parts = [[c[i] for c in clusterings] for i in range(4 if retry else 3)]
        return cls(*parts)

    def open_cells(self, record: torch.Tensor) -> torch.Tensor | None:
        """Candidate cells (B x cells, bool) given the question ``record`` (B x 3 x cells:
        asked, answered fg, answered bg), or None once every level of every image is used up;
        an image of the batch whose levels are used up gets every cell."""
        found = self.open_sizes(record) > 0
        spent = ~found.any(dim=1)
        if bool(spent.all()):
            return None
        found[spent] = True
        return found

    def open_sizes(self, record: torch.Tensor) -> torch.Tensor:
        """Per cell (B x cells), the size in cells of the uncovered cluster that the open
        candidate cell stands for (0: not a candidate); see :meth:`open_cells`."""
        asked = record[:, 0] > 0
        answered = (record[:, 1] > 0) | (record[:, 2] > 0)
        found = torch.zeros(asked.shape, device=asked.device)
        pending = torch.ones(asked.shape[0], dtype=torch.bool, device=asked.device)
        orders = self.order if self.order is not None else [None] * len(self.member)
        for member, nearest, sizes, order in zip(self.member, self.nearest, self.sizes, orders):
            k = nearest.shape[1]
            covered = torch.zeros(asked.shape[0], k + 1, dtype=torch.bool, device=asked.device)
            covered.scatter_(1, torch.where(answered, member, k), True)  # column k: unanswered
            weight = sizes.float() * (~covered[:, :k]).float()  # an empty cluster has no cell
            cells = torch.zeros_like(found).scatter_reduce(1, nearest, weight, reduce="amax")
            cells = cells.masked_fill(asked, 0.0)
            if order is not None:
                # an uncovered cluster whose own cell was asked (and skipped): its nearest unasked member
                score = order.masked_fill(asked, math.inf)
                best = torch.full_like(weight, math.inf).scatter_reduce(1, member, score, reduce="amin")
                first = torch.isfinite(score) & (score == best.gather(1, member))
                retry = weight * asked.gather(1, nearest).float()
                cells = torch.maximum(cells, torch.where(first, retry.gather(1, member), 0.0))
            take = pending & (cells > 0).any(dim=1)
            found[take] = cells[take]
            pending &= ~take
            if not bool(pending.any()):
                break
        return found


def cell_colours(image: np.ndarray, image_size: int, grid: int) -> torch.Tensor:
    """The cells' mean colours (1 x 3 x grid x grid) of one H x W x 3 image as its policy sees
    it: resized to ``image_size``, normalised, averaged on a ``grid`` x ``grid`` grid."""
    with torch.no_grad():
        return F.adaptive_avg_pool2d(image_tensor(image, image_size), grid)


def image_cluster_cue(image: np.ndarray, clusters: int, image_size: int, grid: int,
                      spread_weight: float = 0.0) -> torch.Tensor:
    """:func:`cluster_cue` of one H x W x 3 image as its policy sees it (:func:`cell_colours`;
    with ``spread_weight`` > 0, :func:`cell_spread` of the image), flattened to grid * grid."""
    spread = cell_spread(image, grid) if spread_weight > 0.0 else None
    return cluster_cue(cell_colours(image, image_size, grid), clusters, spread,
                       spread_weight).flatten()


#: Matte statistics per grid cell the grid head reads (mean alpha, mean 4 alpha (1 - alpha)).
MATTE_STATS = 2
#: Logit of a cell already asked: never drawn, finite so that sums stay finite.
ASKED_LOGIT = -1e4


class GridScorer(nn.Module):
    """The grid head's location decoding net (ours): logits over the grid x grid region tiling.

    logit(cell) = score(inputs[cell], v_i), the same small convolutional scorer at every cell
    (no per-cell bias: a first version with one learned to ask about the image corners whatever
    the image). The inputs per cell: the image features of the second-to-last VGG block, a
    coarse alpha guess read from them (``alpha``, a 1 x 1 convolution that
    :func:`mattebox.active.imitation.pretrain_features` teaches the coarse ground-truth alpha),
    two statistics of the current matte (mean alpha and mean 4 alpha (1 - alpha): how
    undecided it is), the record of the questions so far (asked, answered fg, answered bg),
    and three cues: the guess where no fg answer exists yet, one minus it where no bg answer
    exists yet, and the matte's indecision once both exist. A cell already asked is excluded.
    A regression head cannot say "here or there": trained on a teacher whose next region may
    lie in several places it predicts their average, often a region nobody would ask about (our
    first shipped policy asked near the image centre and did worse than random).
    """

    def __init__(self, config: PolicyConfig, map_channels: int) -> None:
        super().__init__()
        width = config.grid_channels
        self.grid = config.grid
        self.from_v = nn.Linear(config.hidden_size, width)
        self.alpha = nn.Conv2d(map_channels, 1, 1)
        self.colour_cues = config.colour_cues
        self.cluster_cue = config.cluster_cue
        extra = (COLOUR_CUES if config.colour_cues else 0) + (1 if config.cluster_cue else 0)
        self.from_maps = nn.Conv2d(map_channels + 1 + MATTE_STATS + RECORD + CUES + extra, width, 1)
        self.mix = nn.Conv2d(width, width, 3, padding=1)
        self.out = nn.Conv2d(width, 1, 1)

    def forward(self, v: torch.Tensor, maps: torch.Tensor, matte: torch.Tensor,
                record: torch.Tensor, colours: torch.Tensor | None = None) -> torch.Tensor:
        grid = self.grid
        record_maps = record.view(-1, RECORD, grid, grid)
        found = record_maps[:, 1:].amax(dim=(2, 3), keepdim=True)  # B x 2 x 1 x 1: any fg, any bg
        guess = torch.sigmoid(self.alpha(maps))
        missing_fg, missing_bg = 1.0 - found[:, :1], 1.0 - found[:, 1:]
        # where to look for the layer nobody has answered yet, and how undecided the matte is
        # once both are known: the products a linear layer cannot form by itself
        cues = torch.cat([guess * missing_fg, (1.0 - guess) * missing_bg,
                          matte[:, 1:2] * found[:, :1] * found[:, 1:]], dim=1)
        parts = [maps, guess, matte, record_maps, cues]
        if self.colour_cues:
            parts.append(colour_cues(colours, record))
        if self.cluster_cue:
            parts.append(cluster_cue(colours))
        x = torch.cat(parts, dim=1)
        hidden = F.relu(self.from_maps(x) + self.from_v(v)[:, :, None, None])
        hidden = F.relu(self.mix(hidden))
        logits = self.out(hidden).flatten(1)
        return logits.masked_fill(record[:, 0] > 0, ASKED_LOGIT)


def region_answers(mattes: torch.Tensor, locations: torch.Tensor, config: PolicyConfig) -> torch.Tensor:
    """The answers (+1 fg, -1 bg, 0 skipped) read off the mattes after them: a labelled region
    is all 1 (fg) or all 0 (bg) in the matte (for data recorded without its answers)."""
    probe = matte_patches(mattes, locations, replace(config, patch_extent=config.region_extent * 0.8,
                                                     patch_size=4))
    low, high = probe.amin(dim=(1, 2, 3)), probe.amax(dim=(1, 2, 3))
    return (low >= 0.999).float() - (high <= 0.001).float()


def matte_statistics(mattes: torch.Tensor, grid: int) -> torch.Tensor:
    """B x 1 x H x W mattes -> B x 2 x grid x grid: mean alpha and mean 4 alpha (1 - alpha)."""
    mattes = mattes.float()
    return torch.cat([F.adaptive_avg_pool2d(mattes, grid),
                      F.adaptive_avg_pool2d(4.0 * mattes * (1.0 - mattes), grid)], dim=1)


def cell_locations(cells: torch.Tensor, grid: int) -> torch.Tensor:
    """Flat cell indices (any shape) -> normalised (y, x) region locations (shape + (2,)).

    Cell (r, c) is the region whose corner is r / (grid - 1) of the way down the image (see
    :func:`mattebox.active.environment.corner_for`); at 400 x 400 with 20 x 20 regions and
    grid 20 this is the exact tiling, corner (20 r, 20 c).
    """
    rows = torch.div(cells, grid, rounding_mode="floor")
    cols = cells - rows * grid
    return torch.stack([rows, cols], dim=-1).float() * (2.0 / (grid - 1)) - 1.0


def location_cells(locations: torch.Tensor, grid: int) -> torch.Tensor:
    """Normalised (y, x) locations (... x 2) -> the flat index of the nearest grid cell."""
    index = ((locations.clamp(-1, 1) + 1.0) * ((grid - 1) / 2.0)).round().long()
    return index[..., 0] * grid + index[..., 1]


class JointEncodingNet(nn.Module):
    """g_i = f_jEnc(l_i, alpha_i): the matte patch around l_i, encoded with l_i."""

    def __init__(self, config: PolicyConfig) -> None:
        super().__init__()
        self.features = _vgg_blocks(1, config.patch_blocks)
        side = config.patch_size
        for _ in config.patch_blocks:
            side //= 2
        flat = config.patch_blocks[-1][0] * side * side
        self.fc = _mlp([flat + 2, config.feature_dim], final_relu=True)

    def forward(self, locations: torch.Tensor, patches: torch.Tensor) -> torch.Tensor:
        encoded = torch.flatten(self.features(patches * 2.0 - 1.0), 1)
        return self.fc(torch.cat([encoded, locations], dim=1))


@dataclass
class PolicyState:
    """LSTM state (h, c) and its latest output v (all B x hidden); for the grid head also the
    image feature maps and matte statistics at grid x grid, the question record
    (B x 3 x cells: asked, answered fg, answered bg) and the cells' mean colours (B x 3 x grid
    x grid, of the normalised image tensor)."""

    h: torch.Tensor
    c: torch.Tensor
    maps: torch.Tensor | None = None
    matte: torch.Tensor | None = None
    record: torch.Tensor | None = None
    colours: torch.Tensor | None = None

    @property
    def v(self) -> torch.Tensor:
        return self.h


def matte_patches(mattes: torch.Tensor, locations: torch.Tensor, config: PolicyConfig) -> torch.Tensor:
    """Patches of ``mattes`` (B x 1 x H x W) centred on the regions at ``locations`` (B x 2, y x).

    A region at normalised location l has its centre at l * (1 - region_extent) in
    grid_sample coordinates (align_corners=False); the patch spans ``patch_extent`` of the
    side and is sampled bilinearly at ``patch_size`` x ``patch_size``; outside the image the
    border value is repeated.
    """
    batch = mattes.shape[0]
    centres = locations.clamp(-1, 1) * (1.0 - config.region_extent)
    theta = torch.zeros(batch, 2, 3, dtype=mattes.dtype, device=mattes.device)
    theta[:, 0, 0] = config.patch_extent
    theta[:, 1, 1] = config.patch_extent
    theta[:, 0, 2] = centres[:, 1]  # grid x
    theta[:, 1, 2] = centres[:, 0]  # grid y
    size = config.patch_size
    grid = F.affine_grid(theta, [batch, 1, size, size], align_corners=False)
    return F.grid_sample(mattes, grid, mode="bilinear", padding_mode="border", align_corners=False)


class ActivePolicy(nn.Module):
    """The recurrent policy: image -> g0 -> LSTM -> l_1; (l_i, alpha_i) -> g_i -> LSTM -> l_{i+1}."""

    def __init__(self, config: PolicyConfig = SMALL_CONFIG) -> None:
        super().__init__()
        self.config = config
        self.extract = FeatureExtractionNet(config)
        self.encode = JointEncodingNet(config)
        self.norm_g0 = nn.LayerNorm(config.feature_dim)
        self.norm_g = nn.LayerNorm(config.feature_dim)
        self.rnn = nn.LSTMCell(config.feature_dim, config.hidden_size)
        if config.location_head == "grid":
            channels = config.feature_blocks[-2][0] if len(config.feature_blocks) > 1 else 3
            self.locate = GridScorer(config, channels)
        else:
            self.locate = nn.Linear(config.hidden_size, 2)
        self.baseline = nn.Linear(config.hidden_size, 1)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Truncated normal weights (Section 3.1), He-scaled, cut at two standard deviations."""
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                fan_in = module.weight[0].numel()
                std = math.sqrt(2.0 / fan_in)
                nn.init.trunc_normal_(module.weight, std=std, a=-2 * std, b=2 * std)
                nn.init.zeros_(module.bias)
        # Start near the image centre with small steps (grid head: near uniform), baseline at 0.
        last = self.locate.out if isinstance(self.locate, GridScorer) else self.locate
        nn.init.trunc_normal_(last.weight, std=0.01, a=-0.02, b=0.02)
        nn.init.zeros_(self.baseline.weight)

    @property
    def grid(self) -> int | None:
        """Cells per side of the grid head, or None for the paper's Gaussian head."""
        return self.config.grid if self.config.location_head == "grid" else None

    def image_tensor(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        """H x W x 3 (or B x H x W x 3) images in [0, 1] -> the feature net's input tensor."""
        return image_tensor(images, self.config.image_size)

    def begin(self, images: torch.Tensor) -> PolicyState:
        """Feature extraction and the first LSTM step on g0; the state's v gives l_1."""
        grid = self.grid
        if grid is None:
            g0 = self.norm_g0(self.extract(images))
            maps = matte = record = colours = None
        else:
            g0, fmap = self.extract.forward_with_map(images)
            g0 = self.norm_g0(g0)
            maps = F.interpolate(fmap, size=(grid, grid), mode="bilinear", align_corners=False)
            # before any answer the environment's matte is 0.5 everywhere
            matte = matte_statistics(g0.new_full((g0.shape[0], 1, grid, grid), 0.5), grid)
            record = g0.new_zeros(g0.shape[0], RECORD, grid * grid)
            colours = F.adaptive_avg_pool2d(images, grid)
        zeros = g0.new_zeros(g0.shape[0], self.config.hidden_size)
        h, c = self.rnn(g0, (zeros, zeros))
        return PolicyState(h, c, maps, matte, record, colours)

    def head(self, state: PolicyState) -> tuple[torch.Tensor, torch.Tensor]:
        """The location decoding net's output and the baseline b (B) from v_i: the location
        l_hat (B x 2; clamp to [-1, 1] to use it) or, for the grid head, the cell logits (B x cells)."""
        baseline = self.baseline(state.v.detach()).squeeze(1)
        if self.grid is None:
            return self.locate(state.v), baseline
        return self.locate(state.v, state.maps, state.matte, state.record, state.colours), baseline

    def observe(self, state: PolicyState, locations: torch.Tensor, mattes: torch.Tensor,
                answers: torch.Tensor | None = None) -> PolicyState:
        """One LSTM step on g_i = f_jEnc(l_i, alpha_i); ``mattes`` B x 1 x H x W in [0, 1].

        The grid head also records the answers (B: +1 fg, -1 bg, 0 skipped; read off the
        mattes when not given, see :func:`region_answers`).
        """
        patches = matte_patches(mattes, locations, self.config)
        g = self.norm_g(self.encode(locations, patches))
        h, c = self.rnn(g, (state.h, state.c))
        if self.grid is None:
            return PolicyState(h, c)
        if answers is None:
            answers = region_answers(mattes, locations, self.config)
        rows = torch.arange(len(locations))
        cells = location_cells(locations, self.grid)
        record = state.record.clone()
        record[rows, 0, cells] = 1.0
        record[rows, 1, cells] = (answers > 0).to(record.dtype)
        record[rows, 2, cells] = (answers < 0).to(record.dtype)
        return PolicyState(h, c, state.maps, matte_statistics(mattes, self.grid), record, state.colours)

    def best_location(self, output: torch.Tensor) -> torch.Tensor:
        """The location for S = 1 (inference): the mean, or the most likely cell (B x 2)."""
        if self.grid is None:
            return output
        return cell_locations(output.argmax(dim=1), self.grid)

    def explore(self, output: torch.Tensor, samples: int, generator: torch.Generator) -> torch.Tensor:
        """``samples`` exploratory locations per episode (S x B x 2, Section 2.3): Gaussian
        draws around l_hat, or cells drawn from the grid head's softmax."""
        output = output.detach()
        if self.grid is None:
            noise = torch.randn((samples, *output.shape), generator=generator) * self.config.omega
            return output.unsqueeze(0) + noise
        cells = torch.multinomial(torch.softmax(output, dim=1), samples, replacement=True,
                                  generator=generator)
        return cell_locations(cells.T, self.grid)

    def log_prob(self, samples: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
        """log pi(samples) (B): log N(samples; l_hat, Omega^2 I) summed over y and x, or the
        log-softmax of the cells holding the samples."""
        if self.grid is not None:
            cells = location_cells(samples, self.grid)
            return torch.log_softmax(output, dim=1).gather(1, cells[:, None]).squeeze(1)
        omega = self.config.omega
        z = (samples - output) / omega
        return (-0.5 * z * z - math.log(omega * math.sqrt(2 * math.pi))).sum(dim=1)

    def imitation_loss(self, output: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Loss towards a teacher's locations (B x 2): squared distance, or the cross-entropy of
        the target cell (a target cell already asked carries no loss)."""
        if self.grid is None:
            return ((output - targets) ** 2).sum(1).mean()
        cells = location_cells(targets, self.grid)
        valid = output.gather(1, cells[:, None]).squeeze(1) > ASKED_LOGIT / 2
        if not bool(valid.any()):
            return output.sum() * 0.0
        return F.cross_entropy(output[valid], cells[valid])

    def outside_penalty(self, output: torch.Tensor) -> torch.Tensor:
        """Squared excess of l_hat beyond [-1, 1] (the Gaussian head only), summed."""
        if self.grid is not None:
            return output.new_zeros(())
        return ((output.abs() - 1.0).clamp(min=0.0) ** 2).sum()


def build_policy(config: str | PolicyConfig | dict = "small") -> ActivePolicy:
    """A fresh policy from a config name ("paper", "small"), a PolicyConfig or a dict."""
    if isinstance(config, str):
        if config not in CONFIGS:
            raise InputError(f"unknown policy config {config!r}; choose one of {', '.join(CONFIGS)}")
        config = CONFIGS[config]
    elif isinstance(config, dict):
        config = PolicyConfig.from_dict(config)
    return ActivePolicy(config)


def default_weights() -> Path:
    """Where the shipped small policy lives (inside the package)."""
    return Path(__file__).resolve().parents[1] / "weights" / "active_small.pt"


def read_weights_file(path: Path, *, kind: str, key: str, absent: str) -> dict:
    """The dictionary saved in a weights file; InputError with ``absent`` when there is no
    file, and naming ``kind`` (e.g. "Region-CNN weights file") when it is unreadable or holds
    no ``key``."""
    if not path.is_file():
        raise InputError(absent)
    try:
        # weights_only: a file handed in on the command line must not run code when read
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # not a torch file, truncated, holds more than tensors, ...
        raise InputError(f"{path} is not a readable {kind} ({type(exc).__name__}: not a weights "
                         f"file mattebox wrote, or a damaged one)") from None
    if not isinstance(payload, dict) or key not in payload:
        article = "an" if kind[0].lower() in "aeiou" else "a"
        raise InputError(f"{path} is not {article} {kind} (no {key} inside)")
    return payload


def load_policy(path: str | Path | None = None) -> ActivePolicy:
    """A trained policy from a weights file (by default the shipped small policy), in eval mode."""
    path = Path(path) if path is not None else default_weights()
    payload = read_weights_file(
        path, kind="active-matting policy file", key="policy_config",
        absent=f"no active-matting policy weights at {path}; train one with "
               "`python -m mattebox.active.reinforce --config configs/active_small.toml` "
               "or choose --policy ideal, cluster or random")
    policy = build_policy(dict(payload["policy_config"]))
    policy.load_state_dict(payload["model_state"])
    policy.eval()
    return policy


@dataclass
class LearnedStrategy:
    """Suggestions from a trained :class:`ActivePolicy` at inference (S = 1: the mean location).

    Keeps the LSTM state across steps; :meth:`observe` feeds back each answered step's matte.

    With ``PolicyConfig.candidates`` (the shipped policy: 20) the grid head's most likely
    cell is taken among the open cells of :class:`CandidateLevels` (for one level K: the
    cells nearest the centroids of K colour / position clusters not yet asked), and among all
    cells once none is left. Why (ours, measured over five training seeds on
    alphamatting-dev and on held-out procedural scenes, BENCHMARKS.md): unrestricted, the
    cloned policies asked where random regions would do as well; restricted, they are better
    than random regions at every checkpoint on both sets, mostly thanks to the candidate set
    itself.
    """

    policy: ActivePolicy
    state: PolicyState | None = field(default=None, repr=False)
    name: str = "learned"
    candidates: CandidateLevels | None = field(default=None, repr=False)

    def reset(self, image: np.ndarray) -> None:
        with torch.inference_mode():
            self.state = self.policy.begin(self.policy.image_tensor(image))
            levels = candidate_levels(self.policy.config.candidates)
            self.candidates = None
            if levels and self.policy.grid is not None:
                weight = float(self.policy.config.candidate_spread)
                spread = cell_spread(image, self.policy.grid) if weight > 0.0 else None
                self.candidates = CandidateLevels.of(self.state.colours, levels, spread, weight,
                                                     retry=self.policy.config.candidate_retry)

    def next_location(self) -> tuple[float, float]:
        if self.state is None:
            raise InputError("call reset(image) before asking the policy for a suggestion")
        with torch.inference_mode():
            output, _ = self.policy.head(self.state)
            if self.candidates is not None:
                open_cells = self.candidates.open_cells(self.state.record)
                if open_cells is not None:
                    output = output.masked_fill(~open_cells, ASKED_LOGIT)
            location = self.policy.best_location(output)
        y, x = location[0].tolist()
        return float(y), float(x)

    def suggest(self, env) -> tuple[int, int]:
        """Top-left corner of the next region for environment ``env``."""
        return env.corner(self.next_location())

    def notice(self, env) -> None:
        """The matte changed without a question (the person painted a stroke): the grid head
        reads the new matte's statistics; the LSTM state, which only questions advance, stays."""
        if self.state is None or self.policy.grid is None:
            return
        with torch.inference_mode():
            matte = torch.as_tensor(np.asarray(env.matte, dtype=np.float32))[None, None]
            self.state = replace(self.state, matte=matte_statistics(matte, self.policy.grid))

    def observe(self, env, step) -> None:
        """Feed back the region just answered (or skipped) and the matte after it."""
        location = location_for(step.top, step.left, env.shape, env.region_size)
        with torch.inference_mode():
            loc = torch.tensor([location], dtype=torch.float32)
            matte = torch.as_tensor(np.asarray(step.matte, dtype=np.float32))[None, None]
            answer = torch.tensor([ANSWER_CODES[step.answer]], dtype=torch.float32)
            self.state = self.policy.observe(self.state, loc, matte, answer)
