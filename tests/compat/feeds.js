'use strict'
// Wisp compatibility suite, part three: the shipped `whisk.system` packages (utils, and the
// alarms feeds) through the official `openwhisk` npm client. Run by `cargo test --test it compat`.

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const openwhisk = require('openwhisk')
const { rejects, sleep } = require('./support')

const ow = openwhisk({ apihost: process.env.WISP_APIHOST, api_key: process.env.WISP_AUTH })
const RUN = crypto.randomBytes(4).toString('hex')
const name = base => `feeds-${base}-${RUN}`
const ECHO = 'function main(params) { return params }'
const ALARM = '/whisk.system/alarms/alarm'
let NS

/** Results of the activations of `action` since `since`, oldest first. */
async function results (action, since) {
  const list = await ow.activations.list({ name: action, since, docs: true, limit: 200 })
  return list.reverse().map(a => a.response.result)
}

/** Polls until `action` has at least `count` activations since `since`. */
async function awaitResults (action, since, count, timeoutMs) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const found = await results(action, since)
    if (found.length >= count) return found
    if (Date.now() > deadline) assert.fail(`${found.length} of ${count} activations of ${action} within ${timeoutMs} ms`)
    await sleep(200)
  }
}

/** A trigger with the feed annotation and a rule to an echo action. */
async function wiredTrigger (base, feed = ALARM) {
  const trigger = name(base)
  const action = name(`${base}-echo`)
  await ow.actions.create({ name: action, action: ECHO })
  await ow.triggers.create({ name: trigger, trigger: { annotations: [{ key: 'feed', value: feed }] } })
  await ow.rules.create({ name: name(`${base}-rule`), trigger, action })
  return { trigger, action, rule: name(`${base}-rule`) }
}

async function unwire ({ trigger, action, rule }) {
  await ow.rules.delete({ name: rule }).catch(() => {})
  await ow.triggers.delete({ name: trigger }).catch(() => {})
  await ow.actions.delete({ name: action }).catch(() => {})
}

before(async () => {
  NS = (await ow.namespaces.list())[0]
})

describe('whisk.system packages', { timeout: 30000 }, () => {
  it('are published and list their actions and feeds', async () => {
    const alarms = await ow.packages.get({ name: '/whisk.system/alarms' })
    assert.equal(alarms.publish, true)
    assert.deepEqual(alarms.feeds.map(f => f.name).sort(), ['alarm', 'interval', 'once'])
    const utils = await ow.packages.get({ name: '/whisk.system/utils' })
    assert.deepEqual(utils.actions.map(a => a.name).sort(), ['cat', 'date', 'echo', 'head', 'sort', 'split'])
    const listed = await ow.packages.list({ namespace: 'whisk.system' })
    assert.deepEqual(listed.map(p => p.name).sort(), ['alarms', 'utils'])
  })

  it('utils can be chained by hand and reached through a binding', async () => {
    const invoke = (action, params) => ow.actions.invoke({ name: `/whisk.system/utils/${action}`, params, blocking: true, result: true })
    const split = await invoke('split', { payload: 'pear\napple\nfig' })
    assert.deepEqual(split.lines, ['pear', 'apple', 'fig'])
    const sorted = await invoke('sort', { lines: split.lines })
    assert.deepEqual(sorted, { lines: ['apple', 'fig', 'pear'], length: 3 })
    const head = await invoke('head', { lines: sorted.lines, num: 2 })
    assert.deepEqual(head.lines, ['apple', 'fig'])
    const cat = await invoke('cat', { lines: head.lines })
    assert.equal(cat.payload, 'apple\nfig')
    const date = await invoke('date', {})
    assert.ok(Math.abs(Date.parse(date.date) - Date.now()) < 60000, date.date)

    const binding = name('utils')
    await ow.packages.create({ name: binding, package: { binding: { namespace: 'whisk.system', name: 'utils' }, parameters: [{ key: 'from', value: 'binding' }] } })
    try {
      const echoed = await ow.actions.invoke({ name: `${binding}/echo`, params: { x: 1 }, blocking: true, result: true })
      assert.deepEqual(echoed, { from: 'binding', x: 1 })
    } finally {
      await ow.packages.delete({ name: binding })
    }
  })

  it('cannot be changed by other namespaces', async () => {
    await rejects(ow.actions.update({ name: '/whisk.system/utils/echo', action: ECHO }), 403)
    await rejects(ow.packages.delete({ name: '/whisk.system/utils' }), 403)
  })
})

