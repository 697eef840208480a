"""``mattebox active``: automated runs with an oracle, a scripted person at the terminal, errors."""

from __future__ import annotations

import io
import json

import pytest

from conftest import RunsCodeWhenUnpickled, make_composite
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


def test_oracle_run_writes_a_preview_only_when_asked(files, capsys, monkeypatch):
    monkeypatch.chdir(files)
    run = ["active", str(files / "photo.png"), "--oracle", str(files / "alpha.png"), "--steps", "2",
           "--policy", "cluster", "--work-size", "64", "--json"]
    assert main(run) == 0
    assert not (files / "photo.active-preview.png").exists()  # no default preview without a person
    assert main(run + ["--preview-png", str(files / "steps.png")]) == 0
    assert (files / "steps.png").is_file()


def test_oracle_ideal_policy_never_raises_the_error_much(files, capsys):
    code = main(["active", str(files / "photo.png"), "--oracle", str(files / "alpha.png"), "--steps", "3",
                 "--policy", "ideal", "--stride", "8", "--workers", "1", "--work-size", "48", "--json"])
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert all(r["answer"] != "skip" for r in lines)  # B1 only picks answerable regions
    assert lines[-1]["rmse"] < 0.5  # better than the all-0.5 start


def test_ideal_policy_defaults_to_the_benchmarks_search(files, capsys, monkeypatch):
    """Without --stride / --workers the CLI's B1 is the benchmark's: a 20 px grid, one process per CPU."""
    from mattebox.active import baselines

    made = []
    real = baselines.IdealStrategy

    def record(**options):
        made.append(options)
        return real(**{**options, "workers": 1})  # one process: the options are what is tested

    monkeypatch.setattr(baselines, "IdealStrategy", record)
    monkeypatch.setattr("os.cpu_count", lambda: 3)
    assert main(["active", str(files / "photo.png"), "--oracle", str(files / "alpha.png"), "--steps", "1",
                 "--policy", "ideal", "--work-size", "48", "--json"]) == 0
    assert made == [{"stride": 20, "workers": 3, "search_size": None}]
    made.clear()
    assert main(["active", str(files / "photo.png"), "--oracle", str(files / "alpha.png"), "--steps", "1",
                 "--policy", "ideal", "--work-size", "48", "--stride", "8", "--workers", "2"]) == 0
    assert made == [{"stride": 8, "workers": 2, "search_size": None}]


def test_ideal_policy_searches_on_a_shrunk_copy(files, capsys):
    code = main(["active", str(files / "photo.png"), "--oracle", str(files / "alpha.png"), "--steps", "3",
                 "--policy", "ideal", "--stride", "16", "--workers", "1", "--work-size", "64", "--search-size", "32",
                 "--json"])
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 3 and lines[-1]["rmse"] < 0.5
    # corners found at 32 px come back on the 64 px grid of stride 16
    assert all(r["region"][0] % 16 == 0 or r["region"][0] == 64 - r["region"][2] for r in lines)
    assert main(["active", str(files / "photo.png"), "--oracle", str(files / "alpha.png"),
                 "--policy", "ideal", "--search-size", "4"]) == 2
    assert "search size must be a whole number >= 8 pixels" in capsys.readouterr().err


def test_a_person_at_the_terminal_answers_undoes_and_quits(files, monkeypatch, capsys):
    preview = files / "preview.png"
    out = files / "alpha_out.png"
    session_file = files / "session.npz"
    monkeypatch.setattr("sys.stdin", io.StringIO("b\nx\nu\nb\nf\ns\nq\n"))
    code = main(["active", str(files / "photo.png"), "--policy", "random", "--work-size", "64",
                 "--preview-png", str(preview), "--save-session", str(session_file), "-o", str(out)])
    assert code == 0
    assert preview.is_file() and out.is_file() and session_file.is_file()
    err = capsys.readouterr().err
    assert err.count("[f]oreground") == 7 and "please answer" in err
    from mattebox.active.session import ActiveSession

    restored = ActiveSession.restore(session_file, policy="random")
    assert [s.answer for s in restored.history] == ["bg", "fg", "skip"]


