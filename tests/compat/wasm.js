'use strict'
// Wisp compatibility suite, part seven: `wasm` actions through the official `openwhisk` npm
// client, both guest interfaces: WASI preview-1 commands (the C guests committed under
// examples/wasm/c) and components of Wisp's world (the JS and Rust guests under
// examples/wasm/js and examples/wasm/rust), with the platform semantics every other kind has:
// records, logs, parameters, errors, sequences and a conductor mixing wasm with Node.js, web
// actions, and for components the namespace's key-value store through the kv import.

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')
const openwhisk = require('openwhisk')
const { waitForActivation } = require('./support')

const apihost = process.env.WISP_APIHOST
const ow = openwhisk({ apihost, api_key: process.env.WISP_AUTH })
const RUN = crypto.randomBytes(4).toString('hex')
const name = base => `wasm-${base}-${RUN}`
const ID = /^[0-9a-f]{32}$/
const DEFAULT_LIMITS = { timeout: 60000, memory: 256, logs: 10, concurrency: 1 }
let NS

/** A guest's compiled binary, as a user would read it from disk: `hello` is examples/wasm/c's,
 * `js/hello` examples/wasm/js's. */
const guest = file => fs.readFileSync(path.join(__dirname, '../../examples/wasm', file.includes('/') ? '' : 'c', `${file}.wasm`))

const created = []
async function remember (n, promise) {
  created.push(n)
  return promise
}
/** A wasm action from a Buffer (the client sends its base64); `exec` overrides what it derives. */
function wasm (base, file, extra = {}) {
  const n = name(base)
  return remember(n, ow.actions.create({ name: n, action: guest(file), kind: 'wasm', ...extra })).then(() => n)
}
function node (base, code) {
  const n = name(base)
  return remember(n, ow.actions.create({ name: n, action: code, kind: 'nodejs:20' })).then(() => n)
}
function sequence (base, components) {
  const n = name(base)
  return remember(n, ow.actions.create({ name: n, sequence: components })).then(() => n)
}
const fq = n => `/${NS}/${n}`
const annotation = (entity, key) => (entity.annotations.find(a => a.key === key) || {}).value
/** A blocking invoke that ends in a 502 gives the record in the error. */
async function invokeFailing (n, params = {}) {
  try {
    const record = await ow.actions.invoke({ name: n, params, blocking: true })
    assert.fail(`expected a 502, got ${JSON.stringify(record.response)}`)
  } catch (err) {
    assert.equal(err.statusCode, 502, err.message)
    return err.error
  }
}
/** The text of each log line, after its timestamp and stream. */
const texts = logs => logs.map(line => {
  const parsed = line.match(/^(\d{4}-\d\d-\d\dT[\d:.]+Z) +(stdout|stderr): (.*)$/)
  assert.ok(parsed, `a log line: ${JSON.stringify(line)}`)
  return `${parsed[2]}: ${parsed[3]}`
})

before(async () => {
  NS = (await ow.namespaces.list())[0]
})

after(async () => {
  for (const n of created.reverse()) await ow.actions.delete({ name: n }).catch(() => {})
  await ow.packages.delete({ name: name('pkg') }).catch(() => {})
})

