'use strict'
// Wisp compatibility suite, part three: per-namespace throttles and the overrides an operator
// sets with the real `wisp admin limits` on the running server's data directory, seen through the
// official `openwhisk` npm client. Run with suite.js by `cargo test --test it compat`, which
// starts the server with `--identity-cache-ttl 1` (so admin changes show within a second) and
// `--fires-per-minute 600000` (so the fire default is told apart from the invocation default).
//
// Two fresh namespaces: A gets overrides and is driven into every throttle; B, its neighbour,
// must not notice.

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const { execFileSync } = require('node:child_process')
const openwhisk = require('openwhisk')
const { sleep, waitForActivation } = require('./support')

const apihost = process.env.WISP_APIHOST
const wisp = process.env.WISP_BIN
const dataDir = process.env.WISP_DATA_DIR
if (!apihost || !wisp || !dataDir) {
  throw new Error('set WISP_APIHOST, WISP_BIN (the wisp binary) and WISP_DATA_DIR (the server\'s data directory)')
}

const RUN = crypto.randomBytes(4).toString('hex')
const A = `quota-a-${RUN}`
const B = `quota-b-${RUN}`
const SYSTEM = { invocationsPerMinute: 1000000, concurrentInvocations: 1000, firesPerMinute: 600000 }
const SET = { invocationsPerMinute: 3, concurrentInvocations: 1, firesPerMinute: 2 }
let owA, owB

function admin (...args) {
  // stderr is kept (it is in the thrown error's message), not passed to the suite's output.
  const options = { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }
  return execFileSync(wisp, ['admin', '--data-dir', dataDir, ...args], options).trim()
}

function limits (ow) {
  return ow.actions.client.request('GET', 'namespaces/_/limits')
}

/** Awaits a promise that must reject with a 429 and exactly `message`. */
async function throttled (promise, message) {
  try {
    const result = await promise
    assert.fail(`expected HTTP 429, got ${JSON.stringify(result)}`)
  } catch (err) {
    assert.equal(err.statusCode, 429, err.message)
    assert.equal(err.error.error, message)
    assert.match(err.error.code, /^[A-Za-z0-9]{32}$/)
  }
}

/** Per-minute counts live in fixed minutes: start a check well inside one (waits ≤ 15 s). */
async function awayFromMinuteEdge () {
  const into = Date.now() % 60000
  if (into > 45000) await sleep(60000 - into + 200)
}

/** Calls `attempt` until it is refused (at most `most` times); returns how many got through. */
async function untilThrottled (attempt, message, most) {
  for (let passed = 0; passed < most; passed++) {
    try {
      await attempt()
    } catch (err) {
      assert.equal(err.statusCode, 429, err.message)
      assert.equal(err.error.error, message)
      return passed
    }
  }
  assert.fail(`no 429 within ${most} attempts`)
}

async function neighbourStillWorks () {
  const run = await owB.actions.invoke({ name: 'fast', params: { n: 1 }, blocking: true, result: true })
  assert.equal(run.n, 1)
}

before(async () => {
  // Overrides are set before A's first request, so no cached identity predates them.
  owA = openwhisk({ apihost, api_key: admin('namespace', 'create', A) })
  owB = openwhisk({ apihost, api_key: admin('namespace', 'create', B) })
  admin('limits', 'set', A, '--invocations-per-minute', '3', '--concurrent-invocations', '1')
  admin('limits', 'set', A, '--fires-per-minute', '2')
  for (const ow of [owA, owB]) {
    await ow.actions.create({ name: 'fast', action: 'function main(p) { return p }' })
    await ow.actions.create({
      name: 'slow',
      action: 'function main() { return new Promise(r => setTimeout(() => r({ slept: true }), 2000)) }'
    })
    await ow.triggers.create({ name: 'tick' })
    await ow.rules.create({ name: 'onTick', trigger: 'tick', action: 'fast' })
  }
})

after(() => {
  for (const ns of [A, B]) {
    try { admin('namespace', 'delete', ns) } catch (_) {}
  }
})

