"""The public Python API: estimate_alpha, matte, the registry and the closed-form solver."""

import subprocess
import sys

import numpy as np
import pytest

import mattebox
from conftest import make_composite
from mattebox import registry
from mattebox.errors import InputError, OutputError


def test_import_is_fast_and_loads_no_heavy_dependency():
    code = (
        "import time, sys; t = time.perf_counter(); import mattebox; "
        "dt = time.perf_counter() - t; "
        "heavy = [m for m in ('torch', 'numba', 'scipy', 'cv2', 'skimage') if m in sys.modules]; "
        "print(dt, heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    seconds, heavy = out.split(" ", 1)
    assert float(seconds) < 1.0
    assert heavy.strip() == "[]"


def test_cf_recovers_a_known_alpha():
    image, alpha, _, _, trimap = make_composite(48, 64)
    estimate = mattebox.estimate_alpha(image, trimap, method="cf")
    unknown = trimap == 0.5
    assert np.abs(estimate - alpha)[unknown].mean() < 0.02
    assert np.array_equal(estimate[~unknown], trimap[~unknown])


def test_cf_agrees_with_pymatting():
    pymatting = pytest.importorskip("pymatting")
    image, _, _, _, trimap = make_composite(40, 40, seed=3)
    ours = mattebox.estimate_alpha(image, trimap, method="cf")
    theirs = pymatting.estimate_alpha_cf(image, trimap)
    assert np.abs(ours - theirs).max() < 0.01


def test_registry_lookup_aliases_and_unknown_names():
    assert registry.get_method("closed-form").name == "cf"
    assert "cf" in [spec.name for spec in registry.list_methods()]
    with pytest.raises(InputError, match="unknown matting method"):
        registry.get_method("no-such-method")


def test_estimate_alpha_rejects_bad_arrays_clearly():
    image, _, _, _, trimap = make_composite(32, 32)
    with pytest.raises(InputError, match="same size"):
        mattebox.estimate_alpha(image, trimap[:, :20])
    bad = image.copy()
    bad[3, 3, 1] = np.nan
    with pytest.raises(InputError, match="NaN"):
        mattebox.estimate_alpha(bad, trimap)
    with pytest.raises(InputError, match="no unknown"):
        mattebox.estimate_alpha(image, np.where(trimap == 0.5, 1.0, trimap))
    with pytest.raises(InputError, match="no foreground"):
        mattebox.estimate_alpha(image, np.where(trimap == 1.0, 0.5, trimap))
    with pytest.raises(InputError, match="no background"):
        mattebox.estimate_alpha(image, np.where(trimap == 0.0, 0.5, trimap))
    with pytest.raises(InputError, match="divide by 255"):
        mattebox.estimate_alpha(image * 255, trimap)
    with pytest.raises(InputError, match="needs a trimap"):
        mattebox.estimate_alpha(image, None, "cf")
    with pytest.raises(InputError, match="H x W x 3"):
        mattebox.estimate_alpha(image[..., :2], trimap)


def test_estimate_alpha_rejects_bad_method_options_before_running():
    image, _, _, _, trimap = make_composite()
    with pytest.raises(InputError, match="option tol of 'ifm' must be a number"):
        mattebox.estimate_alpha(image, trimap, method="ifm", tol="abc")
    with pytest.raises(InputError, match="must be a number"):
        mattebox.estimate_alpha(image, trimap, method="knn", tol=True)
    with pytest.raises(InputError, match=r"unknown option\(s\) for 'global': tol; choose from"):
        mattebox.estimate_alpha(image, trimap, method="global", tol=1e-5)
    # Integers where the default is a float, and None where any value is allowed, pass.
    alpha = mattebox.estimate_alpha(image, trimap, method="ifm", cm_weight=1,
                                    use_known_to_unknown=None)
    assert alpha.shape == trimap.shape


def test_estimate_alpha_accepts_uint8_and_0_128_255_trimaps():
    image, _, _, _, trimap = make_composite(32, 32)
    as_bytes = (image * 255).round().astype(np.uint8)
    trimap_bytes = np.where(trimap == 0.5, 128, trimap * 255).astype(np.uint8)
    alpha = mattebox.estimate_alpha(as_bytes, trimap_bytes)
    assert alpha.shape == (32, 32) and alpha.dtype == np.float64


def test_preview_solves_a_shrunk_copy_and_keeps_the_known_pixels():
    from mattebox.solvers.preview import estimate_alpha_preview

    image, alpha, _, _, trimap = make_composite(64, 80)
    quick = mattebox.estimate_alpha(image, trimap, method="cf", preview=0.5)
    assert np.array_equal(quick, estimate_alpha_preview(image, trimap, method="cf", scale=0.5))
    known = trimap != 0.5
    assert np.array_equal(quick[known], trimap[known])
    full = mattebox.estimate_alpha(image, trimap, method="cf")
    assert not np.array_equal(quick, full)
    assert np.abs(quick - alpha)[~known].mean() < 0.05
    assert np.array_equal(mattebox.estimate_alpha(image, trimap, method="cf", preview=1.0),
                          estimate_alpha_preview(image, trimap, method="cf", scale=1.0))
    for bad in (0, -0.5, 1.5, float("nan"), "half"):
        with pytest.raises(InputError, match="preview must be a finite number > 0 and <= 1"):
            mattebox.estimate_alpha(image, trimap, method="cf", preview=bad)
    # a method that takes a coarse mask (none is registered yet) is refused
    from dataclasses import replace

    from mattebox.api import _preview_scale

    with pytest.raises(InputError, match="preview works with the methods that take a trimap"):
        _preview_scale(0.5, replace(registry.get_method("cf"), needs="mask"))


def test_matte_from_files_writes_everything_and_protects_inputs(tmp_path):
    image, _, _, _, trimap = make_composite(24, 32)
    mattebox.write_image(tmp_path / "img.png", image)
    mattebox.io.write_trimap(tmp_path / "tri.png", trimap)
    result = mattebox.matte(tmp_path / "img.png", tmp_path / "tri.png", background="#00ff00",
                            output_dir=tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["alpha.png", "composite.png", "cutout.png"]
    assert result.cutout.shape == (24, 32, 4)
    with pytest.raises(OutputError, match="input"):
        mattebox.matte(tmp_path / "out" / "composite.png", tmp_path / "tri.png", background="#00ff00",
                       output_dir=tmp_path / "out")
    # without a background no composite.png is written, so a photo of that name is no obstacle
    before = (tmp_path / "out" / "composite.png").read_bytes()
    mattebox.matte(tmp_path / "out" / "composite.png", tmp_path / "tri.png", output_dir=tmp_path / "out")
    assert (tmp_path / "out" / "composite.png").read_bytes() == before


def test_versioned_name_tags_methods_past_their_first_revision():
    from mattebox.registry import get_method, versioned_name

    assert versioned_name("cf") == "cf"  # revision 1: keys made before revisions stay valid
    assert versioned_name("sm") == f"sm-r{get_method('sm').revision}"