describe('wasm actions', { timeout: 60000 }, () => {
  let hello, echo, bad
  before(async () => {
    // As the issue describes it: base64 code, `binary: true`, kind `wasm`.
    hello = await wasm('hello', 'hello', { exec: { binary: true } })
    // `binary` left for the server to infer from the base64, as OpenWhisk does.
    echo = await wasm('echo', 'echo', { params: { greeting: 'hello', who: 'world' } })
    bad = await wasm('misbehave', 'misbehave')
  })

  it('stores the binary as given and reads it back', async () => {
    const got = await ow.actions.get({ name: hello })
    assert.equal(got.exec.kind, 'wasm')
    assert.equal(got.exec.binary, true)
    assert.equal(got.exec.code, guest('hello').toString('base64'))
    assert.equal(annotation(got, 'exec'), 'wasm')
    const inferred = await ow.actions.get({ name: echo, code: false })
    assert.equal(inferred.exec.binary, true)
    assert.equal(inferred.exec.code, undefined)
    const listed = await ow.actions.list()
    assert.ok(listed.some(a => a.name === hello && a.exec.binary === true), 'listed, binary')
  })

  it('a blocking invoke returns the full record of a wasm activation', async () => {
    const record = await ow.actions.invoke({ name: hello, blocking: true, params: { name: 'Ada' } })
    assert.match(record.activationId, ID)
    assert.equal(record.namespace, NS)
    assert.equal(record.name, hello)
    assert.equal(record.version, '0.0.1')
    assert.equal(typeof record.subject, 'string')
    assert.equal(record.publish, false)
    assert.equal(record.duration, record.end - record.start)
    assert.ok(Math.abs(record.start - Date.now()) < 120000, 'start is epoch milliseconds')
    assert.equal(record.response.status, 'success')
    assert.equal(record.response.success, true)
    assert.deepEqual(record.response.result, { greeting: 'Hello, Ada!' })
    assert.deepEqual(texts(record.logs), ['stderr: greeting Ada'])
    assert.equal(annotation(record, 'path'), `${NS}/${hello}`)
    assert.equal(annotation(record, 'kind'), 'wasm')
    assert.deepEqual(annotation(record, 'limits'), DEFAULT_LIMITS)
    assert.equal(annotation(record, 'timeout'), false)
    assert.ok(annotation(record, 'waitTime') >= 0)
    const initTime = annotation(record, 'initTime')
    assert.ok(initTime === undefined || initTime >= 0, `initTime: ${initTime}`)
    const stored = await waitForActivation(ow, record.activationId)
    assert.deepEqual(stored.response, record.response)
    assert.deepEqual(stored.logs, record.logs)
    assert.equal(stored.start, record.start)
  })

  it('blocking with result: true returns just the result', async () => {
    const result = await ow.actions.invoke({ name: hello, blocking: true, result: true, params: { name: 'Bob' } })
    assert.deepEqual(result, { greeting: 'Hello, Bob!' })
  })

  it('a non-blocking invoke answers an id; the record, result and logs are fetched by it', async () => {
    const queued = await ow.actions.invoke({ name: hello, params: { name: 'Cy' } })
    assert.deepEqual(Object.keys(queued), ['activationId'])
    assert.match(queued.activationId, ID)
    const record = await waitForActivation(ow, queued.activationId)
    assert.equal(record.name, hello)
    assert.deepEqual(record.response.result, { greeting: 'Hello, Cy!' })
    const response = await ow.activations.result({ activationId: queued.activationId })
    assert.deepEqual(response, record.response)
    const logs = await ow.activations.logs({ activationId: queued.activationId })
    assert.deepEqual(texts(logs.logs), ['stderr: greeting Cy'])
    const listed = await ow.activations.list({ name: hello, limit: 20 })
    assert.ok(listed.some(a => a.activationId === queued.activationId), 'listed under the action name')
  })

  it('default parameters are merged with invoke parameters, invoke parameters win', async () => {
    const result = await ow.actions.invoke({
      name: echo, blocking: true, result: true, params: { who: 'wasm', n: 7, nested: { a: [1, null] } }
    })
    assert.deepEqual(result, { greeting: 'hello', who: 'wasm', n: 7, nested: { a: [1, null] } })
    // An update's parameters replace the old ones; the next invoke sees them.
    await ow.actions.update({ name: echo, action: guest('echo'), kind: 'wasm', params: { greeting: 'hallo' } })
    const updated = await ow.actions.invoke({ name: echo, blocking: true, result: true, params: { n: 1 } })
    assert.deepEqual(updated, { greeting: 'hallo', n: 1 })
  })

  it('a package passes its parameters to a wasm action in it, under the action\'s own', async () => {
    const pkg = name('pkg')
    await ow.packages.create({ name: pkg, package: { parameters: [{ key: 'from', value: 'package' }, { key: 'who', value: 'package' }] } })
    const inPackage = `${pkg}/${name('echo')}`
    await ow.actions.create({ name: inPackage, action: guest('echo'), kind: 'wasm', params: { who: 'action' } })
    created.push(inPackage)
    const result = await ow.actions.invoke({ name: inPackage, blocking: true, result: true, params: { n: 2 } })
    assert.deepEqual(result, { from: 'package', who: 'action', n: 2 })
  })

  it('a result with `error` is an application error (the error alone is kept)', async () => {
    const record = await invokeFailing(echo, { error: 'no such order' })
    assert.equal(record.response.status, 'application error')
    assert.equal(record.response.success, false)
    assert.deepEqual(record.response.result, { error: 'no such order' })
    assert.equal(annotation(record, 'kind'), 'wasm')
  })

  it('a non-zero exit, a trap and text output are developer errors; the next run is fine', async () => {
    const exit = await invokeFailing(bad, { mode: 'exit' })
    assert.equal(exit.response.status, 'action developer error')
    assert.deepEqual(exit.response.result, { error: 'The action exited with code 3 (a wasm action ends with code 0).' })
    assert.deepEqual(texts(exit.logs), ['stderr: giving up'])
    const stored = await waitForActivation(ow, exit.activationId)
    assert.equal(stored.response.status, 'action developer error')

    const trap = await invokeFailing(bad, { mode: 'trap' })
    assert.equal(trap.response.status, 'action developer error')
    assert.match(trap.response.result.error, /^The action trapped: .*unreachable/)

    const text = await invokeFailing(bad, { mode: 'text' })
    assert.equal(text.response.status, 'action developer error')
    assert.match(text.response.result.error, /valid JSON object.*this is not JSON/)

    const fine = await ow.actions.invoke({ name: bad, blocking: true, result: true })
    assert.deepEqual(fine, { mode: 'none' })
  })

  it('the guest sees its activation\'s __OW_ variables, nothing of the host', async () => {
    const env = await ow.actions.invoke({ name: bad, blocking: true, result: true, params: { mode: 'env' } })
    assert.deepEqual(env, { home: '', greeting: '', namespace: NS })
    const read = await ow.actions.invoke({ name: bad, blocking: true, result: true, params: { mode: 'read' } })
    assert.equal(read.opened, false)
  })
})

