"""The command line with good and malformed inputs: exit 2, one clear sentence, nothing written."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import make_composite
from mattebox import io
from mattebox.cli import main
from test_io import huge_png


@pytest.fixture
def files(tmp_path):
    image, alpha, _, _, trimap = make_composite(32, 40)
    io.write_image(tmp_path / "image.png", image)
    io.write_trimap(tmp_path / "trimap.png", trimap)
    io.write_alpha(tmp_path / "alpha.png", alpha)
    return tmp_path


def run(args, capsys):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_refused(args, capsys, match, out_dir):
    code, _, err = run(args, capsys)
    assert code == 2, err
    assert match in err, err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("mattebox: error:")]
    assert len(errors) == 1 and err.splitlines()[-1] == errors[0]  # one sentence, the last line
    assert not Path(out_dir).exists() or not any(Path(out_dir).iterdir())


def test_matte_writes_alpha_cutout_and_composite(files, capsys):
    out = files / "out"
    code, stdout, _ = run(["matte", files / "image.png", "--trimap", files / "trimap.png",
                           "-b", "#3366ff", "-o", out], capsys)
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["alpha.png", "composite.png", "cutout.png"]
    assert Image.open(out / "cutout.png").mode == "RGBA"
    assert str(out / "alpha.png") in stdout


def test_mismatched_sizes(files, capsys):
    io.write_trimap(files / "small.png", np.full((10, 10), 0.5))
    assert_refused(["matte", files / "image.png", "-t", files / "small.png", "-o", files / "o"],
                   capsys, "same size", files / "o")


def test_trimap_without_unknown_pixels(files, capsys):
    trimap = io.read_trimap(files / "trimap.png")
    io.write_trimap(files / "t.png", np.where(trimap == 0.5, 1.0, trimap))
    assert_refused(["matte", files / "image.png", "-t", files / "t.png", "-o", files / "o"],
                   capsys, "no unknown pixels", files / "o")


@pytest.mark.parametrize("value,missing", [(1.0, "no background"), (0.0, "no foreground")])
def test_trimap_without_foreground_or_background(files, capsys, value, missing):
    trimap = io.read_trimap(files / "trimap.png")
    io.write_trimap(files / "t.png", np.where(trimap == 0.5, 0.5, value))
    assert_refused(["matte", files / "image.png", "-t", files / "t.png", "-o", files / "o"],
                   capsys, missing, files / "o")


def test_non_image_file(files, capsys):
    (files / "notes.png").write_text("hello")
    assert_refused(["matte", files / "notes.png", "-t", files / "trimap.png", "-o", files / "o"],
                   capsys, "not an image", files / "o")


def test_truncated_png(files, capsys):
    data = (files / "image.png").read_bytes()
    (files / "cut.png").write_bytes(data[: len(data) * 2 // 3])
    assert_refused(["matte", files / "cut.png", "-t", files / "trimap.png", "-o", files / "o"],
                   capsys, "truncated", files / "o")


def test_huge_declared_size(files, capsys):
    huge_png(files / "bomb.png")
    assert_refused(["matte", files / "bomb.png", "-t", files / "trimap.png", "-o", files / "o"],
                   capsys, "limit", files / "o")


def test_missing_file(files, capsys):
    assert_refused(["matte", files / "nope.jpg", "-t", files / "trimap.png", "-o", files / "o"],
                   capsys, "no such file", files / "o")


def test_output_folder_not_writable(files, capsys):
    (files / "plain.txt").write_text("a file, not a folder")
    assert_refused(["matte", files / "image.png", "-t", files / "trimap.png", "-o", files / "plain.txt"],
                   capsys, "is a file", files / "none")
    assert_refused(["matte", files / "image.png", "-t", files / "trimap.png", "-o", files / "plain.txt" / "sub"],
                   capsys, "cannot create output folder", files / "none")
    assert (files / "plain.txt").read_text() == "a file, not a folder"


def test_output_path_equal_to_an_input(files, capsys):
    out = files / "out"
    out.mkdir()
    io.write_trimap(out / "alpha.png", io.read_trimap(files / "trimap.png"))
    before = (out / "alpha.png").read_bytes()
    code, _, err = run(["matte", files / "image.png", "-t", out / "alpha.png", "-o", out], capsys)
    assert code == 2 and "input" in err
    assert (out / "alpha.png").read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["alpha.png"]


def test_16bit_and_palette_inputs_work(files, capsys):
    io.write_image(files / "image16.png", io.read_image(files / "image.png"), bits=16)
    grey = (io.read_trimap(files / "trimap.png") * 255).round().astype(np.uint8)
    grey[grey == 127] = 128
    Image.fromarray(grey, mode="L").convert("P").save(files / "palette.png")
    code, _, err = run(["matte", files / "image16.png", "-t", files / "palette.png", "-o", files / "o"], capsys)
    assert code == 0, err
    assert (files / "o" / "alpha.png").exists()


def test_rgba_image_works(files, capsys):
    image = (io.read_image(files / "image.png") * 255).round().astype(np.uint8)
    rgba = np.dstack([image, np.full(image.shape[:2], 255, np.uint8)])
    Image.fromarray(rgba).save(files / "rgba.png")
    code, _, err = run(["matte", files / "rgba.png", "-t", files / "trimap.png", "-o", files / "o"], capsys)
    assert code == 0, err


def test_unknown_method_and_bad_colour(files, capsys):
    assert_refused(["matte", files / "image.png", "-t", files / "trimap.png", "-m", "magic", "-o", files / "o"],
                   capsys, "unknown matting method", files / "o")
    assert_refused(["matte", files / "image.png", "-t", files / "trimap.png", "-b", "#12345", "-o", files / "o"],
                   capsys, "#rrggbb", files / "o")


def test_methods_lists_all_and_shows_one_methods_options(capsys):
    import inspect

    from mattebox.registry import get_method

    code, out, _ = run(["methods"], capsys)
    assert code == 0 and {line.split()[0] for line in out.splitlines()} >= {"cf", "sm", "ifm"}
    code, out, _ = run(["methods", "shared"], capsys)  # an alias names the method
    assert code == 0 and out.startswith("sm: Shared matting")
    assert "Gastal" in out and "refine='none'" in out and "rays=4" in out
    assert "return_foreground" not in out
    code, out, _ = run(["methods", "cf"], capsys)
    assert code == 0 and "epsilon=1e-07" in out
    # without declared options, the keyword-only parameters of the function
    spec = get_method("cf")
    assert spec.option_defaults() == {k: p.default for k, p in inspect.signature(spec.fn).parameters.items()
                                      if p.kind is p.KEYWORD_ONLY}
    code, _, err = run(["methods", "magic"], capsys)
    assert code == 2 and "unknown matting method 'magic'" in err


def test_missing_trimap_for_a_trimap_method(files, capsys):
    assert_refused(["matte", files / "image.png", "-o", files / "o"], capsys, "needs a trimap", files / "o")


def test_bad_input_through_a_real_process_has_no_traceback(files):
    result = subprocess.run([sys.executable, "-m", "mattebox.cli", "matte", str(files / "nope.png"),
                             "-t", str(files / "trimap.png"), "-o", str(files / "o")],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].startswith("mattebox: error: cannot read")
    assert "Traceback" not in result.stderr


def test_trimap_command(files, capsys):
    code, _, err = run(["trimap", "--from-alpha", files / "alpha.png", "--width", 3, "-o", files / "t2.png"], capsys)
    assert code == 0, err
    assert set(np.unique(io.read_trimap(files / "t2.png"))) == {0.0, 0.5, 1.0}
    code, _, err = run(["trimap", "--from-alpha", files / "alpha.png", "-o", files / "alpha.png"], capsys)
    assert code == 2 and "input" in err


def test_eval_on_a_small_folder_writes_json_and_csv(tmp_path, capsys):
    for sub in ("image", "alpha", "trimap"):
        (tmp_path / "set" / sub).mkdir(parents=True)
    for seed in range(2):
        image, alpha, _, _, trimap = make_composite(32, 40, seed=seed)
        io.write_image(tmp_path / "set" / "image" / f"s{seed}.png", image)
        io.write_alpha(tmp_path / "set" / "alpha" / f"s{seed}.png", alpha)
        io.write_trimap(tmp_path / "set" / "trimap" / f"s{seed}.png", trimap)
    code, out, err = run(["eval", "--method", "cf", "--data", tmp_path / "set", "--json", tmp_path / "r.json",
                          "--csv", tmp_path / "r.csv"], capsys)
    assert code == 0, err
    assert "mean" in out and "s0" in out and "s1" in out
    report = json.loads((tmp_path / "r.json").read_text())
    assert len(report["images"]) == 2 and report["mean"]["sad"] < 0.05
    assert (tmp_path / "r.csv").read_text().splitlines()[0] == "name,sad,mse,grad,conn,rmse,seconds"


def test_eval_refuses_to_write_its_report_over_the_dataset_or_a_folder(tmp_path, capsys):
    for sub in ("image", "alpha", "trimap"):
        (tmp_path / "set" / sub).mkdir(parents=True)
    image, alpha, _, _, trimap = make_composite(16, 20)
    io.write_image(tmp_path / "set" / "image" / "s.png", image)
    io.write_alpha(tmp_path / "set" / "alpha" / "s.png", alpha)
    io.write_trimap(tmp_path / "set" / "trimap" / "s.png", trimap)
    before = (tmp_path / "set" / "image" / "s.png").read_bytes()
    (tmp_path / "out").mkdir()
    for option, target in (("--json", tmp_path / "set" / "image" / "s.png"),
                           ("--csv", tmp_path / "set" / "alpha" / "s.png"),
                           ("--json", tmp_path / "out")):
        code, out, err = run(["eval", "--method", "cf", "--data", tmp_path / "set", option, target],
                             capsys)
        assert code == 2 and "Traceback" not in err, err
        assert "input" in err or "folder" in err
        assert "mean" not in out  # refused before the evaluation, not after
    assert (tmp_path / "set" / "image" / "s.png").read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == []  # no temporary left


def test_eval_on_a_folder_missing_its_trimaps(tmp_path, capsys):
    (tmp_path / "image").mkdir()
    (tmp_path / "alpha").mkdir()
    code, _, err = run(["eval", "--method", "cf", "--data", tmp_path], capsys)
    assert code == 2 and "trimap/" in err


def test_help_lists_examples(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "examples:" in capsys.readouterr().out


@pytest.mark.parametrize("method, option, match", [
    ("sm", "rays=abc", "option rays of 'sm' must be a number"),
    ("sm", "confidence_lambda=nan", "must be a finite number"),
    ("sm", "smoothing_window=inf", "must be a finite number"),
    ("cf", "epsilon=-1", "epsilon must be a finite number >= 1e-12"),
    ("cf", "linear_solver='foo'", "linear_solver must be one of"),
    ("knn", "n_neighbors=5", "n_neighbors and spatial_weights must be sequences"),
    ("knn", "n_neighbors=(100000,10)", "is too many"),
    ("ifm", "radius=-1", "radius must be a whole number >= 1"),
    ("lbdm", "radius=0", "radius must be a whole number >= 1"),
    ("global", "iterations=-1", "iterations must be a whole number >= 0"),
    ("lkm", "tol=2", "tol must be a finite number > 0 and < 1"),
])
def test_bad_method_option_values_are_refused_before_the_solve(files, capsys, method, option, match):
    assert_refused(["matte", files / "image.png", "-t", files / "trimap.png", "-m", method,
                    "-O", option, "-o", files / "o"], capsys, match, files / "o")


def test_preview_writes_a_matte_and_a_bad_scale_is_refused(files, capsys):
    out = files / "out"
    code, _, err = run(["matte", files / "image.png", "-t", files / "trimap.png", "--preview", "0.5",
                        "-o", out], capsys)
    assert code == 0, err
    alpha = io.read_alpha(out / "alpha.png")
    trimap = io.read_trimap(files / "trimap.png")
    assert np.array_equal(alpha[trimap != 0.5], trimap[trimap != 0.5])
    for scale in ("0", "2", "nan"):
        assert_refused(["matte", files / "image.png", "-t", files / "trimap.png", "--preview", scale,
                        "-o", files / "o"], capsys, "preview must be a finite number > 0 and <= 1",
                       files / "o")
    # -O preview=... is the same request; both at once is refused
    code, _, err = run(["matte", files / "image.png", "-t", files / "trimap.png", "-O", "preview=0.5",
                        "-o", files / "o2"], capsys)
    assert code == 0, err
    assert np.array_equal(io.read_alpha(files / "o2" / "alpha.png"), alpha)
    assert_refused(["matte", files / "image.png", "-t", files / "trimap.png", "-O", "preview=0",
                    "-o", files / "o"], capsys, "preview must be a finite number", files / "o")
    assert_refused(["matte", files / "image.png", "-t", files / "trimap.png", "--preview", "0.5",
                    "-O", "preview=0.5", "-o", files / "o"], capsys, "give the preview scale once",
                   files / "o")


def test_bad_background_colour_is_refused_before_the_solve(files, capsys, monkeypatch):
    import mattebox.api

    def no_solve(*args, **kwargs):
        raise AssertionError("the solver ran before the colour was checked")

    monkeypatch.setattr(mattebox.api, "estimate_alpha", no_solve)
    assert_refused(["matte", files / "image.png", "-t", files / "trimap.png", "-b", "#zzz",
                    "-o", files / "o"], capsys, "is not a colour", files / "o")


def test_colour_mask_is_named_as_a_mask(files, capsys):
    code, _, err = run(["trimap", "--from-mask", files / "image.png", "-o", files / "t.png"], capsys)
    assert code == 2 and "mask '" in err and "must be grey" in err, err


def test_more_bad_requests_get_one_sentence(files, capsys):
    (files / "folder.png").mkdir()
    (files / "plain").write_text("a file")
    io.write_image(files / "dot.png", np.full((2, 2, 3), 0.5))
    empty = files / "nothing"
    cases = [
        (["trimap", "--from-image", files / "image.png", "--box", "a,b,c,d", "-o", files / "t.png"], "--box"),
        (["trimap", "--from-image", files / "image.png", "--box", "1.5,2,30,30", "-o", files / "t.png"], "--box"),
        (["trimap", "--from-alpha", files / "alpha.png", "-o", files / "folder.png"], "folder"),
        (["trimap", "--from-image", files / "dot.png", "-o", files / "t.png"], "too small"),
        (["data", "sheet", "--size", "0", "-o", files / "sheet.png"], "--size"),
        (["data", "sheet", "-o", files / "folder.png"], "folder"),
        (["data", "testset", "--seed", "-5", "-o", empty], "--seed"),
        (["data", "foregrounds", "--count", "1", "-o", files / "plain" / "out"], "plain"),
    ]
    for args, match in cases:
        assert_refused(args, capsys, match, empty)
    assert not (files / "t.png").exists() and not (files / "sheet.png").exists()


def test_eval_names_the_file_of_another_size(tmp_path, capsys):
    for sub in ("image", "alpha", "trimap"):
        (tmp_path / "set" / sub).mkdir(parents=True)
    image, alpha, _, _, trimap = make_composite(16, 20)
    io.write_image(tmp_path / "set" / "image" / "s.png", image)
    io.write_alpha(tmp_path / "set" / "alpha" / "s.png", alpha[:, :19])
    io.write_trimap(tmp_path / "set" / "trimap" / "s.png", trimap)
    code, _, err = run(["eval", "--method", "cf", "--data", tmp_path / "set"], capsys)
    assert code == 2 and "alpha" in err and "19x16" in err and "Traceback" not in err, err