def test_a_person_paints_strokes_at_the_terminal(files, monkeypatch, capsys):
    session_file = files / "session.npz"
    replies = ["p", "fg 40,30 60,30 r=2",  # a stroke in the photo's pixels (x,y)
               "p", "fg 40,30 90,30",  # outside the 80 x 60 photo: refused, the session goes on
               "p", "sideways 1,2",  # no label: refused
               "b", "p", "", "u", "u", "p", "bg 5,5", "q"]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(replies) + "\n"))
    code = main(["active", str(files / "photo.png"), "--policy", "random", "--work-size", "64",
                 "--preview", str(files / "preview.png"), "--save-session", str(session_file)])
    assert code == 0
    err = capsys.readouterr().err
    assert "outside the 60x80 image" in err and "starts with its label" in err
    assert err.count("painted a") == 2
    from mattebox.active.session import ActiveSession

    restored = ActiveSession.restore(session_file, policy="random")
    # the bg answer and the first stroke were undone; the last stroke is a dot of the default
    # radius, 3 photo pixels (a round brush in a work image squeezed 64/60 x 64/80: ~3 back)
    assert [(s.answer, s.stroke is not None) for s in restored.history] == [("bg", True)]
    assert restored.strokes(original=True)[0].radius == pytest.approx(3.0, rel=0.05)


def test_parse_stroke_reads_labels_points_and_radius():
    from mattebox.active.command import parse_stroke
    from mattebox.errors import InputError

    assert parse_stroke("f 1,2 3.5,4") == ("fg", [(2.0, 1.0), (4.0, 3.5)], 3.0)
    assert parse_stroke("bg 7,8 r=1.5") == ("bg", [(8.0, 7.0)], 1.5)
    for bad, reason in [("fg", "at least one"), ("fg 1;2", "x,y"), ("fg 1,2 r=x", "x,y"), ("", "label")]:
        with pytest.raises(InputError, match=reason):
            parse_stroke(bad)


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
    assert main(["active", photo, "--oracle", alpha, "--policy", "ideal", "--stride", "0",
                 "--search-size", "32"]) == 2
    assert "--stride must be at least 1" in capsys.readouterr().err
    assert main(["active", photo, "--resume", photo]) == 2
    assert "not a readable active-matting session" in capsys.readouterr().err


def test_final_option_solves_only_the_final_matte_with_it(files, capsys):
    import cv2
    import numpy as np

    from mattebox.active.environment import solve_matte
    from mattebox.active.session import ActiveSession
    from mattebox.io import read_image
    from mattebox.solvers.shared_sampling import estimate_alpha_sm

    photo, alpha = str(files / "photo.png"), str(files / "alpha.png")
    run = ["active", photo, "--oracle", alpha, "--steps", "6", "--policy", "cluster",
           "--work-size", "80", "--json"]
    def steps() -> list[dict]:
        records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        return [{k: v for k, v in r.items() if k != "seconds"} for r in records]

    assert main([*run, "-o", str(files / "plain.png")]) == 0
    plain_steps = steps()
    assert main([*run, "-o", str(files / "refined.png"), "--final-option", "refine=laplacian"]) == 0
    # the questions and their mattes are those of the solver as it is
    assert steps() == plain_steps and len(plain_steps) == 6
    plain, refined = read_alpha(files / "plain.png"), read_alpha(files / "refined.png")
    session = ActiveSession(read_image(photo), solver="sm", policy="cluster",
                            alpha=read_alpha(alpha), work_size=80, steps=6)
    for _ in range(6):
        top, left, _ = session.suggest()
        session.answer((top, left), session.oracle())
    expected = solve_matte(session.env.image, session.trimap(),
                           lambda image, trimap: estimate_alpha_sm(image, trimap, refine="laplacian"))
    expected = cv2.resize(expected, (80, 60), interpolation=cv2.INTER_LINEAR)  # the photo's size
    assert not np.array_equal(plain, refined)
    assert np.abs(refined - np.clip(expected, 0, 1)).max() <= 0.5 / 255 + 1e-9


