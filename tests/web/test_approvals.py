"""Approval requests (SQLite and PostgreSQL): asked for, listed a page at a time to whoever
may approve, approved into a grant or rejected with a reason, never by the one who asked."""

import pytest

from tests.web.conftest import as_, decide, offer


@pytest.fixture
def client(staff_app):
    return staff_app[0].test_client()


def listed_ids(client, path: str, headers: dict) -> list[str]:
    """The ids of every approval request a list gives, following `next_cursor` to its end."""
    ids, cursor = [], None
    while True:
        page = client.get(path + (f"&cursor={cursor}" if cursor else ""), headers=headers).json
        ids += [item["id"] for item in page["approvals"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return ids


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

    # every page: the session's store holds other tests' pending requests too
    assert request["id"] in listed_ids(client, "/v1/approvals?status=pending", as_("lead-1"))
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


def ask(client, who, note=None, **changes):
    decision = decide(client, who, **changes)
    refund = offer(decision, "refund")
    response = client.post(f"/v1/offers/{refund['id']}/approval-request", headers=as_(who),
                           json={"note": note} if note else None)
    assert response.status_code == 201, response.json
    return decision, response.json


def test_the_requesters_note_and_the_deciders_reason_are_kept_apart(client):
    _, rejected_one = ask(client, "agent-3", note="customer is upset")
    rejected = client.post(f"/v1/approvals/{rejected_one['id']}/reject",
                           headers=as_("lead-2"), json={"reason": "refunded by the carrier"})
    assert rejected.status_code == 200
    assert (rejected.json["approval"]["note"], rejected.json["approval"]["decision_reason"]) == (
        "customer is upset", "refunded by the carrier")
    decision, approved_one = ask(client, "agent-3", note="third parcel late")
    approved = client.post(f"/v1/approvals/{approved_one['id']}/approve",
                           headers=as_("lead-2"), json={"note": "once, as a gesture"})
    assert approved.status_code == 201
    assert (approved.json["approval"]["note"], approved.json["approval"]["decision_reason"]) == (
        "third parcel late", "once, as a gesture")
    shown = client.get(f"/v1/decisions/{decision['decision_id']}", headers=as_("agent-3")).json
    assert (shown["approval_requests"][0]["note"],
            shown["approval_requests"][0]["decision_reason"]) == (
        "third parcel late", "once, as a gesture")


def test_listed_requests_say_what_is_asked_and_for_whom(client):
    decision, request = ask(client, "agent-2", note="please", customer__id="C-listed-1",
                            order__id="O-listed-1")
    listed = client.get("/v1/approvals", query_string={"limit": 200},
                        headers=as_("lead-1")).json
    while request["id"] not in [a["id"] for a in listed["approvals"]]:
        assert listed["next_cursor"], "the request was not listed"
        listed = client.get("/v1/approvals", query_string={"cursor": listed["next_cursor"],
                                                           "limit": 200},
                            headers=as_("lead-1")).json
    item = next(a for a in listed["approvals"] if a["id"] == request["id"])
    assert {key: item[key] for key in ("remedy", "value", "decision_id", "incident_id",
                                       "customer_id", "order_id", "outlook", "requested_by",
                                       "note", "decision_reason")} == {
        "remedy": "refund", "value": {"amount": "120.00", "currency": "EUR"},
        "decision_id": decision["decision_id"], "incident_id": decision["incident_id"],
        "customer_id": "C-listed-1", "order_id": "O-listed-1",
        "outlook": decision["recovery"]["outlook"], "requested_by": "agent-2",
        "note": "please", "decision_reason": None}
    assert isinstance(item["age_seconds"], int) and 0 <= item["age_seconds"] < 600


def test_requested_by_me_lists_the_callers_own_requests_in_every_state(client):
    mine = [ask(client, "agent-4")[1]["id"] for _ in range(3)]
    others = ask(client, "agent-1")[1]["id"]
    assert client.post(f"/v1/approvals/{mine[1]}/approve",
                       headers=as_("lead-1")).status_code == 201
    assert client.post(f"/v1/approvals/{mine[2]}/reject", headers=as_("lead-1"),
                       json={"reason": "no"}).status_code == 200
    seen, cursor = [], None
    for _ in range(500):
        query = {"requested_by": "me", "limit": 1, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/approvals", query_string=query, headers=as_("agent-4")).json
        assert (page["status"], page["requested_by"]) == (None, "agent-4")
        assert {a["requested_by"] for a in page["approvals"]} <= {"agent-4"}
        seen += [(a["id"], a["status"]) for a in page["approvals"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [entry for entry in seen if entry[0] in mine] == [
        (mine[0], "pending"), (mine[1], "approved"), (mine[2], "rejected")]
    assert others not in [request_id for request_id, _ in seen]
    rejected = client.get("/v1/approvals", query_string={"requested_by": "me",
                                                         "status": "rejected", "limit": 200},
                          headers=as_("agent-4")).json
    assert mine[2] in [a["id"] for a in rejected["approvals"]]
    assert {a["status"] for a in rejected["approvals"]} == {"rejected"}
    bad = client.get("/v1/approvals", query_string={"requested_by": "agent-1"},
                     headers=as_("agent-4"))
    assert bad.status_code == 422 and "requested_by" in bad.json["errors"]
