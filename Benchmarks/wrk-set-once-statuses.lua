-- wrk-set-once.lua, counting replies by status (202 acknowledged, 503 shed).
dofile("wrk-set-once.lua")
local threads = {}
setup = function(thread) table.insert(threads, thread) end
init = function() ok = 0; shed = 0; other = 0; sample = "" end
response = function(status, headers, body)
  if status == 202 then ok = ok + 1 elseif status == 503 then shed = shed + 1 else other = other + 1; sample = status .. " " .. body end
end
done = function()
  for _, t in ipairs(threads) do
    io.write(string.format("202: %d 503: %d other: %d %s\n", t:get("ok"), t:get("shed"), t:get("other"), t:get("sample")))
  end
end
