"""The fleet report in a real browser: Debian's chromium driven by its chromium-driver (selenium).

Given the report of a four-host fleet, when chromium opens the file (no network needed), then it logs
no console error and fetches nothing, the table has one row per host, clicking a header sorts and the
verdict filter hides the other rows (table and timeline); a screenshot is written to
docs/img/fleet-report.png for the README. Without chromium this test skips, except in CI (CI=true),
where it fails.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fleet import GROUPS, NOW, fleet

from poshbridge.report.html import render_fleet_report

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "docs" / "img" / "fleet-report.png"
CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMEDRIVER = ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")


def _first(paths: tuple[str, ...], name: str) -> str | None:
    return next((p for p in paths if Path(p).exists()), None) or shutil.which(name)


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(
            f"the browser test is required in CI: {reason} (apt-get install -y chromium chromium-driver)"
        )
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing("selenium is not installed (pip install -e '.[test]')")
    chromium, driver_path = _first(CHROMIUM, "chromium"), _first(CHROMEDRIVER, "chromedriver")
    if chromium is None or driver_path is None:
        _missing("chromium / chromium-driver not installed")
    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,1400", "--hide-scrollbars"):  # fmt: skip
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(driver_path)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "fleet.html"
    path.write_text(
        render_fleet_report(
            fleet(), generated=NOW, inventory_name="fleet.yaml", groups=GROUPS, warn_days=21, crit_days=7
        ),
        "utf-8",
    )
    return path


def _rows(driver: Any) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(driver.find_elements(By.CSS_SELECTOR, "#fleet tbody tr"))


def _visible_hosts(driver: Any) -> list[str]:
    from selenium.webdriver.common.by import By

    return [r.find_element(By.CSS_SELECTOR, "td.host").text for r in _rows(driver) if r.is_displayed()]


def test_the_report_in_chromium(browser: Any, report: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(report.as_uri())
    assert browser.title.startswith("Certificate fleet report")
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == [], errors
    fetched = browser.execute_script(
        "return performance.getEntriesByType('resource').map(function (e) { return e.name; });"
    )
    assert fetched == [], fetched

    assert len(_rows(browser)) == len(fleet()) == 4
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 10_000

    days_header = browser.find_elements(By.CSS_SELECTOR, "#fleet thead th")[4]
    days_header.click()
    assert days_header.get_attribute("aria-sort") == "ascending"
    assert _visible_hosts(browser) == ["shop01", "web02.osaka", "web01.tokyo", "mail01"]
    days_header.click()
    assert _visible_hosts(browser) == ["mail01", "web01.tokyo", "web02.osaka", "shop01"]
    host_header = browser.find_elements(By.CSS_SELECTOR, "#fleet thead th")[0]
    host_header.click()
    assert _visible_hosts(browser) == ["mail01", "shop01", "web01.tokyo", "web02.osaka"]

    verdict = Select(browser.find_element(By.ID, "filter-verdict"))
    verdict.select_by_value("CRIT")
    assert _visible_hosts(browser) == ["mail01", "shop01"]
    timeline = {
        g.get_attribute("data-host"): g.is_displayed()
        for g in browser.find_elements(By.CSS_SELECTOR, "#timeline g.tl-row")
    }
    assert timeline == {"web01.tokyo": False, "web02.osaka": False, "shop01": True, "mail01": True}
    verdict.select_by_value("")
    Select(browser.find_element(By.ID, "filter-group")).select_by_value("web")
    assert _visible_hosts(browser) == ["web01.tokyo", "web02.osaka"]
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == [], errors
