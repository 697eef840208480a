"""Known-colour hints (push-pull fill of the trimap's colours) and the DIM input that uses them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mattebox.models.colour_hints import HINT_CHANNELS, known_colour_hints, push_pull
from mattebox.models.dim.network import DIMNet

TINY = {"widths": [4, 8, 8, 16, 16], "refine_width": 8}


def test_push_pull_keeps_known_pixels_and_fills_with_the_nearest_colours():
    colour = torch.zeros(1, 3, 40, 60)
    colour[..., :, :10] = torch.tensor([0.9, 0.1, 0.2]).view(1, 3, 1, 1)
    colour[..., :, 50:] = torch.tensor([0.1, 0.3, 0.8]).view(1, 3, 1, 1)
    weight = torch.zeros(1, 1, 40, 60)
    weight[..., :, :10] = 1.0
    weight[..., :, 50:] = 1.0
    filled = push_pull(colour, weight)
    assert torch.allclose(filled[..., :10], colour[..., :10], atol=1e-6)
    assert torch.allclose(filled[..., 50:], colour[..., 50:], atol=1e-6)
    # just past each known block the fill is (nearly) that block's colour, mid-way a mixture
    assert torch.allclose(filled[0, :, 20, 11], colour[0, :, 20, 0], atol=0.1)
    assert torch.allclose(filled[0, :, 20, 48], colour[0, :, 20, 59], atol=0.1)
    mid = filled[0, 0, 20, 30].item()
    assert 0.2 < mid < 0.8
    # nothing known: zeros, not NaN
    assert torch.equal(push_pull(colour, torch.zeros_like(weight)), torch.zeros_like(colour))


def test_hints_recover_the_alpha_of_a_two_colour_composite():
    height, width = 48, 64
    ramp = ((torch.arange(width) - 8.0) / (width - 17.0)).clamp(0, 1)  # 0 on 8 columns, 1 on 8
    alpha = ramp.view(1, 1, 1, width).expand(1, 1, height, width)
    fg = torch.tensor([0.9, 0.7, 0.2]).view(1, 3, 1, 1)
    bg = torch.tensor([0.1, 0.2, 0.6]).view(1, 3, 1, 1)
    image = alpha * fg + (1 - alpha) * bg
    trimap = torch.full((1, 1, height, width), 0.5)
    trimap[alpha <= 0.0] = 0.0
    trimap[alpha >= 1.0] = 1.0
    hints = known_colour_hints(image, trimap)
    assert hints.shape == (1, HINT_CHANNELS, height, width)
    assert torch.allclose(hints[:, :3], fg.expand_as(image), atol=1e-5)
    assert torch.allclose(hints[:, 3:6], bg.expand_as(image), atol=1e-5)
    assert (hints[:, 6:] - alpha).abs().max() < 0.01  # eps = 1e-3 against |F - B|^2 = 0.89


def test_dim_with_hints_grows_from_the_model_without_them():
    torch.manual_seed(0)
    plain = DIMNet(**TINY).eval()
    hinted = DIMNet(**TINY, colour_hints=True).eval()
    assert hinted.encoder[0][0][0].in_channels == 4 + HINT_CHANNELS
    hinted.load_grown_state_dict(plain.state_dict())
    image = torch.rand(2, 3, 64, 64)
    trimap = torch.full((2, 1, 64, 64), 0.5)
    trimap[..., :16, :] = 0.0
    trimap[..., -16:, :] = 1.0
    with torch.no_grad():
        same = plain(image, trimap)["alpha"], hinted(image, trimap)["alpha"]
    assert torch.equal(*same)
    # once its hint weights move, the hinted network answers differently
    with torch.no_grad():
        hinted.encoder[0][0][0].weight[:, 4:] = 0.5
        assert not torch.allclose(hinted(image, trimap)["alpha"], same[0])
    with pytest.raises(ValueError, match="cannot grow"):
        DIMNet(**TINY).load_grown_state_dict(hinted.state_dict())


def test_dim_with_hints_overfits_a_tiny_batch():
    from test_dim import overfit_losses

    torch.manual_seed(0)
    first, final = overfit_losses(DIMNet(**TINY, colour_hints=True))
    assert final < first / 10, (first, final)
    assert np.isfinite(final)


def test_hint_skip_starts_at_the_hints_alpha_or_at_the_grown_model():
    from mattebox.models.dim.training import DIMObjective

    torch.manual_seed(0)
    with pytest.raises(ValueError, match="needs colour_hints"):
        DIMNet(**TINY, hint_skip=True)
    plain = DIMNet(**TINY).eval()
    skip = DIMNet(**TINY, colour_hints=True, hint_skip=True).eval()
    skip.load_grown_state_dict(plain.state_dict())
    assert skip.hint_gate.item() == 0.0
    image = torch.rand(1, 3, 64, 64)
    trimap = torch.full((1, 1, 64, 64), 0.5)
    trimap[..., :, :16] = 0.0
    trimap[..., :, -16:] = 1.0
    with torch.no_grad():
        assert torch.equal(plain(image, trimap)["alpha"], skip(image, trimap)["alpha"])
        # with the network's own logits silenced, the gate alone sets the coarse alpha
        skip.raw_alpha.weight.zero_()
        skip.raw_alpha.bias.zero_()
        skip.hint_gate.fill_(1.0)
        hint = known_colour_hints(image, trimap)[:, 6:].clamp(0.02, 0.98)
        assert torch.allclose(skip(image, trimap)["alpha_coarse"], hint, atol=1e-5)
    # the gate is its own parameter group, with its own learning-rate factor, frozen with stage 1
    objective = DIMObjective(skip, refine_steps=5, hint_gate_lr_factor=10)
    groups = {g["name"]: g["params"] for g in objective.param_groups()}
    assert groups["hint_gate"] == [skip.hint_gate]
    assert all(p is not skip.hint_gate for p in groups["encoder_decoder"])
    assert objective.lr_factor("hint_gate", 10) == 10 and objective.lr_factor("hint_gate", 2) == 0
    from mattebox.errors import InputError

    with pytest.raises(InputError, match="hint_gate_lr_factor"):
        DIMObjective(skip, hint_gate_lr_factor=0)


def test_tiled_inference_gives_every_tile_the_whole_images_hints():
    """A tile far from the foreground holds no foreground pixel; its hints must still come from
    the whole image (computed once), not be filled with black from the tile alone."""
    from mattebox.models.base import pad_inputs, predict_alpha

    torch.manual_seed(0)
    model = DIMNet(**TINY, colour_hints=True).eval()
    height, width = 96, 320
    rng = np.random.default_rng(1)
    image = rng.random((height, width, 3)) * 0.2 + np.array([0.1, 0.2, 0.6])
    image[:, :40] = [0.9, 0.8, 0.1]
    trimap = np.full((height, width), 0.5)
    trimap[:, :32] = 1.0  # foreground only at the far left
    trimap[:8] = 0.0
    seen = []
    forward = model.forward

    def spy(image_t, trimap_t, **kwargs):
        seen.append(kwargs.get("extra"))
        return forward(image_t, trimap_t, **kwargs)

    model.forward = spy
    predict_alpha(model, image, trimap, tile_size=128, halo=16, ramp=16)
    assert len(seen) > 2 and all(extra is not None for extra in seen)
    inputs = pad_inputs(image, trimap)
    whole = known_colour_hints(inputs[:, :3], inputs[:, 3:4])
    last = seen[-1]  # the rightmost tile: no foreground pixel in it
    assert torch.allclose(last, whole[:, :, :, -last.shape[-1]:], atol=1e-6)
    assert float(last[:, 0:3].mean()) > 0.3  # the far foreground's yellow, not black
    assert bool((trimap[:, -last.shape[-1]:] != 1.0).all())


def test_sampling_hints_are_shared_mattings_pair_and_alpha():
    """hint_source = "sm": the seven channels are shared matting's F, B and alpha, image by
    image; a crop without foreground (or background) falls back to the push-pull hints."""
    from mattebox.models.colour_hints import sampling_hints
    from mattebox.solvers.shared_sampling import estimate_alpha_sm

    rng = np.random.default_rng(3)
    height, width = 40, 56
    image = torch.from_numpy(rng.random((2, 3, height, width)).astype(np.float32))
    trimap = torch.full((2, 1, height, width), 0.5)
    trimap[0, :, :10] = 0.0
    trimap[0, :, -10:] = 1.0
    trimap[1, :, :10] = 0.0  # no foreground in the second image
    hints = sampling_hints(image, trimap)
    assert hints.shape == (2, HINT_CHANNELS, height, width)
    rgb = image[0].numpy().transpose(1, 2, 0).astype(np.float64)
    alpha, fg, bg = estimate_alpha_sm(rgb, trimap[0, 0].numpy().astype(np.float64),
                                      return_foreground_background=True)
    assert np.allclose(hints[0, 6].numpy(), alpha, atol=1e-6)
    assert np.allclose(hints[0, 0:3].numpy(), fg.transpose(2, 0, 1), atol=1e-6)
    assert np.allclose(hints[0, 3:6].numpy(), bg.transpose(2, 0, 1), atol=1e-6)
    assert torch.allclose(hints[1:], known_colour_hints(image[1:], trimap[1:]))


def test_dim_takes_its_hints_from_the_named_source():
    torch.manual_seed(0)
    with pytest.raises(ValueError, match="hint_source"):
        DIMNet(**TINY, colour_hints=True, hint_source="nearest")
    pushpull = DIMNet(**TINY, colour_hints=True).eval()
    sampled = DIMNet(**TINY, colour_hints=True, hint_source="sm").eval()
    sampled.load_state_dict(pushpull.state_dict())  # same weights, other inputs
    rng = np.random.default_rng(4)
    image = torch.from_numpy(rng.random((1, 3, 64, 64)).astype(np.float32))
    trimap = torch.full((1, 1, 64, 64), 0.5)
    trimap[..., :16, :] = 0.0
    trimap[..., -16:, :] = 1.0
    from mattebox.models.colour_hints import sampling_hints

    assert torch.equal(sampled.whole_image_inputs(image, trimap), sampling_hints(image, trimap))
    with torch.no_grad():
        assert not torch.allclose(pushpull(image, trimap)["alpha"], sampled(image, trimap)["alpha"])


def test_start_from_hints_predicts_the_hints_alpha_until_trained():
    from mattebox.models.dim.network import HINT_CLIP

    torch.manual_seed(0)
    with pytest.raises(ValueError, match="hint_skip"):
        DIMNet(**TINY, colour_hints=True).start_from_hints()
    model = DIMNet(**TINY, colour_hints=True, hint_skip=True).eval()
    image = torch.rand(1, 3, 64, 64)
    trimap = torch.full((1, 1, 64, 64), 0.5)
    trimap[..., :, :16] = 0.0
    trimap[..., :, -16:] = 1.0
    hint = known_colour_hints(image, trimap)[:, 6:].clamp(HINT_CLIP, 1 - HINT_CLIP)
    with torch.no_grad():
        model.raw_alpha.bias.fill_(1.0)  # a network with an opinion of its own
        assert not torch.allclose(model(image, trimap)["alpha"], hint, atol=1e-3)
        model.start_from_hints()
        out = model(image, trimap)
    assert torch.allclose(out["alpha"], hint, atol=1e-5)
    assert torch.allclose(out["alpha_coarse"], hint, atol=1e-5)
    assert model.hint_gate.item() == 1.0
