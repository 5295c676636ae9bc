"""The ``record_stored`` hook, and the built-in notifier on it, posting to real HTTP servers
on 127.0.0.1 started here: one that answers, one that hangs, one that returns 500."""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from report_factory import write_history, write_report

from phaser_analytics import hookimpl, plugins
from phaser_analytics.cli.main import cli


def invoke(runner, *args):
    return runner.invoke(cli, ["analytics", *args], catch_exceptions=False)


# -- record_stored --------------------------------------------------------------------------


class Spy:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.fail = fail

    @hookimpl
    def record_stored(self, record, store_info):
        self.calls.append((record.execution_id, dict(store_info)))
        if self.fail:
            raise RuntimeError("the chat is down")


def with_plugin(plugin) -> None:
    plugins.set_host(plugins.build_host([("spy", plugin)]))


def test_record_stored_is_called_once_per_saved_execution(runner, project):
    spy = Spy()
    with_plugin(spy)
    write_history(project / "reports", [dict(minutes=m) for m in (10, 20, 30)])
    reports = str(project / "reports")
    invoke(runner, "import", "-r", reports, "--project", str(project))
    stored = json.loads(invoke(runner, "export", "--project", str(project)).output)
    saved = sorted(e["execution_id"] for e in stored["executions"])
    assert sorted(c[0] for c in spy.calls) == saved
    info = spy.calls[0][1]
    assert info == {
        "backend": "json",
        "location": str(project.resolve() / ".phaser" / "analytics"),
        "project_dir": str(project.resolve()),
        "action": "imported",
        "origin": "import",
        "import_id": info["import_id"],
    }
    assert len(info["import_id"]) == 32
    assert len({c[1]["import_id"] for c in spy.calls}) == 1  # one import
    spy.calls.clear()
    invoke(runner, "import", "-r", reports, "--project", str(project))
    assert spy.calls == []  # already imported: nothing saved, nothing announced
    invoke(runner, "import", "-r", reports, "--project", str(project), "--force")
    assert [c[1]["action"] for c in spy.calls] == ["replaced"] * 3


def test_a_failing_record_stored_never_fails_the_import(runner, project):
    with_plugin(Spy(fail=True))
    report = write_report(project / "r")
    result = runner.invoke(cli, ["analytics", "import", str(report), "--project", str(project)])
    assert result.exit_code == 0
    assert "plugin 'spy' ((local)) failed after the execution was stored: RuntimeError: " \
        "the chat is down" in result.output
    assert "Imported 1 execution(s)." in result.output


# -- the notifier ---------------------------------------------------------------------------


