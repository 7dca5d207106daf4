"""Fixtures of the browser tests: a results folder made by the real benchmatrix binary on real
processes, and headless Chromium (Debian's chromium and chromium-driver) driven by Selenium."""
import json
import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common import utils

# Axis values a results tree may hold: they must show as text and run nothing.
IMG = "<img src=x onerror=\"document.title='pwned-img'\">"
SCRIPT = "</script><script>document.title='pwned-script'</script>"

CONFIG = {
    "name": "browser <b>check<b>",
    "command": ["sh", "-c",
                # A small real program: its latency depends on the variant and the size, with the
                # noise of its own pid; the broken variant fails with a message on stderr.
                'if [ "$COST" -lt 0 ]; then echo "it broke: bad input" >&2; exit 3; fi; '
                'v=$(( COST * (1 + ${{#SIZE}}) + $$ % 7 )); '
                'echo "{{\\"metric\\": \\"latency\\", \\"value\\": $v, \\"unit\\": \\"ms\\"}}" >> "$BENCHMATRIX_RESULT_FILE"'],
    "env": {"COST": "{impl.cost}", "SIZE": "{size}"},
    "matrix": {
        "impl": [
            {"name": "base", "cost": 100},
            {"name": IMG, "cost": 160},
            {"name": SCRIPT, "cost": 100},
            {"name": "broken", "cost": -1},
        ],
        "size": [10, 1000, 100000],
    },
    "repeat": {"runs": 6},
    "analysis": {"baseline": {"impl": "base"}},
}


class LoopbackService(Service):
    """chromedriver reached at 127.0.0.1 by number, not by the name localhost: a machine whose
    /etc/hosts lacks localhost (a minimal root file system) still runs the tests."""

    @property
    def service_url(self):
        return f"http://127.0.0.1:{self.port}"

    def is_connectable(self):
        return utils.is_connectable(self.port, "127.0.0.1")


def output_dir():
    """Where screenshots go, for people to look at (kept after the run)."""
    path = pathlib.Path(os.environ.get("BENCHMATRIX_TEST_OUTPUT", tempfile.gettempdir())) / "browser"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def results():
    binary = os.environ["BENCHMATRIX"]
    work = pathlib.Path(tempfile.mkdtemp(prefix="bm-browser."))
    (work / "config.json").write_text(json.dumps(CONFIG))
    run = subprocess.run([binary, "run", str(work / "config.json"), "--out", str(work / "out")],
                         cwd=work, capture_output=True, text=True, timeout=300)
    assert run.returncode == 1, f"one variant fails, so the run exits 1; got {run.returncode}\n{run.stdout}\n{run.stderr}"
    assert (work / "out" / "report.html").is_file(), run.stdout
    # Monitor data as a task folder may hold it: the report draws its timelines.
    base = next((work / "out" / "tasks").glob("base/10"))
    rows = ["time,cpu_percent,rss_bytes,gpu0_util_percent"]
    rows += [f"{1.7e9 + i * 0.1:.1f},{50 + i % 7},{1e8 + i * 1e5:.0f},{i % 100}" for i in range(40)]
    (base / "monitor.csv").write_text("\n".join(rows) + "\n")
    again = subprocess.run([binary, "report", str(work / "out")], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    yield work / "out"
    shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="session")
def driver():
    chromium = shutil.which("chromium")
    chromedriver = shutil.which("chromedriver")
    if not chromium or not chromedriver:
        pytest.fail("chromium and chromium-driver are not installed (./setup.sh installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-quic", "--window-size=1280,1800", "--remote-debugging-pipe",
                 f"--user-data-dir={tempfile.mkdtemp(prefix='bm-chromium.')}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    browser = webdriver.Chrome(service=LoopbackService(chromedriver), options=options)
    # Seen by the page before its own script: every CSP violation it reports.
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": """
        window.__csp = [];
        document.addEventListener('securitypolicyviolation',
          (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
    """})
    yield browser
    browser.quit()


def screenshot(driver, name):
    """The whole page as it is now, in the output folder."""
    height = driver.execute_script("return document.body ? document.body.scrollHeight : 800")
    driver.set_window_size(1280, min(max(height, 800), 12000))
    driver.save_screenshot(str(output_dir() / f"{name}.png"))
    driver.set_window_size(1280, 1800)


@pytest.fixture(autouse=True)
def screenshot_after(request, driver):
    """Every test leaves a screenshot of where its page ended, for people to look at."""
    yield
    screenshot(driver, request.node.name)
