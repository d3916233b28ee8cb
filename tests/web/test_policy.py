"""GET /v1/policy shows the active version; POST /v1/policy/reload checks a changed folder
before it serves and refuses a bad one with reasons, the last good version still serving."""

import logging

import pytest

from service.app.active_policy import ActivePolicy
from service.web.app_factory import create_app
from tests.conftest import auth, design_example, make_store, test_settings
from tests.support.policy_files import copy_policy, edit


def test_policy_view(client):
    assert client.get("/v1/policy").status_code == 401
    policy = client.get("/v1/policy", headers=auth()).json
    assert policy["name"] == "default" and policy["rule_count"] == 28
    assert policy["escalation"] == ["agent", "team_lead", "supervisor", "manager"]
    agent = policy["roles"][0]
    assert agent["per_incident_limit"] == {"EUR": "50.00", "GBP": "45.00", "USD": "55.00"}
    assert "refund" not in agent["remedies"]
    assert {c["name"] for c in policy["context"]} == {"customer_rejects_product",
                                                      "days_since_delivery"}
    assert policy["failing_tests"] == []


def test_the_view_names_the_active_versions_tests_this_amends_decides_otherwise(
        policy_dir, tmp_path_factory, request):
    """A version activated by an earlier release serves after an upgrade that decides one
    of its own tests otherwise; the view says which, and why."""
    from service.app.active_policy import PolicySource, read_policy
    from service.app.policy_activation import activate

    edit(policy_dir, "tests.yaml", "      outlook: likely\n", "      outlook: unlikely\n")
    store = make_store("sqlite", tmp_path_factory, request)
    try:
        activate(store, PolicySource.read(policy_dir), read_policy(policy_dir), "earlier",
                 "start")
        client = create_app(test_settings(policy_dir=policy_dir), store=store).test_client()
        (failing,) = client.get("/v1/policy", headers=auth()).json["failing_tests"]
        assert failing["name"] == "first minor unavoidable late delivery is likely to recover"
        version = client.get("/v1/policy", headers=auth()).json["version"]
        assert (failing["file"], failing["line"]) == (f"version {version}/tests.yaml", 5)
        assert failing["problems"] == ["outlook: expected unlikely, got likely"]
        assert client.post("/v1/decisions", json=design_example(),
                           headers=auth()).status_code == 201
    finally:
        store.engine.dispose()


@pytest.fixture
def policy_dir(tmp_path):
    return copy_policy(tmp_path / "policy")


@pytest.fixture
def reloadable(policy_dir, tmp_path_factory, request):
    """A client whose policy folder the test may edit and reload."""
    store = make_store("sqlite", tmp_path_factory, request)
    app = create_app(test_settings(), active_policy=ActivePolicy.load(policy_dir), store=store)
    yield app.test_client()
    store.engine.dispose()


def reload(client, role="manager"):
    return client.post("/v1/policy/reload", headers=auth(role))


def version(client):
    return client.get("/v1/policy", headers=auth()).json["version"]


def test_only_admin_roles_reload(reloadable):
    assert reload(reloadable, "agent").status_code == 403
    response = reload(reloadable)
    assert response.status_code == 200 and response.json["changed"] is False


def test_a_changed_folder_becomes_the_active_version(reloadable, policy_dir):
    before = version(reloadable)
    edit(policy_dir, "remedies.yaml", "description: Minor failure, 10% of the order value.",
         "description: Minor failure; ten percent of the order value.")
    response = reload(reloadable)
    assert response.status_code == 200 and response.json["changed"] is True
    after = response.json["policy"]["version"]
    assert after != before and version(reloadable) == after
    decision = reloadable.post("/v1/decisions", json=design_example(), headers=auth()).json
    assert decision["policy"]["version"] == after
    assert {"rule": "discount-minor", "priority": 310,
            "description": "Minor failure; ten percent of the order value."} in decision["trace"]


def test_a_version_too_slow_to_load_in_a_request_is_refused(policy_dir, tmp_path_factory,
                                                             request, monkeypatch):
    """Every worker loads a version made active elsewhere inside a request, which gunicorn
    ends at its worker timeout: a version that loads for longer than half of it would have
    had every such request killed, every answer a 500. (Half of a 0.002 s timeout here.)"""
    store = make_store("sqlite", tmp_path_factory, request)
    app = create_app(test_settings(), active_policy=ActivePolicy.load(policy_dir), store=store)
    holder = app.extensions["amends.holder"]
    assert holder.load_limit == 15  # AMENDS_TIMEOUT 30 s by default
    monkeypatch.setattr(holder, "load_limit", 0.001)
    client = app.test_client()
    before = version(client)
    edit(policy_dir, "remedies.yaml", "description: Minor failure, 10% of the order value.",
         "description: Minor failure; ten percent of the order value.")
    response = reload(client)
    assert response.status_code == 422, response.json
    assert any(reason.startswith("loading it took ") and "more than the 0.001 s a worker may "
               "spend loading a version inside a request" in reason
               for reason in response.json["reasons"])
    assert version(client) == before
    store.engine.dispose()


