"""The tutorial's commands are run, so the tutorial cannot drift from the platform.

``docs/tutorial-en.md`` and ``docs/tutorial-vi.md`` mark what the reader does with an HTML comment
(invisible on the site) on the line before a fenced block:

- ``<!-- tutorial: setup -->``: shown, not run — getting NenTang and its ``.venv``; this test
  stands for it with an environment of its own layered on the suite's ``.venv`` (below);
- ``<!-- tutorial: background -->``: started and left running (the demo), until the test ends;
- ``<!-- tutorial: run -->``: run with bash (``set -euo pipefail``); the working directory and the
  exported variables carry over to the next block, as in the reader's terminal;
- ``<!-- tutorial: file PATH -->``: the block is written to ``PATH``;
- ``<!-- tutorial: patch -->``: the block is a unified diff, applied with ``patch -p1``;
- ``<!-- tutorial: output -->``: the JSON the previous ``run`` block printed.

The two pages must carry the same marked blocks in the same order, and every shell block must be
marked, so no command of either language escapes the test. The test then does what the reader does,
in a fresh folder: starts the demo (on a free port instead of 8000), scaffolds ``loichao``, adds the
field, runs its tests with the kit and the contract suite, reviews and approves it into a registry
of its own, installs it into the running demo, enables it at commune 00070 and calls its GraphQL
field — with no restart.

The reader's environment: a virtual environment of the test's own whose ``site-packages`` adds the
suite's (a ``.pth`` file), with ``nentang``, ``pytest`` and ``pip`` scripts running its Python — so
what the tutorial installs lands there and never in the suite's ``.venv``. pip runs offline
(``PIP_NO_INDEX``, no build isolation): everything the plugin needs is installed already.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
import venv
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = {"en": ROOT / "docs" / "tutorial-en.md", "vi": ROOT / "docs" / "tutorial-vi.md"}
KINDS = ("setup", "background", "run", "file", "patch", "output")
#: The port the tutorial's text uses; the test serves the demo on a free one instead.
DOC_PORT = "8000"
STEP_TIMEOUT = 900.0
READY_TIMEOUT = 180.0
_BLOCK = re.compile(r"<!-- tutorial: (\w+)(?: ([^>]*?))? -->\n```(\w*)[^\n]*\n(.*?)\n```", re.S)
_FENCE = re.compile(r"^```(\w*)", re.M)


@dataclass(frozen=True)
class Step:
    kind: str
    argument: str
    language: str
    text: str


def steps(page: Path) -> list[Step]:
    found = [
        Step(m.group(1), (m.group(2) or "").strip(), m.group(3), m.group(4)) for m in _BLOCK.finditer(page.read_text())
    ]
    unknown = sorted({s.kind for s in found} - set(KINDS))
    assert not unknown, f"{page.name}: unknown tutorial markers {unknown}"
    return found


# -- the pages agree and mark every command -------------------------------------------------------------


def test_both_languages_carry_the_same_commands_files_and_outputs() -> None:
    english, vietnamese = steps(PAGES["en"]), steps(PAGES["vi"])
    assert english, "docs/tutorial-en.md marks no steps"
    assert vietnamese == english, "the Vietnamese and English tutorials must mark the same blocks, in the same order"


@pytest.mark.parametrize("language", sorted(PAGES))
def test_every_shell_block_is_marked(language: str) -> None:
    text = PAGES[language].read_text()
    shell_blocks = [m for m in _FENCE.finditer(text) if m.group(1) in ("sh", "bash", "console", "shell")]
    unmarked = []
    for match in shell_blocks:
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        if not before.startswith("<!-- tutorial: "):
            unmarked.append(text[: match.start()].count("\n") + 1)
    assert not unmarked, f"{PAGES[language].name}: shell blocks without a tutorial marker at lines {unmarked}"


def test_the_steps_cover_the_whole_journey() -> None:
    runs = "\n".join(s.text for s in steps(PAGES["en"]) if s.kind in ("run", "background"))
    for command in (
        "nentang demo",
        "nentang plugin new",
        "pytest",
        "nentang sdk check",
        "nentang review",
        "--approve",
        "nentang plugin rescan",
        "nentang plugin enable",
        "/graphql",
    ):
        assert command in runs, f"the tutorial no longer runs {command!r}"


# -- running it -----------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _reader_environment(root: Path) -> dict[str, str]:
    """A venv over the suite's environment, with the reader's commands; returns the variables to use."""
    venv.EnvBuilder(with_pip=False, symlinks=True, clear=True).create(root)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    site = root / "lib" / version / "site-packages"
    suite_sites = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    (site / "zz_nentang_suite.pth").write_text("".join(f"import site; site.addsitedir({p!r})\n" for p in suite_sites))
    python = root / "bin" / "python"
    for command, module in (("nentang", "nentang.kernel.cli"), ("pytest", "pytest"), ("pip", "pip")):
        script = root / "bin" / command
        script.write_text(
            f"#!{python}\nimport runpy, sys\nsys.argv[0] = {command!r}\n"
            f"runpy.run_module({module!r}, run_name='__main__', alter_sys=True)\n"
        )
        script.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NENTANG_", "PYTEST_", "VIRTUAL_ENV", "PIP_"))}
    env.update(
        PATH=f"{root / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(root),
        PIP_NO_INDEX="1",
        PIP_NO_BUILD_ISOLATION="0",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PYTHONDONTWRITEBYTECODE="1",
        NO_COLOR="1",
    )
    return env


def _with_port(text: str, port: int) -> str:
    return text.replace(f"127.0.0.1:{DOC_PORT}", f"127.0.0.1:{port}").replace(f"--port {DOC_PORT}", f"--port {port}")


class Reader:
    """Does what the reader does: one shell after another, keeping the directory and exports."""

    def __init__(self, workspace: Path, env: dict[str, str], state: Path) -> None:
        self.cwd = workspace
        self.env = env
        self.state = state
        self.background: list[subprocess.Popen[bytes]] = []
        self.last_output = ""

    def run(self, script: str) -> str:
        exports = self.state / "exports.sh"
        wrapped = (
            "set -euo pipefail\n"
            f"[ -f {exports} ] && source {exports}\n"
            f"{script}\n"
            f"pwd > {self.state / 'cwd'}\n"
            f"export -p > {exports}\n"
        )
        done = subprocess.run(
            ["bash", "-c", wrapped],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT,
        )
        assert done.returncode == 0, (
            f"tutorial step failed (exit {done.returncode}):\n{script}\n--- stdout ---\n{done.stdout[-4000:]}"
            f"\n--- stderr ---\n{done.stderr[-4000:]}"
        )
        self.cwd = Path((self.state / "cwd").read_text().strip())
        self.last_output = done.stdout
        return done.stdout

    def start(self, script: str, log: Path) -> None:
        with log.open("wb") as out:
            process = subprocess.Popen(
                ["bash", "-c", f"exec {script.strip()}"],
                cwd=self.cwd,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.background.append(process)

    def stop(self) -> None:
        for process in self.background:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=30)


def _wait_ready(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the demo stopped (exit {process.returncode}):\n{log.read_text(errors='replace')[-4000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"the demo was not ready within {READY_TIMEOUT} s:\n{log.read_text(errors='replace')[-4000:]}")


@pytest.mark.skipif(
    os.environ.get("NENTANG_DATABASE_URL", "").startswith("postgresql"),
    reason="the tutorial runs the embedded demo (SQLite); it runs in the suite's SQLite pass",
)
@pytest.mark.skipif(shutil.which("bwrap") is None, reason="the review step needs bubblewrap (bwrap)")
def test_the_tutorial_runs_from_scaffold_to_a_field_served_on_a_running_demo(tmp_path: Path) -> None:
    port = _free_port()
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    state = tmp_path / "state"
    state.mkdir()
    reader = Reader(workspace, _reader_environment(tmp_path / "env"), state)
    try:
        for number, step in enumerate(steps(PAGES["en"]), start=1):
            text = _with_port(step.text, port)
            if step.kind == "setup":
                continue
            if step.kind == "background":
                log = tmp_path / f"background-{number}.log"
                reader.start(text, log)
                _wait_ready(port, reader.background[-1], log)
            elif step.kind == "run":
                reader.run(text)
            elif step.kind == "file":
                target = reader.cwd / step.argument
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(step.text + "\n", encoding="utf-8")
            elif step.kind == "patch":
                patch = state / f"step-{number}.diff"
                patch.write_text(step.text + "\n", encoding="utf-8")
                reader.run(f"patch -p1 --forward --batch < {patch}")
            elif step.kind == "output":
                assert json.loads(reader.last_output) == json.loads(step.text), (
                    f"step {number}: the command printed {reader.last_output!r}, the tutorial shows {step.text!r}"
                )
    finally:
        reader.stop()
