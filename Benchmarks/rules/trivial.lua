-- The cheapest possible hook: hand the value back.
return {
  property = function(name, value, ctx) return value end,
}
