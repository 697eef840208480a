"""Reading every supported kind of file, refusing bad ones clearly, writing atomically."""

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from mattebox import io
from mattebox.errors import ImageReadError, InputError, OutputError


def _ramp(h=6, w=8):
    return np.linspace(0, 1, h * w * 3).reshape(h, w, 3)


def test_rgb_png_8bit_round_trip(tmp_path):
    image = _ramp()
    io.write_image(tmp_path / "a.png", image)
    back = io.read_image(tmp_path / "a.png")
    assert back.shape == (6, 8, 3) and back.dtype == np.float64
    np.testing.assert_allclose(back, image, atol=0.5 / 255 + 1e-12)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16bit_colour_keeps_its_precision(tmp_path, suffix):
    image = _ramp()
    io.write_image(tmp_path / f"a{suffix}", image, bits=16)
    back = io.read_image(tmp_path / f"a{suffix}")
    np.testing.assert_allclose(back, image, atol=0.5 / 65535 + 1e-12)


def test_16bit_grey_alpha(tmp_path):
    alpha = np.linspace(0, 1, 48).reshape(6, 8)
    Image.fromarray((alpha * 65535).round().astype(np.uint16)).save(tmp_path / "a.png")
    np.testing.assert_allclose(io.read_alpha(tmp_path / "a.png"), alpha, atol=1e-5)


def test_rgb_alpha_file_with_equal_channels_reads_as_grey(tmp_path):
    grey = (np.linspace(0, 255, 48).reshape(6, 8)).astype(np.uint8)
    Image.fromarray(np.dstack([grey] * 3)).save(tmp_path / "a.png")
    np.testing.assert_allclose(io.read_alpha(tmp_path / "a.png"), grey / 255.0)


def test_colour_file_is_not_an_alpha(tmp_path):
    Image.fromarray((_ramp() * 255).astype(np.uint8)).save(tmp_path / "c.png")
    with pytest.raises(InputError, match="grey"):
        io.read_alpha(tmp_path / "c.png")


def test_palette_trimap_is_read_through_its_palette(tmp_path):
    values = np.array([[0, 128, 255, 128]], dtype=np.uint8)
    image = Image.fromarray(values, mode="L").convert("P")
    image.save(tmp_path / "t.png")
    assert Image.open(tmp_path / "t.png").mode == "P"
    np.testing.assert_array_equal(io.read_trimap(tmp_path / "t.png"), [[0, 0.5, 1, 0.5]])


def test_trimap_values_near_0_and_1_are_known(tmp_path):
    values = np.array([[0, 20, 30, 128, 220, 235, 255]], dtype=np.uint8)
    Image.fromarray(values).save(tmp_path / "t.png")
    # cut at 0.1 (25.5) and 0.9 (229.5)
    np.testing.assert_array_equal(io.read_trimap(tmp_path / "t.png"), [[0, 0, 0.5, 0.5, 0.5, 1, 1]])


def test_rgba_image_drops_alpha_and_grey_image_is_repeated(tmp_path):
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = 10
    Image.fromarray(rgba).save(tmp_path / "a.png")
    image = io.read_image(tmp_path / "a.png")
    assert image.shape == (4, 4, 3)
    assert np.allclose(image[..., 0], 200 / 255) and np.allclose(image[..., 1:], 0)
    Image.fromarray(np.full((3, 5), 51, np.uint8)).save(tmp_path / "g.jpg")
    assert io.read_image(tmp_path / "g.jpg").shape == (3, 5, 3)


def test_webp_and_jpeg_are_read(tmp_path):
    array = (_ramp(16, 16) * 255).astype(np.uint8)
    for name in ("a.webp", "a.jpg"):
        Image.fromarray(array).save(tmp_path / name, quality=95)
        assert io.read_image(tmp_path / name).shape == (16, 16, 3)


def test_exif_orientation_is_applied(tmp_path):
    array = np.zeros((10, 20, 3), dtype=np.uint8)
    array[:, :5] = 255  # white band on the left
    image = Image.fromarray(array)
    exif = image.getexif()
    exif[0x0112] = 6  # displayed rotated 90 degrees clockwise
    image.save(tmp_path / "o.jpg", exif=exif, quality=100)
    read = io.read_image(tmp_path / "o.jpg")
    assert read.shape == (20, 10, 3)
    assert read[:5].mean() > 0.9 and read[10:].mean() < 0.1  # the band is now on top