@pytest.mark.parametrize(("file", "old", "new", "reason"), [
    ("remedies.yaml", "failure.category: {none_of: [billing_error, staff_conduct]}",
     "failure.categry: {none_of: [billing_error, staff_conduct]}", "unknown field"),
    ("tests.yaml", 'value: "12.00", percent: 10, approval: not_required',
     'value: "99.00", percent: 10, approval: not_required', "expected 99.00, got 12.00"),
])
def test_a_bad_version_is_refused_and_the_last_good_one_serves(reloadable, policy_dir, file, old,
                                                               new, reason):
    good = version(reloadable)
    edit(policy_dir, file, old, new)
    response = reload(reloadable)
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert response.json["active_version"] == good
    assert any(reason in line for line in response.json["reasons"]), response.json["reasons"]
    shown = reloadable.get("/v1/policy", headers=auth()).json
    assert shown["version"] == good
    assert shown["last_refused"]["version"] != good
    assert any(reason in line for line in shown["last_refused"]["reasons"])
    decision = reloadable.post("/v1/decisions", json=design_example(), headers=auth())
    assert decision.status_code == 201 and decision.json["policy"]["version"] == good

    edit(policy_dir, file, new, old)  # mended: accepted again, the refusal forgotten
    assert reload(reloadable).status_code == 200
    assert reloadable.get("/v1/policy", headers=auth()).json["last_refused"] is None


def test_activating_and_refusing_a_version_are_logged(reloadable, policy_dir, caplog):
    policy_log = logging.getLogger("amends.policy")
    policy_log.addHandler(caplog.handler)  # Amends' loggers do not propagate to the root
    try:
        edit(policy_dir, "remedies.yaml", "description: Minor failure, 10% of the order value.",
             "description: Minor failure; ten percent of the order value.")
        active = reload(reloadable).json["policy"]["version"]
        edit(policy_dir, "remedies.yaml", "failure.category: {none_of:", "failure.categry: "
             "{none_of:")
        refused = reload(reloadable).json
    finally:
        policy_log.removeHandler(caplog.handler)
    messages = [(record.levelname, record.getMessage()) for record in caplog.records]
    assert any(level == "INFO" and f"version {active} active" in text
               for level, text in messages), messages
    assert any(level == "ERROR" and "refused" in text and "unknown field" in text
               and refused["active_version"] in text for level, text in messages), messages


def test_rules_say_when_and_then_in_words(client):
    rules = {rule["id"]: rule for rule in client.get("/v1/policy", headers=auth()).json["rules"]}
    assert rules["first-failure"]["when"] == "customer.prior_failures is 0"
    assert rules["first-failure"]["then"] == ["first_failure helps recovery"]
    assert rules["recovery-sequence"]["when"] == "always"
    assert any(line.startswith("offer discount: 10% of the order value")
               for line in rules["discount-minor"]["then"])


@pytest.mark.parametrize("path", ["/v1/policy/reload", "/v1/policy/versions/{v}/activate"])
def test_reload_and_activate_take_no_body_but_nothing_or_an_empty_object(client, path):
    """Refused before anything is activated, like any body a call does not take."""
    version = client.get("/v1/policy", headers=auth()).json["version"]
    path = path.format(v=version)
    owner = auth("manager")
    assert client.post(path, headers=owner).status_code == 200
    assert client.post(path, json={}, headers=owner).status_code == 200
    for data, content_type, status in [(b"{", "application/json", 400),
                                       (b"x", "text/plain", 415),
                                       (b'{"force": true}', "application/json", 422),
                                       (b"[]", "application/json", 422),
                                       (b" " * 70_000, "application/json", 413)]:
        response = client.post(path, data=data, content_type=content_type, headers=owner)
        assert response.status_code == status, (data[:20], response.json)
        assert response.mimetype == "application/problem+json"


@pytest.fixture
def written_oddly(policy_dir, tmp_path_factory, request):
    """A client of a policy whose agent's per-incident limits are written with an exponent
    and more zeros than the currency has (`policy check` accepts it: the same value)."""
    edit(policy_dir, "roles.yaml", 'per_incident_limit: {EUR: "50.00", USD: "55.00", '
         'GBP: "45.00"}', 'per_incident_limit: {EUR: "5E+1", USD: 55.000, GBP: 4.5e+1}')
    store = make_store("sqlite", tmp_path_factory, request)
    app = create_app(test_settings(), active_policy=ActivePolicy.load(policy_dir), store=store)
    yield app.test_client()
    store.engine.dispose()


def test_the_view_shows_amounts_in_the_minor_unit_however_the_file_writes_them(written_oddly):
    agent = written_oddly.get("/v1/policy", headers=auth()).json["roles"][0]
    assert agent["name"] == "agent"
    assert agent["per_incident_limit"] == {"EUR": "50.00", "GBP": "45.00", "USD": "55.00"}


def test_reasons_name_a_limit_in_the_minor_unit_however_the_file_writes_it(written_oddly):
    body = design_example(customer_ask={"remedy": "refund"}, order__value="1000.00")
    offers = written_oddly.post("/v1/decisions/preview", json=body,
                                headers=auth()).json["offers"]
    reasons = [offer["reason"] for offer in offers]
    assert any("within your per-incident limit of 50.00 EUR" in reason for reason in reasons), \
        reasons
    assert not any("5E+1" in reason for reason in reasons), reasons
