"""gammaray bench: runs the suite's modules and prints one table with ratios."""

from __future__ import annotations

from pathlib import Path

from orchestration.cli import main
from orchestration.cli_bench import find_benchmarks


def test_bench_quick_prints_the_table_with_ratios(tmp_path: Path, capsys, monkeypatch) -> None:
    assert find_benchmarks() is not None
    out = tmp_path / "bench.md"
    assert main(["bench", "--quick", "--only", "bench_bsm", "--out", str(out)]) == 0
    table = capsys.readouterr().out
    assert "| bench_bsm |" in table and "x |" in table and "CPUs" in table
    assert out.read_text() == table.rstrip("\n") + "\n" or out.read_text().strip() == table.strip()


def test_bench_outside_a_checkout_is_a_one_line_error(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("orchestration.cli_bench.find_benchmarks", lambda: None)
    assert main(["bench", "--quick"]) == 2
    assert "no benchmarks/ folder" in capsys.readouterr().err