describe('wasm in compositions', { timeout: 60000 }, () => {
  let hello, shout, upper
  before(async () => {
    hello = await wasm('seq-hello', 'hello')
    shout = await node('shout', 'function main(p) { return { shouted: p.greeting + "!!" } }')
    upper = await node('upper', 'function main(p) { return { name: p.who.toUpperCase() } }')
  })

  it('a sequence runs wasm then Node.js, and Node.js then wasm', async () => {
    const wasmFirst = await sequence('wasm-node', [fq(hello), fq(shout)])
    const record = await ow.actions.invoke({ name: wasmFirst, blocking: true, params: { name: 'Ada' } })
    assert.deepEqual(record.response.result, { shouted: 'Hello, Ada!!!' })
    assert.equal(annotation(record, 'kind'), 'sequence')
    assert.equal(record.logs.length, 2)
    const kinds = []
    for (const id of record.logs) {
      const child = await ow.activations.get({ name: id })
      assert.equal(child.cause, record.activationId)
      kinds.push(annotation(child, 'kind'))
    }
    assert.deepEqual(kinds, ['wasm', 'nodejs:20'])

    const nodeFirst = await sequence('node-wasm', [fq(upper), fq(hello)])
    const result = await ow.actions.invoke({ name: nodeFirst, blocking: true, result: true, params: { who: 'ada' } })
    assert.deepEqual(result, { greeting: 'Hello, ADA!' })
  })

  it('a wasm failure stops a sequence with its error', async () => {
    const bad = await wasm('seq-bad', 'misbehave')
    const seq = await sequence('stops', [fq(bad), fq(shout)])
    const record = await invokeFailing(seq, { mode: 'exit' })
    assert.equal(record.response.status, 'action developer error')
    assert.deepEqual(record.response.result, { error: 'The action exited with code 3 (a wasm action ends with code 0).' })
    assert.equal(record.logs.length, 1, 'the Node.js step never ran')
  })

  it('a conductor runs a wasm component between its own steps', async () => {
    const conductor = name('conductor')
    await remember(conductor, ow.actions.create({
      name: conductor,
      action: `function main(p) {
        const steps = p.steps || []
        const rest = { ...p }; delete rest.steps
        if (steps.length === 0) return { params: rest }
        return { action: steps[0], params: rest, state: { steps: steps.slice(1) } }
      }`,
      annotations: { conductor: true }
    }))
    const record = await ow.actions.invoke({ name: conductor, blocking: true, params: { name: 'Ada', steps: [fq(hello), fq(shout)] } })
    assert.deepEqual(record.response.result, { shouted: 'Hello, Ada!!!' })
    assert.equal(record.logs.length, 5)
    const names = []
    for (const id of record.logs) names.push((await ow.activations.get({ name: id })).name)
    assert.deepEqual(names, [conductor, hello, conductor, shout, conductor])
  })
})

