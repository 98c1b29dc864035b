"""The console end to end, as issue #19 asks: a full admin signs in, creates a team and a key
(its secret shown once), the key's requests through the proxy (the openai SDK) show on the usage
page and the overview, the usage CSV holds their rows, the key is paused; then a team admin sees
only its team and is refused what it may not do. Screenshots of the main pages go to
docs/console/ (shown in docs/console.md and the README)."""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import openai
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import ROOT, DevGateway
from tests.secret_scan import SCAN

pytestmark = pytest.mark.e2e
SCREENSHOTS = ROOT / "docs" / "console"
MODEL = "llama-3.1-8b-instant"
TEAM, OTHER_TEAM = "console-team", "console-other"
REQUESTS = 3
LAPTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}


def admin_api(gateway: DevGateway, key: str | None = None) -> httpx.Client:
    return httpx.Client(
        base_url=f"{gateway.base_url}/openai/v1",
        headers={"authorization": f"Bearer {key or gateway.admin_key}"},
        timeout=30,
    )


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=LAPTOP, accept_downloads=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    # The Content-Security-Policy would report a blocked script, style or fetch here.
    opened.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        yield opened
    finally:
        context.close()
    assert [e for e in errors if "status of 4" not in e] == []


def sign_in(page: Page, gateway: DevGateway, key: str) -> None:
    """With the keyboard alone: the key field has the focus, Enter signs in."""
    page.goto(f"{gateway.base_url}/console/")
    expect(page.get_by_label("Admin key")).to_be_focused()
    page.keyboard.type(key)
    page.keyboard.press("Enter")
    expect(page.locator("#who")).to_be_visible()
    expect(page.locator("#status")).to_be_empty()


def go(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Pages").get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", level=1, name=re.compile(name))).to_be_visible()
    expect(page.locator("#status")).to_be_empty()


