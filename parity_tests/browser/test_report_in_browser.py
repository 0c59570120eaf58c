"""The report as a person sees it: headless Chromium loads the page with every image, and a
screenshot is not blank.

Runs in `tox -e browser` (which sets NNPARITY_BROWSER=1); Chromium comes from
scripts/setup-system.sh (Debian's package), which `make setup` runs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import matplotlib.image
import pytest

from nnparity import cli

pytestmark = pytest.mark.skipif(
    os.environ.get("NNPARITY_BROWSER") != "1", reason="the browser check runs in `tox -e browser`"
)

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    # Lets the page's load handler run (it counts the images that loaded) before the DOM is dumped.
    "--virtual-time-budget=10000",
]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, (
        "Chromium is not installed: run `bash scripts/setup-system.sh` (Debian's chromium package)"
    )
    return found


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("browser") / "report"
    assert cli.main(["report", "--case", "article", "--epochs", "30", "--out", str(out)]) == 0
    return out / "index.html"


def run_chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "profile"
    return subprocess.run(
        [chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_page_loads_with_every_image_in_a_browser(page, tmp_path):
    done = run_chromium(tmp_path, "--dump-dom", page.as_uri())
    assert done.returncode == 0, f"chromium failed: {done.stderr[-2000:]}"
    counted = re.search(r'data-images-loaded="(\d+)/(\d+)"', done.stdout)
    assert counted, "the page's image check did not run (no data-images-loaded on <body>)"
    loaded, total = map(int, counted.groups())
    assert total == 5 and loaded == total, f"only {loaded} of {total} images loaded in Chromium"


def test_a_screenshot_of_the_page_is_not_blank(page, tmp_path):
    shot = tmp_path / "report.png"
    done = run_chromium(tmp_path, "--window-size=1100,2400", f"--screenshot={shot}", page.as_uri())
    assert done.returncode == 0 and shot.is_file(), (
        f"chromium took no screenshot: {done.stderr[-2000:]}"
    )
    pixels = matplotlib.image.imread(shot)[..., :3]
    assert pixels.shape[:2] == (2400, 1100)
    # A page of plots: far from one flat colour, and with dark ink (text, axes) on it.
    assert pixels.std() > 0.1 and (pixels.mean(axis=2) < 0.3).mean() > 0.005, (
        "the screenshot is (nearly) blank"
    )
