"""The policy page's answers to a review: a what-if replay continued in parts adds the parts
up and resends its first request; the days of a period are the browser's; an answer that
comes after sign-out is dropped; the version selects list every version; focus, narrow
screens and contrast."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.browser.test_page import AGENT_LIMIT_40, SHORTER, decide, reloaded_with
from tests.conftest import KEYS, auth
from tests.support.policy_files import edit
from tests.support.servers import call


def _expect():
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect


def full_replay(server, **extra) -> dict:
    status, report = call(server.base, "/v1/policy/replay",
                          {"candidate": {"folder": str(server.folder)}, **extra},
                          auth("manager"))
    assert status == 200, report
    return report


def replay_of_the_folder(ui, folder) -> None:
    ui.open_tab("What-if")
    ui.page.get_by_label("A folder of rule files on the server").check()
    ui.page.get_by_label("Folder path").fill(str(folder))


def test_replaying_the_rest_adds_the_parts_up_and_sends_the_first_request_again(ui, server):
    """Each call replays two decisions (as if its time ran out): three parts of five
    decisions add up to the figures of one whole replay, whatever the form says meanwhile."""
    expect = _expect()
    page = ui.page
    decide(server.base, 5)
    edit(server.folder, *AGENT_LIMIT_40)
    whole = full_replay(server)
    assert whole["changed"]["decisions"] == 5 and whole["complete"], whole

    sent: list[dict] = []

    def in_parts_of_two(route):
        body = route.request.post_data_json
        sent.append(body)
        response = route.fetch(post_data=json.dumps({**body, "limit": 2}))
        report = response.json()
        if report.get("next_cursor"):
            report["complete"] = False  # what a call whose time ran out answers
        route.fulfill(response=response, json=report)

    page.route("**/v1/policy/replay", in_parts_of_two)
    ui.sign_in("manager")
    replay_of_the_folder(ui, server.folder)
    page.get_by_role("button", name="Run the replay").click()
    expect(page.locator("#replay-replayed .stat-value")).to_have_text("2")
    expect(page.locator("#replay-progress")).to_contain_text("Time ran out")

    # The form changes; the rest is still the first run's.
    page.get_by_label("Folder path").fill("/nowhere/else")
    page.locator("#replay-since").fill("2020-01-01")
    page.get_by_label("Changed decisions to show").fill("1")
    rest = page.get_by_role("button", name="Replay the rest")
    rest.click()
    expect(page.locator("#replay-replayed .stat-value")).to_have_text("4")
    expect(rest).to_be_focused()  # the new button, where the pressed one was
    page.keyboard.press("Enter")
    expect(page.locator("#replay-replayed .stat-value")).to_have_text("5")
    expect(rest).to_have_count(0)
    expect(page.locator("#replay-progress")).to_contain_text("in 3 parts")

    assert len(sent) == 3, sent
    first = sent[0]
    assert "cursor" not in first and first["candidate"] == {"folder": str(server.folder)}
    for later in sent[1:]:
        assert later["cursor"], later
        assert {k: v for k, v in later.items() if k != "cursor"} == first, later
    assert sent[1]["cursor"] != sent[2]["cursor"]

    result = page.locator("#replay-result")
    expect(page.locator("#replay-changed .stat-value")).to_have_text(
        str(whole["changed"]["decisions"]))
    money = page.locator("table.replay-money tbody tr")
    expect(money).to_have_count(len(whole["money"]))
    for row, figures in zip(range(len(whole["money"])), whole["money"], strict=True):
        expect(money.nth(row)).to_have_text(
            "".join(figures[k] for k in ("currency", "offered_before", "offered_after",
                                         "approval_free_before", "approval_free_after")))
    for rule in whole["rules"]:
        if rule["fired_before"] != rule["fired_after"]:
            expect(result.locator("tr", has_text=rule["rule"])).to_contain_text(
                f"{rule['rule']}{rule['fired_before']}{rule['fired_after']}")
    expect(page.locator("#replay-sample-title")).to_contain_text("(5 of 5 shown)")
    expect(page.locator(".sample")).to_have_count(5)


def test_a_replay_names_what_changed_in_words_and_a_failed_one_leaves_no_report(ui, server):
    expect = _expect()
    page = ui.page
    ui.allow_console_error(r"status of 422")
    decide(server.base, 3)
    edit(server.folder, *AGENT_LIMIT_40)
    ui.sign_in("manager")
    replay_of_the_folder(ui, server.folder)
    page.get_by_role("button", name="Run the replay").click()
    sample = page.locator(".sample").first
    expect(sample.locator(".changed-offer .change-mark")).to_have_text(["removed", "added"])
    expect(sample.locator(".changed-offer", has_text="added")).to_contain_text("40.00 EUR")

    page.get_by_label("Changed decisions to show").fill("0")
    page.get_by_role("button", name="Run the replay").click()
    expect(page.locator("#replay-changed .stat-value")).to_have_text("3")
    expect(page.locator("#replay-none")).to_contain_text("3 decisions would change")
    expect(page.locator("#replay-result")).not_to_contain_text("No decision would change")

    page.get_by_label("Folder path").fill(str(server.folder / "no-such-folder"))
    page.get_by_role("button", name="Run the replay").click()
    expect(page.locator("#replay-error")).to_contain_text("candidate.folder")
    expect(page.locator("#replay-result")).to_have_count(0)


@pytest.mark.browser_timezone("Pacific/Auckland")
def test_the_days_of_a_period_are_the_browsers_days(ui, server):
    """13 hours east of UTC in November: a day asked for starts at its midnight there, sent
    with its offset, and the report shows its bounds in the same time."""
    expect = _expect()
    page = ui.page
    decide(server.base, 1)
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url)
            if "/v1/reports/outcomes" in request.url else None)
    ui.sign_in("manager")
    ui.open_tab("Outcomes")
    outcomes = page.locator("#panel-outcomes")
    whatif = page.locator("#panel-whatif")
    expect(page.locator("#outcomes-result")).to_be_visible()
    expect(page.locator("#outcomes-form")).to_contain_text("Pacific/Auckland")
    outcomes.get_by_label("From (a day, included)").fill("2026-11-01")
    outcomes.get_by_label("To (a day, included)").fill("2026-11-01")
    page.get_by_role("button", name="Show", exact=True).click()
    expect(page.locator("#outcomes-period")).to_contain_text(
        "1 Nov 2026, 00:00 to 2 Nov 2026, 00:00 (Pacific/Auckland)")
    query = parse_qs(urlsplit(asked[-1]).query)
    assert query["since"] == ["2026-11-01T00:00:00+13:00"], asked[-1]
    assert query["until"] == ["2026-11-02T00:00:00+13:00"], asked[-1]

    outcomes.get_by_label("From (a day, included)").fill("2026-11-02")
    page.get_by_role("button", name="Show", exact=True).click()
    expect(page.locator("#outcomes-error")).to_contain_text("starts after it ends")

    today = page.evaluate("""() => { const d = new Date();
      return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-`
        + String(d.getDate()).padStart(2, "0"); }""")
    outcomes.get_by_label("From (a day, included)").fill(today)
    outcomes.get_by_label("To (a day, included)").fill(today)
    page.get_by_role("button", name="Show", exact=True).click()
    expect(page.locator("#outcomes-period")).to_contain_text("1 decisions")  # made just now

    sent: list[dict] = []
    page.on("request", lambda request: sent.append(request.post_data_json)
            if request.url.endswith("/v1/policy/replay") else None)
    ui.open_tab("What-if")
    expect(page.locator("#replay-form")).to_contain_text("Pacific/Auckland")
    whatif.get_by_label("From (a day, included)").fill("2026-11-01")
    whatif.get_by_label("To (a day, included)").fill("2026-11-01")
    page.get_by_role("button", name="Run the replay").click()
    expect(page.locator("#replay-period")).to_contain_text(
        "Period 1 Nov 2026, 00:00 to 2 Nov 2026, 00:00 (Pacific/Auckland)")
    assert sent[-1]["since"] == "2026-11-01T00:00:00+13:00", sent
    assert sent[-1]["until"] == "2026-11-02T00:00:00+13:00", sent


def sign_in_here(page, role: str) -> None:
    """Sign in on the page as it is (Ui.sign_in loads it anew, which ends its requests)."""
    page.get_by_label("API key or token").fill(KEYS[role])
    page.get_by_role("button", name="Sign in").click()
    _expect()(page.locator("#who-role")).to_have_text(role.replace("_", " "))


def test_answers_that_come_after_sign_out_are_not_shown_to_the_next_user(ui):
    expect = _expect()
    page = ui.page
    held = {}

    def holding(name):
        def hold_the_first(route):
            if name in held:
                route.continue_()
            else:
                held[name] = route
        return hold_the_first

    ui.sign_in("manager")
    page.get_by_label("Find a rule by id or text").fill("refund")
    ui.open_tab("What-if")
    expect(page.locator("#candidate-version option")).to_have_count(1)
    page.route("**/v1/policy/replay", holding("replay"))
    page.get_by_role("button", name="Run the replay").click()
    ui.open_tab("Playground")
    page.route("**/v1/decisions/preview", holding("decide"))
    page.get_by_role("button", name="Decide (store nothing)").click()
    deadline = time.monotonic() + 10
    while len(held) < 2:
        assert time.monotonic() < deadline, held
        page.wait_for_timeout(50)

    page.get_by_role("button", name="Sign out").click()
    sign_in_here(page, "agent")
    expect(page.get_by_label("Find a rule by id or text")).to_have_value("")
    expect(page.locator("#rule-count")).not_to_contain_text(" of ")
    expect(page.get_by_role("button", name="Decide (store nothing)")).to_be_enabled()
    with page.expect_response("**/v1/decisions/preview"):
        held["decide"].continue_()
    with page.expect_response("**/v1/policy/replay"):
        held["replay"].continue_()
    page.wait_for_timeout(500)  # the page has both answers by now: it must drop them
    expect(page.locator("#decision")).to_be_empty()
    expect(page.locator("#replay-report")).to_be_empty()
    expect(page.locator("#playground-error")).to_be_hidden()
    expect(page.locator("#replay-error")).to_be_hidden()


def test_a_negative_calibration_says_less_often(ui, server):
    expect = _expect()
    page = ui.page

    def likely_recovered_less(route):
        response = route.fetch()
        report = response.json()
        report["calibration"]["likely_minus_unlikely"] = "-0.4706"
        route.fulfill(response=response, json=report)

    page.route("**/v1/reports/outcomes*", likely_recovered_less)
    ui.sign_in("manager")
    ui.open_tab("Outcomes")
    expect(page.locator("#calibration")).to_have_text(
        "Likely decisions recovered 47.1 percentage points less often than unlikely ones.")


def fake_versions(count: int) -> list[dict]:
    """`count` versions as the API lists them, newest first; the newest is active."""
    return [{"version": f"{number:064x}", "name": "default", "active": number == count,
             "first_activated_by": "dev-manager",
             "first_activated_at": f"2026-01-01T00:{number // 60:02d}:{number % 60:02d}+00:00",
             "last_activated_at": f"2026-01-01T00:{number // 60:02d}:{number % 60:02d}+00:00",
             "activations": []}
            for number in range(count, 0, -1)]


def test_the_version_selects_list_every_version_and_older_pages_keep_the_focus(ui):
    """120 versions: the table shows 50 at a time, the selects all of them; the keyboard
    stays where it was while the table grows."""
    expect = _expect()
    page = ui.page
    versions = fake_versions(120)

    def paged(route):
        query = parse_qs(urlsplit(route.request.url).query)
        start = int(query.get("cursor", ["0"])[0])
        limit = int(query.get("limit", ["50"])[0])
        end = min(start + limit, len(versions))
        route.fulfill(json={"active_version": versions[0]["version"],
                            "versions": versions[start:end],
                            "next_cursor": str(end) if end < len(versions) else None})

    page.route("**/v1/policy/versions?*", paged)
    page.route("**/v1/policy/versions", paged)
    ui.sign_in("manager")
    ui.open_tab("Versions")
    rows = page.locator("table.versions tbody tr")
    expect(rows).to_have_count(50)
    expect(page.locator("#diff-old option")).to_have_count(120)
    expect(page.locator("#diff-new option")).to_have_count(120)
    expect(page.locator("#candidate-version option")).to_have_count(120)
    expect(page.locator("#diff-old")).to_have_value(versions[1]["version"])
    expect(page.locator("#diff-new")).to_have_value(versions[0]["version"])

    more = page.get_by_role("button", name="Show older versions")
    more.focus()
    page.keyboard.press("Enter")
    expect(rows).to_have_count(100)
    expect(more).to_be_focused()
    page.keyboard.press("Enter")
    expect(rows).to_have_count(120)
    expect(more).to_be_hidden()
    expect(rows.nth(100).locator("th")).to_be_focused()  # the first row the last page brought


def test_making_a_version_active_leaves_the_focus_on_what_came_of_it(ui, server):
    expect = _expect()
    page = ui.page
    first, _second = reloaded_with(server, SHORTER)
    ui.sign_in("manager")
    ui.open_tab("Versions")
    page.locator(f'[data-activate="{first}"]').focus()
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Make it active").click()
    notice = page.locator("#versions-notice")
    expect(notice).to_contain_text(f"Version {first[:12]} is now the active policy")
    expect(notice).to_be_focused()


def test_the_playground_fits_a_360_pixel_screen_after_deciding(ui):
    expect = _expect()
    page = ui.page
    page.set_viewport_size({"width": 360, "height": 740})
    ui.sign_in("agent")
    ui.open_tab("Playground")
    page.get_by_role("button", name="Decide (store nothing)").click()
    expect(page.locator("#outlook")).to_contain_text("likely")
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the page scrolls sideways: {widths}"
    ui.screenshot("-360")


def _luminance(rgb: str) -> float:
    channels = [int(c) / 255 for c in rgb[rgb.index("(") + 1:rgb.index(")")].split(",")[:3]]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(one: str, other: str) -> float:
    light, dark = sorted((_luminance(one), _luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_focus_rings_and_input_borders_stand_out_3_to_1(ui):
    """WCAG 1.4.11: the focus ring and a control's edge against the white they sit on."""
    page = ui.page
    ui.sign_in("manager")
    ui.open_tab("Playground")
    white = "rgb(255, 255, 255)"
    field = page.locator("#in-order-value")
    field.focus()  # focused from script, a text field shows its ring
    style = field.evaluate("""(node) => { const s = getComputedStyle(node);
      return {outline: s.outlineColor, outlineStyle: s.outlineStyle,
              border: s.borderTopColor}; }""")
    assert style["outlineStyle"] == "solid", style
    assert contrast(style["outline"], white) >= 3, style
    assert contrast(style["border"], white) >= 3, style
    page.get_by_role("tab", name="Playground").focus()
    page.keyboard.press("Shift+Tab")  # by the keyboard: the ring shows on a button too
    sign_out = page.get_by_role("button", name="Sign out")
    _expect()(sign_out).to_be_focused()
    ring = sign_out.evaluate("(node) => getComputedStyle(node).outlineColor")
    header = page.locator("header.top").evaluate(
        "(node) => getComputedStyle(node).backgroundColor")
    assert contrast(ring, header) >= 3, (ring, header)
