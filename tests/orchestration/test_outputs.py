"""Outputs appear whole or not at all: signals, --out checks, write failures, memory.

Signals are sent to a real ``gammaray`` subprocess. ``GAMMARAY_TEST_HOLD``
(a test-only hook, :func:`orchestration._signals.test_hold`) pauses a run at a
named point so that the signal lands there; ``gammaray record`` is stopped
(SIGSTOP) as soon as its temporary log appears, signalled, then continued.
"""

from __future__ import annotations

import errno
import json
import os
import resource
import selectors
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestration import _memory, cli
from orchestration._outputs import MARKER, OutputFolder, remove_stale_temporaries
from orchestration.cli import main

SMALL = [
    "--runtime",
    "local",
    "--paths",
    "128",
    "--set",
    "days=3",
    "--set",
    "market.gap.day=1.5",
    "--no-progress",
]
EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143}
NAMES = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}
DEADLINE_S = 120.0


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    root = str(Path(cli.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    env.update(extra)
    return env


def _start(argv: list[str], cwd: Path, **popen: object) -> subprocess.Popen[str]:
    return subprocess.Popen(  # type: ignore[call-overload]
        [sys.executable, "-m", "orchestration.cli", *argv],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def _gammaray(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "orchestration.cli", *argv],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        timeout=DEADLINE_S,
    )


def _wait_for_line(proc: subprocess.Popen[str], needle: str) -> list[str]:
    """Read stderr until a line holds ``needle``; the lines read."""
    assert proc.stderr is not None
    lines: list[str] = []
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stderr, selectors.EVENT_READ)
        end = time.monotonic() + DEADLINE_S
        while time.monotonic() < end:
            if not sel.select(timeout=1.0):
                continue
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            if needle in line:
                return lines
    proc.kill()
    raise AssertionError(f"no {needle!r} on stderr: {''.join(lines)}")


def _finish(proc: subprocess.Popen[str]) -> tuple[int, list[str]]:
    _, err = proc.communicate(timeout=DEADLINE_S)
    return proc.returncode, [ln for ln in err.splitlines() if ln.strip()]


def _tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("point", "sig"),
    [
        ("simulate", signal.SIGINT),
        ("simulate", signal.SIGTERM),
        ("summary", signal.SIGTERM),
        ("report", signal.SIGINT),
        ("report", signal.SIGTERM),
        ("commit", signal.SIGINT),
    ],
)
def test_a_signal_during_a_run_leaves_nothing(tmp_path: Path, point: str, sig: int) -> None:
    # The run writes into out/ (which it creates) and records its events there.
    argv = ["run", "macro_gap", *SMALL, "--out", "out/run", "--record", "out/run.grlog"]
    proc = _start(argv, tmp_path, env=_env(GAMMARAY_TEST_HOLD=point))
    _wait_for_line(proc, f"gammaray-test-hold: {point}")
    # While held, the run's temporaries exist (the probe of --out, the log's temp).
    held = _tree(tmp_path / "out")
    assert any(n.startswith(".run.tmp-") for n in held), held
    assert any(n.startswith(".run.grlog.") and n.endswith(".tmp") for n in held), held
    proc.send_signal(sig)
    rc, err = _finish(proc)
    assert rc == EXIT[sig]
    assert err == [f"gammaray: interrupted ({NAMES[sig]})"]
    assert _tree(tmp_path) == []  # no folder, no log, no temporary, not even out/


@pytest.mark.slow
def test_sigterm_with_force_keeps_the_old_run_until_the_new_one_is_complete(
    tmp_path: Path,
) -> None:
    old = tmp_path / "run"
    old.mkdir()
    (old / "notes.txt").write_text("mine")
    argv = ["run", "macro_gap", *SMALL, "--out", "run", "--force"]
    proc = _start(argv, tmp_path, env=_env(GAMMARAY_TEST_HOLD="commit"))
    _wait_for_line(proc, "gammaray-test-hold: commit")
    proc.send_signal(signal.SIGTERM)
    rc, err = _finish(proc)
    assert rc == 143 and err == ["gammaray: interrupted (SIGTERM)"]
    assert _tree(tmp_path) == ["run", "run/notes.txt"]
    assert (old / "notes.txt").read_text() == "mine"


