-- Enrichment: a request that sets an e-mail address also sets its domain,
-- so cohorts can filter by company without parsing addresses.
return {
  name = "email domain",
  ops = { "set_once", "set" },

  request = function(req, ctx)
    local email = req.properties.email
    if type(email) == "string" and req.properties.email_domain == nil then
      req.properties.email_domain = email:match("@(.+)$")
    end
  end,

  tests = {
    { input = { email = "ada@example.com" }, expect = { email = "ada@example.com", email_domain = "example.com" } },
    { input = { plan = "pro" }, expect = { plan = "pro" } },
    { input = { email = "ada@example.com", email_domain = "given.io" }, expect = { email = "ada@example.com", email_domain = "given.io" } },
  },
}
