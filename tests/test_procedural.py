"""Procedural foregrounds: determinism, valid mattes, anti-aliasing, compositing of layers."""

from __future__ import annotations

import numpy as np
import pytest

from mattebox.data.procedural import (
    KINDS,
    generate_foreground,
    is_valid_matte,
    kind_for_seed,
    stream_foregrounds,
    write_foregrounds,
)
from mattebox.data.procedural._render import Canvas, LayerStack
from mattebox.data.procedural.textures import NoiseTextures, PhotoTextures
from mattebox.errors import InputError

SIZE = 128


@pytest.mark.parametrize("kind", KINDS)
def test_same_seed_gives_identical_arrays(kind):
    fg1, alpha1 = generate_foreground(11, SIZE, kind)
    fg2, alpha2 = generate_foreground(11, SIZE, kind)
    assert np.array_equal(fg1, fg2) and np.array_equal(alpha1, alpha2)


@pytest.mark.parametrize("kind", KINDS)
def test_different_seeds_differ(kind):
    _, alpha1 = generate_foreground(1, SIZE, kind)
    _, alpha2 = generate_foreground(2, SIZE, kind)
    assert not np.array_equal(alpha1, alpha2)


@pytest.mark.parametrize("kind", KINDS)
def test_alpha_and_foreground_are_valid(kind):
    for seed in range(4):
        fg, alpha = generate_foreground(seed, (SIZE, SIZE + 32), kind)
        assert fg.shape == (SIZE, SIZE + 32, 3) and alpha.shape == (SIZE, SIZE + 32)
        assert fg.dtype == np.float32 and alpha.dtype == np.float32
        assert np.all(np.isfinite(fg)) and np.all(np.isfinite(alpha))
        assert fg.min() >= 0 and fg.max() <= 1
        assert alpha.min() >= 0 and alpha.max() <= 1
        # the three regions of a real matte: opaque, clear and a fractional boundary
        assert np.any(alpha == 1) and np.any(alpha == 0)
        assert np.any((alpha > 0) & (alpha < 1))
        assert is_valid_matte(alpha)


def test_kinds_have_their_character():
    """Mean over seeds: solids are mostly 0/1, transparent objects and nets mostly fractional."""

    def fractional(kind):
        return np.mean([np.mean((a > 0) & (a < 1)) for _, a in
                        (generate_foreground(s, SIZE, kind) for s in range(4))])

    assert fractional("solid") < 0.08
    assert fractional("transparent") > 0.15
    assert fractional("net") > 0.15
    assert fractional("hair") > fractional("solid")


def test_kind_for_seed_cycles_through_all_kinds():
    assert [kind_for_seed(s) for s in range(len(KINDS))] == list(KINDS)
    assert kind_for_seed(len(KINDS) + 2) == KINDS[2]


def test_textures_come_from_the_photos(tmp_path):
    from mattebox.io import write_image

    colour = np.array([0.2, 0.4, 0.6])
    write_image(tmp_path / "flat.png", np.ones((40, 50, 3)) * colour)
    textures = PhotoTextures([tmp_path / "flat.png"])
    patch = textures.patch(np.random.default_rng(0), 64, 80)
    assert patch.shape == (64, 80, 3)
    assert np.allclose(patch, colour, atol=1 / 255)
    # the generator takes any texture source and stays deterministic with it
    a = generate_foreground(3, 64, "solid", NoiseTextures())[0]
    b = generate_foreground(3, 64, "solid", NoiseTextures())[0]
    assert np.array_equal(a, b)


def test_bad_arguments_raise_input_error():
    with pytest.raises(InputError, match="kind"):
        generate_foreground(0, 64, "spaghetti")
    with pytest.raises(InputError, match="too small"):
        generate_foreground(0, 8)
    with pytest.raises(InputError, match="non-negative"):
        generate_foreground(-1, 64)
    with pytest.raises(InputError, match="count"):
        write_foregrounds("unused", 0)


def test_write_foregrounds_round_trips(tmp_path):
    from mattebox.io import read_alpha, read_image

    paths = write_foregrounds(tmp_path, 3, 64, seed=5, kinds=["hair", "net"])
    assert [p.name for p in paths] == ["00000.png", "00001.png", "00002.png"]
    fg, alpha = generate_foreground(7, 64, "hair")  # sample 2: seed 5 + 2, kinds cycled
    assert np.allclose(read_alpha(tmp_path / "alpha" / "00002.png"), alpha, atol=0.5 / 255 + 1e-6)
    assert np.allclose(read_image(tmp_path / "fg" / "00002.png"), fg, atol=0.5 / 255 + 1e-6)


