'use strict'
// Wisp compatibility suite, part four: sequences and conductor actions through the official
// `openwhisk` npm client, following the conformance checklist of composition.md §6 (items 1–10
// and 12). The server runs with the default sequence limit n = 50.

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const openwhisk = require('openwhisk')
const { rejects } = require('./support')

const ow = openwhisk({ apihost: process.env.WISP_APIHOST, api_key: process.env.WISP_AUTH })
const RUN = crypto.randomBytes(4).toString('hex')
const name = base => `comp-${base}-${RUN}`
const N = 50
let NS

const created = []
async function action (base, code, extra = {}) {
  const n = name(base)
  await ow.actions.create({ name: n, action: { exec: { kind: 'nodejs:20', code }, ...extra } })
  created.push(n)
  return n
}
async function sequence (base, components) {
  const n = name(base)
  await ow.actions.create({ name: n, action: { exec: { kind: 'sequence', components } } })
  created.push(n)
  return n
}
const fq = n => `/${NS}/${n}`
const annotation = (record, key) => (record.annotations.find(a => a.key === key) || {}).value
const invoke = (n, params = {}) => ow.actions.invoke({ name: n, params, blocking: true })
/** A blocking invoke that ends in a 502 gives the record in the error. */
async function invokeFailing (n, params = {}) {
  try {
    const record = await invoke(n, params)
    assert.fail(`expected a 502, got ${JSON.stringify(record.response)}`)
  } catch (err) {
    assert.equal(err.statusCode, 502, err.message)
    return err.error
  }
}

// A conductor that runs the action named in `steps` one after another, carrying `steps` in state.
const PIPELINE = `function main(p) {
  if (p.error) return { error: p.error }
  const steps = p.steps || []
  const rest = { ...p }; delete rest.steps
  if (steps.length === 0) return { params: rest }
  return { action: steps[0], params: rest, state: { steps: steps.slice(1) } }
}`

before(async () => {
  NS = (await ow.namespaces.list())[0]
})

after(async () => {
  for (const n of created.reverse()) await ow.actions.delete({ name: n }).catch(() => {})
})

