-- A workspace-scoped rule: workspace FY12345678 sells three plans, so any
-- other plan name there is a mistake worth rejecting. Other workspaces are free.
local plans = { free = true, pro = true, enterprise = true }

return {
  name = "FY12345678 plans",
  workspaces = { "FY12345678" },
  properties = "^plan$",

  property = function(name, value, ctx)
    if type(value) == "string" then
      local plan = value:lower()
      if plans[plan] then return plan end
    end
    return once.reject("plan must be free, pro or enterprise")
  end,

  tests = {
    { input = { plan = "Pro" }, expect = { plan = "pro" } },
    { input = { plan = "platinum" }, rejected = { "plan" } },
    { input = { plan = "platinum" }, ctx = { workspace = "OTHER" }, expect = { plan = "platinum" } },
  },
}
