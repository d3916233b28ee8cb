"""The policy page's answers to a second review: a version made active elsewhere shows
everywhere, and the playground keeps the incident typed but no result it does not belong to;
an answer to an abandoned Decide is dropped; an activation is done even when reading the
policy after it fails; answers not from Amends are told as such; the Policy tab at 320
pixels, its search, and Back and Forward."""

from __future__ import annotations

import json
import time

from tests.browser.test_page import SHORTER, reloaded_with
from tests.conftest import DESIGN_EXAMPLE, auth
from tests.support.servers import call


def _expect():
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect


def made_active_elsewhere(server, version: str) -> None:
    status, answer = call(server.base, f"/v1/policy/versions/{version}/activate", {},
                          auth("manager"))
    assert status == 200 and answer["changed"], answer


def until_shown(page, locator, nudge, seconds: float = 15) -> None:
    """`nudge()` until `locator` shows (every worker serves a version from its next request,
    but the test does not lean on which worker answers)."""
    deadline = time.monotonic() + seconds
    while True:
        nudge()
        try:
            _expect()(locator).to_be_visible(timeout=500)
            return
        except AssertionError:
            assert time.monotonic() < deadline, "it never showed"


def test_a_version_made_active_elsewhere_shows_everywhere_and_the_typed_incident_stays(
        ui, server):
    expect = _expect()
    page = ui.page
    first, second = reloaded_with(server, SHORTER)
    ui.sign_in("manager")
    expect(page.locator("#who-policy")).to_contain_text(second[:12])
    ui.open_tab("Versions")
    expect(page.locator(f'[data-activate="{first}"]')).to_have_count(1)
    ui.open_tab("Playground")
    incident = page.get_by_label("Incident id")
    incident.fill("INC-TYPED")
    decide = page.get_by_role("button", name="Decide (store nothing)")
    decide.click()
    result = page.locator("#decision .result")
    expect(result).to_have_attribute("data-policy-version", second)

    # Another client makes the first version active; the page finds out when shown again.
    made_active_elsewhere(server, first)
    notice = page.locator("#policy-notice")
    until_shown(page, notice, lambda: page.evaluate(
        "() => document.dispatchEvent(new Event('visibilitychange'))"))
    expect(notice).to_contain_text(f"changed from {second[:12]} to {first[:12]}")
    expect(page.locator("#who-policy")).to_contain_text(first[:12])
    expect(incident).to_have_value("INC-TYPED")  # the incident typed stays
    expect(page.locator("#decision")).to_be_empty()  # the result was the other version's
    ui.open_tab("Policy")
    expect(page.locator("#policy-head")).to_contain_text(first[:12])
    ui.open_tab("Versions")
    expect(page.locator(f'[data-activate="{first}"]')).to_have_count(0)
    expect(page.locator(f'[data-activate="{second}"]')).to_have_count(1)
    page.get_by_role("button", name="Dismiss").click()
    expect(notice).to_be_hidden()

    # Back to the second elsewhere: a playground answer made by it tells the page.
    made_active_elsewhere(server, second)
    ui.open_tab("Playground")

    def decide_again():
        decide.click()
        expect(decide).to_be_enabled()

    until_shown(page, notice, decide_again)
    expect(notice).to_contain_text(f"changed from {first[:12]} to {second[:12]}")
    expect(page.locator("#who-policy")).to_contain_text(second[:12])
    expect(result).to_have_attribute("data-policy-version", second)  # its own: it stays
    expect(incident).to_have_value("INC-TYPED")

    # Made active in the page: the typed incident stays, the result made by the version
    # before goes with it.
    ui.open_tab("Versions")
    page.locator(f'[data-activate="{first}"]').click()
    page.get_by_role("button", name="Make it active").click()
    expect(page.locator("#versions-notice")).to_contain_text(
        f"Version {first[:12]} is now the active policy")
    expect(notice).to_be_hidden()  # said by the Versions tab, not as news from elsewhere
    ui.open_tab("Playground")
    expect(incident).to_have_value("INC-TYPED")
    expect(page.locator("#decision")).to_be_empty()


def test_an_activation_is_done_even_when_reading_the_policy_after_it_fails(ui, server):
    expect = _expect()
    page = ui.page
    ui.allow_console_error(r"status of 503")
    first, _second = reloaded_with(server, SHORTER)
    ui.sign_in("manager")
    ui.open_tab("Versions")
    unavailable = {"status": 503, "content_type": "application/problem+json",
                   "body": json.dumps({"type": "about:blank", "title": "Service Unavailable",
                                       "status": 503,
                                       "detail": "The database is unavailable."})}
    page.route("**/v1/policy", lambda route: route.fulfill(**unavailable))
    page.locator(f'[data-activate="{first}"]').click()
    page.get_by_role("button", name="Make it active").click()
    expect(page.locator("#versions-notice")).to_contain_text(
        f"Version {first[:12]} is now the active policy")
    error = page.locator("#versions-error")
    expect(error).to_contain_text(f"could not load version {first[:12]} to show it")
    expect(error).to_contain_text("The database is unavailable.")
    expect(page.locator(f'[data-activate="{first}"]')).to_have_count(0)  # the list has it


