'use strict'
// A Wisp cluster through the official `openwhisk` npm client: two controllers (A at
// WISP_APIHOST, B at WISP_APIHOST_B) over one PostgreSQL, three invokers over NATS, key-value
// data in one Redis. tests/it/cluster.rs starts the processes and names, in WISP_KILL_INVOKER
// and WISP_KILL_CONTROLLER, the invoker and the controller (B) this file kills with SIGKILL.
// The tests run in order: the last kills controller B.

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const openwhisk = require('openwhisk')
const { sleep, waitForActivation } = require('./support')

const a = openwhisk({ apihost: process.env.WISP_APIHOST, api_key: process.env.WISP_AUTH })
const b = openwhisk({ apihost: process.env.WISP_APIHOST_B, api_key: process.env.WISP_AUTH })
const RUN = crypto.randomBytes(4).toString('hex')
const name = base => `cluster-${base}-${RUN}`
let NS

async function action (base, code, extra = {}) {
  const n = name(base)
  await a.actions.create({ name: n, action: { exec: { kind: 'nodejs:20', code }, ...extra } })
  return n
}

/** Retries a call that fails while the cluster settles (invokers joining or leaving). */
async function eventually (call, what, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await call()
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what}: ${err.message}`)
      await sleep(200)
    }
  }
}

const SLOW = 'async function main (p) { await new Promise(r => setTimeout(r, 300)); return { i: p.i } }'

describe('a cluster of two controllers and three invokers', () => {
  before(async () => {
    NS = (await a.namespaces.list())[0]
    // Until every invoker has joined, a blocking invoke may be refused.
    const probe = await action('probe', 'function main () { return { up: true } }')
    await eventually(() => b.actions.invoke({ name: probe, blocking: true, result: true }), 'the cluster serves')
  })

  it('runs through one controller what was created through the other', async () => {
    const hello = await action('hello', "function main (p) { return { greeting: 'hello ' + p.name } }")
    for (const ow of [a, b]) {
      const result = await ow.actions.invoke({ name: hello, params: { name: 'cluster' }, blocking: true, result: true })
      assert.deepEqual(result, { greeting: 'hello cluster' })
    }
    const listed = await b.actions.list({ limit: 200 })
    assert.ok(listed.some(x => x.name === hello), 'B lists what A created')
  })

  it('reads through either controller an activation started through the other', async () => {
    const echo = await action('echo', 'function main (p) { return p }')
    const { activationId } = await a.actions.invoke({ name: echo, params: { n: 7 } })
    const record = await waitForActivation(b, activationId)
    assert.equal(record.response.status, 'success')
    assert.deepEqual(record.response.result, { n: 7 })
    const again = await b.actions.invoke({ name: echo, params: { n: 8 } })
    assert.deepEqual((await waitForActivation(a, again.activationId)).response.result, { n: 8 })
  })

  it('runs sequences and conductor actions across controllers and invokers', async () => {
    const inc = await action('inc', 'function main (p) { return { n: p.n + 1 } }')
    const double = await action('double', 'function main (p) { return { n: p.n * 2 } }')
    const seq = name('seq')
    await a.actions.create({
      name: seq,
      action: { exec: { kind: 'sequence', components: [`/${NS}/${inc}`, `/${NS}/${double}`, `/${NS}/${inc}`] } }
    })
    assert.deepEqual(await b.actions.invoke({ name: seq, params: { n: 3 }, blocking: true, result: true }), { n: 9 })

    const conductor = await action('conductor', `function main (p) {
      if (p.$step === undefined) return { action: '/${NS}/${double}', params: { n: p.n }, state: { $step: 1 } }
      return { params: { n: p.n, done: true } }
    }`, { annotations: [{ key: 'conductor', value: true }] })
    const record = await b.actions.invoke({ name: conductor, params: { n: 5 }, blocking: true })
    assert.deepEqual(record.response.result, { n: 10, done: true })
  })

  it('serves through either controller the objects stored through the other', async () => {
    const auth = 'Basic ' + Buffer.from(process.env.WISP_AUTH).toString('base64')
    const url = (host, key) => `${host}/api/v1/namespaces/_/objects/${key}`
    const key = `cluster-${RUN}.txt`
    const put = await fetch(url(process.env.WISP_APIHOST, key), {
      method: 'PUT', headers: { authorization: auth, 'content-type': 'text/plain' }, body: 'stored through A'
    })
    assert.equal(put.status, 200, await put.text())
    const got = await fetch(url(process.env.WISP_APIHOST_B, key), { headers: { authorization: auth } })
    assert.equal(got.status, 200)
    assert.equal(got.headers.get('content-type'), 'text/plain')
    assert.equal(await got.text(), 'stored through A')

    // A URL signed through A opens through B: the controllers share the signing key.
    const signed = await fetch(url(process.env.WISP_APIHOST, key) + '?op=url', { method: 'POST', headers: { authorization: auth } })
    assert.equal(signed.status, 200)
    const { url: signedUrl } = await signed.json()
    const throughB = signedUrl.replace(process.env.WISP_APIHOST, process.env.WISP_APIHOST_B)
    assert.notEqual(throughB, signedUrl)
    const opened = await fetch(throughB)
    assert.equal(opened.status, 200)
    assert.equal(await opened.text(), 'stored through A')
  })

  it('runs an action whose code is larger than a NATS message', async () => {
    // 1.5 MB of code (a bundled function, say): over NATS's default 1 MiB message limit.
    const padding = '// ' + 'x'.repeat(1500 * 1024) + '\n'
    const big = await action('big', padding + 'function main (p) { return { echoed: p.data.length } }')
    const data = 'y'.repeat(900 * 1024)
    const result = await b.actions.invoke({ name: big, params: { data }, blocking: true, result: true })
    assert.deepEqual(result, { echoed: data.length })
  })

  it('shares key-value data between functions on different invokers', async () => {
    // Each action has its own home invoker; nine of them reach all three invokers but by
    // rare chance. Every one counts in the same Redis key through its own invoker's endpoint.
    const code = `const net = require('net')
      const resp = args => '*' + args.length + '\\r\\n' + args.map(x => '$' + Buffer.byteLength(x) + '\\r\\n' + x + '\\r\\n').join('')
      function main () {
        return new Promise((resolve, reject) => {
          const socket = net.connect(6379, process.env.__NIM_REDIS_IP)
          let text = ''
          socket.on('data', d => {
            text += d
            const lines = text.split('\\r\\n')
            if (lines.length < 3) return
            socket.end()
            if (lines[0] !== '+OK') return reject(new Error(lines[0]))
            resolve({ count: Number(lines[1].slice(1)) })
          })
          socket.on('error', reject)
          socket.write(resp(['AUTH', process.env.__NIM_REDIS_PASSWORD]) + resp(['INCR', 'hits']))
        })
      }`
    const counters = []
    for (let i = 0; i < 9; i++) counters.push(await action(`kv${i}`, code))
    const counts = []
    for (const [i, counter] of counters.entries()) {
      const ow = i % 2 ? b : a
      counts.push((await ow.actions.invoke({ name: counter, blocking: true, result: true })).count)
    }
    assert.deepEqual(counts, [1, 2, 3, 4, 5, 6, 7, 8, 9])
  })

  it('fires each tick of an alarm once between the controllers, until deleted through either', async () => {
    const ALARM = '/whisk.system/alarms/alarm'
    const echo = await action('alarm-echo', 'function main (p) { return p }')
    const trigger = name('alarm')
    await a.triggers.create({ name: trigger, trigger: { annotations: [{ key: 'feed', value: ALARM }] } })
    await a.rules.create({ name: name('alarm-rule'), trigger, action: echo })
    const fires = async since => (await b.activations.list({ name: echo, since, limit: 200 })).length

    const since = Date.now()
    await a.feeds.create({ name: ALARM, trigger, params: { cron: '* * * * * *', trigger_payload: { tick: true } } })
    await sleep(8000)
    const elapsed = (Date.now() - since) / 1000
    const fired = await fires(since)
    // Every second one fire: both controllers firing would make about twice as many.
    assert.ok(fired >= 3 && fired <= elapsed + 1, `${fired} fires in ${elapsed} s`)

    await b.feeds.delete({ name: ALARM, trigger })
    // The controller that fired last learns of the deletion within its reload period (5 s).
    await sleep(6000)
    const settled = await fires(since)
    await sleep(3000)
    assert.equal(await fires(since), settled, 'no fires after the feed was deleted')
  })

  it('accounts for every acknowledged activation when an invoker is killed under load', async () => {
    const slow = []
    for (let i = 0; i < 6; i++) slow.push(await action(`slow${i}`, SLOW))
    const acknowledged = []
    const calls = []
    for (let round = 0; round < 6; round++) {
      for (const [i, n] of slow.entries()) {
        const ow = (round + i) % 2 ? b : a
        calls.push(ow.actions.invoke({ name: n, params: { i } }).then(r => acknowledged.push(r.activationId)))
      }
      if (round === 2) process.kill(Number(process.env.WISP_KILL_INVOKER), 'SIGKILL')
      await sleep(100)
    }
    await Promise.all(calls)
    assert.equal(acknowledged.length, 36, 'every non-blocking invoke was accepted')

    const outcomes = {}
    for (const id of acknowledged) {
      const record = await waitForActivation(a, id, 60000)
      outcomes[record.response.status] = (outcomes[record.response.status] || 0) + 1
    }
    const lost = outcomes['whisk internal error'] || 0
    assert.equal((outcomes.success || 0) + lost, 36, JSON.stringify(outcomes))
    console.log(`after kill -9 of an invoker: ${JSON.stringify(outcomes)}`)

    // New work goes to the invokers that are left.
    for (const n of slow) {
      const result = await eventually(() => b.actions.invoke({ name: n, params: { i: -1 }, blocking: true, result: true }), `${n} runs again`)
      assert.deepEqual(result, { i: -1 })
    }
  })

  it('accounts for every activation a controller acknowledged before it was killed', async () => {
    const slow = await action('slow-c', SLOW)
    const acknowledged = []
    let refused = 0
    for (let i = 0; i < 20; i++) {
      if (i === 10) process.kill(Number(process.env.WISP_KILL_CONTROLLER), 'SIGKILL')
      try {
        acknowledged.push((await b.actions.invoke({ name: slow, params: { i } })).activationId)
      } catch (err) {
        refused++ // B is gone: nothing was acknowledged
      }
    }
    assert.ok(acknowledged.length >= 10, `${acknowledged.length} acknowledged`)
    assert.equal(acknowledged.length + refused, 20)

    // Controller A adopts what B left: each record is readable through A.
    const outcomes = {}
    for (const id of acknowledged) {
      const record = await waitForActivation(a, id, 60000)
      outcomes[record.response.status] = (outcomes[record.response.status] || 0) + 1
    }
    assert.equal((outcomes.success || 0) + (outcomes['whisk internal error'] || 0), acknowledged.length, JSON.stringify(outcomes))
    // Their outcomes were kept on the bus for B: the records say what happened, not merely
    // that B was interrupted (only a run still going when A adopted them could not).
    assert.ok(outcomes.success >= 1, JSON.stringify(outcomes))
    console.log(`after kill -9 of a controller: ${JSON.stringify(outcomes)}`)
  })
})
