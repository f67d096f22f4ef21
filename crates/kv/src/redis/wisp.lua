-- Wisp's Redis backend: every write of a namespace, with its quota accounting, in one atomic
-- script (see scripts.rs for the calling convention and mod.rs for the model).
--
-- KEYS[1] `<root>:{ns}#used`   bytes of keys and values the namespace holds (the quota's count)
-- KEYS[2] `<root>:{ns}#keys`   hash: each key of the namespace -> the bytes it was counted for
-- KEYS[3] `<root>:{ns}#swept`  present while a sweep of the index is too recent to repeat
-- (the root is `wisp`, or `wisp:<cluster>` for a cluster of another name)
-- ARGV[1] mode ('run' or 'swap'), ARGV[2] namespace, ARGV[3] quota in bytes, then the mode's
-- arguments.
--
-- Data keys are `<root>:{ns}:<key>`: the same hash tag as KEYS, so one cluster slot. They are
-- not in KEYS (their count varies per command); Redis Cluster serves undeclared keys of the
-- script's own slot.

local USED, INDEX, SWEPT = KEYS[1], KEYS[2], KEYS[3]
local mode, ns, quota = ARGV[1], ARGV[2], tonumber(ARGV[3])
-- The data keys' prefix: KEYS[1] without its `#used`, and a colon.
local prefix = string.sub(USED, 1, #USED - 5) .. ':'
local used = tonumber(redis.call('GET', USED) or '0')
local used_at_start = used
local SWEEP_EVERY_MS = 5000
local WRONGTYPE = 'WRONGTYPE Operation against a key holding the wrong kind of value'

local function exists(k)
  return redis.call('EXISTS', prefix .. k) == 1
end

local function type_of(k)
  return redis.call('TYPE', prefix .. k)['ok']
end

-- Drops the record of a key that is gone (expired, or deleted by a negative PEXPIRE).
local function forget(k, bytes)
  redis.call('HDEL', INDEX, k)
  used = used - bytes
end

-- The bytes a key is counted for; 0 when it is gone, whose record is dropped on the way.
local function recorded(k)
  local s = redis.call('HGET', INDEX, k)
  if not s then
    return 0
  end
  if exists(k) then
    return tonumber(s)
  end
  forget(k, tonumber(s))
  return 0
end

local function record(k, old, new)
  if new ~= old then
    if new <= 0 then
      redis.call('HDEL', INDEX, k)
    else
      redis.call('HSET', INDEX, k, new)
    end
    used = used + new - old
  end
end

-- Expired keys are not seen leaving: their bytes stay counted until something touches them.
-- Before refusing a write, drop every record whose key is gone, at most once per
-- SWEEP_EVERY_MS so that a namespace at its limit cannot make Redis walk its keys per write.
local function sweep()
  if not redis.call('SET', SWEPT, '1', 'NX', 'PX', SWEEP_EVERY_MS) then
    return
  end
  local cursor = '0'
  repeat
    local page = redis.call('HSCAN', INDEX, cursor, 'COUNT', 1000)
    cursor = page[1]
    local pairs_ = page[2]
    for i = 1, #pairs_, 2 do
      if not exists(pairs_[i]) then
        forget(pairs_[i], tonumber(pairs_[i + 1]))
      end
    end
  until cursor == '0'
end

local function fits(growth)
  if growth <= 0 or used + growth <= quota then
    return true
  end
  sweep()
  return used + growth <= quota
end

local function over(growth)
  return redis.error_reply(string.format(
    "ERR quota exceeded: namespace '%s' would hold %d bytes, its limit is %d",
    ns, used + growth, quota))
end

-- The user's key of a prefixed key.
local function user(pk)
  return string.sub(pk, #prefix + 1)
end

-- The size of a key after a command: strings are measured; a key of another type keeps its
-- record (only string commands and DEL/PEXPIRE/PERSIST come here).
local function settle_strings(keys, olds)
  for k, _ in pairs(keys) do
    local t = type_of(k)
    local new = olds[k]
    if t == 'none' then
      new = 0
    elseif t == 'string' then
      new = #k + redis.call('STRLEN', prefix .. k)
    end
    record(k, olds[k], new)
  end
end

-- A string write whose every new value is known: SET, SETNX, GETSET, MSET (pairs from 2).
local function write_strings(a, first, step)
  local last, olds, growth = {}, {}, 0
  for i = first, #a, step do
    last[user(a[i])] = a[i + 1]
  end
  for k, v in pairs(last) do
    olds[k] = recorded(k)
    growth = growth + #k + #v - olds[k]
  end
  if not fits(growth) then
    return over(growth)
  end
  local reply = redis.pcall(unpack(a))
  settle_strings(last, olds)
  return reply
end

-- INCRBY, INCRBYFLOAT: the new size is known once done; undone when past the quota (the old
-- value is a number: cheap to keep).
local function grow_string(a)
  local k = user(a[2])
  local old = recorded(k)
  local before = redis.pcall('GET', a[2])
  local reply = redis.pcall(unpack(a))
  if type(reply) == 'table' and reply['err'] then
    return reply
  end
  local new = #k + redis.call('STRLEN', a[2])
  if not fits(new - old) then
    local growth = new - old
    if before then
      redis.call('SET', a[2], before, 'KEEPTTL')
    else
      redis.call('DEL', a[2])
    end
    return over(growth)
  end
  record(k, old, new)
  if a[1] == 'INCRBY' then
    -- Lua numbers are doubles: the exact integer goes back as text (see scripts.rs).
    return redis.call('GET', a[2])
  end
  return reply
end

-- DEL, PEXPIRE, PERSIST: nothing grows; a key they remove stops being counted.
local function shrink_keys(a, last)
  local keys, olds = {}, {}
  for i = 2, last do
    local k = user(a[i])
    keys[k] = true
    olds[k] = recorded(k)
  end
  local reply = redis.pcall(unpack(a))
  settle_strings(keys, olds)
  return reply
end

-- The size of a collection after a command that changed it by `delta`.
local function settle_collection(k, old, delta)
  if exists(k) then
    record(k, old, old + delta)
  else
    record(k, old, 0)
  end
end

-- Whether key `k` holds a type other than `want`: the command then runs as it is, for
-- Redis's own WRONGTYPE, and writes nothing.
local function wrong(k, want)
  local t = type_of(k)
  return t ~= 'none' and t ~= want
end

-- APPEND: grows by the value (and the key when new), checked before; it replies the length.
local function append(a)
  local k = user(a[2])
  if wrong(k, 'string') then
    return redis.pcall(unpack(a))
  end
  local old = recorded(k)
  local length = 0
  if old > 0 then
    length = redis.call('STRLEN', a[2])
  end
  local growth = #k + length + #a[3] - old
  if not fits(growth) then
    return over(growth)
  end
  local reply = redis.pcall(unpack(a))
  record(k, old, #k + reply)
  return reply
end

local function sadd_srem(a)
  local k = user(a[2])
  if wrong(k, 'set') then
    return redis.pcall(unpack(a))
  end
  local old, delta, seen = recorded(k), 0, {}
  local adding = a[1] == 'SADD'
  for i = 3, #a do
    local m = a[i]
    if not seen[m] then
      seen[m] = true
      local member = redis.call('SISMEMBER', a[2], m) == 1
      if adding and not member then
        delta = delta + #m
      elseif not adding and member then
        delta = delta - #m
      end
    end
  end
  if adding and old == 0 and delta > 0 then
    delta = delta + #k
  end
  if not fits(delta) then
    return over(delta)
  end
  local reply = redis.pcall(unpack(a))
  settle_collection(k, old, delta)
  return reply
end

local function push(a)
  local k = user(a[2])
  if wrong(k, 'list') then
    return redis.pcall(unpack(a))
  end
  local old, delta = recorded(k), 0
  for i = 3, #a do
    delta = delta + #a[i]
  end
  if old == 0 then
    delta = delta + #k
  end
  if not fits(delta) then
    return over(delta)
  end
  local reply = redis.pcall(unpack(a))
  settle_collection(k, old, delta)
  return reply
end

local function pop(a)
  local k = user(a[2])
  local old = recorded(k)
  local reply = redis.pcall(unpack(a))
  local delta = 0
  if type(reply) == 'string' then
    delta = -#reply
  elseif type(reply) == 'table' and not reply['err'] then
    for _, v in ipairs(reply) do
      delta = delta - #v
    end
  end
  settle_collection(k, old, delta)
  return reply
end

local function lrem(a)
  local k = user(a[2])
  local old = recorded(k)
  local reply = redis.pcall(unpack(a))
  if type(reply) == 'number' then
    settle_collection(k, old, -reply * #a[4])
  end
  return reply
end

-- HSET/HMSET (pairs from 3) and HDEL (fields from 3).
local function hash_write(a)
  local k = user(a[2])
  if wrong(k, 'hash') then
    return redis.pcall(unpack(a))
  end
  local old, delta = recorded(k), 0
  if a[1] == 'HDEL' then
    local seen = {}
    for i = 3, #a do
      local f = a[i]
      if not seen[f] then
        seen[f] = true
        if redis.call('HEXISTS', a[2], f) == 1 then
          delta = delta - #f - redis.call('HSTRLEN', a[2], f)
        end
      end
    end
  else
    local last = {}
    for i = 3, #a, 2 do
      last[a[i]] = a[i + 1]
    end
    for f, v in pairs(last) do
      if redis.call('HEXISTS', a[2], f) == 1 then
        delta = delta + #v - redis.call('HSTRLEN', a[2], f)
      else
        delta = delta + #f + #v
      end
    end
    if old == 0 then
      delta = delta + #k
    end
  end
  if not fits(delta) then
    return over(delta)
  end
  local reply = redis.pcall(unpack(a))
  settle_collection(k, old, delta)
  return reply
end

local function hincrby(a)
  local k, f = user(a[2]), a[3]
  local old = recorded(k)
  local had_key = old > 0
  local before = false
  if not wrong(k, 'hash') then
    before = redis.call('HGET', a[2], f)
  end
  local reply = redis.pcall(unpack(a))
  if type(reply) == 'table' and reply['err'] then
    return reply
  end
  local now = redis.call('HGET', a[2], f)
  local delta = #now
  if before then
    delta = delta - #before
  else
    delta = delta + #f
  end
  if not had_key then
    delta = delta + #k
  end
  if not fits(delta) then
    if before then
      redis.call('HSET', a[2], f, before)
    elseif had_key then
      redis.call('HDEL', a[2], f)
    else
      redis.call('DEL', a[2])
    end
    return over(delta)
  end
  record(k, old, old + delta)
  return now
end

-- Every key of the index that still exists (and matches `pattern`); gone ones are dropped.
local function live_keys(pattern, cursor, count, once)
  local out, seen = {}, {}
  repeat
    local args = { 'HSCAN', INDEX, cursor, 'COUNT', count }
    if pattern then
      args[#args + 1] = 'MATCH'
      args[#args + 1] = pattern
    end
    local page = redis.call(unpack(args))
    cursor = page[1]
    local pairs_ = page[2]
    for i = 1, #pairs_, 2 do
      local k = pairs_[i]
      if not seen[k] then
        seen[k] = true
        if exists(k) then
          out[#out + 1] = k
        else
          forget(k, tonumber(pairs_[i + 1]))
        end
      end
    end
  until once or cursor == '0'
  return out, cursor
end

-- FLUSHDB and FLUSHALL: every key of the namespace, and its count.
local function flush()
  local cursor = '0'
  repeat
    local page = redis.call('HSCAN', INDEX, cursor, 'COUNT', 1000)
    cursor = page[1]
    local pairs_ = page[2]
    for i = 1, #pairs_, 2 do
      redis.call('UNLINK', prefix .. pairs_[i])
    end
  until cursor == '0'
  redis.call('DEL', INDEX)
  used = 0
  return redis.status_reply('OK')
end

-- The commands the script does more than run: writes (their accounting) and the listings.
local writes = {
  SET = function(a) return write_strings(a, 2, #a) end,
  SETNX = function(a) return write_strings(a, 2, 2) end,
  GETSET = function(a) return write_strings(a, 2, 2) end,
  MSET = function(a) return write_strings(a, 2, 2) end,
  INCRBY = grow_string,
  INCRBYFLOAT = grow_string,
  APPEND = append,
  DEL = function(a) return shrink_keys(a, #a) end,
  PEXPIRE = function(a) return shrink_keys(a, 2) end,
  PERSIST = function(a) return shrink_keys(a, 2) end,
  SADD = sadd_srem,
  SREM = sadd_srem,
  LPUSH = push,
  RPUSH = push,
  LPOP = pop,
  RPOP = pop,
  LREM = lrem,
  HSET = hash_write,
  HMSET = hash_write,
  HDEL = hash_write,
  HINCRBY = hincrby,
  -- Not Redis commands: what KEYS, SCAN, DBSIZE and FLUSH become (see rewrite.rs).
  ['WISP.KEYS'] = function(a) return (live_keys(a[2], '0', 1000, false)) end,
  ['WISP.SCAN'] = function(a)
    local keys, cursor = live_keys(a[4], a[2], a[3], true)
    return { cursor, keys }
  end,
  ['WISP.DBSIZE'] = function() return #live_keys(nil, '0', 1000, false) end,
  ['WISP.FLUSH'] = flush,
}

local function finish(reply)
  if used == used_at_start then
    return reply
  end
  if used > 0 then
    redis.call('SET', USED, used)
  else
    redis.call('DEL', USED)
  end
  return reply
end

if mode == 'run' then
  -- ARGV[4..]: commands, each as its argument count then its arguments (keys prefixed).
  local replies, i = {}, 4
  while i <= #ARGV do
    local n = tonumber(ARGV[i])
    local a = { unpack(ARGV, i + 1, i + n) }
    i = i + n + 1
    local write = writes[a[1]]
    if write then
      replies[#replies + 1] = write(a)
    else
      replies[#replies + 1] = redis.pcall(unpack(a))
    end
  end
  return finish(replies)
elseif mode == 'swap' then
  -- ARGV[4] expected count, then key, '1' or '0' (present or absent), value per key; then
  -- the writes' count and the same triples ('0': delete).
  local n, i = tonumber(ARGV[4]), 5
  for _ = 1, n do
    local k, present, v = ARGV[i], ARGV[i + 1] == '1', ARGV[i + 2]
    i = i + 3
    local t = type_of(k)
    if t ~= 'none' and t ~= 'string' then
      return redis.error_reply(WRONGTYPE)
    end
    local current = redis.call('GET', prefix .. k)
    if (present and current ~= v) or (not present and current) then
      return finish(0)
    end
  end
  local m = tonumber(ARGV[i])
  i = i + 1
  local olds, news, order, writes_, growth = {}, {}, {}, {}, 0
  for _ = 1, m do
    local k, present, v = ARGV[i], ARGV[i + 1] == '1', ARGV[i + 2]
    i = i + 3
    writes_[#writes_ + 1] = { k, present, v }
    if olds[k] == nil then
      olds[k] = recorded(k)
      news[k] = olds[k]
      order[#order + 1] = k
    end
    local new = 0
    if present then
      new = #k + #v
    end
    growth = growth + new - news[k]
    news[k] = new
  end
  if not fits(growth) then
    return finish(over(growth))
  end
  for _, w in ipairs(writes_) do
    if w[2] then
      redis.call('SET', prefix .. w[1], w[3], 'KEEPTTL')
    else
      redis.call('DEL', prefix .. w[1])
    end
  end
  for _, k in ipairs(order) do
    record(k, olds[k], news[k])
  end
  return finish(1)
end
return redis.error_reply('ERR unknown wisp script mode ' .. tostring(mode))