def test_a_bad_final_option_is_refused_before_the_first_question(files, capsys):
    photo, alpha = str(files / "photo.png"), str(files / "alpha.png")
    out = files / "m.png"
    for options, reason in ((["refine=cf"], "refine must be one of"),
                            (["radius=3"], "unknown option(s) for 'sm'")):
        code = main(["active", photo, "--oracle", alpha, "--steps", "2", "--json", "-o", str(out),
                     *[item for option in options for item in ("--final-option", option)]])
        captured = capsys.readouterr()
        assert code == 2 and reason in captured.err and captured.out == ""
    assert main(["active", photo, "--oracle", alpha, "--steps", "2", "--solver", "cf",
                 "-o", str(out), "--final-option", "refine=laplacian"]) == 2
    assert "unknown option(s) for 'cf'" in capsys.readouterr().err
    assert main(["active", photo, "--oracle", alpha, "--final-option", "refine=laplacian"]) == 2
    assert "pass -o FILE" in capsys.readouterr().err
    assert not out.exists()


def test_outputs_are_checked_before_the_first_question_and_never_replace_an_input(
        files, capsys, monkeypatch):
    photo, alpha = files / "photo.png", str(files / "alpha.png")
    before = photo.read_bytes()
    (files / "folder.png").mkdir()
    (files / "folder.npz").mkdir()
    asked = []
    monkeypatch.setattr("sys.stdin", io.StringIO("q\n"))
    monkeypatch.setattr("mattebox.active.command._ask", lambda prompt: asked.append(prompt) or "q")
    for extra in (["--preview", str(photo)], ["-o", str(files / "folder.png")],
                  ["--heatmap", str(files / "folder.png")], ["--save-session", str(files / "folder.npz")],
                  ["--oracle", alpha, "-o", alpha]):
        assert main(["active", str(photo), "--policy", "random", "--work-size", "64", *extra]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and ("input" in err or "folder" in err), err
    assert asked == [] and photo.read_bytes() == before


def test_resume_checks_the_photo_and_takes_an_oracle(files, capsys):
    photo, alpha = str(files / "photo.png"), str(files / "alpha.png")
    saved = str(files / "s.npz")
    assert main(["active", photo, "--oracle", alpha, "--policy", "random", "--steps", "2",
                 "--work-size", "64", "--save-session", saved, "--json"]) == 0
    capsys.readouterr()
    image, other, *_ = make_composite(60, 80, seed=9)
    write_image(files / "other.png", image)
    assert main(["active", str(files / "other.png"), "--resume", saved, "--steps", "3"]) == 2
    assert "another photo" in capsys.readouterr().err
    assert main(["active", photo, "--oracle", alpha, "--resume", saved, "--policy", "random",
                 "--steps", "3", "--json", "--save-session", saved]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["step"] for r in lines] == [3] and 0.0 <= lines[0]["rmse"] <= 1.0


def test_a_weights_file_that_would_run_code_is_refused_unread(files, capsys):
    import torch

    marker = files / "ran.txt"
    evil = files / "evil.pt"
    torch.save({"policy_config": RunsCodeWhenUnpickled(str(marker))}, evil)
    code = main(["active", str(files / "photo.png"), "--oracle", str(files / "alpha.png"),
                 "--steps", "1", "--weights", str(evil)])
    assert code == 2 and "not a readable active-matting policy file" in capsys.readouterr().err
    assert not marker.exists()


@pytest.mark.parametrize("policy", ["learned", "region-cnn"])
def test_the_shipped_policies_run_with_an_oracle(files, capsys, policy):
    code = main(["active", str(files / "photo.png"), "--oracle", str(files / "alpha.png"), "--steps", "3",
                 "--policy", policy, "--work-size", "64", "--json"])
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["step"] for r in lines] == [1, 2, 3]
    assert all(0 <= r["region"][0] <= 61 and 0 <= r["region"][1] <= 61 for r in lines)


def test_boxes_lie_inside_a_photo_smaller_than_a_region(tmp_path, capsys):
    import numpy as np

    write_image(tmp_path / "dot.png", np.full((2, 2, 3), 0.5))
    write_alpha(tmp_path / "dot_alpha.png", np.array([[0.0, 1.0], [0.0, 1.0]]))
    code = main(["active", str(tmp_path / "dot.png"), "--oracle", str(tmp_path / "dot_alpha.png"),
                 "--steps", "3", "--policy", "random", "--work-size", "32", "--json"])
    assert code == 0
    for line in capsys.readouterr().out.splitlines():
        x0, y0, x1, y1 = json.loads(line)["box"]
        assert 0 <= x0 < x1 <= 2 and 0 <= y0 < y1 <= 2
