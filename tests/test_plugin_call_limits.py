"""The watchdog's settings (issue 12, item 4): the deadline, per-plugin deadlines, the plugin
threads and the worker memory ceiling, read from the environment and refused at start-up when bad."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from typer.testing import CliRunner

from nentang.kernel.cli import serve as serve_module
from nentang.kernel.cli.main import app
from nentang.kernel.plugins.call_limits import PluginCallLimits
from nentang.kernel.settings import Settings
from nentang.sdk.errors import ValidationFailed
from tests.cli_fixtures import failed


def test_the_defaults_and_a_full_setting() -> None:
    assert Settings.from_environ({}).plugin_calls == PluginCallLimits()
    limits = PluginCallLimits.from_environ(
        {
            "NENTANG_PLUGIN_DEADLINE": "2.5",
            "NENTANG_PLUGIN_DEADLINES": " reports=60, forms = 0.5 ,",
            "NENTANG_PLUGIN_THREADS": "8",
            "NENTANG_PLUGIN_CONCURRENCY": "2",
            "NENTANG_WORKER_MEMORY_MB": "1024",
        }
    )
    assert limits.deadline == 2.5 and limits.threads == 8 and limits.concurrency == 2
    assert limits.worker_memory_mb == 1024
    assert (limits.deadline_of("reports"), limits.deadline_of("forms"), limits.deadline_of("other")) == (60, 0.5, 2.5)


BAD = [
    ({"NENTANG_PLUGIN_DEADLINE": "0"}, "NENTANG_PLUGIN_DEADLINE must be more than 0"),
    ({"NENTANG_PLUGIN_DEADLINE": "-1"}, "NENTANG_PLUGIN_DEADLINE must be more than 0"),
    ({"NENTANG_PLUGIN_DEADLINE": "nan"}, "NENTANG_PLUGIN_DEADLINE must be more than 0"),
    ({"NENTANG_PLUGIN_DEADLINE": "10s"}, "NENTANG_PLUGIN_DEADLINE must be a number of seconds, not '10s'"),
    ({"NENTANG_PLUGIN_DEADLINE": "10000"}, "at most 3600 seconds"),
    ({"NENTANG_PLUGIN_DEADLINES": "reports"}, "NENTANG_PLUGIN_DEADLINES: write name=seconds, not 'reports'"),
    ({"NENTANG_PLUGIN_DEADLINES": "=3"}, "NENTANG_PLUGIN_DEADLINES: write name=seconds"),
    ({"NENTANG_PLUGIN_DEADLINES": "a=1,a=2"}, "NENTANG_PLUGIN_DEADLINES names 'a' twice"),
    ({"NENTANG_PLUGIN_DEADLINES": "Bad-Name=1"}, "'Bad-Name' is not a plugin name"),
    ({"NENTANG_PLUGIN_DEADLINES": "reports=0"}, "NENTANG_PLUGIN_DEADLINES (reports) must be more than 0"),
    ({"NENTANG_PLUGIN_THREADS": "0"}, "NENTANG_PLUGIN_THREADS must be from 1 to 1024, not 0"),
    ({"NENTANG_PLUGIN_THREADS": "many"}, "NENTANG_PLUGIN_THREADS must be a whole number, not 'many'"),
    ({"NENTANG_PLUGIN_CONCURRENCY": "0"}, "NENTANG_PLUGIN_CONCURRENCY must be from 1 to NENTANG_PLUGIN_THREADS"),
    ({"NENTANG_PLUGIN_THREADS": "4", "NENTANG_PLUGIN_CONCURRENCY": "5"}, "NENTANG_PLUGIN_THREADS (4), not 5"),
    ({"NENTANG_WORKER_MEMORY_MB": "100"}, "NENTANG_WORKER_MEMORY_MB must be at least 256, not 100"),
    ({"NENTANG_WORKER_MEMORY_MB": "1.5G"}, "NENTANG_WORKER_MEMORY_MB must be a whole number, not '1.5G'"),
]


@pytest.mark.parametrize(("environ", "message"), BAD)
def test_a_bad_value_is_refused_with_the_variable_named(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        Settings.from_environ(environ)
    assert message in refused.value.message


def test_serve_refuses_a_bad_deadline_before_starting(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[str] = []
    monkeypatch.setattr(serve_module.uvicorn, "run", lambda target, **_: started.append(target))
    environment = {"NENTANG_DATABASE_URL": database_url, "NENTANG_LOG_FORMAT": "console"}
    result = CliRunner().invoke(app, ["serve"], env={**environment, "NENTANG_PLUGIN_DEADLINES": "reports=never"})
    message = failed(result, "validation.failed")
    assert message == "NENTANG_PLUGIN_DEADLINES (reports) must be a number of seconds, not 'never'"
    assert started == []


def test_the_memory_ceiling_turns_a_runaway_allocation_into_a_memory_error() -> None:
    script = textwrap.dedent(
        """
        from nentang.kernel.plugins.call_limits import apply_worker_memory_ceiling
        apply_worker_memory_ceiling(512)
        small = bytearray(50 * 1024 * 1024)  # well under the ceiling: fine
        try:
            big = bytearray(2 * 1024 * 1024 * 1024)
        except MemoryError:
            print("refused")
        else:
            print("allocated")
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "refused"
