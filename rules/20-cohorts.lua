-- Cohort names follow one scheme: cohort_ then lower-case letters, digits and
-- underscores. Spaces and capitals are fixed; anything else is rejected.
return {
  name = "cohort naming scheme",
  ops = { "set_once", "set", "append" },
  properties = "^cohort",

  property = function(name, value, ctx)
    local function normalize(text)
      if type(text) ~= "string" then return nil end
      local fixed = text:lower():gsub("%s+", "_")
      if fixed:match("^cohort_[a-z0-9_]+$") then return fixed end
    end
    if type(value) == "table" then
      local fixed = {}
      for i, item in ipairs(value) do
        fixed[i] = normalize(item)
        if not fixed[i] then return once.reject("cohort names must match cohort_[a-z0-9_]+") end
      end
      return fixed
    end
    return normalize(value) or once.reject("cohort names must match cohort_[a-z0-9_]+")
  end,

  tests = {
    { input = { cohort = "cohort_2024_q1" }, expect = { cohort = "cohort_2024_q1" } },
    { input = { cohort = "Cohort 2024 Q1" }, expect = { cohort = "cohort_2024_q1" } },
    { input = { cohort = "Bad-Name!" }, expect = {}, rejected = { "cohort" } },
    { input = { cohorts = { "cohort_a", "Cohort B" } }, ctx = { op = "append" }, expect = { cohorts = { "cohort_a", "cohort_b" } } },
    { input = { cohort = 7 }, rejected = { "cohort" } },
    { input = { plan = "Bad Name" }, expect = { plan = "Bad Name" } },
  },
}
