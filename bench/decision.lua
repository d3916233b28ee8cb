-- wrk script: POST the README's example incident as the agent, each request a new incident and
-- customer (a repeated incident id would be a replay of the stored decision).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer dev-agent-key"
local template = [[{"incident_id": "B-%s-%d",
 "customer": {"id": "C-%s-%d", "tier": "gold", "lifetime_value": "5400.00", "prior_failures": 0},
 "order": {"id": "O-%s-%d", "value": "120.00", "currency": "EUR", "shipping_fee": "7.50", "upgrade_cost": "30.00"},
 "failure": {"category": "late_delivery", "severity": 2, "avoidable": false, "description": "parcel two days late"},
 "customer_ask": {"remedy": "refund", "amount": "120.00"}}]]
local counter = 0
local run = tostring(os.time()) .. tostring(math.random(1000000))

request = function()
  counter = counter + 1
  local body = string.format(template, run, counter, run, counter, run, counter)
  return wrk.format(nil, nil, nil, body)
end

setup = function(thread)
  thread:set("run", tostring(os.time()) .. tostring(math.random(1000000)))
end

init = function(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
  run = run .. tostring(math.random(1000000))
end
