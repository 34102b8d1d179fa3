-- A realistic normalization: trim, lower-case, collapse spaces, check a scheme.
return {
  property = function(name, value, ctx)
    if type(value) ~= "string" then return end
    local fixed = value:match("^%s*(.-)%s*$"):lower():gsub("%s+", "_")
    if not fixed:match("^cohort_[a-z0-9_]+$") then return once.reject("bad cohort") end
    return fixed
  end,
}
