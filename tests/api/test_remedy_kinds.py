"""A policy may let a built-in kind combine: then it is no longer an alternative at grant time."""

import shutil

from service.app.active_policy import ActivePolicy
from service.config import shipped_policy
from service.web.app_factory import create_app
from tests.conftest import auth, design_example, make_store, test_settings


def test_store_credit_that_combines_is_granted_beside_a_refund(tmp_path_factory, request):
    policy = tmp_path_factory.mktemp("combining") / "policy"
    shutil.copytree(shipped_policy(), policy)
    settings = policy / "policy.yaml"
    settings.write_text(settings.read_text() + "remedy_kinds:\n  store_credit: {combines: true}\n")
    store = make_store("sqlite", tmp_path_factory, request)
    app = create_app(test_settings(), active_policy=ActivePolicy.load(policy), store=store)
    client = app.test_client()
    kinds = {k["name"]: k for k in client.get("/v1/policy", headers=auth()).json["remedy_kinds"]}
    assert kinds["store_credit"]["combines"] and not kinds["refund"]["combines"]

    decision = client.post("/v1/decisions", json=design_example(),
                           headers=auth("team_lead")).json
    offers = {(o["remedy"], o["variant"]): o["id"] for o in decision["offers"]}
    lead = auth("team_lead")
    assert client.post(f"/v1/offers/{offers['refund', 'full']}/grant",
                       headers=lead).status_code == 201
    assert client.post(f"/v1/offers/{offers['store_credit', 'full']}/grant",
                       headers=lead).status_code == 201
    store.engine.dispose()