describe('alarms feed', { timeout: 60000 }, () => {
  it('fires a trigger on a cron schedule with its payload until the feed is deleted', async () => {
    const wired = await wiredTrigger('cron')
    try {
      const since = Date.now()
      const created = await ow.feeds.create({ name: ALARM, trigger: wired.trigger, params: { cron: '* * * * * *', trigger_payload: { hello: 'alarm' } } })
      assert.equal(created.response.success, true)
      assert.equal(created.response.result.status.active, true)

      const fired = await awaitResults(wired.action, since, 2, 10000)
      for (const result of fired.slice(0, 2)) assert.equal(result.hello, 'alarm')

      const read = await ow.feeds.get({ name: ALARM, trigger: wired.trigger })
      assert.equal(read.response.result.config.cron, '* * * * * *')
      assert.deepEqual(read.response.result.config.trigger_payload, { hello: 'alarm' })

      const deleted = await ow.feeds.delete({ name: ALARM, trigger: wired.trigger })
      assert.equal(deleted.response.result.deleted, true)
      await sleep(300) // a fire already under way may still land
      const settled = (await results(wired.action, since)).length
      await sleep(2500)
      assert.equal((await results(wired.action, since)).length, settled, 'no fires after the feed was deleted')
      await rejects(ow.feeds.get({ name: ALARM, trigger: wired.trigger }), 404)
    } finally {
      await unwire(wired)
    }
  })

  it('fires a once alarm exactly once', async () => {
    const wired = await wiredTrigger('once', '/whisk.system/alarms/once')
    try {
      const since = Date.now()
      const date = new Date(Date.now() + 1500).toISOString()
      await ow.feeds.create({ name: '/whisk.system/alarms/once', trigger: wired.trigger, params: { date, trigger_payload: { n: 1 } } })
      const fired = await awaitResults(wired.action, since, 1, 10000)
      assert.equal(fired[0].n, 1)
      await sleep(2000)
      assert.equal((await results(wired.action, since)).length, 1)
    } finally {
      await unwire(wired)
    }
  })

  it('schedules an interval from now and can be paused', async () => {
    const wired = await wiredTrigger('interval', '/whisk.system/alarms/interval')
    try {
      const created = await ow.feeds.create({ name: '/whisk.system/alarms/interval', trigger: wired.trigger, params: { minutes: 2 } })
      const next = Date.parse(created.response.result.status.nextFire)
      assert.ok(Math.abs(next - (Date.now() + 120000)) < 10000, created.response.result.status.nextFire)
      const paused = await ow.actions.invoke({ name: '/whisk.system/alarms/interval', blocking: true, params: { lifecycleEvent: 'PAUSE', triggerName: `/${NS}/${wired.trigger}`, authKey: process.env.WISP_AUTH } })
      assert.equal(paused.response.result.status.active, false)
      const updated = await ow.feeds.update({ name: '/whisk.system/alarms/interval', trigger: wired.trigger, params: { minutes: 5 } })
      assert.equal(updated.response.result.config.minutes, 5)
      assert.equal(updated.response.result.status.active, false, 'an update keeps the pause')
    } finally {
      await unwire(wired)
    }
  })

  it('stops when its trigger is deleted, even without a feed DELETE', async () => {
    const wired = await wiredTrigger('orphan')
    try {
      await ow.feeds.create({ name: ALARM, trigger: wired.trigger, params: { cron: '* * * * * *' } })
      await ow.rules.delete({ name: wired.rule })
      await ow.triggers.delete({ name: wired.trigger })
      // A new trigger by the same name, wired again, must not inherit the old alarm.
      await ow.triggers.create({ name: wired.trigger })
      await ow.rules.create({ name: wired.rule, trigger: wired.trigger, action: wired.action })
      const since = Date.now()
      await sleep(2500)
      assert.equal((await results(wired.action, since)).length, 0)
    } finally {
      await unwire(wired)
    }
  })

  it('refuses bad schedules with a 400 and leaves nothing behind', async () => {
    const wired = await wiredTrigger('bad')
    try {
      const create = params => ow.feeds.create({ name: ALARM, trigger: wired.trigger, params })
      await rejects(create({ cron: 'every day at noon' }), 400, /cron pattern 'every day at noon' is not valid/)
      await rejects(create({ cron: '61 * * * *' }), 400, /minute/)
      await rejects(create({}), 400, /cron/)
      await rejects(create({ cron: '* * * * *', stopDate: '2001-01-01T00:00:00Z' }), 400, /stopDate/)
      await rejects(ow.feeds.create({ name: '/whisk.system/alarms/once', trigger: wired.trigger, params: { date: 'tomorrow' } }), 400, /date/)
      await rejects(ow.feeds.create({ name: '/whisk.system/alarms/interval', trigger: wired.trigger, params: { minutes: -1 } }), 400, /minutes/)
      await rejects(ow.feeds.get({ name: ALARM, trigger: wired.trigger }), 404)
      await rejects(ow.feeds.create({ name: ALARM, trigger: name('missing'), params: { cron: '* * * * *' } }), 400, /does not exist/)
    } finally {
      await unwire(wired)
    }
  })

  it('refuses a key that does not own the trigger and a second alarm on one trigger', async () => {
    const wired = await wiredTrigger('auth')
    try {
      const invoke = authKey => ow.actions.invoke({
        name: ALARM,
        blocking: true,
        params: { lifecycleEvent: 'CREATE', triggerName: `/${NS}/${wired.trigger}`, authKey, cron: '0 0 1 1 *' }
      })
      await rejects(invoke('00000000-0000-0000-0000-000000000000:nope'), 403)
      await invoke(process.env.WISP_AUTH)
      await rejects(invoke(process.env.WISP_AUTH), 409, /already has an alarm/)
    } finally {
      await unwire(wired)
    }
  })
})
