"""The policy owners' page in a real browser, against real gunicorn: sign in, find a rule,
decide the README example in the playground, roll back a version, replay a changed policy,
read the outcomes chart; errors in plain words; laptop and tablet widths."""

from __future__ import annotations

import time

from tests.conftest import DESIGN_EXAMPLE, auth, design_example
from tests.support.policy_files import edit
from tests.support.servers import call, served_versions

SHORTER = ("recovery.yaml", "description: After a repeat failure recovery rarely works.",
           "description: Customers give you one chance.")
AGENT_LIMIT_40 = ("roles.yaml",
                  'per_incident_limit: {EUR: "50.00", USD: "55.00", GBP: "45.00"}',
                  'per_incident_limit: {EUR: "40.00", USD: "55.00", GBP: "45.00"}')


def _expect():
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect


def decide(base: str, count: int, role: str = "agent") -> list[dict]:
    decisions = []
    for _ in range(count):
        status, decision = call(base, "/v1/decisions", design_example(), auth(role))
        assert status == 201, decision
        decisions.append(decision)
    return decisions


def active_version(base: str) -> str:
    status, policy = call(base, "/v1/policy", headers=auth("manager"))
    assert status == 200, policy
    return policy["version"]


def test_sign_in_shows_who_and_the_policy_and_a_rule_is_found_by_id_or_text(ui):
    expect = _expect()
    page = ui.page
    ui.sign_in("manager")
    expect(page.locator("#who-role")).to_have_text("manager")
    expect(page.locator("#who-principal")).to_have_text("dev-manager")
    expect(page.locator("#policy-head h1")).to_contain_text("Policy")
    for tab in ("Versions", "What-if", "Outcomes"):  # the manager owns the policy
        expect(page.get_by_role("tab", name=tab)).to_be_visible()

    search = page.get_by_label("Find a rule by id or text")
    search.fill("repeat-failure")
    expect(page.locator('[data-rule="repeat-failure"]')).to_be_visible()
    expect(page.locator('[data-rule="repeat-failure"]')).to_contain_text(
        "After a repeat failure recovery rarely works.")
    expect(page.locator('[data-rule="first-failure"]')).to_be_hidden()
    expect(page.locator("#rule-count")).to_contain_text("1 of ")

    search.fill("missed wedding")  # by text
    expect(page.locator('[data-rule="life-changing-failure"]')).to_be_visible()
    expect(page.locator('[data-rule="repeat-failure"]')).to_be_hidden()
    search.fill("no rule says this")
    expect(page.locator("#rules-none")).to_contain_text("No rule has")
    search.fill("")
    expect(page.locator('[data-rule="first-failure"]')).to_be_visible()

    agent = page.locator('[data-role="agent"]')
    expect(agent.locator("thead")).to_contain_text("EUR")
    expect(agent.locator("tr", has_text="Per incident")).to_contain_text("50.00")
    expect(agent.locator("tr", has_text="Per person a day")).to_contain_text("500.00")
    expect(page.locator("#remedy-kinds")).to_contain_text("store credit")
    expect(page.locator("#facts")).to_contain_text("context.")

    # Keyboard: the tabs are buttons; arrows move between them.
    page.get_by_role("tab", name="Policy").focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="Playground")).to_be_focused()
    expect(page.get_by_role("tab", name="Playground")).to_have_attribute("aria-selected", "true")
    page.keyboard.press("ArrowLeft")
    expect(page.get_by_role("tab", name="Policy")).to_have_attribute("aria-selected", "true")
    ui.screenshot("-laptop")
    ui.at_tablet_width()
    search.fill("failure")
    ui.screenshot("-tablet")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("API key or token")).to_be_visible()


