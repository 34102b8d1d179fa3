-- One spelling for e-mail addresses: Email, EMAIL and e-mail become "email",
-- and the address is lower-cased and trimmed.
return {
  name = "email",
  ops = { "set_once", "set" },
  properties = "^[Ee]%-?[Mm][Aa][Ii][Ll]$",

  property = function(name, value, ctx)
    if type(value) ~= "string" then
      return once.reject("an e-mail address is a string")
    end
    local address = value:match("^%s*(.-)%s*$"):lower()
    if not address:match("^[^@%s]+@[^@%s]+%.[^@%s]+$") then
      return once.reject("not an e-mail address")
    end
    return once.rename("email", address)
  end,

  tests = {
    { input = { Email = " Ada@Example.COM " }, expect = { email = "ada@example.com" } },
    { input = { email = "ada@example.com" }, expect = { email = "ada@example.com" } },
    { input = { ["e-mail"] = "X@Y.io" }, expect = { email = "x@y.io" } },
    { input = { email = "not an address" }, rejected = { "email" } },
    { input = { emails = "keep@me" }, expect = { emails = "keep@me" } },
  },
}
