"""Helpers for the tests of ``dataconv review``: the review server as a real process, and a
real Chromium (Debian's ``chromium`` and ``chromium-driver``, as .ci/run installs them)
driven by Selenium, pressing the keys a reviewer presses."""
from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import time
from typing import Any, Callable
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest

STARTUP_SECONDS = 60


def chromium() -> Any:
    """A headless Chromium under Selenium; the test is skipped when either is missing."""
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not browser or not driver:
        pytest.skip("chromium and chromium-driver are not installed (.ci/run installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1300,900"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(driver), options=options)


class Review:
    """``dataconv review EVAL_DIR --no-browser ...`` running in its own process."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "dataconv.cli", "review", *map(str, args),
                                         "--no-browser"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.url = self._read_url()

    def _read_url(self) -> str:
        """Lines of stdout up to the one with the URL (read from the pipe itself: a buffered
        reader would hide lines it has read ahead from select)."""
        fd, pending = self.process.stdout.fileno(), b""  # type: ignore[union-attr]
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline and self.process.poll() is None:
            if not select.select([fd], [], [], 0.5)[0]:
                continue
            pending += os.read(fd, 65536)
            *done, pending = pending.split(b"\n")
            self.lines += [line.decode() for line in done]
            for line in self.lines:
                if line.startswith("open "):
                    return line.split()[1]
        self.process.kill()
        raise AssertionError(f"no URL from dataconv review: {self.lines} {self.process.communicate()}")

    @property
    def base(self) -> str:
        return self.url.split("/?token=")[0]

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str]:
        """Send ``sig``; the exit status and the rest of stdout."""
        self.process.send_signal(sig)
        rest, _ = self.process.communicate(timeout=30)
        return self.process.returncode, rest

    def __enter__(self) -> Review:
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate(timeout=30)


def status_of(url: str, data: bytes | None = None) -> int:
    """The HTTP status of a GET (or a POST of ``data``) to ``url``."""
    request = Request(url, data=data, headers={"Content-Type": "application/json"} if data else {})
    try:
        with urlopen(request, timeout=10) as response:
            return response.status
    except HTTPError as e:
        return e.code


def wait_for(condition: Callable[[], Any], what: str, seconds: float = 15) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def file_text(path: str) -> str:
    if not os.path.exists(path):
        return ""
    with open(path, encoding="utf-8") as f:
        return f.read()


class Page:
    """The review page in the browser, as a reviewer uses it."""

    def __init__(self, driver: Any, url: str) -> None:
        self.driver = driver
        driver.get(url)
        wait_for(lambda: " decided · row " in self.progress(), "the rows to load")

    def find(self, css: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def progress(self) -> str:
        from selenium.common.exceptions import NoSuchElementException

        try:
            return self.find("#progress").text
        except NoSuchElementException:
            return ""

    def status(self) -> str:
        return self.find("#status").text

    def press(self, *keys: str) -> None:
        for key in keys:
            self.find("body").send_keys(key)

    def current(self) -> int:
        return int(self.find("tr.current").get_attribute("data-row"))

    def go_to(self, source_id: str) -> int:
        """Click the row of ``source_id``; its row number."""
        from selenium.webdriver.common.by import By

        for cell in self.driver.find_elements(By.CSS_SELECTOR, "td.id"):
            if cell.text == source_id:
                cell.click()
                row = int(cell.find_element(By.XPATH, "..").get_attribute("data-row"))
                wait_for(lambda: self.current() == row, f"row {row} to become current")
                return row
        raise AssertionError(f"{source_id} is not on the page")

    def type_correction(self, text: str) -> None:
        self.press("t")
        box = wait_for(lambda: self.find("#correction") if self.find("#correction").is_displayed() else None,
                       "the correction box")
        from selenium.webdriver.common.keys import Keys

        box.send_keys(text, Keys.ENTER)

    def cell(self, row: int, kind: str) -> str:
        return self.find(f'tr[data-row="{row}"] td.{kind}').text
