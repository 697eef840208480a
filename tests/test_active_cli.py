"""``mattebox active``: automated runs with an oracle, a scripted person at the terminal, errors."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from conftest import make_composite
from mattebox.cli import main
from mattebox.io import read_alpha, write_alpha, write_image


@pytest.fixture
def files(tmp_path):
    image, alpha, *_ = make_composite(60, 80, seed=5)
    write_image(tmp_path / "photo.png", image)
    write_alpha(tmp_path / "alpha.png", alpha)
    return tmp_path


def test_oracle_run_prints_one_json_line_per_step(files, capsys):
    out = files / "matte.png"
    code = main(["active", str(files / "photo.png"), "--oracle", str(files / "alpha.png"), "--steps", "4",
                 "--policy", "cluster", "--solver", "sm", "--work-size", "64", "--json", "-o", str(out),
                 "--heatmap", str(files / "heat.png")])
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["step"] for r in lines] == [1, 2, 3, 4]
    for record in lines:
        top, left, height, width = record["region"]
        assert height == width == 3 and 0 <= top <= 61 and 0 <= left <= 61
        assert record["answer"] in ("fg", "bg", "skip")
        assert 0.0 <= record["rmse"] <= 1.0 and record["seconds"] >= 0
        x0, y0, x1, y1 = record["box"]
        assert 0 <= x0 < x1 <= 80 and 0 <= y0 < y1 <= 60
    assert read_alpha(out).shape == (60, 80)
    assert (files / "heat.png").is_file()


def test_oracle_ideal_policy_never_raises_the_error_much(files, capsys):
    code = main(["active", str(files / "photo.png"), "--oracle", str(files / "alpha.png"), "--steps", "3",
                 "--policy", "ideal", "--stride", "8", "--work-size", "48", "--json"])
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert all(r["answer"] != "skip" for r in lines)  # B1 only picks answerable regions
    assert lines[-1]["rmse"] < 0.5  # better than the all-0.5 start


def test_a_person_at_the_terminal_answers_undoes_and_quits(files, monkeypatch, capsys):
    preview = files / "preview.png"
    out = files / "alpha_out.png"
    session_file = files / "session.npz"
    monkeypatch.setattr("sys.stdin", io.StringIO("b\nx\nu\nb\nf\ns\nq\n"))
    code = main(["active", str(files / "photo.png"), "--policy", "random", "--work-size", "64",
                 "--preview", str(preview), "--save-session", str(session_file), "-o", str(out)])
    assert code == 0
    assert preview.is_file() and out.is_file() and session_file.is_file()
    err = capsys.readouterr().err
    assert err.count("[f]oreground") == 7 and "please answer" in err
    from mattebox.active.session import ActiveSession

    restored = ActiveSession.restore(session_file, policy="random")
    assert [s.answer for s in restored.history] == ["bg", "fg", "skip"]


def test_bad_requests_exit_2_with_a_reason(files, capsys):
    photo, alpha = str(files / "photo.png"), str(files / "alpha.png")
    assert main(["active", photo, "--policy", "ideal", "--steps", "2"]) == 2
    assert "--oracle" in capsys.readouterr().err
    assert main(["active", photo, "--oracle", alpha, "--steps", "0"]) == 2
    assert "--steps" in capsys.readouterr().err
    assert main(["active", photo, "--oracle", str(files / "missing.png")]) == 2
    capsys.readouterr()
    assert main(["active", photo, "--oracle", alpha, "--policy", "random", "-o", str(files / "m.jpg")]) == 2
    assert ".png" in capsys.readouterr().err


@pytest.mark.parametrize("policy", ["learned", "region-cnn"])
def test_the_shipped_policies_run_with_an_oracle(files, capsys, policy):
    code = main(["active", str(files / "photo.png"), "--oracle", str(files / "alpha.png"), "--steps", "3",
                 "--policy", policy, "--work-size", "64", "--json"])
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["step"] for r in lines] == [1, 2, 3]
    assert all(0 <= r["region"][0] <= 61 and 0 <= r["region"][1] <= 61 for r in lines)
