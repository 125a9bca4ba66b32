#!/usr/bin/env python3
"""Render a dataconv report.html with headless Chromium and save a PNG screenshot.

    python scripts/screenshot_report.py OUT/report.html shot.png [--width 1400 --height 4000]

Exits 0 when Chromium wrote a non-empty PNG, 1 otherwise, 2 when no Chromium is installed.
The browser runs with a throw-away profile and no network services, so the screenshot
also shows that the page needs nothing from the network.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def find_browser() -> str | None:
    return next((path for path in map(shutil.which, BROWSERS) if path), None)


def screenshot(browser: str, page: str, png: str, width: int, height: int, timeout: float) -> bool:
    with tempfile.TemporaryDirectory(prefix="dataconv-chromium-") as profile:
        cmd = [browser, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
               f"--screenshot={os.path.abspath(png)}", "file://" + os.path.abspath(page)]
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=timeout, check=False)
    return os.path.isfile(png) and os.path.getsize(png) > 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("page")
    parser.add_argument("png")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=4000)
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args(argv)
    browser = find_browser()
    if browser is None:
        print("no chromium found", file=sys.stderr)
        return 2
    if os.path.exists(args.png):
        os.remove(args.png)
    ok = screenshot(browser, args.page, args.png, args.width, args.height, args.timeout)
    print(f"{'wrote' if ok else 'FAILED to write'} {args.png}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
