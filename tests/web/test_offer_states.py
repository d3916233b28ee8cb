"""Offer states over HTTP (SQLite and PostgreSQL): a rejection binds (409 saying a new
decision is the way back), a direct grant closes the pending request as granted, and
GET /v1/policy shows the exchange rates the running totals convert with."""

import pytest

from tests.web.conftest import as_, decide, grant, offer


@pytest.fixture
def client(staff_app):
    return staff_app[0].test_client()


def ask(client, offer_id, who="agent-1"):
    return client.post(f"/v1/offers/{offer_id}/approval-request", headers=as_(who))


def test_a_rejected_offer_is_neither_asked_for_again_nor_granted(client):
    decision = decide(client, "agent-1")
    refund = offer(decision, "refund")
    request = ask(client, refund["id"]).json
    rejected = client.post(f"/v1/approvals/{request['id']}/reject", headers=as_("lead-1"),
                           json={"reason": "a late parcel is no reason for a refund"})
    assert rejected.status_code == 200 and rejected.json["approval"]["status"] == "rejected"

    again = ask(client, refund["id"])
    assert again.status_code == 409
    assert "rejection is final" in again.json["detail"]
    assert "new decision" in again.json["detail"]
    granted = grant(client, refund["id"], "lead-2")
    assert granted.status_code == 409 and "rejection is final" in granted.json["detail"]

    shown = client.get(f"/v1/decisions/{decision['decision_id']}", headers=as_("agent-1")).json
    assert offer(shown, "refund")["state"] == "rejected" and shown["grants"] == []
    assert [r["status"] for r in shown["approval_requests"]] == ["rejected"]


def test_a_direct_grant_closes_the_pending_request_as_granted(client):
    decision = decide(client, "agent-2")
    refund = offer(decision, "refund")
    request = ask(client, refund["id"], "agent-2").json
    made = grant(client, refund["id"], "lead-1")
    assert made.status_code == 201

    late = client.post(f"/v1/approvals/{request['id']}/reject", headers=as_("lead-2"),
                       json={"reason": "too late"})
    assert late.status_code == 409 and "already granted" in late.json["detail"]
    pending = client.get("/v1/approvals?status=pending&limit=200", headers=as_("manager-1"))
    assert request["id"] not in [a["id"] for a in pending.json["approvals"]]
    closed = client.get("/v1/approvals?status=granted&limit=200", headers=as_("manager-1"))
    assert closed.status_code == 200
    listed = next(a for a in closed.json["approvals"] if a["id"] == request["id"])
    assert (listed["status"], listed["decided_by"]) == ("granted", "lead-1")

    shown = client.get(f"/v1/decisions/{decision['decision_id']}", headers=as_("agent-2")).json
    assert offer(shown, "refund")["state"] == "granted"
    assert [g["id"] for g in shown["grants"]] == [made.json["grant"]["id"]]
    assert shown["approval_requests"][0]["status"] == "granted"


def test_the_policy_shows_its_exchange_rates_and_caps(client):
    view = client.get("/v1/policy", headers=as_("agent-1")).json
    assert view["exchange_rates"] == {
        "as_of": "2026-11-01",
        "rates": {"EUR": {"USD": "0.92", "GBP": "1.17"}, "USD": {"EUR": "1.09", "GBP": "1.27"},
                  "GBP": {"EUR": "0.86", "USD": "0.79"}}}
    agent = next(role for role in view["roles"] if role["name"] == "agent")
    assert agent["per_agent_daily_budget"] == {"EUR": "500.00", "GBP": "450.00",
                                               "USD": "550.00"}
    assert agent["per_customer_cap"]["EUR"] == "150.00"
    manager = next(role for role in view["roles"] if role["name"] == "manager")
    assert manager["per_agent_daily_budget"] is None
