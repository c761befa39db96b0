#pragma once

#include <string>
#include <string_view>
#include <vector>

/// The Lua scripts that are the only writers of the cluster's shared records in Redis (each runs
/// atomically there). Keys: `rrpcd:slot:{n}` a node's slot lease (`{epoch} {holder}`, PX lease),
/// `rrpcd:epoch` the fencing counter, `rrpcd:dev:{pk}/{dn}` a device's presence (a hash: node,
/// epoch, session, ka (s), state on|lost, time (Redis' clock, ms)); channel `rrpcd:inbox:{n}` a
/// node's inbox. Times are Redis' own (TIME), so that nodes' clocks do not matter.
namespace rrpcd::cluster::scripts {

/// The command that runs `script` (one of those below) with `keys` and `args`: EVALSHA by the
/// script's SHA-1, so that each call sends its arguments, not the script; a Redis that lacks the
/// script (restarted, SCRIPT FLUSH) answers NOSCRIPT, and the connection sends it once by EVAL
/// (script_named()).
std::vector<std::string> script_call(std::string_view script, std::vector<std::string> keys,
                                     std::vector<std::string> args);
/// The script a script_call() named by `sha`; empty when none did.
std::string_view script_named(std::string_view sha);

/// Claims a slot. ARGV: the slot wanted (-1: any), the holder's description, lease ms, the slot
/// remembered from the last run (-1: none). Returns {slot, epoch}, {-1, holder} when the slot
/// wanted is held, {-2} when all 32 are.
inline constexpr std::string_view claim = R"lua(
local function free(n) return redis.call('EXISTS', 'rrpcd:slot:' .. n) == 0 end
local want, slot = tonumber(ARGV[1]), -1
if want >= 0 then
  if not free(want) then return {-1, redis.call('GET', 'rrpcd:slot:' .. want)} end
  slot = want
else
  local remembered = tonumber(ARGV[4])
  if remembered >= 0 and free(remembered) then slot = remembered
  else for n = 0, 31 do if free(n) then slot = n break end end end
  if slot < 0 then return {-2} end
end
local epoch = redis.call('INCR', 'rrpcd:epoch')
redis.call('SET', 'rrpcd:slot:' .. slot, epoch .. ' ' .. ARGV[2], 'PX', ARGV[3])
return {slot, epoch}
)lua";

/// Renews a slot held with an epoch. ARGV: slot, epoch, lease ms, holder. Returns {1, epoch,
/// peers} renewed; {2, new epoch, peers} when it had lapsed and was free (Redis restarted or
/// failed over): claimed again, and the node re-asserts its sessions (also when the slot holds
/// this very holder's claim under another epoch: a renewal whose answer was lost had claimed it
/// again); {-1, holder} when another node holds it. `peers`: the other slots held.
inline constexpr std::string_view renew = R"lua(
local key = 'rrpcd:slot:' .. ARGV[1]
local function peers()
  local n = 0
  for i = 0, 31 do
    if tostring(i) ~= ARGV[1] and redis.call('EXISTS', 'rrpcd:slot:' .. i) == 1 then n = n + 1 end
  end
  return n
end
local v = redis.call('GET', key)
if v then
  local e, holder = string.match(v, '^(%d+) (.*)$')
  if e == ARGV[2] then
    redis.call('PEXPIRE', key, ARGV[3])
    return {1, tonumber(ARGV[2]), peers()}
  end
  -- Its own claim again (a renewal that claimed it ran, but its answer never came back): the
  -- holder names this very process.
  if holder == ARGV[4] then
    redis.call('PEXPIRE', key, ARGV[3])
    return {2, tonumber(e), peers()}
  end
  return {-1, v}
end
local epoch = redis.call('INCR', 'rrpcd:epoch')
redis.call('SET', key, epoch .. ' ' .. ARGV[4], 'PX', ARGV[3])
return {2, epoch, peers()}
)lua";

