"""Fixtures and hooks for the whole suite; shared helpers are in tests/helpers.py."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers import REALDATA


@pytest.fixture
def realdata() -> Path:
    if not REALDATA.is_dir():
        pytest.skip("../shared/realdata is not beside the checkout")
    return REALDATA


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI (``CI=true``, set by .ci/run) a skipped test fails the run: CI installs what
    every optional test needs, so a skip there means a test silently stopped running."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if os.environ.get("CI", "").lower() in ("1", "true") and skipped and exitstatus == 0:
        for report in skipped:
            reporter.write_line(f"CI: skipped test counts as a failure: {report.nodeid} {report.longrepr}")
        session.exitstatus = 1
