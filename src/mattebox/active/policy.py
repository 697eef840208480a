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
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
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
        return cls(**fixed)


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
    """LSTM state (h, c) and its latest output v (all B x hidden)."""

    h: torch.Tensor
    c: torch.Tensor

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
        # Start near the image centre with small steps, and the baseline at 0.
        nn.init.trunc_normal_(self.locate.weight, std=0.01, a=-0.02, b=0.02)
        nn.init.zeros_(self.baseline.weight)

    def image_tensor(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        """H x W x 3 (or B x H x W x 3) images in [0, 1] -> the feature net's input tensor."""
        return image_tensor(images, self.config.image_size)

    def begin(self, images: torch.Tensor) -> PolicyState:
        """Feature extraction and the first LSTM step on g0; the state's v gives l_1."""
        g0 = self.norm_g0(self.extract(images))
        zeros = g0.new_zeros(g0.shape[0], self.config.hidden_size)
        h, c = self.rnn(g0, (zeros, zeros))
        return PolicyState(h, c)

    def head(self, state: PolicyState) -> tuple[torch.Tensor, torch.Tensor]:
        """Predicted location l_hat (B x 2; clamp to [-1, 1] to use it) and baseline b (B) from v_i."""
        return self.locate(state.v), self.baseline(state.v.detach()).squeeze(1)

    def observe(self, state: PolicyState, locations: torch.Tensor, mattes: torch.Tensor) -> PolicyState:
        """One LSTM step on g_i = f_jEnc(l_i, alpha_i); ``mattes`` B x 1 x H x W in [0, 1]."""
        patches = matte_patches(mattes, locations, self.config)
        g = self.norm_g(self.encode(locations, patches))
        h, c = self.rnn(g, (state.h, state.c))
        return PolicyState(h, c)

    def log_prob(self, samples: torch.Tensor, means: torch.Tensor) -> torch.Tensor:
        """log N(samples; means, Omega^2 I), summed over y and x (B)."""
        omega = self.config.omega
        z = (samples - means) / omega
        return (-0.5 * z * z - math.log(omega * math.sqrt(2 * math.pi))).sum(dim=1)


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


def load_policy(path: str | Path | None = None) -> ActivePolicy:
    """A trained policy from a weights file (by default the shipped small policy), in eval mode."""
    path = Path(path) if path is not None else default_weights()
    if not path.is_file():
        raise InputError(
            f"no active-matting policy weights at {path}; train one with "
            "`python -m mattebox.active.reinforce --config configs/active_small.toml` "
            "or choose --policy ideal, cluster or random"
        )
    payload = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(payload, dict) or "policy_config" not in payload:
        raise InputError(f"{path} is not an active-matting policy file (no policy_config inside)")
    policy = build_policy(dict(payload["policy_config"]))
    policy.load_state_dict(payload["model_state"])
    policy.eval()
    return policy


@dataclass
class LearnedStrategy:
    """Suggestions from a trained :class:`ActivePolicy` at inference (S = 1: the mean location).

    Keeps the LSTM state across steps; :meth:`observe` feeds back each answered step's matte.
    """

    policy: ActivePolicy
    state: PolicyState | None = field(default=None, repr=False)
    name: str = "learned"

    def reset(self, image: np.ndarray) -> None:
        with torch.inference_mode():
            self.state = self.policy.begin(self.policy.image_tensor(image))

    def next_location(self) -> tuple[float, float]:
        if self.state is None:
            raise InputError("call reset(image) before asking the policy for a suggestion")
        with torch.inference_mode():
            location, _ = self.policy.head(self.state)
        y, x = location[0].tolist()
        return float(y), float(x)

    def suggest(self, env) -> tuple[int, int]:
        """Top-left corner of the next region for environment ``env``."""
        return env.corner(self.next_location())

    def observe(self, env, step) -> None:
        """Feed back the region just answered (or skipped) and the matte after it."""
        location = location_for(step.top, step.left, env.shape, env.region_size)
        with torch.inference_mode():
            loc = torch.tensor([location], dtype=torch.float32)
            matte = torch.as_tensor(np.asarray(step.matte, dtype=np.float32))[None, None]
            self.state = self.policy.observe(self.state, loc, matte)
