"""Smoke runs of the benchmark scripts on one image, so that a block that no default test
reaches cannot break unnoticed (the figures themselves are in BENCHMARKS.md)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def load_benchmark(name: str):
    path = REPO / "benchmarks" / f"{name}.py"
    sys.path.insert(0, str(path.parent))
    try:
        spec = importlib.util.spec_from_file_location(f"benchmark_{name}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


def test_active_benchmark_fast_pure_and_trimap_blocks_run(dev_set, tmp_path, capsys):
    pytest.importorskip("torch")
    active = load_benchmark("active")
    assert active.main(["--data", str(dev_set), "--out", str(tmp_path), "--limit", "1", "--steps", "2",
                        "--only", "fast,pure,trimap", "--reuse-solvers", "cf", "--plot", ""]) == 0
    out = capsys.readouterr().out
    for row in ("B3 cluster + sm solved at 200 px", "trimap + sm solved at 200 px",
                "every pure window + sm", "every pure grid cell + cf", "trimap + cf"):
        assert row in out
    summary = json.loads((tmp_path / "summary.json").read_text())["value"]
    assert set(summary["pure"]) == {"every pure grid cell + sm", "every pure window + sm",
                                    "every pure grid cell + cf", "every pure window + cf"}


def test_classical_benchmark_runs_a_preview_variant_beside_its_peer(dev_set, tmp_path, capsys):
    pytest.importorskip("pymatting")
    classical = load_benchmark("classical")
    report = tmp_path / "classical.json"
    assert classical.main(["--data", str(dev_set), "--methods", "cf,cf:preview=0.5", "--trimaps",
                           "trimap", "--images", "GT05", "--json", str(report)]) == 0
    out = capsys.readouterr().out
    assert "cf:preview=0.5: SAD" in out and "(a variant: no target)" in out
    assert report.is_file()