def test_all_exif_orientations_match_pillow(tmp_path):
    from PIL import ImageOps

    array = np.arange(6 * 4 * 3, dtype=np.uint8).reshape(6, 4, 3) * 3
    for orientation in range(1, 9):
        image = Image.fromarray(array)
        exif = image.getexif()
        exif[0x0112] = orientation
        image.save(tmp_path / "o.png", exif=exif)
        expected = np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / "o.png"))) / 255.0
        np.testing.assert_allclose(io.read_image(tmp_path / "o.png"), expected)


def test_missing_folder_non_image_and_truncated_files(tmp_path):
    with pytest.raises(ImageReadError, match="no such file"):
        io.read_image(tmp_path / "nope.png")
    with pytest.raises(ImageReadError, match="folder"):
        io.read_image(tmp_path)
    (tmp_path / "text.png").write_text("this is not a picture")
    with pytest.raises(ImageReadError, match="not an image"):
        io.read_image(tmp_path / "text.png")
    io.write_image(tmp_path / "full.png", np.random.default_rng(0).random((64, 64, 3)))
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="truncated"):
        io.read_image(tmp_path / "cut.png")


def huge_png(path, width=100_000, height=100_000):
    """A tiny file whose header declares a gigantic image (a decompression bomb's shape)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = lambda kind, body: struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + chunk(b"IEND", b"")
    path.write_bytes(data)
    return path


def test_decompression_bomb_is_refused_from_the_header(tmp_path):
    with pytest.raises(ImageReadError, match="limit"):
        io.read_image(huge_png(tmp_path / "bomb.png"))
    io.write_image(tmp_path / "small.png", np.zeros((10, 10, 3)))
    with pytest.raises(ImageReadError, match="100 pixels"):
        io.read_image(tmp_path / "small.png", max_pixels=50)


def test_pixel_limit_from_the_environment(tmp_path, monkeypatch):
    io.write_image(tmp_path / "small.png", np.zeros((10, 10, 3)))
    monkeypatch.setenv("MATTEBOX_MAX_PIXELS", "99")
    with pytest.raises(ImageReadError, match="MATTEBOX_MAX_PIXELS"):
        io.read_image(tmp_path / "small.png")


def test_write_is_atomic_and_keeps_the_old_file_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "alpha.png"
    io.write_alpha(target, np.full((4, 4), 0.25))
    before = target.read_bytes()

    def broken_encode(path, data, suffix, quality):
        path.write_bytes(b"half a fi")
        raise OSError("disk full")

    monkeypatch.setattr(io, "_encode", broken_encode)
    with pytest.raises(OSError, match="disk full"):
        io.write_alpha(target, np.full((4, 4), 0.75))
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alpha.png"]  # no temporary left


def test_write_refuses_to_replace_an_input_and_bad_targets(tmp_path):
    source = tmp_path / "in.png"
    io.write_image(source, np.zeros((4, 4, 3)))
    with pytest.raises(OutputError, match="input"):
        io.write_image(source, np.ones((4, 4, 3)), protect=[source])
    with pytest.raises(OutputError, match="does not exist"):
        io.write_image(tmp_path / "missing" / "x.png", np.zeros((4, 4, 3)))
    with pytest.raises(OutputError, match="unknown image type"):
        io.write_image(tmp_path / "x.gif", np.zeros((4, 4, 3)))
    with pytest.raises(InputError, match="NaN"):
        io.write_image(tmp_path / "x.png", np.full((4, 4), np.nan))


def test_trimap_written_as_0_128_255(tmp_path):
    io.write_trimap(tmp_path / "t.png", np.array([[0, 0.5, 1.0]]))
    assert np.asarray(Image.open(tmp_path / "t.png")).tolist() == [[0, 128, 255]]


def test_a_path_that_is_not_a_path_is_a_clear_error(tmp_path):
    for bad in (None, 3, b"image.png", ""):
        with pytest.raises(InputError, match="path"):
            io.read_image(bad)
    io.write_image(tmp_path / "x.png", np.zeros((2, 2, 3)))
    with pytest.raises(InputError, match="max_pixels"):
        io.read_image(tmp_path / "x.png", max_pixels="x")
    with pytest.raises(InputError, match="folder"):
        io.make_output_folder(3)