describe('sequences', { timeout: 60000 }, () => {
  let inc, fail
  before(async () => {
    inc = await action('inc', 'function main(p) { return { n: (p.n || 0) + 1 } }')
    fail = await action('fail', 'function main(p) { return { error: "failed at " + p.n } }')
  })

  it('(1) refuses too many, no components, self-reference and missing components', async () => {
    const many = Array.from({ length: N + 1 }, () => fq(inc))
    await rejects(ow.actions.create({ name: name('many'), action: { exec: { kind: 'sequence', components: many } } }), 400, /^Too many actions in the sequence\.$/)
    await rejects(ow.actions.create({ name: name('none'), action: { exec: { kind: 'sequence', components: [] } } }), 400, /^No component specified for the sequence\.$/)
    await rejects(ow.actions.create({ name: name('ghost'), action: { exec: { kind: 'sequence', components: [fq(name('nope'))] } } }), 400, /^Sequence component does not exist\.$/)
    const outer = await sequence('outer', [fq(inc)])
    const inner = await sequence('inner', [fq(outer)])
    await rejects(ow.actions.update({ name: outer, action: { exec: { kind: 'sequence', components: [fq(inner)] } } }), 400, /^Sequence may not refer to itself\.$/)
    // Nested sequences count inlined: 26 + 26 > 50.
    const half = await sequence('half', Array.from({ length: 26 }, () => fq(inc)))
    await rejects(ow.actions.create({ name: name('double'), action: { exec: { kind: 'sequence', components: [fq(half), fq(half)] } } }), 400, /^Too many actions in the sequence\.$/)
  })

  it('(2) pipes results and writes the records OpenWhisk writes', async () => {
    const seq = await sequence('split-sort', ['/whisk.system/utils/split', '/whisk.system/utils/sort'])
    const record = await invoke(seq, { payload: 'pear\napple\nfig' })
    assert.deepEqual(record.response.result, { lines: ['apple', 'fig', 'pear'], length: 3 })
    assert.equal(annotation(record, 'kind'), 'sequence')
    assert.equal(annotation(record, 'topmost'), true)
    assert.equal(record.logs.length, 2)
    let sum = 0
    for (const id of record.logs) {
      const child = await ow.activations.get({ name: id })
      assert.equal(child.cause, record.activationId)
      assert.equal(annotation(child, 'causedBy'), 'sequence')
      sum += child.duration
    }
    assert.equal(record.duration, sum)
    const got = await ow.actions.get({ name: seq })
    assert.deepEqual(got.exec.components, ['/whisk.system/utils/split', '/whisk.system/utils/sort'])
  })

  it('(3) stops at a component error; (4) an error in the payload does not', async () => {
    const seq = await sequence('stops', [fq(inc), fq(fail), fq(inc)])
    const record = await invokeFailing(seq, { n: 1 })
    assert.equal(record.response.status, 'application error')
    assert.deepEqual(record.response.result, { error: 'failed at 2' })
    assert.equal(record.logs.length, 2)

    const through = await sequence('through', [fq(inc), fq(inc)])
    const ok = await invoke(through, { n: 5, error: 'ignored' })
    assert.deepEqual(ok.response.result, { n: 7 })
  })

  it('(5) a nested sequence grown past n after creation stops with the limit', async () => {
    const inner = await sequence('grow', [fq(inc)])
    const outer = await sequence('grows', [fq(inc), fq(inner)])
    assert.deepEqual((await invoke(outer, { n: 0 })).response.result, { n: 2 })
    await ow.actions.update({ name: inner, action: { exec: { kind: 'sequence', components: Array.from({ length: N }, () => fq(inc)) } } })
    const record = await invokeFailing(outer, { n: 0 })
    assert.deepEqual(record.response.result, { error: 'Too many actions in the sequence.' })
    const innerRecord = await ow.activations.get({ name: record.logs[1] })
    assert.equal(innerRecord.logs.length, N - 1)
    assert.equal(annotation(innerRecord, 'topmost'), false)
    assert.equal(innerRecord.cause, record.activationId)
  })

  it('runs a deleted component as an error', async () => {
    const doomed = await action('doomed', 'function main(p) { return p }')
    const seq = await sequence('doomed-seq', [fq(inc), fq(doomed)])
    await ow.actions.delete({ name: doomed })
    const record = await invokeFailing(seq, {})
    assert.deepEqual(record.response.result, { error: 'Sequence component does not exist.' })
  })
})

