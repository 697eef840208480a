"""The demo runs end to end on a fresh folder, as `make demo` does."""

import subprocess
import sys

import numpy as np

from mattebox import io


def test_demo_command_writes_all_outputs(tmp_path):
    out = tmp_path / "demo"
    result = subprocess.run([sys.executable, "-m", "mattebox.cli", "demo", "--output", str(out), "--quiet"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr
    for name in ("chelsea", "astronaut"):
        for part in ("alpha.png", "cutout.png", "composite.png", "trimap.png", "image.png"):
            assert (out / name / part).is_file(), (name, part)
        alpha = io.read_alpha(out / name / "alpha.png")
        trimap = io.read_trimap(out / name / "trimap.png")
        # a real matte: opaque where the trimap says so, fractional values in the band
        assert np.all(alpha[trimap == 1] == 1) and np.all(alpha[trimap == 0] == 0)
        band = alpha[trimap == 0.5]
        assert ((band > 0.05) & (band < 0.95)).mean() > 0.05
    assert (out / "side_by_side.png").is_file()
    assert str(out / "side_by_side.png") in result.stdout


def test_demo_refuses_a_file_as_its_output_folder(tmp_path, capsys):
    from mattebox.cli import main

    target = tmp_path / "taken.png"
    target.write_bytes(b"keep me")
    assert main(["demo", "-o", str(target)]) == 2
    assert "is a file" in capsys.readouterr().err
    assert target.read_bytes() == b"keep me"
