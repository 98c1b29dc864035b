"""What the console's Content-Security-Policy and CSV promise (docs/console.md#security), checked
in the browser itself: an inline script never runs, and no CSV cell is a formula."""

from __future__ import annotations

import csv
import io

import pytest
from playwright.sync_api import Browser, ConsoleMessage

from tests.e2e.conftest import DevGateway

pytestmark = pytest.mark.e2e


def test_the_browser_runs_no_inline_script_and_no_other_origins_code(
    dev_gateway: DevGateway, browser: Browser
) -> None:
    context = browser.new_context()
    page = context.new_page()
    messages: list[str] = []

    def note(message: ConsoleMessage) -> None:
        messages.append(message.text)

    page.on("console", note)
    response = page.goto(f"{dev_gateway.base_url}/console/")
    assert response is not None
    assert response.headers["content-security-policy"] == (
        "default-src 'self'; frame-ancestors 'none'"
    )
    page.get_by_label("Admin key").wait_for()
    ran = page.evaluate(
        """() => {
            const inline = document.createElement("script");
            inline.textContent = "window.injected = true";
            document.body.append(inline);
            const style = document.createElement("style");
            style.textContent = "body { display: none }";
            document.head.append(style);
            return [window.injected === true, getComputedStyle(document.body).display];
        }"""
    )
    context.close()
    assert ran == [False, "block"]
    assert any("Content Security Policy" in m for m in messages), messages


def test_no_csv_cell_is_a_formula_and_every_text_survives(
    dev_gateway: DevGateway, browser: Browser
) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{dev_gateway.base_url}/console/")
    result = {
        "key_id": "k1",
        "key_name": '=HYPERLINK("http://x","y"), "quoted"\nline',
        "team": "+team",
        "model": "@model",
        "requests": 2,
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "total_tokens": 15,
        "audio_seconds": 0.0,
        "cost_usd": 2e-06,
        "estimated_requests": 0,
    }
    history = {"data": [{"start": "2026-12-01", "results": [result]}]}
    text = page.evaluate(
        "async (history) => (await import('./js/csv.js')).usageCsv(history)", history
    )
    context.close()
    (row,) = csv.DictReader(io.StringIO(text))
    assert row["key_name"] == "'" + result["key_name"]
    assert row["team"] == "'+team"
    assert row["model"] == "'@model"
    assert row["date"] == "2026-12-01"
    assert row["requests"] == "2"
    assert row["cost_usd"] == "0.000002"  # not 2e-06: six decimals, as the API shows money