def test_stream_matches_generate():
    stream = stream_foregrounds(seed=4, size=48, kinds=["blur", "solid"])
    first, second = next(stream), next(stream)
    assert np.array_equal(first[1], generate_foreground(4, 48, "blur")[1])
    assert np.array_equal(second[1], generate_foreground(5, 48, "solid")[1])


def test_supersampled_coverage_is_the_covered_area():
    # a disc of radius 3.7 centred at (10.3, 9.8): area pi r^2 = 43.0 px
    t = np.linspace(0, 2 * np.pi, 400, endpoint=False)
    disc = np.stack([10.3 + 3.7 * np.cos(t), 9.8 + 3.7 * np.sin(t)], axis=1)
    canvas = Canvas(20, 20, supersample=4)
    canvas.polygons([disc])
    coverage = canvas.coverage()
    assert coverage.sum() == pytest.approx(np.pi * 3.7**2, abs=0.5)
    # each pixel against a 20x20 point-sampled reference of the true disc
    fine = (np.mgrid[0:400, 0:400] + 0.5) / 20
    inside = (fine[1] - 10.3) ** 2 + (fine[0] - 9.8) ** 2 < 3.7**2
    reference = inside.reshape(20, 20, 20, 20).mean(axis=(1, 3))
    assert np.abs(coverage - reference).max() < 0.15
    assert coverage[10, 10] == 1.0 and coverage[0, 0] == 0.0


def test_thin_line_is_fractional():
    canvas = Canvas(32, 32, supersample=4)
    canvas.lines([np.array([[2.0, 16.3], [30.0, 16.3]])], width=0.25)
    column = canvas.coverage()[:, 16]
    assert 0.2 < column.sum() < 0.6  # about a third of a pixel of ink
    assert column.max() < 0.5


def test_layer_stack_is_premultiplied_over():
    base = np.zeros((1, 3, 3), np.float32)
    stack = LayerStack(base)
    stack.add(np.array([[0.5, 1.0, 0.0]], np.float32), np.array([1.0, 0.0, 0.0]))
    stack.add(np.array([[0.5, 0.0, 0.0]], np.float32), np.array([0.0, 1.0, 0.0]), opacity=0.5)
    fg, alpha = stack.result()
    # pixel 0: 0.25 of green over 0.5 of red -> alpha 0.25 + 0.75 * 0.5 = 0.625
    assert alpha[0, 0] == pytest.approx(0.625)
    assert fg[0, 0] == pytest.approx([0.375 / 0.625, 0.25 / 0.625, 0.0], abs=1e-6)
    assert alpha[0, 1] == 1.0 and np.allclose(fg[0, 1], [1, 0, 0])
    assert alpha[0, 2] == 0.0 and np.allclose(fg[0, 2], base[0, 2])  # F falls back to the base


def test_data_command_writes_foregrounds_and_rejects_bad_kinds(tmp_path, capsys):
    import argparse

    from mattebox.data import command

    parser = argparse.ArgumentParser(prog="mattebox data")
    command.add_arguments(parser)
    args = parser.parse_args(["foregrounds", "-o", str(tmp_path), "--count", "2", "--size", "48",
                              "--kinds", "solid,blur"])
    assert command.run(args) == 0
    assert sorted(p.name for p in (tmp_path / "alpha").iterdir()) == ["00000.png", "00001.png"]
    assert "wrote 2 foregrounds" in capsys.readouterr().out
    with pytest.raises(InputError, match="unknown kind"):
        command.run(parser.parse_args(["foregrounds", "-o", str(tmp_path), "--kinds", "hair,fog"]))
    with pytest.raises(InputError, match="--count"):
        command.run(parser.parse_args(["testset", "-o", str(tmp_path), "--count", "0"]))


def test_data_commands_refuse_a_file_as_their_output_folder(tmp_path):
    import argparse

    from mattebox.data import command
    from mattebox.errors import OutputError

    parser = argparse.ArgumentParser(prog="mattebox data")
    command.add_arguments(parser)
    taken = tmp_path / "taken.png"
    taken.write_bytes(b"keep me")
    for args in (["foregrounds", "-o", str(taken), "--count", "1", "--size", "48"],
                 ["testset", "-o", str(taken), "--count", "1"],
                 ["compose", str(tmp_path), "-o", str(taken)]):
        with pytest.raises(OutputError, match="is a file"):
            command.run(parser.parse_args(args))
    assert taken.read_bytes() == b"keep me"
