-- wrk script: each request presents the next key from KEYS_FILE (one key a
-- line) on the URL's path.
local file = os.getenv("KEYS_FILE")
local keys = {}
for line in io.lines(file) do
  if #line > 0 then keys[#keys + 1] = line end
end
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. keys[(i % #keys) + 1] })
end