describe('namespace limits', { timeout: 90000 }, () => {
  it('wisp admin limits set merges flags into the overrides; get prints them', () => {
    assert.deepEqual(JSON.parse(admin('limits', 'get', A, '--json')), SET)
    assert.deepEqual(JSON.parse(admin('limits', 'get', B, '--json')), {})
    assert.match(admin('limits', 'get', A), /^firesPerMinute\s+2$/m)
    assert.throws(() => admin('limits', 'set', `quota-none-${RUN}`, '--fires-per-minute', '1'),
      /has no keys: create it first/)
  })

  it('the limits route shows the overrides, and the system values elsewhere', async () => {
    const a = await limits(owA)
    assert.deepEqual({ invocationsPerMinute: a.invocationsPerMinute, concurrentInvocations: a.concurrentInvocations, firesPerMinute: a.firesPerMinute }, SET)
    assert.equal(a.maxActionInstances, 1)
    const b = await limits(owB)
    assert.deepEqual({ invocationsPerMinute: b.invocationsPerMinute, concurrentInvocations: b.concurrentInvocations, firesPerMinute: b.firesPerMinute }, SYSTEM)
    const info = await (await fetch(`${apihost}/api/v1`)).json()
    assert.equal(info.limits.actions_per_minute, SYSTEM.invocationsPerMinute)
    assert.equal(info.limits.triggers_per_minute, SYSTEM.firesPerMinute)
    assert.equal(info.limits.concurrent_actions, SYSTEM.concurrentInvocations)
  })

  it('refuses a second activation in flight with 429; the neighbour runs meanwhile', async () => {
    await awayFromMinuteEdge()
    const held = await owA.actions.invoke({ name: 'slow' })
    await throttled(owA.actions.invoke({ name: 'fast', blocking: true }),
      'Too many concurrent requests in flight (count: 1, allowed: 1).')
    // B has a thousand slots: two of its own slow runs and a fast one all go at once.
    const [s1, s2] = await Promise.all([
      owB.actions.invoke({ name: 'slow', blocking: true, result: true }),
      owB.actions.invoke({ name: 'slow', blocking: true, result: true }),
      neighbourStillWorks()
    ])
    assert.deepEqual([s1, s2], [{ slept: true }, { slept: true }])
    const record = await waitForActivation(owA, held.activationId)
    assert.deepEqual(record.response.result, { slept: true })
    // The slot is free again.
    await owA.actions.invoke({ name: 'fast', blocking: true })
  })

  it('refuses invocations past the per-minute limit with 429; the neighbour runs on', async () => {
    await awayFromMinuteEdge()
    const passed = await untilThrottled(
      () => owA.actions.invoke({ name: 'fast', blocking: true }),
      'Too many requests in the last minute (count: 3, allowed: 3).',
      SET.invocationsPerMinute + 1)
    assert.ok(passed <= SET.invocationsPerMinute)
    await neighbourStillWorks()
    await throttled(owA.actions.invoke({ name: 'fast' }),
      'Too many requests in the last minute (count: 3, allowed: 3).')
  })

  it('refuses trigger fires past the per-minute limit with 429; the neighbour fires on', async () => {
    await awayFromMinuteEdge()
    const passed = await untilThrottled(
      async () => assert.match((await owA.triggers.invoke({ name: 'tick' })).activationId, /^[0-9a-f]{32}$/),
      'Too many requests in the last minute (count: 2, allowed: 2).',
      SET.firesPerMinute + 1)
    assert.ok(passed <= SET.firesPerMinute)
    for (let i = 0; i < SET.firesPerMinute + 2; i++) {
      const fired = await owB.triggers.invoke({ name: 'tick', params: { i } })
      assert.match(fired.activationId, /^[0-9a-f]{32}$/)
    }
    await neighbourStillWorks()
  })

  it('wisp admin limits delete restores the system values within the cache time', async () => {
    assert.match(admin('limits', 'delete', A), /^ok: /)
    assert.deepEqual(JSON.parse(admin('limits', 'get', A, '--json')), {})
    assert.throws(() => admin('limits', 'delete', A), /has no limits of its own/)
    const deadline = Date.now() + 10000
    while ((await limits(owA)).invocationsPerMinute !== SYSTEM.invocationsPerMinute) {
      assert.ok(Date.now() < deadline, 'the override is still applied 10 s after its deletion')
      await sleep(200)
    }
    assert.equal((await limits(owA)).firesPerMinute, SYSTEM.firesPerMinute)
    const run = await owA.actions.invoke({ name: 'fast', params: { back: true }, blocking: true, result: true })
    assert.equal(run.back, true)
    const fired = await owA.triggers.invoke({ name: 'tick' })
    assert.match(fired.activationId, /^[0-9a-f]{32}$/)
  })
})
