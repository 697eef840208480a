"""The Deep Image Matting network (Xu, Price, Cohen and Huang, "Deep Image Matting", CVPR 2017).

Two stages (Sec. 4.1-4.2 of the paper):

1. Encoder-decoder. A VGG16 encoder (13 3x3 convolutions in 5 blocks, each block ending in a
   2x2 max-pool) on the 4-channel input RGB + trimap, then fc6 turned into a convolution. The
   decoder mirrors it with unpooling (using the encoder's max-pool indices), one convolution
   per scale: deconv6 1x1, then after each unpooling a 5x5 convolution (deconv5..deconv1), and
   a 5x5 "raw alpha prediction" layer. It predicts the coarse alpha.
2. Refinement: the image concatenated with the coarse alpha, four 3x3 convolutions (64
   channels, ReLU after the first three) and a skip connection from the coarse alpha.

Where we depart from the paper, and why:

- No ImageNet weights are available, so every layer is trained from scratch (Xavier init, as
  the paper uses for its new layers) and each convolution but the last of a stage is followed
  by batch normalisation, which from-scratch VGG training needs.
- fc6 becomes a 1x1 convolution as wide as the last block (the paper keeps VGG's 4096-wide
  fc6; without its pretrained weights a narrow layer trains faster and generalises as well).
- The coarse alpha is sigmoid(z); the refinement adds its residual r to z (sigmoid(z + r)),
  the paper's skip connection written in logit space so the result stays in [0, 1] without
  clamping away gradients.
- ``widths`` scales the network: the paper's are (64, 128, 256, 512, 512); the small CPU model
  uses (16, 32, 64, 128, 256).
- ``colour_hints`` (ours, off by default and in the paper's configuration): seven more input
  channels, the known-colour hints of :mod:`mattebox.models.colour_hints` (each pixel's nearby
  trimap foreground and background colours and the alpha they imply), computed from the image
  and trimap inside :meth:`DIMNet.forward`, so training and inference need nothing else.
- ``hint_source`` (ours): where the hints come from, ``"pushpull"`` (the default, above) or
  ``"sm"``, shared matting's F, B and alpha (:func:`~mattebox.models.colour_hints.sampling_hints`):
  the same seven channels, so weights trained with one source can be fine-tuned with the other.
- ``hint_skip`` (ours, needs ``colour_hints``): the coarse logits get ``g * logit(alpha^)``
  added, alpha^ the hints' alpha clipped to [0.02, 0.98] and g a learned scalar (1 in a new
  network, 0 in one grown from weights without it), so the network learns a correction to the
  hints' alpha instead of finding them among its inputs.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from ..base import IMAGENET_MEAN, IMAGENET_STD, Mattor, normalise_input
from ..colour_hints import HINT_CHANNELS, HINT_SOURCES, known_colour_hints, sampling_hints

#: alpha^ is clipped to [HINT_CLIP, 1 - HINT_CLIP] before its logit (ours: logits within +-3.9).
HINT_CLIP = 0.02

#: Convolutions per VGG16 block.
VGG16_BLOCKS = (2, 2, 3, 3, 3)
#: The paper's VGG16 widths.
PAPER_WIDTHS = (64, 128, 256, 512, 512)


def _conv(in_ch: int, out_ch: int, kernel: int, batch_norm: bool, relu: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(in_ch, out_ch, kernel, padding=kernel // 2, bias=not batch_norm)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(out_ch))
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class DIMNet(Mattor):
    """Deep Image Matting: VGG16-style encoder-decoder with unpooling, plus the refinement stage.

    Parameters
    ----------
    widths : the five encoder block widths.
    blocks : convolutions per encoder block (VGG16: 2, 2, 3, 3, 3).
    decoder_kernel : kernel of deconv5..deconv1 and the raw alpha layer (paper: 5).
    refine_width : channels of the refinement convolutions (paper: 64); 0 drops the stage.
    batch_norm : batch normalisation after the convolutions (see the module docstring).
    colour_hints : add the known-colour hint channels to the input (ours; see the module docstring).
    hint_skip : add the gated logit of the hints' alpha to the coarse logits (ours; needs colour_hints).
    hint_source : "pushpull" or "sm", where the hints come from (ours; see the module docstring).
    """

    def __init__(
        self,
        widths: Sequence[int] = PAPER_WIDTHS,
        blocks: Sequence[int] = VGG16_BLOCKS,
        decoder_kernel: int = 5,
        refine_width: int = 64,
        batch_norm: bool = True,
        colour_hints: bool = False,
        hint_skip: bool = False,
        hint_source: str = "pushpull",
    ) -> None:
        super().__init__()
        if len(widths) != 5 or len(blocks) != 5:
            raise ValueError("DIM needs five encoder widths and five block depths")
        widths, blocks = [int(w) for w in widths], [int(b) for b in blocks]
        self.colour_hints = bool(colour_hints)
        if hint_source not in HINT_SOURCES:
            raise ValueError(f"hint_source must be one of {', '.join(HINT_SOURCES)}, not {hint_source!r}")
        self.hint_source = hint_source
        if hint_skip and not self.colour_hints:
            raise ValueError("hint_skip needs colour_hints = true (the skip adds the hints' alpha)")
        self.hint_gate = nn.Parameter(torch.ones(())) if hint_skip else None
        self.encoder = nn.ModuleList()
        in_ch = 4 + (HINT_CHANNELS if self.colour_hints else 0)
        for width, depth in zip(widths, blocks):
            layers = [_conv(in_ch if i == 0 else width, width, 3, batch_norm) for i in range(depth)]
            self.encoder.append(nn.Sequential(*layers))
            in_ch = width
        self.conv6 = _conv(widths[4], widths[4], 1, batch_norm)
        self.deconv6 = _conv(widths[4], widths[4], 1, batch_norm)
        # deconv_k after unpooling at scale k feeds unpooling at scale k-1, so its width is
        # that of encoder block k-1 (deconv1 keeps block 1's width).
        out_widths = [widths[0]] + widths[:4]  # deconv1..deconv5
        self.decoder = nn.ModuleList(
            _conv(widths[k], out_widths[k], decoder_kernel, batch_norm) for k in range(5)
        )  # decoder[k] is deconv(k+1), applied after unpooling to the scale of block k+1
        self.raw_alpha = nn.Conv2d(widths[0], 1, decoder_kernel, padding=decoder_kernel // 2)
        self.refine_width = int(refine_width)
        if self.refine_width > 0:
            self.refine = nn.Sequential(
                _conv(4, refine_width, 3, batch_norm),
                _conv(refine_width, refine_width, 3, batch_norm),
                _conv(refine_width, refine_width, 3, batch_norm),
                nn.Conv2d(refine_width, 1, 3, padding=1),
            )
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        if self.refine_width > 0:
            # The refinement starts as the identity on the coarse alpha.
            nn.init.zeros_(self.refine[-1].weight)
            nn.init.zeros_(self.refine[-1].bias)

    def encoder_decoder_parameters(self) -> list[nn.Parameter]:
        """Parameters of stage 1 (everything but the refinement)."""
        skip = {id(p) for p in (*self.refinement_parameters(), *self.hint_parameters())}
        return [p for p in self.parameters() if id(p) not in skip]

    def hint_parameters(self) -> list[nn.Parameter]:
        """The gate of ``hint_skip`` (empty without it)."""
        return [self.hint_gate] if self.hint_gate is not None else []

    def refinement_parameters(self) -> list[nn.Parameter]:
        return list(self.refine.parameters()) if self.refine_width > 0 else []

    def load_grown_state_dict(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Load the weights of the same network with fewer hint options into this one.

        The first convolution's weights for new hint channels start at zero, and a new
        ``hint_skip`` gate at 0, so the network computes exactly what the loaded one did until
        training teaches it to use them.
        """
        key = "encoder.0.0.0.weight"
        state = dict(state_dict)
        old = state[key]
        new = torch.zeros_like(self.encoder[0][0][0].weight)
        if old.shape[1] > new.shape[1] or old.shape[0] != new.shape[0] or old.shape[2:] != new.shape[2:]:
            raise ValueError(f"cannot grow a first convolution of shape {tuple(old.shape)} into {tuple(new.shape)}")
        new[:, : old.shape[1]] = old
        state[key] = new
        if self.hint_gate is not None:
            state.setdefault("hint_gate", torch.zeros(()))
        self.load_state_dict(state)

    @torch.no_grad()
    def start_from_hints(self) -> None:
        """Make the network predict its hints' alpha and nothing of its own: the raw alpha layer
        and the refinement's last layer zeroed, the ``hint_skip`` gate set to 1. Training then
        learns corrections to the hints (``[train] init_output = "hints"``; ours). The coarse
        alpha starts as alpha^ clipped to [HINT_CLIP, 1 - HINT_CLIP]."""
        if self.hint_gate is None:
            raise ValueError("start_from_hints needs hint_skip = true (the gate carries the hints' alpha)")
        for layer in (self.raw_alpha, *([self.refine[-1]] if self.refine_width > 0 else [])):
            layer.weight.zero_()
            if layer.bias is not None:
                layer.bias.zero_()
        self.hint_gate.fill_(1.0)

    @property
    def whole_image_channels(self) -> int:
        """Channels of :meth:`whole_image_inputs`: the hints' seven, or 0 without ``colour_hints``."""
        return HINT_CHANNELS if self.colour_hints else 0

    def whole_image_inputs(self, image: torch.Tensor, trimap: torch.Tensor,
                           out: torch.Tensor | None = None) -> torch.Tensor:
        """The hints of the whole image, computed once for tiled inference and written into
        ``out`` (:func:`mattebox.models.base.padded_network_inputs`)."""
        if self.hint_source == "sm":
            return sampling_hints(image, trimap, out=out)
        return known_colour_hints(image, trimap, out=out)

    def network_input(self, image: torch.Tensor, trimap: torch.Tensor,
                      hints: torch.Tensor | None = None) -> torch.Tensor:
        """The normalised input: RGB and trimap (:func:`normalise_input`), then the hints if any
        (``hints``: those of :meth:`whole_image_inputs` for this crop; else computed here)."""
        x = normalise_input(image, trimap)
        if not self.colour_hints:
            return x
        if hints is None:
            hints = self.whole_image_inputs(image, trimap)
        mean = image.new_tensor(IMAGENET_MEAN * 2).view(1, 6, 1, 1)
        std = image.new_tensor(IMAGENET_STD * 2).view(1, 6, 1, 1)
        return torch.cat([x, (hints[:, :6] - mean) / std, 2.0 * hints[:, 6:] - 1.0], dim=1)

    def coarse_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Stage 1 on the normalised N x C x H x W input (H, W multiples of 32)."""
        indices, sizes = [], []
        for block in self.encoder:
            x = block(x)
            sizes.append(x.shape[-2:])
            x, index = F.max_pool2d(x, 2, 2, return_indices=True)
            indices.append(index)
        x = self.deconv6(self.conv6(x))
        for k in reversed(range(5)):
            x = F.max_unpool2d(x, indices[k], 2, 2, output_size=sizes[k])
            x = self.decoder[k](x)
        return self.raw_alpha(x)

    def forward(self, image: torch.Tensor, trimap: torch.Tensor, *, refine: bool = True,
                coarse_grad: bool = True, extra: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """``{"alpha": final alpha, "alpha_coarse": stage-1 alpha}``, each N x 1 x H x W in [0, 1].

        ``coarse_grad=False`` runs stage 1 without autograd (refinement-only training).
        ``extra``: this crop of :meth:`whole_image_inputs` (tiled inference).
        """
        x = self.network_input(image, trimap, extra)
        with torch.set_grad_enabled(coarse_grad and torch.is_grad_enabled()):
            logits = self.coarse_logits(x)
            if self.hint_gate is not None:
                hint_alpha = (x[:, 4 + HINT_CHANNELS - 1 :] + 1.0) / 2.0  # alpha^, stored as 2 a - 1
                logits = logits + self.hint_gate * torch.logit(hint_alpha.clamp(HINT_CLIP, 1.0 - HINT_CLIP))
        coarse = torch.sigmoid(logits)
        if not refine or self.refine_width == 0:
            return {"alpha": coarse, "alpha_coarse": coarse}
        residual = self.refine(torch.cat([x[:, :3], coarse], dim=1))
        return {"alpha": torch.sigmoid(logits + residual), "alpha_coarse": coarse}