def test_the_playground_decides_the_readme_example_with_its_trace_and_grant_now(ui):
    expect = _expect()
    page = ui.page
    ui.sign_in("agent")
    for tab in ("Versions", "What-if", "Outcomes"):  # an agent does not own the policy
        expect(page.get_by_role("tab", name=tab)).to_be_hidden()
    ui.open_tab("Playground")
    form = page.locator("#incident-form")
    expect(form.locator('[name="incident_id"]')).to_have_value(DESIGN_EXAMPLE["incident_id"])
    expect(form.locator('[name="order.value"]')).to_have_value("120.00")
    expect(form.locator('[name="customer_ask.remedy"]')).to_have_value("refund")
    expect(page.locator("#deciding-as")).to_contain_text("agent")

    page.get_by_role("button", name="Decide (store nothing)").click()
    expect(page.locator("#outlook")).to_contain_text("likely")
    expect(page.locator("#grant-now-total")).to_have_text("50.00 EUR")
    expect(page.locator("#grant-now")).to_contain_text("store credit")
    expect(page.locator("#trace")).to_contain_text("first-failure")
    offers = page.locator("table.offers")
    expect(offers).to_contain_text("refund 120.00 EUR")
    expect(offers).to_contain_text("Needs approval by team lead")
    expect(offers).to_contain_text("You may grant it")
    ui.screenshot("-laptop")
    ui.at_tablet_width()
    ui.screenshot("-tablet")

    status, history = call(ui.base, f"/v1/customers/{DESIGN_EXAMPLE['customer']['id']}/history",
                           headers=auth("agent"))
    assert status == 200 and history["incidents"] == [], history  # nothing was stored

    # A value the API refuses comes back in plain words, naming the field.
    ui.allow_console_error(r"status of 422")
    form.locator('[name="order.value"]').fill("12,50")
    page.get_by_role("button", name="Decide (store nothing)").click()
    expect(page.locator("#playground-error")).to_contain_text("order.value")


def reloaded_with(server, change: tuple[str, str, str]) -> tuple[str, str]:
    """The version serving, and the one the folder makes with `change`, reloaded."""
    first = active_version(server.base)
    edit(server.folder, *change)
    status, answer = call(server.base, "/v1/policy/reload", {}, auth("manager"))
    assert status == 200 and answer["changed"], answer
    return first, answer["policy"]["version"]


def test_a_rollback_in_the_page_changes_what_new_decisions_use(ui, server):
    expect = _expect()
    page = ui.page
    first, second = reloaded_with(server, SHORTER)
    assert served_versions(server.base, 4) == {second}

    ui.sign_in("manager")
    expect(page.locator("#who-policy")).to_contain_text(second[:12])
    ui.open_tab("Versions")
    rows = page.locator("table.versions tbody tr")
    expect(rows).to_have_count(2)
    page.get_by_role("button", name="Show the changes").click()
    expect(page.locator("#diff-result")).to_contain_text("repeat-failure")

    page.locator(f'[data-activate="{first}"]').click()
    dialog = page.locator("#confirm")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(first[:12])
    page.get_by_role("button", name="Make it active").click()
    expect(page.locator("#versions-notice")).to_contain_text(
        f"Version {first[:12]} is now the active policy")
    expect(page.locator("#who-policy")).to_contain_text(first[:12])
    ui.screenshot("-laptop")
    ui.at_tablet_width()
    ui.screenshot("-tablet")

    deadline = time.monotonic() + 15
    while served_versions(server.base, 6) != {first}:
        assert time.monotonic() < deadline, "new decisions never used the rolled-back version"
    ui.open_tab("Playground")
    page.get_by_role("button", name="Decide (store nothing)").click()
    expect(page.locator("#decision .result")).to_have_attribute("data-policy-version", first)


NEW_FACT = ("policy.yaml", "context:\n",
            "context:\n  loyalty_years:\n    type: integer\n"
            "    description: Years the customer has bought from us.\n")


def test_the_playground_follows_a_version_made_active_in_the_page(ui, server):
    """A version with another context fact, made active from the Versions tab: the
    playground asks for that fact at once, without reloading the page."""
    expect = _expect()
    page = ui.page
    first, second = reloaded_with(server, NEW_FACT)
    status, answer = call(server.base, f"/v1/policy/versions/{first}/activate", {},
                          auth("manager"))
    assert status == 200, answer

    ui.sign_in("manager")
    expect(page.locator("#who-policy")).to_contain_text(first[:12])
    ui.open_tab("Playground")
    expect(page.locator("#in-context-loyalty_years")).to_have_count(0)
    ui.open_tab("Versions")
    page.locator(f'[data-activate="{second}"]').click()
    page.get_by_role("button", name="Make it active").click()
    expect(page.locator("#versions-notice")).to_contain_text(
        f"Version {second[:12]} is now the active policy")
    ui.open_tab("Playground")
    expect(page.locator("#in-context-loyalty_years")).to_have_count(1)