/// Gives a slot up (shutdown), if still held with this epoch. ARGV: slot, epoch.
inline constexpr std::string_view release = R"lua(
local key = 'rrpcd:slot:' .. ARGV[1]
local v = redis.call('GET', key)
if v and string.match(v, '^(%d+) ') == ARGV[2] then redis.call('DEL', key) return 1 end
return 0
)lua";

/// A session of the device went online on a node. KEYS[1]: its presence. ARGV: node, epoch,
/// session, keep-alive s, login|reassert. Returns {node, session} of a session still online
/// elsewhere (the caller kicks it), else {}. `reassert` (the node's slot was claimed again
/// after an outage) yields to a session on another live node: {-1}, nothing written (the caller
/// closes its own).
inline constexpr std::string_view online = R"lua(
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local old = redis.call('HMGET', KEYS[1], 'node', 'session', 'state', 'epoch')
if ARGV[5] == 'reassert' and old[3] == 'on' and old[1] ~= ARGV[1] then
  local lease = redis.call('GET', 'rrpcd:slot:' .. old[1])
  if lease and string.match(lease, '^(%d+) ') == old[4] then return {-1} end
end
redis.call('HSET', KEYS[1], 'node', ARGV[1], 'epoch', ARGV[2], 'session', ARGV[3], 'ka', ARGV[4],
           'state', 'on', 'time', now)
redis.call('PERSIST', KEYS[1])
if old[3] == 'on' and (old[1] ~= ARGV[1] or old[2] ~= ARGV[3]) then
  return {tonumber(old[1]), old[2]}
end
return {}
)lua";

/// That session ended, cleanly (`left`: the record goes) or not (`lost`: kept for one
/// keep-alive, while calls end HALFCONN). Only the record of that very session is touched (a
/// late end after a takeover changes nothing). KEYS[1]: presence. ARGV: node, epoch, session,
/// left|lost. Returns 1 when it was that session's.
inline constexpr std::string_view offline = R"lua(
local cur = redis.call('HMGET', KEYS[1], 'node', 'epoch', 'session', 'ka')
if cur[1] ~= ARGV[1] or cur[2] ~= ARGV[2] or cur[3] ~= ARGV[3] then return 0 end
if ARGV[4] == 'left' then redis.call('DEL', KEYS[1]) return 1 end
local t = redis.call('TIME')
redis.call('HSET', KEYS[1], 'state', 'lost', 'time', t[1] * 1000 + math.floor(t[2] / 1000))
redis.call('PEXPIRE', KEYS[1], tonumber(cur[4]) * 1000 + 1000)
return 1
)lua";

/// Where a device is, and (ARGV[1] not empty) a message to its node's inbox. KEYS[1]: presence.
/// Returns {0} offline (no record, or lost longer than its keep-alive ago); {1} half-connected
/// (lost within its keep-alive, its node's lease gone or renewed with another epoch: the record
/// is then reaped as lost now, or nobody listens on its inbox); {2, node} the message was
/// published; {3, node} online there (no message).
inline constexpr std::string_view route = R"lua(
local p = redis.call('HMGET', KEYS[1], 'node', 'epoch', 'ka', 'state', 'time')
if not p[1] then return {0} end
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local ka = tonumber(p[3]) * 1000
if p[4] == 'on' then
  local lease = redis.call('GET', 'rrpcd:slot:' .. p[1])
  if (not lease) or string.match(lease, '^(%d+) ') ~= p[2] then
    redis.call('HSET', KEYS[1], 'state', 'lost', 'time', now)
    redis.call('PEXPIRE', KEYS[1], ka + 1000)
    if ka > 0 then return {1} end
    return {0}
  end
  if ARGV[1] == '' then return {3, tonumber(p[1])} end
  if redis.call('PUBLISH', 'rrpcd:inbox:' .. p[1], ARGV[1]) == 0 then return {1} end
  return {2, tonumber(p[1])}
end
if p[4] == 'lost' and now - tonumber(p[5]) < ka then return {1} end
return {0}
)lua";

