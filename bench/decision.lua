-- wrk script: POST the design.md incident as the agent.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer dev-agent-key"
wrk.body = [[{"incident_id": "INC-1001",
 "customer": {"id": "C-42", "tier": "gold", "lifetime_value": "5400.00", "prior_failures": 0},
 "order": {"id": "O-9", "value": "120.00", "currency": "EUR", "shipping_fee": "7.50", "upgrade_cost": "30.00"},
 "failure": {"category": "late_delivery", "severity": 2, "avoidable": false, "description": "parcel two days late"},
 "customer_ask": {"remedy": "refund", "amount": "120.00"}}]]
