-- Sesame: rewrites the attributes of Set-Cookie response headers.
--
-- This text is fixed. It holds no user value: the rules come from the route's (or the weighted
-- cluster's) filter context, as data. filterContext():get("rules") is a list of rules, each a list of
-- five strings: the cookie name, then the new Path, Domain, Secure ("true" adds it, "false"
-- removes it) and SameSite; "" keeps the cookie's own. Sesame validated every value: names are
-- HTTP tokens, paths visible ASCII without ";", domains DNS names, SameSite Strict|Lax|None.

local function trim(s)
  return (string.gsub(s, "^%s*(.-)%s*$", "%1"))
end

-- One Set-Cookie value, rewritten by the rule of its cookie, if there is one. Attributes keep
-- their order; a rewritten one takes the place of the first of its name (the others go), and
-- one the cookie lacks is appended.
local function rewrite(cookie, rules)
  local pair, rest = cookie, ""
  local semi = string.find(cookie, ";", 1, true)
  if semi ~= nil then
    pair = string.sub(cookie, 1, semi - 1)
    rest = string.sub(cookie, semi + 1)
  end
  local eq = string.find(pair, "=", 1, true)
  if eq == nil then
    return cookie
  end
  local rule = rules[trim(string.sub(pair, 1, eq - 1))]
  if rule == nil then
    return cookie
  end
  local new = { path = rule[2], domain = rule[3], samesite = rule[5] }
  local written = { path = "Path=", domain = "Domain=", samesite = "SameSite=" }
  local secure = rule[4]
  local out = { trim(pair) }
  local seen = {}
  for attribute in string.gmatch(rest, "[^;]+") do
    attribute = trim(attribute)
    local name = string.lower(trim(string.match(attribute, "^[^=]*")))
    if attribute == "" then
      -- nothing to keep
    elseif new[name] ~= nil and new[name] ~= "" then
      if not seen[name] then
        table.insert(out, written[name] .. new[name])
      end
      seen[name] = true
    elseif name == "secure" and secure ~= "" then
      if secure == "true" and not seen.secure then
        table.insert(out, "Secure")
      end
      seen.secure = true
    else
      table.insert(out, attribute)
    end
  end
  for _, name in ipairs({ "path", "domain", "samesite" }) do
    if new[name] ~= "" and not seen[name] then
      table.insert(out, written[name] .. new[name])
    end
  end
  if secure == "true" and not seen.secure then
    table.insert(out, "Secure")
  end
  return table.concat(out, "; ")
end

function envoy_on_response(response_handle)
  local context = response_handle:filterContext()
  if context == nil then
    return
  end
  local list = context:get("rules")
  if list == nil then
    return
  end
  local headers = response_handle:headers()
  if headers:get("set-cookie") == nil then
    return
  end
  local rules = {}
  for _, rule in ipairs(list) do
    rules[rule[1]] = rule
  end
  local cookies = {}
  for name, value in pairs(headers) do
    if name == "set-cookie" then
      table.insert(cookies, value)
    end
  end
  headers:remove("set-cookie")
  for _, cookie in ipairs(cookies) do
    headers:add("set-cookie", rewrite(cookie, rules))
  end
end