/// Parks a QoS 1 message for a device online nowhere, for its next login on any node. KEYS[1]:
/// presence, KEYS[2]: the device's parked queue (`rrpcd:q:{pk}/{dn}`, oldest first). ARGV: the
/// message, the most a queue holds. Returns the queue's length; -1 full (refused); -2 online on
/// a live node now (nothing parked: it goes to that node).
inline constexpr std::string_view park = R"lua(
local p = redis.call('HMGET', KEYS[1], 'node', 'epoch', 'state')
if p[3] == 'on' then
  local lease = redis.call('GET', 'rrpcd:slot:' .. p[1])
  if lease and string.match(lease, '^(%d+) ') == p[2] then return -2 end
end
if redis.call('LLEN', KEYS[2]) >= tonumber(ARGV[2]) then return -1 end
return redis.call('RPUSH', KEYS[2], ARGV[1])
)lua";

/// The liveness of many devices in one round trip. KEYS: their presence records. Returns, for
/// each, 0 offline, 1 half-connected, 3 online (as route() says; a record whose node is gone is
/// reaped as lost now, as there).
inline constexpr std::string_view status = R"lua(
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local out = {}
for i, key in ipairs(KEYS) do
  local p = redis.call('HMGET', key, 'node', 'epoch', 'ka', 'state', 'time')
  local v = 0
  if p[1] then
    local ka = tonumber(p[3]) * 1000
    if p[4] == 'on' then
      local lease = redis.call('GET', 'rrpcd:slot:' .. p[1])
      if lease and string.match(lease, '^(%d+) ') == p[2] then
        v = 3
      else
        redis.call('HSET', key, 'state', 'lost', 'time', now)
        redis.call('PEXPIRE', key, ka + 1000)
        if ka > 0 then v = 1 end
      end
    elseif p[4] == 'lost' and now - tonumber(p[5]) < ka then
      v = 1
    end
  end
  out[i] = v
end
return out
)lua";

/// The channel on which each change to the shared catalog is told (`d {pk}/{dn}`, `p {pk}`):
/// every node reads the record again and applies it.
inline constexpr std::string_view catalog_channel = "rrpcd:catalog";
/// The channel on which each async answer a node matched is told to every node's reply streams.
inline constexpr std::string_view replies_channel = "rrpcd:replies";

/// Writes catalog records and tells each change. ARGV: triples (kind `d` or `p`, field, the
/// record's JSON; an empty JSON deletes it), then the mode: `put`; `seed` (a record already
/// there stays: a node starting does not undo what another changed); or `active` (the third of
/// each triple is the device's first login time, set only where the record has none: a login
/// never overwrites a change another node made meanwhile, a DisableThing say). Returns how many
/// were written.
inline constexpr std::string_view catalog_write = R"lua(
local n, mode = 0, ARGV[#ARGV]
for i = 1, #ARGV - 1, 3 do
  local hash = ARGV[i] == 'd' and 'rrpcd:devices' or 'rrpcd:products'
  local done = 0
  if mode == 'active' then
    local cur = redis.call('HGET', hash, ARGV[i + 1])
    if cur then
      local now, k = string.gsub(cur, '"active_ms":0([,}])', '"active_ms":' .. ARGV[i + 2] .. '%1', 1)
      if k == 1 then redis.call('HSET', hash, ARGV[i + 1], now) done = 1 end
    end
  elseif ARGV[i + 2] == '' then done = redis.call('HDEL', hash, ARGV[i + 1])
  elseif mode == 'seed' then done = redis.call('HSETNX', hash, ARGV[i + 1], ARGV[i + 2])
  else redis.call('HSET', hash, ARGV[i + 1], ARGV[i + 2]) done = 1 end
  if done == 1 then
    n = n + 1
    redis.call('PUBLISH', 'rrpcd:catalog', ARGV[i] .. ' ' .. ARGV[i + 1])
  end
end
if mode == 'seed' then redis.call('SET', 'rrpcd:catalog:seeded', '1') end
return n
)lua";
}  // namespace rrpcd::cluster::scripts
