"""Approval requests (SQLite and PostgreSQL): asked for, listed a page at a time to whoever
may approve, approved into a grant or rejected with a reason, never by the one who asked."""

import pytest

from tests.web.conftest import as_, decide, offer


@pytest.fixture
def client(staff_app):
    return staff_app[0].test_client()


def test_approval_flow(client):
    decision = decide(client, "agent-2")
    refund = offer(decision, "refund")
    first = client.post(f"/v1/offers/{refund['id']}/approval-request", headers=as_("agent-2"),
                        json={"note": "customer is upset"})
    assert first.status_code == 201
    request = first.json
    assert (request["status"], request["approver_role"]) == ("pending", "team_lead")
    again = client.post(f"/v1/offers/{refund['id']}/approval-request", headers=as_("agent-2"))
    assert again.status_code == 200 and again.json["id"] == request["id"]

    pending_for_lead = client.get("/v1/approvals?status=pending", headers=as_("lead-1")).json
    assert request["id"] in [a["id"] for a in pending_for_lead["approvals"]]
    pending_for_agent = client.get("/v1/approvals", headers=as_("agent-1")).json
    assert request["id"] not in [a["id"] for a in pending_for_agent["approvals"]]

    by_agent = client.post(f"/v1/approvals/{request['id']}/approve", headers=as_("agent-1"))
    assert by_agent.status_code == 403
    approved = client.post(f"/v1/approvals/{request['id']}/approve", headers=as_("lead-1"))
    assert approved.status_code == 201
    assert approved.json["approval"]["status"] == "approved"
    assert approved.json["grant"]["principal"] == "lead-1"
    assert approved.json["grant"]["approval_request_id"] == request["id"]
    twice = client.post(f"/v1/approvals/{request['id']}/approve", headers=as_("lead-2"))
    assert twice.status_code == 409

    shown = client.get(f"/v1/decisions/{decision['decision_id']}", headers=as_("agent-2")).json
    assert offer(shown, "refund")["state"] == "granted"
    assert shown["approval_requests"][0]["status"] == "approved"


def all_approvals(client, who, limit, status="pending"):
    seen, cursor = [], None
    for _ in range(200):
        query = {"status": status, "limit": limit, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/approvals", query_string=query, headers=as_(who)).json
        assert len(page["approvals"]) <= limit
        seen += [a["id"] for a in page["approvals"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError("the pages never ended")


def test_approval_requests_page_oldest_first_and_only_where_the_role_may_approve(client):
    mine = []
    for _ in range(3):
        refund = offer(decide(client, "agent-4"), "refund")
        mine.append(client.post(f"/v1/offers/{refund['id']}/approval-request",
                                headers=as_("agent-4")).json["id"])
    for who in ("lead-1", "manager-1"):
        seen = all_approvals(client, who, limit=1)
        assert len(seen) == len(set(seen))
        assert [i for i in seen if i in mine] == mine
        assert seen == all_approvals(client, who, limit=50)
    assert not set(mine) & set(all_approvals(client, "agent-1", limit=2))
    bad = client.get("/v1/approvals", query_string={"cursor": "x"}, headers=as_("lead-1"))
    assert bad.status_code == 422 and "cursor" in bad.json["errors"]


def test_nobody_approves_their_own_request(client):
    decision = decide(client, "lead-1", order={"id": "O-big", "value": "600.00",
                                              "currency": "EUR"}, customer_ask=None)
    discount = offer(decision, "discount")  # 60.00, within the lead's limits
    request = client.post(f"/v1/offers/{discount['id']}/approval-request",
                          headers=as_("lead-1")).json
    own = client.post(f"/v1/approvals/{request['id']}/approve", headers=as_("lead-1"))
    assert own.status_code == 403 and "own request" in own.json["detail"]


def test_reject_needs_a_reason(client):
    decision = decide(client, "agent-3")
    refund = offer(decision, "refund")
    request = client.post(f"/v1/offers/{refund['id']}/approval-request",
                          headers=as_("agent-3")).json
    missing = client.post(f"/v1/approvals/{request['id']}/reject", headers=as_("lead-2"),
                          json={})
    assert missing.status_code == 422 and "reason" in missing.json["errors"]
    rejected = client.post(f"/v1/approvals/{request['id']}/reject", headers=as_("lead-2"),
                           json={"reason": "already refunded by the carrier"})
    assert rejected.status_code == 200 and rejected.json["approval"]["status"] == "rejected"
    shown = client.get(f"/v1/decisions/{decision['decision_id']}", headers=as_("agent-3")).json
    assert offer(shown, "refund")["state"] == "rejected"
