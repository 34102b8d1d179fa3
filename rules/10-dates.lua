-- Coerce the date forms people actually send into ISO 8601 dates, so they are
-- stored (and typed) as dates: "01/10/2020" -> "2020-10-01". Names ending in
-- _date or _at also accept Unix seconds.
local function is_slashed(value)
  return value:match("^%d%d?/%d%d?/%d%d%d%d$") or value:match("^%d%d%d%d/%d%d?/%d%d?$")
end

return {
  name = "dates",
  ops = { "set_once", "set" },

  property = function(name, value, ctx)
    if type(value) == "string" and is_slashed(value) then
      return once.date(value)   -- nil (keep) when it is no real date, e.g. 31/02/2020
    end
    if math.type(value) == "integer" and (name:match("_date$") or name:match("_at$")) then
      return once.date(value)
    end
  end,

  tests = {
    { input = { signup_date = "01/10/2020" }, expect = { signup_date = "2020-10-01" } },
    { input = { renewal = "2024/2/9" }, expect = { renewal = "2024-02-09" } },
    { input = { created_at = 1601577000 }, expect = { created_at = "2020-10-01T18:30:00Z" } },
    { input = { bad = "31/02/2020" }, expect = { bad = "31/02/2020" } },
    { input = { plan = "pro", count = 3 }, expect = { plan = "pro", count = 3 } },
    { input = { signup_date = "01/10/2020" }, ctx = { op = "append" }, expect = { signup_date = "01/10/2020" } },
  },
}