def test_a_replay_of_a_changed_policy_shows_how_many_decisions_would_change(ui, server):
    expect = _expect()
    page = ui.page
    decide(server.base, 5)
    edit(server.folder, *AGENT_LIMIT_40)  # the agent may give 40.00 EUR, not 50.00
    status, report = call(server.base, "/v1/policy/replay",
                          {"candidate": {"folder": str(server.folder)}}, auth("manager"))
    assert status == 200, report
    changed = report["changed"]["decisions"]
    assert changed == 5, report

    ui.sign_in("manager")
    ui.open_tab("What-if")
    page.get_by_label("A folder of rule files on the server").check()
    page.get_by_label("Folder path").fill(str(server.folder))
    page.get_by_role("button", name="Run the replay").click()
    expect(page.locator("#replay-changed .stat-value")).to_have_text(str(changed))
    expect(page.locator("#money-chart")).to_be_visible()
    expect(page.locator("#replay-result")).to_contain_text("Before (stored)")
    expect(page.locator("#replay-result")).to_contain_text("40.00 EUR")
    ui.screenshot("-laptop")
    ui.at_tablet_width()
    ui.screenshot("-tablet")


def test_the_outcomes_chart_shows_rates_with_their_sample_sizes(ui, server):
    expect = _expect()
    page = ui.page
    decisions = decide(server.base, 4)
    for decision, accepted in zip(decisions[:3], (True, True, False), strict=True):
        status, body = call(server.base, f"/v1/decisions/{decision['decision_id']}/outcome",
                            {"accepted": accepted, "satisfied": accepted}, auth("agent"))
        assert status == 201, body

    ui.sign_in("manager")
    ui.open_tab("Outcomes")
    chart = page.locator("#outcomes-chart")
    expect(chart).to_be_visible()
    expect(chart).to_contain_text("first-failure")  # by rule: every decision's trace has it
    expect(chart).to_contain_text("66.7% · n = 3")
    page.get_by_label("Group by").select_option("outlook")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#outcomes-result h3")).to_contain_text("predicted outlook")
    expect(chart).to_contain_text("likely")
    expect(page.locator("#outcomes-result")).to_contain_text("4 decisions, 3 with an outcome")
    page.get_by_label("Rate", exact=True).select_option("accepted")
    expect(page.locator("#outcomes-result h3")).to_contain_text("Accepted rate")
    ui.screenshot("-laptop")
    ui.at_tablet_width()
    ui.screenshot("-tablet")


def test_a_key_amends_does_not_know_is_refused_in_plain_words(ui):
    expect = _expect()
    page = ui.page
    ui.allow_console_error(r"status of 401")  # the refused request itself
    page.goto(ui.base + "/")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#signin-error")).to_contain_text("Paste your API key or token first")
    page.get_by_label("API key or token").fill("not-a-key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#signin-error")).to_contain_text("Amends did not accept this key")
    expect(page.locator("#app")).to_be_hidden()


def test_a_reload_while_amends_cannot_answer_keeps_the_key(ui):
    """Only a refused key signs out; a 503 (or no answer) says so, and signing in again
    with the key kept works once Amends answers."""
    expect = _expect()
    page = ui.page
    ui.allow_console_error(r"status of 503")
    ui.sign_in("manager")
    unavailable = {"status": 503, "content_type": "application/problem+json",
                   "body": '{"type": "about:blank", "title": "Service Unavailable", '
                           '"status": 503, "detail": "The database is unavailable."}'}
    page.route("**/v1/policy", lambda route: route.fulfill(**unavailable))
    page.reload()
    expect(page.locator("#signin-error")).to_contain_text("The database is unavailable.")
    expect(page.get_by_label("API key or token")).not_to_have_value("")
    page.unroute("**/v1/policy")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#who-role")).to_have_text("manager")
    expect(page.get_by_role("tab", name="Policy")).to_be_focused()
