-- wrk: POST a 5-property set-once for a random new distinct_id on every request.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer bench-key"
local counter = 0
request = function()
  counter = counter + 1
  local id = string.format("%d-%d-%d", math.random(1, 1e9), counter, math.random(1, 1e9))
  local body = string.format(
    '{"$once": {"plan": "Pro", "signup_date": "01/10/2020", "ltv": %d, "vip": true, "cohort": "Cohort 2024 Q%d"}, "distinct_id": "%s"}',
    counter, counter % 4 + 1, id)
  return wrk.format(nil, "/v1/FY12345678/live/profiles/properties/set-once", nil, body)
end
