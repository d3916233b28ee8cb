"""Hypothesis strategy of valid request bodies for the shipped policy's vocabulary."""

from hypothesis import strategies as st

CATEGORIES = ["late_delivery", "lost_parcel", "wrong_item", "damaged_item", "faulty_product",
              "billing_error", "service_outage", "cancelled_service", "staff_conduct"]
ASKABLE = ["refund", "discount", "store_credit", "replacement", "waived_shipping",
           "free_upgrade"]


def money(low_cents=1, high_cents=600_000):
    return st.integers(low_cents, high_cents).map(lambda c: f"{c // 100}.{c % 100:02d}")


@st.composite
def incident_bodies(draw):
    customer = {"id": "C-1"}
    if draw(st.booleans()):
        customer["tier"] = draw(st.sampled_from(["standard", "silver", "gold", "platinum"]))
    if draw(st.booleans()):
        customer["lifetime_value"] = draw(money(0, 900_000))
    if draw(st.booleans()):
        customer["prior_failures"] = draw(st.integers(0, 5))
    order = {"id": "O-1", "value": draw(money()),
             "currency": draw(st.sampled_from(["EUR", "USD", "GBP"]))}
    for name in ("shipping_fee", "upgrade_cost"):
        if draw(st.booleans()):
            order[name] = draw(money(0, 50_000))
    body = {
        "incident_id": "P-1",
        "customer": customer,
        "order": order,
        "failure": {"category": draw(st.sampled_from(CATEGORIES)),
                    "severity": draw(st.integers(1, 5)), "avoidable": draw(st.booleans())},
    }
    if draw(st.booleans()):
        remedy = draw(st.sampled_from(ASKABLE))
        ask = {"remedy": remedy}
        if remedy in ("discount", "store_credit") or draw(st.booleans()):
            ask["amount"] = draw(money(1, 900_000))
        body["customer_ask"] = ask
    if draw(st.booleans()):
        body["context"] = {"customer_rejects_product": draw(st.booleans())}
    return body
