"""Built-in plugin: post a small JSON message to a webhook when a stored execution failed,
regressed or is an anomaly (``record_stored`` hook; docs/insights.md, "Alerts").

Configured in ``$PHASER_HOME/config.json`` only::

    {"analytics": {"notify": {"webhook": "https://hooks.slack.com/services/…",
                              "when": ["failed", "regression", "anomaly"],
                              "timeout": 2, "max_age_days": 7, "max_posts": 10}}}

A project's own ``.phaser/config.json`` cannot set a webhook: a cloned repository is a
stranger's input, and a webhook there would send your history to the stranger. ``when``
defaults to all three events; ``timeout`` (seconds, default 2) bounds the whole post, its
one retry included, so an import is never slowed by more than that per post. Only
executions that started in the last ``max_age_days`` (0: any) are announced, at most
``max_posts`` per import: a backfill of old reports pages nobody. A post that fails is one
warning; the import has already succeeded.

This module is imported by every command (it is a plugin), so it imports nothing heavy at
module level.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from phaser_analytics.errors import stderr_warning
from phaser_analytics.hookspecs import hookimpl

EVENTS = ("failed", "regression", "anomaly")
DEFAULT_TIMEOUT = 2.0
MAX_TIMEOUT = 30.0
#: Only executions that started this recently are announced (a backfill is not news).
DEFAULT_MAX_AGE_DAYS = 7
#: At most this many posts per import.
DEFAULT_MAX_POSTS = 10
CONFIG_KEY = "notify"
_STATUS_RANK = {"failed": 0, "partial": 1, "success": 2}


class NotifyConfigError(ValueError):
    pass


class _Import:
    """What one import needs once: the settings, the project's history, the posts made."""

    def __init__(self, import_id: Any, project_dir: str | None) -> None:
        self.import_id = import_id
        self.settings = notify_settings(project_dir)
        self.history: list[Any] | None = None
        self.posts = 0
        self.capped = False

    def history_with(self, record: Any, project_dir: Path) -> list[Any]:
        """The project's executions, read once per import; the records this import saves
        are added as they come."""
        if self.history is None:
            self.history = _history(project_dir)
        if all(e.execution_id != record.execution_id for e in self.history):
            self.history.append(record)
        return self.history


_current: _Import | None = None


@hookimpl(trylast=True)
def record_stored(record: Any, store_info: dict[str, Any]) -> None:
    global _current
    import_id = store_info.get("import_id")
    if _current is None or import_id is None or _current.import_id != import_id:
        _current = _Import(import_id, store_info.get("project_dir"))
    state = _current
    settings = state.settings
    if settings is None or not recent(record, settings["max_age_days"]):
        return
    project_dir = Path(store_info["project_dir"])
    events = events_for(record, project_dir, settings["when"], state)
    if not events:
        return
    if state.posts >= settings["max_posts"]:
        if not state.capped:
            state.capped = True
            stderr_warning(
                f"notify: more than {settings['max_posts']} alerts in one import; "
                "the others are not posted."
            )
        return
    state.posts += 1
    error = post(settings["webhook"], message(record, events), settings["timeout"])
    if error is not None:
        stderr_warning(f"notify: could not post to the webhook ({error}); the execution is stored.")


def recent(record: Any, max_age_days: float) -> bool:
    """Whether ``record`` started within ``max_age_days`` (0: any age). Importing a year of
    old reports must not page anyone."""
    if not max_age_days:
        return True
    if record.started_at is None:
        return False
    from datetime import datetime, timedelta, timezone

    return record.started_at >= datetime.now(timezone.utc) - timedelta(days=max_age_days)


# -- configuration ------------------------------------------------------------------------


def notify_settings(project_dir: str | None) -> dict[str, Any] | None:
    """The checked ``analytics.notify`` of ``$PHASER_HOME/config.json``; ``None`` when
    there is none. A project config that tries to set one gets a warning."""
    from phaser_analytics.config import CONFIG_NAME, ConfigError, read_config_file
    from phaser_analytics.home import phaser_home

    if project_dir:
        project_file = Path(project_dir) / ".phaser" / CONFIG_NAME
        try:
            if CONFIG_KEY in read_config_file(project_file):
                stderr_warning(
                    f"notify: 'analytics.notify' in {project_file} is ignored; a webhook is "
                    "read from $PHASER_HOME/config.json only."
                )
        except ConfigError:
            pass  # the command that reads that file reports it
    path = phaser_home() / CONFIG_NAME
    section = read_config_file(path)
    if CONFIG_KEY not in section:
        return None
    try:
        return check_settings(section[CONFIG_KEY])
    except NotifyConfigError as exc:
        raise ConfigError(f"Config file {path}: 'analytics.notify' {exc}.") from None