def answering(status: int, content_type: str, body: str):
    def fulfil(route):
        route.fulfill(status=status, content_type=content_type, body=body)
    return fulfil


def test_the_playground_drops_an_abandoned_answer_and_words_answers_not_from_amends(ui):
    expect = _expect()
    page = ui.page
    ui.allow_console_error(r"status of 50[02]")
    held = []
    page.route("**/v1/decisions/preview", lambda route: held.append(route))
    ui.sign_in("agent")
    ui.open_tab("Playground")
    incident = page.get_by_label("Incident id")
    incident.fill("INC-ABANDONED")
    decide = page.get_by_role("button", name="Decide (store nothing)")
    decide.click()
    deadline = time.monotonic() + 10
    while not held:
        assert time.monotonic() < deadline, "the Decide never left"
        page.wait_for_timeout(50)
    page.get_by_role("button", name="Back to the example").click()
    expect(incident).to_have_value(DESIGN_EXAMPLE["incident_id"])
    expect(decide).to_be_enabled()
    with page.expect_response("**/v1/decisions/preview"):
        held[0].continue_()
    page.wait_for_timeout(300)  # the page has the answer: it must drop it
    expect(page.locator("#decision")).to_be_empty()
    expect(page.locator("#playground-error")).to_be_hidden()

    # A decision with no offers at all: nothing is offered, not "every offer needs approval".
    def without_offers(route):
        response = route.fetch()
        decision = response.json()
        decision["offers"] = []
        decision["grant_now"] = {**decision["grant_now"], "offers": [], "total": None}
        route.fulfill(response=response, json=decision)

    page.unroute("**/v1/decisions/preview")
    page.route("**/v1/decisions/preview", without_offers)
    decide.click()
    expect(page.locator("#grant-now")).to_contain_text("nothing is offered")
    expect(page.locator("#grant-now")).not_to_contain_text("every offer needs approval")

    # Answers from something between the page and Amends are not taken for Amends'.
    error = page.locator("#playground-error")
    for status, content_type, body, said, not_said in (
            (200, "text/html", "<html>Sign in to the portal</html>",
             "did not come from Amends (not JSON)", "TypeError"),
            (502, "text/html", "<html><h1>502 Bad Gateway</h1></html>",
             "answered 502, and not as Amends answers", "logged"),
            (500, "application/problem+json",
             json.dumps({"title": "Internal Server Error", "status": 500}),
             "it has been logged", "not JSON")):
        page.unroute("**/v1/decisions/preview")
        page.route("**/v1/decisions/preview", answering(status, content_type, body))
        decide.click()
        expect(error).to_contain_text(said)
        expect(error).not_to_contain_text(not_said)
        expect(page.locator("#decision")).to_be_empty()


def test_the_policy_tab_fits_320_pixels_finds_no_rule_by_file_and_follows_back(ui):
    expect = _expect()
    page = ui.page
    page.set_viewport_size({"width": 320, "height": 700})

    def long_principal(route):
        response = route.fetch()
        me = response.json()
        me["principal"] = "anunbreakableprincipalnamefromthecompanydirectory" * 2
        route.fulfill(response=response, json=me)

    page.route("**/v1/me", long_principal)
    ui.sign_in("manager")
    expect(page.locator('[data-rule="replace-product"]')).to_be_visible()
    widths = page.evaluate("() => [document.documentElement.scrollWidth, "
                           "document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], f"the Policy tab scrolls sideways: {widths}"
    ui.screenshot("-320")

    # Every rule is in a file version <hash>/<name>.yaml: that is not a rule's text.
    search = page.get_by_label("Find a rule by id or text")
    for word in ("yaml", "version"):
        search.fill(word)
        expect(page.locator("#rules-none")).to_contain_text("No rule has")
    search.fill("")

    # Back and Forward over a jump link show the tab of the entry.
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("link", name="Roles and limits").click()
    expect(page).to_have_url(ui.base + "/#policy-roles")
    ui.open_tab("Playground")
    page.go_back()
    expect(page.get_by_role("tab", name="Policy")).to_have_attribute("aria-selected", "true")
    ui.open_tab("Playground")
    page.go_forward()
    expect(page).to_have_url(ui.base + "/#policy-roles")
    expect(page.get_by_role("tab", name="Policy")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#policy-roles")).to_be_in_viewport()


def test_the_policy_head_names_the_active_versions_tests_this_amends_decides_otherwise(ui):
    """After an upgrade of Amends the active version may fail some of its own tests and
    serve all the same (GET /v1/policy `failing_tests`): the page says which, and why."""
    expect = _expect()
    page = ui.page

    def failing(route):
        response = route.fetch()
        policy = response.json()
        policy["failing_tests"] = [{"name": "a late parcel recovers", "file": "tests.yaml",
                                    "line": 5, "problems": ["outlook: expected unlikely, "
                                                            "got likely"]}]
        route.fulfill(response=response, json=policy)

    page.route("**/v1/policy", failing)
    ui.sign_in("manager")
    notice = page.locator("#policy-head .notice")
    expect(notice).to_contain_text("1 of this version's own test cases fail")
    expect(notice).to_contain_text(
        "a late parcel recovers (tests.yaml:5): outlook: expected unlikely, got likely")