describe('conductor actions', { timeout: 60000 }, () => {
  let pipeline, triple, increment
  before(async () => {
    pipeline = await action('pipeline', PIPELINE, { annotations: [{ key: 'conductor', value: true }] })
    triple = await action('triple', 'function main(p) { return { value: p.value * 3 } }')
    increment = await action('increment', 'function main(p) { return { value: p.value + 1 } }')
  })

  it('(6) ends with params, an error or the whole result', async () => {
    const echo = await action('cecho', 'function main(p) { return p.result }', { annotations: [{ key: 'conductor', value: true }] })
    const x = await invoke(echo, { result: { params: { x: 1 } } })
    assert.deepEqual(x.response.result, { x: 1 })
    assert.equal(x.logs.length, 1)
    assert.equal(annotation(x, 'conductor'), true)
    assert.equal(annotation(x, 'kind'), 'sequence')
    assert.equal(annotation(x, 'topmost'), true)
    assert.ok(annotation(x, 'limits'))
    const child = await ow.activations.get({ name: x.logs[0] })
    assert.equal(x.duration, child.duration)
    const e = await invokeFailing(echo, { result: { error: 'E' } })
    assert.equal(e.response.status, 'application error')
    assert.deepEqual(e.response.result, { error: 'E' })
    const y = await invoke(echo, { result: { y: 2 } })
    assert.deepEqual(y.response.result, { y: 2 })
  })

  it('runs components between conductor runs: C A C A C', async () => {
    const record = await invoke(pipeline, { value: 3, steps: [triple, increment] })
    assert.deepEqual(record.response.result, { value: 10 })
    assert.equal(record.logs.length, 5)
    const names = []
    for (const id of record.logs) names.push((await ow.activations.get({ name: id })).name)
    assert.deepEqual(names, [pipeline, triple, pipeline, increment, pipeline])
  })

  it('(7) tells the conductor about bad names, missing and forbidden actions', async () => {
    const catcher = await action('catcher', `function main(p) {
      if (p.error) return { params: { caught: p.error } }
      return { action: p.target }
    }`, { annotations: [{ key: 'conductor', value: true }] })
    const cases = [
      [42, 'Failed to parse action name from json value 42 during composition.'],
      ['/a/b/c/d', 'Failed to parse action name from json value "/a/b/c/d" during composition.'],
      [name('nope'), `Failed to resolve action with name '${NS}/${name('nope')}' during composition.`],
      ['/someone-else/secret', "Failed entitlement check for action with name 'someone-else/secret' during composition."]
    ]
    for (const [target, message] of cases) {
      const record = await invoke(catcher, { target })
      assert.deepEqual(record.response.result, { caught: message })
      assert.equal(record.logs.length, 2)
    }
  })

  it('(8) merges state over the component result', async () => {
    const stateful = await action('stateful', `function main(p) {
      if (p.witness) return { params: p }
      return { action: '${increment}', params: { value: 1 }, state: { witness: 42 } }
    }`, { annotations: [{ key: 'conductor', value: true }] })
    const record = await invoke(stateful, {})
    assert.deepEqual(record.response.result, { value: 2, witness: 42 })
  })

  it('(9) a nested conductor appears once in the outer logs', async () => {
    const record = await invoke(pipeline, { value: 1, steps: [pipeline] })
    assert.equal(record.logs.length, 3)
    const inner = await ow.activations.get({ name: record.logs[1] })
    assert.equal(inner.name, pipeline)
    assert.equal(annotation(inner, 'conductor'), true)
    assert.equal(annotation(inner, 'topmost'), false)
    assert.equal(inner.cause, record.activationId)
  })

  it('(10) n steps succeed with 2n + 1 activations; one more fails', async () => {
    const ok = await invoke(pipeline, { value: 0, steps: Array(N).fill(increment) })
    assert.deepEqual(ok.response.result, { value: N })
    assert.equal(ok.logs.length, 2 * N + 1)
    const over = await invokeFailing(pipeline, { value: 0, steps: Array(N + 1).fill(increment) })
    assert.deepEqual(over.response.result, { error: 'Too many actions in the composition.' })
  })

  it('(12) a blocking wait shorter than the composition answers 202 and the record follows', async () => {
    const sleepy = await action('sleepy', 'function main(p) { return new Promise(r => setTimeout(() => r(p), 700)) }')
    const seq = await sequence('sleepy-seq', [fq(sleepy), fq(sleepy)])
    // The npm client sends no `timeout`: this one goes over HTTP by hand.
    const reply = await fetch(`${process.env.WISP_APIHOST}/api/v1/namespaces/_/actions/${seq}?blocking=true&timeout=500`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(process.env.WISP_AUTH).toString('base64')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ slept: true })
    })
    assert.equal(reply.status, 202)
    const accepted = await reply.json()
    assert.ok(accepted.activationId)
    const deadline = Date.now() + 15000
    for (;;) {
      try {
        const record = await ow.activations.get({ name: accepted.activationId })
        assert.deepEqual(record.response.result, { slept: true })
        assert.equal(record.logs.length, 2)
        break
      } catch (err) {
        if (err.statusCode !== 404 || Date.now() > deadline) throw err
        await new Promise(resolve => setTimeout(resolve, 200))
      }
    }
  })
})