class Webhook:
    """A real HTTP server on 127.0.0.1: ``mode`` is ``ok``, ``500`` or ``hang``."""

    def __init__(self, mode: str = "ok") -> None:
        self.mode = mode
        self.bodies: list[dict] = []
        self.requests = 0
        self.release = threading.Event()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                hook.requests += 1
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                if hook.mode == "hang":
                    hook.release.wait(30)
                    return
                if hook.mode == "500":
                    self.send_response(500)
                    self.end_headers()
                    return
                hook.bodies.append(json.loads(body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook(request):
    hooks = []

    def start(mode="ok"):
        hook = Webhook(mode)
        hooks.append(hook)
        return hook

    yield start
    for hook in hooks:
        hook.close()


def configure(settings: dict, where: Path | None = None) -> None:
    """The notifier's config; the histories here are of 2024, so of any age unless the
    test says otherwise."""
    settings = {"max_age_days": 0, **settings} if "webhook" in settings else settings
    home = Path(os.environ["PHASER_HOME"])
    path = (where or home) / "config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"analytics": {"notify": settings}}), encoding="utf-8")


def import_one(runner, project: Path, **figures):
    report = write_report(project / "r" / str(len(list(project.glob("r/*")))), **figures)
    return runner.invoke(cli, ["analytics", "import", str(report), "--project", str(project)])


def test_a_failed_run_is_posted_with_a_slack_text(runner, project, webhook):
    hook = webhook()
    configure({"webhook": hook.url, "when": ["failed"], "timeout": 5})
    import_one(runner, project, status="success")
    assert hook.bodies == []
    result = import_one(
        runner, project, status="failed", failed_phase=2,
        started=datetime(2024, 12, 2, 9, tzinfo=timezone.utc),
    )
    assert result.exit_code == 0
    (body,) = hook.bodies
    assert body["events"] == ["failed"]
    assert body["execution"]["status"] == "failed"
    assert body["execution"]["audit_document"] == "document-7-reverse.md"
    assert body["text"].startswith("phaser analytics: document-7-reverse.md (Demo) — failed")
    assert body["text"].endswith("status failed, 3/4 phases, 1h 00m, -")


def test_a_regression_against_the_previous_run_is_posted(runner, project, webhook):
    hook = webhook()
    configure({"webhook": hook.url, "when": ["regression"], "timeout": 5})
    write_history(project / "h", [dict(status="success"), dict(status="partial", failed_phase=3)])
    invoke(runner, "import", "-r", str(project / "h"), "--project", str(project))
    (body,) = hook.bodies
    assert body["events"] == ["regression"]
    assert body["reasons"]["regression"][0].startswith(
        "status partial, was success in the previous run"
    )


def test_an_anomaly_is_posted_with_its_reason(runner, project, webhook):
    hook = webhook()
    configure({"webhook": hook.url, "when": ["anomaly"], "timeout": 5})
    write_history(project / "h", [dict(minutes=m) for m in (58, 60, 61, 59, 62, 60)])
    invoke(runner, "import", "-r", str(project / "h"), "--project", str(project))
    assert hook.bodies == []
    import_one(runner, project, minutes=500, started=datetime(2024, 12, 20, tzinfo=timezone.utc))
    (body,) = hook.bodies
    assert body["events"] == ["anomaly"]
    assert body["reasons"]["anomaly"][0].startswith("duration 8h 20m is above the usual")


def test_a_server_returning_500_is_retried_once_and_the_import_succeeds(
    runner, project, webhook
):
    hook = webhook("500")
    configure({"webhook": hook.url, "timeout": 5})
    result = import_one(runner, project, status="failed", failed_phase=1)
    assert result.exit_code == 0 and "Imported 1 execution(s)." in result.output
    assert hook.requests == 2
    assert "Warning: notify: could not post to the webhook (HTTP 500)" in result.output


def test_a_hanging_server_costs_at_most_the_timeout_and_the_import_succeeds(
    runner, project, webhook
):
    hook = webhook("hang")
    configure({"webhook": hook.url, "timeout": 0.5})
    began = time.monotonic()
    result = import_one(runner, project, status="failed", failed_phase=1)
    elapsed = time.monotonic() - began
    assert result.exit_code == 0 and "Imported 1 execution(s)." in result.output
    assert "could not post to the webhook (timed out)" in result.output
    # The one attempt used the whole budget, so there was no retry.
    assert hook.requests == 1
    assert elapsed < 20  # it returned: a hang would have held it for the server's 30 s


def test_a_projects_own_config_cannot_set_a_webhook(runner, project, webhook):
    hook = webhook()
    configure({"webhook": hook.url}, where=project / ".phaser")
    result = import_one(runner, project, status="failed", failed_phase=1)
    assert result.exit_code == 0 and hook.requests == 0
    assert "'analytics.notify' in " in result.output and "is ignored" in result.output


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"webhook": "file:///etc/passwd"}, "an http:// or https:// URL"),
        ({"webhook": "https://x", "when": ["sometimes"]}, "'when' must list some of"),
        ({"webhook": "https://x", "timeout": 0}, "'timeout' must be above 0"),
        ({"webhook": "https://x", "color": "red"}, "unknown key 'color'"),
    ],
)
def test_a_bad_notify_config_is_one_warning(runner, project, settings, problem):
    configure(settings)
    result = import_one(runner, project, status="failed", failed_phase=1)
    assert result.exit_code == 0 and "Imported 1 execution(s)." in result.output
    assert problem in result.output and "'analytics.notify'" in result.output


def test_old_runs_are_not_announced_and_posts_are_capped(runner, project, webhook):
    hook = webhook()
    configure({"webhook": hook.url, "when": ["failed"], "timeout": 5, "max_age_days": 7,
               "max_posts": 2})
    now = datetime.now(timezone.utc).replace(microsecond=0)
    runs = [dict(status="failed", failed_phase=1, started=now - timedelta(days=30))]
    runs += [
        dict(status="failed", failed_phase=1, started=now - timedelta(hours=h)) for h in (5, 4, 3)
    ]
    for number, figures in enumerate(runs):
        write_report(project / "h" / str(number), **figures)
    result = invoke(runner, "import", "-r", str(project / "h"), "--project", str(project))
    assert "Imported 4 execution(s)." in result.output
    # The 30-day-old run is a backfill; of the three recent ones, two are posted.
    assert hook.requests == 2
    assert "notify: more than 2 alerts in one import; the others are not posted." in result.output
