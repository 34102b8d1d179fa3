-- wrk: the webdis peer of wrk-set-once.lua. POSTs the same normalize-and-HSETNX
-- (EVALSHA of redis-set-once.lua, whose sha is in the environment) for a random
-- new profile with the same five values, as webdis's command-in-body form.
wrk.method = "POST"
local sha = os.getenv("SET_ONCE_SHA")
local counter = 0
request = function()
  counter = counter + 1
  local id = string.format("%d-%d-%d", math.random(1, 1e9), counter, math.random(1, 1e9))
  local body = string.format("EVALSHA/%s/1/profile:%s/Pro/01%%2F10%%2F2020/%d/true/Cohort%%202024%%20Q%d",
    sha, id, counter, counter % 4 + 1)
  return wrk.format(nil, "/", nil, body)
end