def check_settings(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise NotifyConfigError("must be an object with a 'webhook' URL")
    known = ("webhook", "when", "timeout", "max_age_days", "max_posts")
    unknown = set(value) - set(known)
    if unknown:
        raise NotifyConfigError(
            f"has unknown key '{sorted(unknown)[0]}' (known: {', '.join(known)})"
        )
    webhook = value.get("webhook")
    if not isinstance(webhook, str) or not webhook.lower().startswith(("http://", "https://")):
        raise NotifyConfigError("needs 'webhook', an http:// or https:// URL")
    when = value.get("when", list(EVENTS))
    if isinstance(when, str):
        when = [when]
    if not isinstance(when, list) or not when or any(w not in EVENTS for w in when):
        raise NotifyConfigError(f"'when' must list some of: {', '.join(EVENTS)}")
    timeout = value.get("timeout", DEFAULT_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise NotifyConfigError("'timeout' must be a number of seconds")
    if not 0 < timeout <= MAX_TIMEOUT:
        raise NotifyConfigError(f"'timeout' must be above 0 and at most {MAX_TIMEOUT:g} seconds")
    max_age = value.get("max_age_days", DEFAULT_MAX_AGE_DAYS)
    if isinstance(max_age, bool) or not isinstance(max_age, (int, float)) or max_age < 0:
        raise NotifyConfigError("'max_age_days' must be a number of days (0: any age)")
    max_posts = value.get("max_posts", DEFAULT_MAX_POSTS)
    if isinstance(max_posts, bool) or not isinstance(max_posts, int) or max_posts < 1:
        raise NotifyConfigError("'max_posts' must be a whole number of at least 1")
    return {
        "webhook": webhook,
        "when": list(when),
        "timeout": float(timeout),
        "max_age_days": max_age,
        "max_posts": max_posts,
    }


# -- events -------------------------------------------------------------------------------


def events_for(
    record: Any, project_dir: Path, when: list[str], state: _Import | None = None
) -> dict[str, list[str]]:
    """The configured events ``record`` raises, each with its reasons."""
    events: dict[str, list[str]] = {}
    if "failed" in when and record.status.value == "failed":
        events["failed"] = list(record.failure_reasons) or ["the execution failed"]
    if "regression" in when or "anomaly" in when:
        history = state.history_with(record, project_dir) if state else _history(project_dir)
        if "regression" in when:
            why = regression(record, history)
            if why:
                events["regression"] = why
        if "anomaly" in when:
            from phaser_analytics.anomalies import find_anomalies

            found = find_anomalies([record], history).get(record.execution_id, [])
            if found:
                events["anomaly"] = [a.reason() for a in found]
    return events


def _history(project_dir: Path) -> list[Any]:
    from phaser_analytics.query import project_key, project_store

    store = project_store(project_dir, warn=stderr_warning)
    return list(store.find(project=project_key(project_dir, store)))


def previous_run(record: Any, history: list[Any]) -> Any | None:
    """The run of the same audit document that started last before ``record``."""
    if not record.audit_document or record.started_at is None:
        return None
    earlier = [
        e
        for e in history
        if e.audit_document == record.audit_document
        and e.execution_id != record.execution_id
        and e.started_at is not None
        and e.started_at < record.started_at
    ]
    return max(earlier, key=lambda e: e.started_at, default=None)


def regression(record: Any, history: list[Any]) -> list[str]:
    """Why ``record`` is worse than the previous run of its document: a worse status, or
    the same status with fewer of its phases completed."""
    before = previous_run(record, history)
    if before is None:
        return []
    now, then = record.status.value, before.status.value
    if _STATUS_RANK[now] < _STATUS_RANK[then]:
        return [f"status {now}, was {then} in the previous run ({before.execution_id[:8]})"]
    rate_now, rate_then = _rate(record), _rate(before)
    if now == then and rate_now is not None and rate_then is not None and rate_now < rate_then:
        return [
            f"{rate_now:.0%} of phases completed, was {rate_then:.0%} in the previous run "
            f"({before.execution_id[:8]})"
        ]
    return []


def _rate(item: Any) -> float | None:
    planned, completed = item.phases_planned, item.phases_completed
    if not planned or completed is None:
        return None
    return min(completed / planned, 1.0)


# -- the message --------------------------------------------------------------------------


def message(record: Any, events: dict[str, list[str]]) -> dict[str, Any]:
    """The JSON body: what happened and the execution's figures, with a Slack-compatible
    ``text``."""
    from phaser_analytics.formatting import clean_text, format_cost, format_duration
    from phaser_analytics.models import datetime_to_json

    name = clean_text(record.audit_document or record.document_title or record.execution_id)
    project = clean_text(record.project_name or "")
    lines = [f"phaser analytics: {name} ({project}) — {', '.join(events)}"]
    for event, why in events.items():
        lines.extend(f"• {event}: {clean_text(reason)}" for reason in why)
    lines.append(
        f"status {record.status.value}, {record.phases_completed}/{record.phases_planned} "
        f"phases, {format_duration(record.duration_seconds)}, {format_cost(record.cost_usd)}"
    )
    return {
        "text": "\n".join(lines),
        "events": sorted(events),
        "reasons": events,
        "execution": {
            "execution_id": record.execution_id,
            "audit_document": record.audit_document,
            "project_name": record.project_name,
            "status": record.status.value,
            "started_at": datetime_to_json(record.started_at),
            "duration_seconds": record.duration_seconds,
            "phases_planned": record.phases_planned,
            "phases_completed": record.phases_completed,
            "test_delta": record.test_delta,
            "total_tokens": record.total_tokens,
            "cost_usd": record.cost_usd,
        },
    }


def post(url: str, body: dict[str, Any], timeout: float) -> str | None:
    """POST ``body`` as JSON; one retry after a failure, both within ``timeout`` seconds
    in all. ``None`` when the webhook took it (a 2xx answer), else why not."""
    import json
    import urllib.error
    import urllib.request

    data = json.dumps(body).encode("utf-8")
    deadline = time.monotonic() + timeout
    error = "no attempt"
    for _attempt in range(2):
        left = deadline - time.monotonic()
        if left <= 0.05:
            break
        request = urllib.request.Request(
            url,
            data=data,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "phaser-analytics"},
        )
        try:
            with urllib.request.urlopen(request, timeout=left) as response:
                response.read(65536)
                return None
        except urllib.error.HTTPError as exc:
            error = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            error = "timed out" if "timed out" in str(reason) else str(reason)
    return error