def shoot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def wait_for_metering(api: httpx.Client, key_id: str, requests: int) -> None:
    """Metering happens after each response: wait until the summary counts every request."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        keys = api.get("/usage").json()["usage_by_key"]
        if any(k["key_id"] == key_id and k["requests_today"] >= requests for k in keys):
            return
        time.sleep(0.2)
    pytest.fail(f"the key's {requests} requests were not metered within 20 s")


def test_the_console_from_sign_in_to_a_team_admin(
    dev_gateway: DevGateway, page: Page, tmp_path: Path
) -> None:
    gateway = dev_gateway
    with admin_api(gateway) as api:
        # Another team, with a key, that the team admin must never see.
        assert api.post("/teams", json={"id": OTHER_TEAM}).status_code == 201
        other = api.post("/api-keys", json={"name": "other-app", "team": OTHER_TEAM}).json()
        SCAN.known.add(other["key"])

        # A full admin signs in and creates a team...
        sign_in(page, gateway, gateway.admin_key)
        expect(page.locator("#who")).to_contain_text("full (organisation)")
        go(page, "Teams")
        create_team = page.locator("form", has=page.get_by_role("heading", name="Create a team"))
        create_team.get_by_label("Id", exact=False).fill(TEAM)
        create_team.get_by_label("Description").fill("<b>Made</b> in the console")
        create_team.get_by_label("Models").fill(f"{MODEL}, openai/gpt-oss-20b")
        create_team.get_by_label("Requests per minute").fill("100")
        create_team.get_by_label("Monthly budget").fill("25")
        create_team.get_by_role("button", name="Create team").click()
        row = page.get_by_role("row").filter(has_text=TEAM)
        expect(row).to_contain_text("<b>Made</b> in the console")  # text, never markup
        expect(row).to_contain_text("$25.00")
        shoot(page, "teams")

        # ... and a key in it: the secret is shown once, with a copy button.
        go(page, "Keys")
        create_key = page.locator("form", has=page.get_by_role("heading", name="Create a key"))
        create_key.get_by_label("Name").fill("console-app")
        create_key.get_by_label("Team", exact=True).select_option(TEAM)
        create_key.get_by_label("Models").fill(MODEL)
        create_key.get_by_label("Monthly budget").fill("0.01")
        create_key.get_by_role("button", name="Create key").click()
        panel = page.locator(".secret-panel")
        expect(panel).to_contain_text("Shown this once")
        secret = panel.locator("[data-secret]").inner_text()
        SCAN.known.add(secret)
        assert re.fullmatch(r"ggw_[a-z0-9]{16}_[A-Za-z0-9]{43}", secret)
        panel.get_by_role("button", name="Copy").click()
        expect(panel).to_contain_text("Copied")
        assert page.evaluate("navigator.clipboard.readText()") == secret
        key_id = secret.split("_")[1]
        go(page, "Keys")  # the page again: the secret is gone for good
        expect(page.locator(".secret-panel")).to_have_count(0)
        expect(page.get_by_role("row").filter(has_text="console-app")).to_contain_text(TEAM)

        # Requests through the proxy with that key.
        client = openai.OpenAI(
            base_url=f"{gateway.base_url}/openai/v1", api_key=secret, max_retries=0
        )
        for _ in range(REQUESTS):
            reply = client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "reply in 5 words"}]
            )
            assert reply.usage is not None
        wait_for_metering(api, key_id, REQUESTS)

        # The usage page, by key: the key's requests.
        go(page, "Usage")
        page.get_by_label("Grouped by").select_option("key")
        page.get_by_role("button", name="Show").click()
        usage_row = page.get_by_role("row").filter(has_text="console-app")
        expect(usage_row).to_contain_text(str(REQUESTS))
        expect(page.locator("figure svg rect")).not_to_have_count(0)
        shoot(page, "usage")

        # The CSV: one row per day, key and model, as the API counts them.
        with page.expect_download() as download:
            page.get_by_role("button", name="Download CSV").click()
        saved = tmp_path / "usage.csv"
        download.value.save_as(saved)
        rows = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8"))))
        mine = [r for r in rows if r["key_id"] == key_id]
        today = datetime.now(UTC).date().isoformat()
        assert [(r["date"], r["team"], r["key_name"], r["model"]) for r in mine] == [
            (today, TEAM, "console-app", MODEL)
        ]
        summary = next(k for k in api.get("/usage").json()["usage_by_key"] if k["key_id"] == key_id)
        assert int(mine[0]["requests"]) == REQUESTS == summary["today"]["requests"]
        assert int(mine[0]["total_tokens"]) == summary["today"]["total_tokens"] > 0
        assert float(mine[0]["cost_usd"]) == pytest.approx(summary["today"]["cost_usd"], abs=1e-6)
        assert float(mine[0]["cost_usd"]) > 0

        # The overview: the team's spend in the chart; the key, once its budget is lowered
        # below what it spent, among the keys near their budget.
        lowered = api.patch(f"/api-keys/{key_id}", json={"monthly_budget_usd": "0.000001"})
        assert lowered.status_code == 200, lowered.text
        go(page, "Overview")
        expect(page.locator(".legend").first).to_contain_text(TEAM)
        expect(page.get_by_role("row").filter(has_text="console-app")).to_be_visible()
        shoot(page, "overview")

        # Pause the key, with a reason.
        go(page, "Keys")
        page.get_by_role("button", name="Pause console-app").click()
        page.get_by_label("Reason").fill("incident 42")
        page.get_by_role("dialog").get_by_role("button", name="Pause").click()
        expect(page.get_by_role("row").filter(has_text="console-app")).to_contain_text(
            "paused: incident 42"
        )
        assert api.get(f"/api-keys/{key_id}").json()["status"] == "paused"
        shoot(page, "keys")

        # Rotate the other key (the new secret once, the old one's grace), then revoke it after
        # a confirmation that can be cancelled.
        page.get_by_role("button", name="Rotate other-app").click()
        page.get_by_role("dialog").get_by_role("button", name="Rotate").click()
        rotated = page.locator(".secret-panel")
        expect(rotated).to_contain_text("New secret of other-app")
        expect(rotated).to_contain_text("works until")
        new_secret = rotated.locator("[data-secret]").inner_text()
        SCAN.known.add(new_secret)
        assert new_secret != other["key"]
        assert new_secret.startswith(f"ggw_{other['id']}_")
        page.get_by_role("button", name="Revoke other-app").click()
        page.keyboard.press("Escape")  # cancelled: nothing happens
        expect(page.get_by_role("dialog")).to_have_count(0)
        assert api.get(f"/api-keys/{other['id']}").json()["status"] == "active"
        page.get_by_role("button", name="Revoke other-app").click()
        page.get_by_role("dialog").get_by_role("button", name="Revoke for good").click()
        expect(page.get_by_role("row").filter(has_text="other-app")).to_contain_text("revoked")
        assert api.get(f"/api-keys/{other['id']}").json()["status"] == "revoked"
        go(page, "Audit log")
        expect(page.get_by_role("row").filter(has_text="api_key.updated").first).to_contain_text(
            key_id
        )
        shoot(page, "audit")

        # A team lead's key: team_admin of the new team only.
        lead = api.post(
            "/admin-keys", json={"name": "team-lead", "role": "team_admin", "teams": [TEAM]}
        )
        assert lead.status_code == 201, lead.text
        lead_key = lead.json()["key"]
        SCAN.known.add(lead_key)

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, gateway, lead_key)
    expect(page.locator("#who")).to_have_text(f"team-lead · team_admin (teams: {TEAM})")
    nav = page.get_by_role("navigation", name="Pages")
    expect(nav.get_by_role("link", name="Teams")).to_have_count(0)  # not offered
    go(page, "Keys")
    expect(page.get_by_role("row").filter(has_text="console-app")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="other-app")).to_have_count(0)
    expect(page.get_by_label("Team", exact=True).first.locator("option")).to_have_text(
        ["all", TEAM]
    )
    go(page, "Usage")
    expect(page.locator("table")).not_to_contain_text(OTHER_TEAM)
    go(page, "Overview")
    expect(page.locator("main")).to_contain_text(f"Team {TEAM}, month to date")
    expect(page.locator("main")).not_to_contain_text(OTHER_TEAM)
    shoot(page, "overview-team-admin")

    # Forbidden: a key in another team. The console never offers it; a tampered page that
    # asks anyway is refused by the API, and the console says so in the API's words.
    go(page, "Keys")
    form = page.locator("form", has=page.get_by_role("heading", name="Create a key"))
    form.get_by_label("Team", exact=True).evaluate(
        "(select, team) => select.add(new Option(team, team))", OTHER_TEAM
    )
    form.get_by_label("Name").fill("sneaky")
    form.get_by_label("Team", exact=True).select_option(OTHER_TEAM)
    form.get_by_role("button", name="Create key").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("HTTP 403")
    expect(alert).to_contain_text(OTHER_TEAM)
    expect(page.locator(".secret-panel")).to_have_count(0)
    shoot(page, "refused-team-admin")
    with admin_api(gateway) as api:
        names = [
            k["name"] for k in api.get("/api-keys", params={"team": OTHER_TEAM}).json()["data"]
        ]
    assert names == ["other-app"]

    # The same console on a phone.
    page.set_viewport_size(PHONE)
    go(page, "Keys")
    shoot(page, "keys-phone")

    # A team viewer of the same team reads the keys but is offered no change at all.
    with admin_api(gateway) as api:
        viewer = api.post(
            "/admin-keys", json={"name": "team-viewer", "role": "team_viewer", "teams": [TEAM]}
        ).json()
    SCAN.known.add(viewer["key"])
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, gateway, viewer["key"])
    go(page, "Keys")
    expect(page.get_by_role("row").filter(has_text="console-app")).to_be_visible()
    expect(page.locator("main button:not([type=submit])")).to_have_count(0)
    expect(page.get_by_role("heading", name="Create a key")).to_have_count(0)
