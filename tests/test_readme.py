"""The README's commands work as written: every one parses, the runnable ones run (small).

Commands are read from the README itself: each line of a ```bash block that
starts with ``gammaray``, and each inline ```gammaray ...``` span. Every one
is parsed by the real parser (placeholders such as ``RUN_DIR`` filled in);
the ones a test machine can run are run in a scratch folder, in order, at 200
paths (``--paths 200`` appended); those that cannot are listed in
:data:`NOT_RUN` with the reason.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from orchestration.cli import _parser, main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
PATHS = ["--paths", "200"]

#: Commands parsed but not run, and why.
NOT_RUN = {
    "--address HEAD_IP:6379": "needs a Ray cluster at HEAD_IP (the Ray tests start one)",
    "gammaray train": "trains a policy for about a minute (tests/orchestration/test_train.py)",
    "gammaray bench": "runs the benchmark suite for minutes (benchmarks/)",
    "gammaray record SCENARIO": "a template (SCENARIO, FILE): record runs in test_cli_replay",
    "gammaray replay run.grlog": "run.grlog is the reader's own custom-agent log (test_cli_replay)",
    "gammaray stress": "32 runs on Ray; tests/orchestration/test_stress_search.py runs it small",
    "stress-delta/worst.py": "written by the stress command above; test_stress_search runs one",
    "--help": "prints help (tests/orchestration/test_cli_help.py walks every option)",
}
#: Placeholders in the prose, and what stands in for them when parsing.
PLACEHOLDERS = {
    "RUN_DIR": "runs/a",
    "RUN_A": "runs/a",
    "RUN_B": "runs/b",
    "SCENARIO": "macro_gap",
    "FILE": "x.grlog",
    "LOG": "x.grlog",
    "HEAD_IP": "127.0.0.1",
    "COMMAND": "run",
}
#: Inline spans that name a subcommand in the prose rather than show a command.
MENTIONS = {
    "gammaray record",
    "gammaray train",
    "gammaray run",
    "gammaray replay",
    "gammaray stress",
}


def fenced(lang: str) -> list[str]:
    """The bodies of the README's fenced blocks in a language."""
    return re.findall(rf"^```{lang}\n(.*?)^```", README, flags=re.M | re.S)


def block_commands() -> list[str]:
    """``gammaray ...`` lines of the bash blocks, comments dropped, in order."""
    out = []
    for body in fenced("bash"):
        for line in body.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words and words[0] == "gammaray":
                out.append(shlex.join(words))
    return out


def inline_commands() -> list[str]:
    """Inline ```gammaray ...``` spans that are whole commands (not ``...`` or a pipe)."""
    spans = re.findall(r"`(gammaray [^`]+)`", README)
    return [
        s for s in dict.fromkeys(spans) if "..." not in s and "|" not in s and s not in MENTIONS
    ]


def argv(command: str) -> list[str]:
    """A README command as ``main``'s argv: placeholders filled, ``[--flag]`` as ``--flag``."""
    words = shlex.split(re.sub(r"\[(--[\w-]+)\]", r"\1", command))[1:]
    return [PLACEHOLDERS.get(w, w) for w in words]


def test_the_readme_has_the_commands_this_test_runs() -> None:
    blocks = block_commands()
    assert "gammaray run scenarios/macro_gap.py" in blocks
    assert any(c.startswith("gammaray replay gap.grlog --agents my_agents.py") for c in blocks)
    assert {"gammaray list", "gammaray run macro_gap", "gammaray --version"} <= set(
        inline_commands()
    )
    assert any('python -m pytest -q -m "not slow"' in b for b in fenced("bash"))


@pytest.mark.parametrize("command", block_commands() + inline_commands())
def test_every_readme_command_parses(command: str) -> None:
    try:
        args = _parser().parse_args(argv(command))
    except SystemExit as exc:
        if exc.code == 0 and command.endswith(("--help", "--version")):
            return
        pytest.fail(f"the README's `{command}` does not parse (exit {exc.code})")
    assert args.command in command


def _skip_reason(command: str) -> str | None:
    return next((why for key, why in NOT_RUN.items() if key in command), None)


def _small(words: list[str]) -> list[str]:
    if words and words[0] in ("run", "record", "sweep") and "--help" not in words:
        return [*words, *PATHS, "--no-progress"]
    return words


@pytest.mark.slow
def test_the_readme_commands_run_as_written(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    (tmp_path / "scenarios").symlink_to(ROOT / "scenarios")
    (tmp_path / "grid.toml").write_text(fenced("toml")[0])
    agents = [b for b in fenced("python") if b.startswith("# my_agents.py")]
    assert agents, "the README shows my_agents.py"
    (tmp_path / "my_agents.py").write_text(agents[0])
    ran, skipped = [], {}
    for command in block_commands():
        why = _skip_reason(command)
        if why:
            skipped[command] = why
            continue
        words = _small(argv(command))
        if words[0] == "sweep" and "--address" in words:  # a cluster: the same grid, in-process
            i = words.index("--address")
            words[i : i + 2] = ["--runtime", "local"]
        rc = main(words)
        assert rc == 0, f"`{command}` exited {rc}: {capsys.readouterr().err}"
        ran.append(command)
    # the recording run and the replay with my_agents.py: same bits, plus half_delta
    recorded = [p for p in (tmp_path / "runs").glob("macro_gap-*") if (p / "summary.json").exists()]
    replayed = json.loads((tmp_path / "runs/replayed/summary.json").read_text())
    assert (tmp_path / "runs/replayed/report.html").is_file()
    assert "half_delta" in replayed["configs"]
    hashes = [json.loads((p / "summary.json").read_text())["configs"] for p in recorded]
    assert any(
        all(
            h[name]["pnl_sha256"] == c["pnl_sha256"]
            for name, c in replayed["configs"].items()
            if name in h
        )
        and "delta" in h
        for h in hashes
    )
    assert (tmp_path / "gap.grlog").is_file() and list(tmp_path.glob("runs/*-sweep-*/sweep.csv"))
    # the inline commands, with run folders for report/compare
    first = sorted(recorded)[0]
    (tmp_path / "runs/a").symlink_to(first)
    (tmp_path / "runs/b").symlink_to(tmp_path / "runs/replayed")
    for command in inline_commands():
        why = _skip_reason(command)
        if why:
            skipped[command] = why
            continue
        words = _small(argv(command))
        try:
            rc = main(words)
        except SystemExit as exc:  # --version
            rc = int(exc.code or 0)
        assert rc == 0, f"`{command}` exited {rc}: {capsys.readouterr().err}"
        ran.append(command)
    assert len(ran) >= 10 and all(skipped.values()), (ran, skipped)


def test_every_flag_in_the_readmes_run_table_is_an_option_of_run() -> None:
    table = README.split("Useful flags (`gammaray run --help`):")[1].split("\n\n")[1]
    flags = set(re.findall(r"`(-{1,2}[a-z][\w-]*)", table))
    assert {"--paths", "--runtime", "--set", "-v", "--log-json", "--shards"} <= flags
    p = _parser()
    sub = next(a for a in p._actions if a.__class__.__name__ == "_SubParsersAction")
    known = set(sub.choices["run"]._option_string_actions)
    assert flags <= known, flags - known
