"""report.html in a real browser: it renders offline from disk with no console error, no CSP
violation and no network request; the pivot control changes the chart and keeps its state in the
URL; values from the results show as text and run nothing; failures link to their logs. Each test
saves a screenshot."""
import json
import os
import pathlib
import subprocess
import urllib.parse

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from conftest import IMG, SCRIPT, screenshot


def open_report(driver, path, fragment=""):
    driver.get_log("browser")  # start each page with empty logs
    driver.get_log("performance")
    driver.get(path.resolve().as_uri() + fragment)
    WebDriverWait(driver, 60).until(lambda d: d.execute_script("return document.body.dataset.ready") == "yes")


def wait_rendered(driver):
    WebDriverWait(driver, 60).until(lambda d: d.execute_script("return document.body.dataset.rendered") == "yes")


def problems(driver):
    """Console errors, CSP violations and requests that left the page's own file."""
    errors = [entry["message"] for entry in driver.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
    violations = driver.execute_script("return window.__csp")
    requests = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            url = message["params"]["request"]["url"]
            if not url.startswith(("file://", "data:", "blob:")):
                requests.append(url)
    return errors, violations, requests


def file_of(url):
    return pathlib.Path(urllib.parse.unquote(urllib.parse.urlparse(url).path))


def svg_count(driver, selector):
    return driver.execute_script(f"return document.querySelectorAll({json.dumps(selector + ' svg.marks')}).length")


def test_renders_offline_without_errors(driver, results):
    open_report(driver, results / "report.html")
    for section in ["#forest", "#timeline", "#detail", "#pivot-chart", "#heatmap"]:
        assert svg_count(driver, section) >= 1, f"no chart drawn in {section}"
    # The forest plot has a row per measured comparison: 2 variants x 3 sizes.
    forest = driver.find_element(By.CSS_SELECTOR, "#forest svg").get_attribute("outerHTML")
    assert forest.count('role="graphics-symbol"') >= 6 or forest.count("<path") >= 6
    errors, violations, requests = problems(driver)
    assert errors == [], errors
    assert violations == [], violations
    assert requests == [], requests
    # The CSP forbids every load and every script but the page's own.
    csp = driver.find_element(By.CSS_SELECTOR, 'meta[http-equiv="Content-Security-Policy"]').get_attribute("content")
    assert "default-src 'none'" in csp and "script-src 'sha256-" in csp and "unsafe-eval" not in csp


def test_verdicts_regressions_first(driver, results):
    open_report(driver, results / "report.html")
    rows = driver.find_elements(By.CSS_SELECTOR, "table.verdicts tbody tr")
    verdicts = [row.find_element(By.CSS_SELECTOR, "td").text for row in rows]
    assert verdicts[0].startswith("regressed"), verdicts
    assert any(v.startswith("failed") for v in verdicts), verdicts
    counts = driver.find_element(By.CSS_SELECTOR, "#verdicts .counts").text
    assert "3 regressed" in counts and "3 failed" in counts, counts


def test_pivot_changes_the_chart_and_lives_in_the_url(driver, results):
    open_report(driver, results / "report.html")
    before = driver.find_element(By.CSS_SELECTOR, "#pivot-chart svg").get_attribute("outerHTML")
    Select(driver.find_element(By.ID, "pivot-x")).select_by_visible_text("impl")
    wait_rendered(driver)
    Select(driver.find_element(By.ID, "pivot-mode")).select_by_value("ratio")
    wait_rendered(driver)
    after = driver.find_element(By.CSS_SELECTOR, "#pivot-chart svg").get_attribute("outerHTML")
    assert after != before
    assert "ratio" in driver.find_element(By.CSS_SELECTOR, "#pivot-chart").get_attribute("innerHTML")
    url = driver.current_url
    assert "x=impl" in url and "mode=ratio" in url, url
    # Unticking a value filters it out of the chart and the hash.
    box = driver.find_element(By.CSS_SELECTOR, 'input[data-axis="size"][data-value="10"]')
    box.click()
    wait_rendered(driver)
    assert "f.size=" in driver.current_url
    assert "6 tasks shown" in driver.find_element(By.ID, "pivot-note").text
    screenshot(driver, "pivot-ratio")
    # The same URL opened afresh shows the same view.
    linked = driver.current_url
    driver.get("about:blank")
    open_report(driver, results / "report.html", "#" + linked.split("#", 1)[1])
    assert Select(driver.find_element(By.ID, "pivot-x")).first_selected_option.text == "impl"
    assert Select(driver.find_element(By.ID, "pivot-mode")).first_selected_option.get_attribute("value") == "ratio"
    assert not driver.find_element(By.CSS_SELECTOR, 'input[data-axis="size"][data-value="10"]').is_selected()
    errors, violations, requests = problems(driver)
    assert (errors, violations, requests) == ([], [], [])


def test_values_from_results_are_text(driver, results):
    open_report(driver, results / "report.html")
    assert "pwned" not in driver.title
    assert driver.execute_script("return document.querySelectorAll('img').length") == 0
    text = driver.find_element(By.TAG_NAME, "body").text
    assert IMG in text, "the <img> value is not shown as text"
    assert SCRIPT in text, "the </script> value is not shown as text"
    assert "browser <b>check<b>" in driver.find_element(By.TAG_NAME, "h1").text
    # The task table (drawn by the script) shows them as text too.
    cells = [cell.text for cell in driver.find_elements(By.CSS_SELECTOR, "table.tasks td")]
    assert IMG in cells and SCRIPT in cells
    errors, violations, requests = problems(driver)
    assert (errors, violations, requests) == ([], [], [])


def test_failures_link_to_their_logs(driver, results):
    open_report(driver, results / "report.html")
    failures = driver.find_element(By.ID, "failures")
    assert "it broke" not in failures.text  # the reason is the exit, the message is in the log
    assert "exit code 3" in failures.text
    links = failures.find_elements(By.TAG_NAME, "a")
    assert links, "no link to a failed task's logs"
    target = file_of(links[0].get_attribute("href"))
    assert target.name == "stderr.log" and "it broke" in target.read_text()
    # The task table lists failed tasks too, with their reason.
    driver.find_element(By.ID, "task-filter").send_keys("failed")
    rows = driver.find_elements(By.CSS_SELECTOR, "table.tasks tbody tr")
    assert len(rows) == 3 and all("exit code 3" in row.text for row in rows)


def test_task_table_sorts(driver, results):
    open_report(driver, results / "report.html")
    driver.find_element(By.CSS_SELECTOR, 'table.tasks th[data-column="median"]').click()
    medians = []
    for row in driver.find_elements(By.CSS_SELECTOR, "table.tasks tbody tr"):
        cells = row.find_elements(By.TAG_NAME, "td")
        if cells[3].text:
            medians.append(float(cells[3].text))
    assert len(medians) == 9 and medians == sorted(medians), medians


def test_every_chart_can_be_saved(driver, results):
    open_report(driver, results / "report.html")
    charts = driver.find_elements(By.CSS_SELECTOR, ".chart")
    assert len(charts) >= 5
    for chart in charts:
        actions = chart.get_attribute("innerHTML")
        assert "Save as SVG" in actions and "Save as PNG" in actions


def test_monitor_timelines(driver, results):
    open_report(driver, results / "report.html")
    assert svg_count(driver, "#monitor") >= 1
    monitor = driver.find_element(By.ID, "monitor").get_attribute("innerHTML")
    for series in ["cpu_percent", "rss_bytes", "gpu0_util_percent"]:
        assert series in monitor, series
    errors, violations, requests = problems(driver)
    assert (errors, violations, requests) == ([], [], [])


def test_exported_file_elsewhere_keeps_links(driver, results, tmp_path):
    page = tmp_path / "elsewhere" / "page.html"
    page.parent.mkdir()
    run = subprocess.run([os.environ["BENCHMATRIX"], "report", str(results), "--export-html", str(page)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    open_report(driver, page)
    link = driver.find_element(By.CSS_SELECTOR, "#failures a").get_attribute("href")
    assert file_of(link).is_file(), link
    errors, violations, requests = problems(driver)
    assert (errors, violations, requests) == ([], [], [])