@pytest.mark.slow
def test_sigkill_leftovers_are_removed_by_the_next_run(tmp_path: Path) -> None:
    argv = ["run", "macro_gap", *SMALL, "--out", "run1", "--record", "run1.grlog"]
    proc = _start(argv, tmp_path, env=_env(GAMMARAY_TEST_HOLD="report"))
    _wait_for_line(proc, "gammaray-test-hold: report")
    proc.kill()
    proc.wait()
    stale = _tree(tmp_path)
    assert f".run1.tmp-{proc.pid}" in stale
    assert any(n.startswith(f".run1.grlog.{proc.pid}@") for n in stale), stale
    # Look-alikes that are not a dead run's: no marker; a live owner; a foreign marker.
    (tmp_path / ".keep.tmp-999999999").mkdir()
    live = tmp_path / f".live.tmp-{os.getpid()}"
    live.mkdir()
    (live / MARKER).write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    foreign = tmp_path / ".foreign.tmp-999999998"
    foreign.mkdir()
    (foreign / MARKER).write_text(json.dumps({"pid": 999999998, "host": "elsewhere"}))

    argv = ["run", "macro_gap", *SMALL, "--out", "run2", "--record", "run2.grlog", "--no-report"]
    assert _gammaray(argv, tmp_path).returncode == 0
    left = [n for n in _tree(tmp_path) if "/" not in n]
    assert left == sorted(
        [".foreign.tmp-999999998", ".keep.tmp-999999999", live.name, "run2", "run2.grlog"]
    )


def _record_argv(out: str) -> list[str]:
    return ["record", "macro_gap", "--paths", "2048", "--no-progress", "--out", out]


@pytest.mark.parametrize(
    ("sig", "after_bytes"),
    [(signal.SIGINT, 0), (signal.SIGTERM, 0), (signal.SIGTERM, 4 << 20)],
)
def test_a_signal_during_record_leaves_no_temporary(
    tmp_path: Path, sig: int, after_bytes: int
) -> None:
    proc = _start(_record_argv("log.grlog"), tmp_path, env=_env())
    temp = _stop_when_the_temp_log_holds(proc, tmp_path, after_bytes)
    proc.send_signal(sig)
    proc.send_signal(signal.SIGCONT)
    rc, err = _finish(proc)
    assert temp.name.startswith(f".log.grlog.{proc.pid}@")
    assert rc == EXIT[sig] and err == [f"gammaray: interrupted ({NAMES[sig]})"]
    assert _tree(tmp_path) == []


@pytest.mark.slow
def test_a_sigkilled_record_leaves_a_temporary_the_next_record_removes(tmp_path: Path) -> None:
    proc = _start(_record_argv("a.grlog"), tmp_path, env=_env())
    temp = _stop_when_the_temp_log_holds(proc, tmp_path, 1 << 20)
    proc.kill()
    proc.wait()
    assert _tree(tmp_path) == [temp.name]
    argv = ["record", "macro_gap", "--paths", "8", "--set", "days=2", "--set", "market.gap.day=1.5"]
    assert _gammaray([*argv, "--no-progress", "--out", "b.grlog"], tmp_path).returncode == 0
    assert _tree(tmp_path) == ["b.grlog"]


def _stop_when_the_temp_log_holds(proc: subprocess.Popen[str], folder: Path, size: int) -> Path:
    """SIGSTOP ``proc`` once its temporary log in ``folder`` holds ``size`` bytes."""
    end = time.monotonic() + DEADLINE_S
    while time.monotonic() < end and proc.poll() is None:
        temps = [p for p in folder.iterdir() if p.name.endswith(".tmp")]
        if temps and temps[0].stat().st_size >= size:
            proc.send_signal(signal.SIGSTOP)
            return temps[0]
        time.sleep(0.002)
    proc.kill()
    raise AssertionError(f"no temporary log of {size} bytes appeared (rc {proc.poll()})")


