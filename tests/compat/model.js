'use strict'
// Wisp compatibility suite, part two: packages, bindings, triggers and rules through the official
// `openwhisk` npm client. Run with suite.js by `cargo test --test it compat`.

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const openwhisk = require('openwhisk')
const { rejects, sleep } = require('./support')

const ow = openwhisk({ apihost: process.env.WISP_APIHOST, api_key: process.env.WISP_AUTH })
const RUN = crypto.randomBytes(4).toString('hex')
const name = base => `model-${base}-${RUN}`
const ECHO = 'function main(params) { return params }'
let NS

/** Polls until an activation of `action` newer than `since` appears, and returns its record. */
async function nextActivation (action, since, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const list = await ow.activations.list({ name: action, since, docs: true })
    if (list.length) return list
    await sleep(100)
  }
  assert.fail(`no activation of ${action} since ${since}`)
}

before(async () => {
  NS = (await ow.namespaces.list())[0]
})

describe('packages and bindings', { timeout: 30000 }, () => {
  const pkg = name('pkg')
  const binding = name('bound')

  after(async () => {
    for (const p of [binding, pkg]) await ow.packages.delete({ name: p }).catch(() => {})
  })

  it('creates a package with parameters and an action inside it', async () => {
    const created = await ow.packages.create({
      name: pkg,
      package: { parameters: [{ key: 'greeting', value: 'hello' }, { key: 'who', value: 'package' }] }
    })
    assert.equal(created.name, pkg)
    assert.equal(created.namespace, NS)
    assert.deepEqual(created.binding, {})
    assert.equal(created.version, '0.0.1')
    await ow.actions.create({ name: `${pkg}/echo`, action: ECHO, params: { who: 'action' } })

    const got = await ow.packages.get({ name: pkg })
    assert.deepEqual(got.actions.map(a => a.name), ['echo'])
    assert.deepEqual(got.feeds, [])
    const listed = await ow.packages.list()
    const entry = listed.find(p => p.name === pkg)
    assert.equal(entry.binding, false)
  })

  it('actions inherit package parameters: package < action < invoke', async () => {
    const result = await ow.actions.invoke({ name: `${pkg}/echo`, blocking: true, result: true, params: { extra: 1 } })
    assert.deepEqual(result, { greeting: 'hello', who: 'action', extra: 1 })
    const overridden = await ow.actions.invoke({ name: `${pkg}/echo`, blocking: true, result: true, params: { who: 'caller' } })
    assert.equal(overridden.who, 'caller')
    const record = await ow.actions.invoke({ name: `${pkg}/echo`, blocking: true })
    assert.equal(record.annotations.find(a => a.key === 'path').value, `${NS}/${pkg}/echo`)
  })

  it('lists a package\'s actions and includes them in the namespace listing', async () => {
    const inPackage = await ow.actions.list({ name: `${pkg}/` }).catch(() => null)
    // The client has no package filter; use the namespace listing and the REST form.
    const all = await ow.actions.list({ limit: 200 })
    const echo = all.find(a => a.name === 'echo' && a.namespace === `${NS}/${pkg}`)
    assert.ok(echo, 'packaged actions appear in the namespace listing with namespace ns/pkg')
    assert.ok(inPackage === null || Array.isArray(inPackage))
  })

  it('bindings add their own parameters and run the bound package\'s actions', async () => {
    const created = await ow.packages.create({
      name: binding,
      package: { binding: { namespace: NS, name: pkg }, parameters: [{ key: 'greeting', value: 'hi from binding' }] }
    })
    assert.deepEqual(created.binding, { namespace: NS, name: pkg })
    const viaBinding = await ow.actions.invoke({ name: `${binding}/echo`, blocking: true })
    assert.deepEqual(viaBinding.response.result, { greeting: 'hi from binding', who: 'action' })
    assert.equal(viaBinding.annotations.find(a => a.key === 'binding').value, `${NS}/${binding}`)
    assert.equal(viaBinding.annotations.find(a => a.key === 'path').value, `${NS}/${pkg}/echo`)

    const got = await ow.packages.get({ name: binding })
    assert.deepEqual(got.actions.map(a => a.name), ['echo'])
    const params = Object.fromEntries(got.parameters.map(p => [p.key, p.value]))
    assert.deepEqual(params, { greeting: 'hi from binding', who: 'package' })
  })

  it('refuses bad bindings and writes into bindings', async () => {
    await rejects(ow.packages.create({ name: name('dangling'), package: { binding: { namespace: NS, name: name('nope') } } }),
      400, /Binding references a package that does not exist/)
    await rejects(ow.packages.create({ name: name('chain'), package: { binding: { namespace: NS, name: binding } } }),
      400, /Cannot bind to another package binding/)
    // A binding pointed at itself would be a cycle: refused the same way.
    await rejects(ow.packages.update({ name: binding, package: { binding: { namespace: NS, name: binding } } }),
      400, /Cannot bind to another package binding/)
    await rejects(ow.actions.create({ name: `${binding}/nope`, action: ECHO }), 400, /Operation not permitted on package binding/)
    await rejects(ow.packages.update({ name: pkg, package: { binding: { namespace: NS, name: binding } } }),
      409, /cannot be converted into a binding/)
    await rejects(ow.actions.create({ name: `${name('nopkg')}/a`, action: ECHO }), 404)
  })

  it('a package with actions cannot be deleted; its binding can', async () => {
    await rejects(ow.packages.delete({ name: pkg }), 409, /Package not empty \(contains 1 entities\)/)
    await ow.packages.delete({ name: binding })
    await ow.actions.delete({ name: `${pkg}/echo` })
    const deleted = await ow.packages.delete({ name: pkg })
    assert.equal(deleted.name, pkg)
    await rejects(ow.packages.get({ name: pkg }), 404)
  })
})

