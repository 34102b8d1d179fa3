-- Numbers sent as strings ("23", "20.34") become numbers, but only where the
-- property is registered as a number: a string property keeps its text.
return {
  name = "numeric strings",
  ops = { "set_once", "set" },

  property = function(name, value, ctx)
    if type(value) == "string" and ctx.type_of(name) == "number" then
      local number = tonumber(value)
      if number and value:match("^%s*%-?%d+%.?%d*%s*$") then
        return math.tointeger(number) or number
      end
    end
  end,

  tests = {
    { input = { ltv = "23000" }, ctx = { types = { ltv = "number" } }, expect = { ltv = 23000 } },
    { input = { cost = "20.34" }, ctx = { types = { cost = "number" } }, expect = { cost = 20.34 } },
    { input = { zip = "02139" }, ctx = { types = { zip = "string" } }, expect = { zip = "02139" } },
    { input = { ltv = "23000" }, expect = { ltv = "23000" } },
    { input = { ltv = "0x10" }, ctx = { types = { ltv = "number" } }, expect = { ltv = "0x10" } },
  },
}