def _one_line(capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    cap = capsys.readouterr()
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1, cap.err
    return cap.out, lines[0]


def test_out_onto_a_foreign_run_refuses_and_leaves_it_as_it_was(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert main(["run", "macro_gap", *SMALL, "--out", str(out), "--no-report"]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()
    rc = main(["run", "cao2023_gbm", *SMALL[:4], "--no-progress", "--out", str(out)])
    _, err = _one_line(capsys)
    assert rc == 2
    assert "is not empty" in err and "'macro_gap'" in err and "--force" in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


@pytest.mark.slow
def test_force_replaces_a_non_empty_folder_and_an_empty_one_needs_no_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("old")
    (out / "sub").mkdir()
    assert main(["run", "macro_gap", *SMALL, "--out", str(out), "--force"]) == 0
    names = sorted(p.name for p in out.iterdir())
    from orchestration.report import PLOTS

    assert names == sorted(
        [
            "summary.json",
            "series.parquet",
            "paths.parquet",
            *(f"{key}.png" for key in PLOTS),
            "report.html",
        ]
    )
    assert json.loads((out / "summary.json").read_text())["scenario"] == "macro_gap"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no .old / .tmp siblings
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["run", "macro_gap", *SMALL, "--out", str(empty), "--no-report"]) == 0
    assert sorted(p.name for p in empty.iterdir()) == ["summary.json"]


@pytest.mark.parametrize(
    ("where", "needle"),
    [("/proc/x/run", "cannot create a folder"), ("file/run", "cannot create a folder")],
)
def test_an_unwritable_out_fails_before_the_simulation(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    where: str,
    needle: str,
) -> None:
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.chdir(tmp_path)

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the simulation ran")

    monkeypatch.setattr(cli, "execute", never)
    rc = main(["run", "macro_gap", *SMALL, "--out", where])
    out, err = _one_line(capsys)
    assert rc == 2 and needle in err and where in err
    assert out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_an_unwritable_record_file_fails_before_the_simulation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "execute", lambda *a, **k: pytest.fail("the simulation ran"))
    out = tmp_path / "run"
    rc = main(["run", "macro_gap", *SMALL, "--out", str(out), "--record", "/proc/x.grlog"])
    _, err = _one_line(capsys)
    assert rc == 2 and "/proc/x.grlog" in err
    assert list(tmp_path.iterdir()) == []


def _limit_file_size(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("extra", "limit", "culprit"),
    [([], 200_000, "run"), (["--record", "run.grlog", "--no-report"], 64_000, "run.grlog")],
)
def test_a_file_size_limit_is_one_line_exit_1_and_nothing_partial(
    tmp_path: Path, extra: list[str], limit: int, culprit: str
) -> None:
    # report.html (~240 KB) passes the limit; so does the event log (~360 KB).
    proc = _start(
        ["run", "macro_gap", *SMALL, "--out", "run", *extra],
        tmp_path,
        env=_env(),
        preexec_fn=lambda: _limit_file_size(limit),
    )
    rc, err = _finish(proc)
    assert rc == 1
    assert len(err) == 1 and "File too large" in err[0] and culprit in err[0], err
    assert _tree(tmp_path) == []


def test_a_full_disk_while_writing_the_report_is_one_line_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestration import report

    def full(run_dir: Path) -> Path:
        (run_dir / "pnl.png").write_bytes(b"partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(report, "build_report", full)
    out = tmp_path / "run"
    rc = main(["run", "macro_gap", *SMALL, "--out", str(out)])
    _, err = _one_line(capsys)
    assert rc == 1
    assert err == f"gammaray: cannot write {out}: No space left on device; nothing was written"
    assert list(tmp_path.iterdir()) == []


def test_a_run_that_cannot_fit_in_memory_is_refused_up_front(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    need = _memory.estimate_run_bytes(50_000_000, 5, 50_000_000, remote=False, report=True)
    have = _memory.available_bytes()
    if have is not None and have >= need:
        pytest.skip(f"this machine has {have / 1e9:.0f} GB available")
    monkeypatch.setattr(cli, "execute", lambda *a, **k: pytest.fail("the simulation ran"))
    out = tmp_path / "run"
    rc = main(["run", "macro_gap", "--runtime", "local", "--paths", "50000000", "--out", str(out)])
    _, err = _one_line(capsys)
    assert rc == 2
    assert f"needs about {need / 1e9:.1f} GB of memory" in err and "GB available" in err
    assert "50,000,000 paths × 5 configurations" in err
    assert not out.exists()


def test_the_memory_estimate_scales_with_paths_and_configs_not_with_shards_alone() -> None:
    est = _memory.estimate_run_bytes
    one = est(1_000_000, 5, 1_000_000, remote=False, report=False)
    assert est(2_000_000, 5, 2_000_000, remote=False, report=False) - _memory.BASE == pytest.approx(
        2 * (one - _memory.BASE)
    )
    assert est(1_000_000, 2, 1_000_000, remote=False, report=False) < one
    sharded = est(1_000_000, 5, 1_000_000 // 16, remote=False, report=False)
    assert sharded < one / 2  # a shard's working set, plus every path's results
    assert sharded > 2 * 1_000_000 * 5 * _memory.RESULT_PER_PATH_CONFIG
    # On a cluster, this machine holds only the results.
    assert est(1_000_000, 5, 1_000_000, remote=True, report=False) == pytest.approx(
        2 * 1_000_000 * 5 * _memory.RESULT_PER_PATH_CONFIG + _memory.BASE
    )


@pytest.mark.slow
def test_the_estimate_is_not_above_the_measured_peak_of_a_small_run(tmp_path: Path) -> None:
    # The estimate must err low: a run that fits is never refused.
    n = 32_768
    done = subprocess.run(
        [sys.executable, "-c", _PEAK, str(n), str(tmp_path / "run")],
        env=_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    peak = int(done.stdout.split()[-1])
    estimate = _memory.estimate_run_bytes(n, 5, n, remote=False, report=True)
    assert peak / 2 < estimate <= peak


_PEAK = (
    "import sys\n"
    "from orchestration.cli import main\n"
    "rc = main(['run', 'macro_gap', '--runtime', 'local', '--paths', sys.argv[1], '--set',\n"
    "           'days=2', '--set', 'market.gap.day=1.5', '--no-progress', '--out', sys.argv[2]])\n"
    "assert rc == 0\n"
    # VmHWM is this process's own peak: ru_maxrss would also count the forking
    # parent's size (Linux keeps it across exec), i.e. pytest's after many tests.
    "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0]\n"
    "print(int(hwm.split()[1]) * 1024)\n"
)


def test_output_folder_removes_only_dead_runs_temporaries(tmp_path: Path) -> None:
    with OutputFolder(tmp_path / "a") as folder:
        assert folder.path.name == f".a.tmp-{os.getpid()}"
        assert remove_stale_temporaries(tmp_path) == []  # its owner (us) is alive
        (folder.path / "x").write_text("1")
    assert _tree(tmp_path) == ["a", "a/x"]
    with pytest.raises(RuntimeError), OutputFolder(tmp_path / "b"):
        raise RuntimeError("boom")
    assert _tree(tmp_path) == ["a", "a/x"]


@pytest.mark.slow
def test_a_closed_stdout_pipe_is_no_traceback(tmp_path: Path) -> None:
    argv = ["record", "macro_gap", "--paths", "8", "--set", "days=2", "--set", "market.gap.day=1.5"]
    assert _gammaray([*argv, "--no-progress", "--out", "a.grlog"], tmp_path).returncode == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestration.cli", "inspect", "a.grlog"],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # like `| head` that has read enough
    err = proc.stderr.read()
    assert proc.wait(timeout=DEADLINE_S) == 128 + signal.SIGPIPE
    assert err == b""