describe('triggers and rules', { timeout: 45000 }, () => {
  const trigger = name('trigger')
  const rule = name('rule')
  const action = name('target')

  before(async () => {
    await ow.actions.create({ name: action, action: ECHO })
  })

  after(async () => {
    await ow.rules.delete({ name: rule }).catch(() => {})
    await ow.triggers.delete({ name: trigger }).catch(() => {})
    await ow.actions.delete({ name: action }).catch(() => {})
  })

  it('a trigger with no active rule fires nothing', async () => {
    const created = await ow.triggers.create({ name: trigger, trigger: { parameters: [{ key: 'source', value: 'trigger' }, { key: 'x', value: 0 }] } })
    assert.equal(created.name, trigger)
    assert.deepEqual(created.limits, {})
    const fired = await ow.triggers.invoke({ name: trigger, params: { x: 1 } })
    assert.ok(!fired || !fired.activationId, 'a 204 carries no activation id')
  })

  it('a rule runs its action with trigger parameters overlaid by the event', async () => {
    const created = await ow.rules.create({ name: rule, trigger, action })
    assert.equal(created.status, 'active')
    assert.deepEqual(created.trigger, { path: NS, name: trigger })
    assert.deepEqual(created.action, { path: NS, name: action })

    const got = await ow.triggers.get({ name: trigger })
    assert.equal(got.rules[`${NS}/${rule}`].status, 'active')

    const since = Date.now() - 1
    const fired = await ow.triggers.invoke({ name: trigger, params: { x: 2 } })
    assert.match(fired.activationId, /^[0-9a-f]{32}$/)
    const [run] = await nextActivation(action, since)
    assert.equal(run.response.result.source, 'trigger')
    assert.equal(run.response.result.x, 2)
    assert.equal(typeof run.response.result.__ow_headers, 'object')

    const triggerRecord = await ow.activations.get(fired.activationId)
    assert.equal(triggerRecord.name, trigger)
    assert.deepEqual(triggerRecord.response.result, { x: 2 })
    assert.equal(triggerRecord.logs.length, 1)
    const line = JSON.parse(triggerRecord.logs[0])
    assert.equal(line.success, true)
    assert.equal(line.activationId, run.activationId)
    assert.equal(line.rule, `${NS}/${rule}`)
    assert.equal(line.action, `${NS}/${action}`)
  })

  it('a disabled rule does not fire; enabling it again does', async () => {
    await ow.rules.disable({ name: rule })
    assert.equal((await ow.rules.get({ name: rule })).status, 'inactive')
    const fired = await ow.triggers.invoke({ name: trigger, params: {} })
    assert.ok(!fired || !fired.activationId)
    await ow.rules.enable({ name: rule })
    assert.equal((await ow.rules.get({ name: rule })).status, 'active')
    const listed = await ow.rules.list()
    const entry = listed.find(r => r.name === rule)
    assert.ok(entry && entry.status === undefined, 'lists show no status')
  })

  it('refuses rules to missing triggers and actions', async () => {
    await rejects(ow.rules.create({ name: name('bad1'), trigger: name('nope'), action }), 400, /does not exist/)
    await rejects(ow.rules.create({ name: name('bad2'), trigger, action: name('nope') }), 400, /does not exist/)
    await rejects(ow.rules.create({ name: rule, trigger, action }), 409)
  })

  it('a rule whose action is gone reports the failure in the trigger record', async () => {
    await ow.actions.delete({ name: action })
    const fired = await ow.triggers.invoke({ name: trigger, params: {} })
    const record = await ow.activations.get(fired.activationId)
    const line = JSON.parse(record.logs[0])
    assert.equal(line.success, false)
    assert.equal(line.statusCode, 1)
    assert.match(line.error, /does not exist/)
  })

  it('deleting the trigger leaves the rule reporting inactive', async () => {
    await ow.triggers.delete({ name: trigger })
    const got = await ow.rules.get({ name: rule })
    assert.equal(got.status, 'inactive')
    await rejects(ow.rules.enable({ name: rule }), 404, /Only rules with existing triggers can be activated/)
    const deleted = await ow.rules.delete({ name: rule })
    assert.equal(deleted.status, 'inactive')
  })
})
