-- The json scenario (tests/bench/bench.py): encode and decode speed of one realistic document,
-- 1,000 records of mixed fields, with MonaAot's codec (mona:toJSON, mona:fromJSON) and with
-- Debian's lua-cjson loaded into the same binary as a Lua C module ([bench] codec = cjson): the
-- same Lua, allocator, document, loop and clock on both sides. Run by the lua5.4 interpreter it
-- measures cjson there. Prints one "done codec=..." line.
local encode, decode, codec, report
local wanted = mona and mona.configs["bench.codec"] or "cjson"
if wanted == "monaaot" then
  encode = function(value) return mona:toJSON(value) end
  decode = function(text) return mona:fromJSON(text) end
  codec = "monaaot"
else
  local cjson = require("cjson")
  encode, decode = cjson.encode, cjson.decode
  codec = mona and "cjson-in-monaaot" or "cjson"
end
if mona then
  report = function(line) NOTE(line) end
else
  report = function(line) print(line) io.stdout:flush() end
end
local clock = os.clock -- CPU time, the same in both processes (MonaAot's other threads are idle)

-- Strings with what a codec must escape (quote, backslash, control characters) and UTF-8
-- (2, 3 and 4 bytes), floats with short decimal forms (both codecs write them alike).
local words = { "alpha", "beta", "gamma", "delta", "epsilon", "zeta" }
local function record(i)
  return {
    id = i * 7919,
    name = "User number " .. i,
    email = "user" .. i .. "@example.com",
    active = i % 3 == 0,
    verified = i % 5 ~= 0,
    score = i * 0.25 + 0.5,
    balance = -(i * 1.75),
    bio = "Line one of " .. i .. "\nLine \"two\" with a\ttab and a back\\slash; café, Zürich, 日本語, 🎉",
    tags = { words[i % 6 + 1], words[(i + 2) % 6 + 1], words[(i + 4) % 6 + 1] },
    location = { city = "Paris", lat = 48.75 + (i % 100) / 128, lon = 2.25 + (i % 50) / 64 },
    history = { i, i * 2, i * 3, i * 5, i * 8 },
    settings = { theme = i % 2 == 0 and "dark" or "light", notifications = { email = true, sms = false }, limit = 1000 + i },
  }
end
local document = {}
for i = 1, 1000 do document[i] = record(i) end

-- Runs f until at least `seconds` of CPU have passed: the calls per second.
local function rate(f, seconds)
  local calls, start = 0, clock()
  local elapsed
  repeat
    for _ = 1, 5 do f() end
    calls = calls + 5
    elapsed = clock() - start
  until elapsed >= seconds
  return calls / elapsed
end

local text = encode(document)
assert(#decode(text) == 1000)
local seconds = tonumber(mona and mona.configs["bench.seconds"] or arg and arg[1]) or 2
local encodes = rate(function() encode(document) end, seconds)
local decodes = rate(function() decode(text) end, seconds)
report(string.format("done codec=%s bytes=%d encode_mb_s=%.2f decode_mb_s=%.2f",
  codec, #text, encodes * #text / 1e6, decodes * #text / 1e6))
