-- Redis baseline: normalize the same 5 values as onced's shipped rules would,
-- then HSETNX each into the profile hash (KEYS[1]).
local function trim_lower(s) return (string.gsub(string.lower(s), "^%s*(.-)%s*$", "%1")) end
local plan = trim_lower(ARGV[1])
local d, m, y = string.match(ARGV[2], "^(%d%d?)/(%d%d?)/(%d%d%d%d)$")
local signup = d and string.format("%s-%02d-%02d", y, tonumber(m), tonumber(d)) or ARGV[2]
local cohort = string.gsub(trim_lower(ARGV[5]), "%s+", "_")
redis.call("HSETNX", KEYS[1], "plan", plan)
redis.call("HSETNX", KEYS[1], "signup_date", signup)
redis.call("HSETNX", KEYS[1], "ltv", ARGV[3])
redis.call("HSETNX", KEYS[1], "vip", ARGV[4])
redis.call("HSETNX", KEYS[1], "cohort", cohort)
return 1