describe('wasm web actions', { timeout: 60000 }, () => {
  let hello, echo, page, hidden
  const web = [{ key: 'web-export', value: true }]
  /** A web-exported wasm action: the whole action body, as the client allows. */
  async function webAction (base, file, annotations = web) {
    const n = name(base)
    await remember(n, ow.actions.create({
      name: n,
      action: { exec: { kind: 'wasm', code: guest(file).toString('base64'), binary: true }, annotations }
    }))
    return n
  }
  const url = (n, ext, query = '') => `${apihost}/api/v1/web/${NS}/default/${n}.${ext}${query}`

  before(async () => {
    hello = await webAction('web-hello', 'hello')
    echo = await webAction('web-echo', 'echo')
    page = await webAction('web-page', 'page')
    hidden = await webAction('web-hidden', 'hello', [])
  })

  it('.json answers with the result, no credentials needed', async () => {
    const reply = await fetch(url(hello, 'json', '?name=Web'))
    assert.equal(reply.status, 200)
    assert.match(reply.headers.get('content-type'), /^application\/json/)
    assert.deepEqual(await reply.json(), { greeting: 'Hello, Web!' })
  })

  it('the guest gets the request as __ow_ parameters', async () => {
    const reply = await fetch(url(echo, 'json', '?q=1'), {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-probe': 'p' }, body: JSON.stringify({ b: 2 })
    })
    assert.equal(reply.status, 200)
    const params = await reply.json()
    assert.equal(params.q, '1')
    assert.equal(params.b, 2)
    assert.equal(params.__ow_method, 'post')
    assert.equal(params.__ow_path, '')
    assert.equal(params.__ow_headers['x-probe'], 'p')
  })

  it('.http turns a {statusCode, headers, body} result into the response', async () => {
    const reply = await fetch(url(page, 'http', '?name=Ada'))
    assert.equal(reply.status, 201)
    assert.match(reply.headers.get('content-type'), /^text\/html/)
    assert.equal(reply.headers.get('x-guest'), 'wasm')
    assert.equal(await reply.text(), '<h1>Hello, Ada!</h1><p>get</p>')
    const posted = await fetch(url(page, 'http'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"Bo"}' })
    assert.equal(posted.status, 201)
    assert.equal(await posted.text(), '<h1>Hello, Bo!</h1><p>post</p>')
  })

  it('an action that is not web-exported is not reachable there', async () => {
    const reply = await fetch(url(hidden, 'json'))
    assert.equal(reply.status, 404)
    assert.equal(typeof (await reply.json()).error, 'string')
  })
})

describe('wasm components', { timeout: 120000 }, () => {
  let hello, fresh, counter, probe
  /** `examples/wasm/js/hello.wasm`'s result: the greeting and its instance's activation count. */
  const greeting = (who, activations) => ({ greeting: `Hello, ${who}!`, activations })
  /** The namespace's key-value store through the REST API, as a user reads it. */
  async function kvValue (key) {
    const auth = Buffer.from(process.env.WISP_AUTH).toString('base64')
    const reply = await fetch(`${apihost}/api/v1/namespaces/_/kv/${key}`, { headers: { authorization: `Basic ${auth}` } })
    assert.equal(reply.status, 200)
    return (await reply.json()).value
  }

  before(async () => {
    hello = await wasm('js-hello', 'js/hello', { params: { name: 'default' } })
    fresh = await wasm('js-fresh', 'js/hello', { annotations: { 'wasm-fresh-instance': true } })
    counter = await wasm('js-counter', 'js/counter')
    probe = await wasm('rust-probe', 'rust/probe')
  })

  it('a JS component answers blocking invokes with its result, logs and initTime', async () => {
    const got = await ow.actions.get({ name: hello })
    assert.equal(got.exec.kind, 'wasm')
    assert.equal(got.exec.binary, true)
    const first = await ow.actions.invoke({ name: hello, blocking: true, params: { name: 'Ada' } })
    assert.equal(first.response.status, 'success')
    assert.deepEqual(first.response.result, greeting('Ada', 1))
    assert.deepEqual(texts(first.logs), ['stdout: greeting Ada', 'stderr: activation 1 of this instance'])
    assert.equal(annotation(first, 'kind'), 'wasm')
    assert.ok(annotation(first, 'initTime') >= 0, 'the activation that made the instance has an initTime')
    // The instance stays warm: its global goes on counting and no instance is made.
    const second = await ow.actions.invoke({ name: hello, blocking: true })
    assert.deepEqual(second.response.result, greeting('default', 2), 'the default parameter')
    assert.equal(annotation(second, 'initTime'), undefined)
    const stored = await waitForActivation(ow, second.activationId)
    assert.deepEqual(stored.response, second.response)
    assert.deepEqual(stored.logs, second.logs)
  })

  it('a non-blocking invoke of a component is fetched by its id', async () => {
    const queued = await ow.actions.invoke({ name: fresh, params: { name: 'Cy' } })
    const record = await waitForActivation(ow, queued.activationId)
    assert.deepEqual(record.response.result, greeting('Cy', 1))
    const logs = await ow.activations.logs({ activationId: queued.activationId })
    assert.deepEqual(texts(logs.logs), ['stdout: greeting Cy', 'stderr: activation 1 of this instance'])
  })

  it('with wasm-fresh-instance every activation starts over', async () => {
    for (let i = 0; i < 3; i++) {
      const record = await ow.actions.invoke({ name: fresh, blocking: true, params: { name: 'Bo' } })
      assert.deepEqual(record.response.result, greeting('Bo', 1))
      assert.ok(annotation(record, 'initTime') >= 0)
    }
  })

  it('a JS component counts in the namespace key-value store through the kv import', async () => {
    const key = `visits-${RUN}`
    for (let n = 1; n <= 3; n++) {
      const result = await ow.actions.invoke({ name: counter, blocking: true, result: true, params: { key } })
      assert.deepEqual(result, { key, count: n })
    }
    assert.equal(await kvValue(key), '3', 'the same key the REST API reads')
    // Concurrent activations lose no increment.
    await Promise.all(Array.from({ length: 8 }, () => ow.actions.invoke({ name: counter, blocking: true, result: true, params: { key, by: 2 } })))
    assert.equal(await kvValue(key), '19')
  })

  it('err is an application error, a trap or non-JSON result a developer error', async () => {
    const failed = await invokeFailing(probe, { op: 'fail' })
    assert.equal(failed.response.status, 'application error')
    assert.match(failed.response.result.error, /^the probe failed on purpose/)
    const trap = await invokeFailing(probe, { op: 'trap' })
    assert.equal(trap.response.status, 'action developer error')
    assert.match(trap.response.result.error, /^The action trapped: .*unreachable/)
    assert.ok(texts(trap.logs).some(l => l.includes('the probe was asked to trap')), 'the panic message is logged')
    const text = await invokeFailing(probe, { op: 'text' })
    assert.deepEqual(text.response.result, { error: 'The action did not return a valid JSON object: this is not JSON.' })
    // A trap discards its instance: the next activation makes a new one.
    const after = await ow.actions.invoke({ name: probe, blocking: true })
    assert.deepEqual(after.response.result, { activations: 1 })
    assert.ok(annotation(after, 'initTime') >= 0)
  })

  it('a sequence runs a JS component then Node.js, and Node.js then the component', async () => {
    const shout = await node('js-shout', 'function main(p) { return { shouted: p.greeting + "!!" } }')
    const upper = await node('js-upper', 'function main(p) { return { name: p.who.toUpperCase() } }')
    const componentFirst = await sequence('js-node', [fq(fresh), fq(shout)])
    const record = await ow.actions.invoke({ name: componentFirst, blocking: true, params: { name: 'Ada' } })
    assert.deepEqual(record.response.result, { shouted: 'Hello, Ada!!!' })
    const kinds = []
    for (const id of record.logs) kinds.push(annotation(await ow.activations.get({ name: id }), 'kind'))
    assert.deepEqual(kinds, ['wasm', 'nodejs:20'])
    const nodeFirst = await sequence('node-js', [fq(upper), fq(fresh)])
    const result = await ow.actions.invoke({ name: nodeFirst, blocking: true, result: true, params: { who: 'ada' } })
    assert.deepEqual(result, greeting('ADA', 1))
  })

  it('a JS component is a web action', async () => {
    const n = name('js-web')
    await remember(n, ow.actions.create({
      name: n,
      action: { exec: { kind: 'wasm', code: guest('js/hello').toString('base64'), binary: true }, annotations: [{ key: 'web-export', value: true }] }
    }))
    const reply = await fetch(`${apihost}/api/v1/web/${NS}/default/${n}.json?name=Web`)
    assert.equal(reply.status, 200)
    assert.deepEqual(await reply.json(), greeting('Web', 1))
    const again = await fetch(`${apihost}/api/v1/web/${NS}/default/${n}.json?name=Web`)
    assert.deepEqual(await again.json(), greeting('Web', 2), 'served by the warm instance')
  })
})
