'use strict'
// Wisp compatibility suite: drives a running Wisp server with the official `openwhisk` npm client,
// exactly as a user's script would, and checks what such a user relies on.
//
//   WISP_APIHOST=http://127.0.0.1:3233 WISP_AUTH=uuid:key node --test tests/compat/suite.js
//
// Normally run by `cargo test --test it compat` (tests/it/compat.rs), which starts a fresh server.
// Every entity gets a per-run random suffix and is deleted at the end.

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const zlib = require('node:zlib')
const openwhisk = require('openwhisk')
const support = require('./support')

const apihost = process.env.WISP_APIHOST
const apiKey = process.env.WISP_AUTH
if (!apihost || !apiKey) {
  throw new Error('set WISP_APIHOST (e.g. http://127.0.0.1:3233) and WISP_AUTH (uuid:key)')
}

const ow = openwhisk({ apihost, api_key: apiKey })
const RUN = crypto.randomBytes(4).toString('hex')
const created = new Set()
let NS // the guest's namespace name, from namespaces.list()

const ID = /^[0-9a-f]{32}$/
const DEFAULT_LIMITS = { timeout: 60000, memory: 256, logs: 10, concurrency: 1 }
const { sleep } = support

function uniqueName (base) {
  return `compat-${base}-${RUN}`
}

/** Creates an action through the client and remembers it for cleanup. */
function createAction (options) {
  created.add(options.name)
  return ow.actions.create(options)
}

/** The value of annotation `key` in an entity or activation record. */
function annotation (entity, key) {
  assert.ok(Array.isArray(entity.annotations), 'annotations is an array of {key, value}')
  const found = entity.annotations.filter(a => a.key === key)
  return found.length ? found[found.length - 1].value : undefined
}

/** Awaits a promise that must reject with an OpenWhiskError of the given HTTP status. */
async function rejectsWith (promise, statusCode) {
  let result
  try {
    result = await promise
  } catch (err) {
    assert.equal(err.name, 'OpenWhiskError', `an OpenWhiskError, not ${err.stack}`)
    assert.ok(err instanceof Error)
    assert.equal(err.statusCode, statusCode, `HTTP ${statusCode} expected: ${err.message}`)
    assert.ok(err.error && typeof err.error === 'object', 'the response body is attached as err.error')
    assert.match(err.message, new RegExp(`Returned HTTP ${statusCode} `))
    return err
  }
  assert.fail(`expected a rejection with HTTP ${statusCode}, got ${JSON.stringify(result)}`)
}

/** Like rejectsWith, for controller errors: body is {error: string, code: string}. */
async function rejectsWithError (promise, statusCode, messagePattern) {
  const err = await rejectsWith(promise, statusCode)
  assert.equal(typeof err.error.error, 'string', `error body has a string 'error': ${JSON.stringify(err.error)}`)
  assert.ok(err.error.error.length > 0)
  assert.equal(typeof err.error.code, 'string', `error body has a string 'code': ${JSON.stringify(err.error)}`)
  assert.match(err.error.code, /^[A-Za-z0-9]{32}$/, 'the code is the 32-character transaction id')
  // The client builds its message from the body's error string.
  assert.ok(err.message.endsWith(`--> "${err.error.error}"`), err.message)
  if (messagePattern) assert.match(err.error.error, messagePattern)
  return err
}

/** Polls activations.get until the record is stored (404 until then). */
function waitForActivation (id, timeoutMs) {
  return support.waitForActivation(ow, id, timeoutMs)
}

/** Checks the shape of a successful activation record as returned by a blocking invoke or get. */
function assertSuccessRecord (record, { name, kind, result, version = '0.0.1', limits = DEFAULT_LIMITS }) {
  assert.match(record.activationId, ID)
  assert.equal(record.namespace, NS)
  assert.equal(record.name, name)
  assert.equal(record.version, version)
  assert.equal(typeof record.subject, 'string')
  assert.ok(record.subject.length > 0)
  assert.equal(record.publish, false)
  assert.equal(typeof record.start, 'number')
  assert.equal(typeof record.end, 'number')
  assert.ok(record.end >= record.start, 'end >= start')
  assert.equal(record.duration, record.end - record.start)
  assert.ok(Math.abs(record.start - Date.now()) < 120000, 'start is epoch milliseconds')
  assert.equal(record.response.status, 'success')
  assert.equal(record.response.success, true)
  if (result !== undefined) assert.deepEqual(record.response.result, result)
  assert.ok(Array.isArray(record.logs))
  assert.equal(annotation(record, 'path'), `${NS}/${name}`)
  assert.equal(annotation(record, 'kind'), kind)
  assert.deepEqual(annotation(record, 'limits'), limits)
  assert.equal(annotation(record, 'timeout'), false)
  const waitTime = annotation(record, 'waitTime')
  assert.equal(typeof waitTime, 'number')
  assert.ok(waitTime >= 0)
}

// ---------------------------------------------------------------------------------------------
// Zip archives, built here at run time: deflated entries, CRC-32, central directory.

const CRC_TABLE = (() => {
  const table = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    table[n] = c >>> 0
  }
  return table
})()

function crc32 (bytes) {
  let c = 0xffffffff
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

/** A zip archive (Buffer) of {path: text}. */
function makeZip (files) {
  const DOS_TIME = 0
  const DOS_DATE = (0 << 9) | (1 << 5) | 1 // 1980-01-01
  const parts = []
  const central = []
  let offset = 0
  for (const [path, text] of Object.entries(files)) {
    const name = Buffer.from(path, 'utf8')
    const data = Buffer.from(text, 'utf8')
    const packed = zlib.deflateRawSync(data)
    const crc = crc32(data)

    const local = Buffer.alloc(30)
    local.writeUInt32LE(0x04034b50, 0) // local file header signature
    local.writeUInt16LE(20, 4) // version needed (2.0: deflate)
    local.writeUInt16LE(0x0800, 6) // flags: UTF-8 names
    local.writeUInt16LE(8, 8) // method: deflate
    local.writeUInt16LE(DOS_TIME, 10)
    local.writeUInt16LE(DOS_DATE, 12)
    local.writeUInt32LE(crc, 14)
    local.writeUInt32LE(packed.length, 18)
    local.writeUInt32LE(data.length, 22)
    local.writeUInt16LE(name.length, 26)
    local.writeUInt16LE(0, 28) // extra length
    parts.push(local, name, packed)

    const entry = Buffer.alloc(46)
    entry.writeUInt32LE(0x02014b50, 0) // central directory header signature
    entry.writeUInt16LE((3 << 8) | 20, 4) // made by: Unix, 2.0
    entry.writeUInt16LE(20, 6)
    entry.writeUInt16LE(0x0800, 8)
    entry.writeUInt16LE(8, 10)
    entry.writeUInt16LE(DOS_TIME, 12)
    entry.writeUInt16LE(DOS_DATE, 14)
    entry.writeUInt32LE(crc, 16)
    entry.writeUInt32LE(packed.length, 20)
    entry.writeUInt32LE(data.length, 24)
    entry.writeUInt16LE(name.length, 28)
    // extra length, comment length, disk number, internal attributes: 0
    entry.writeUInt32LE((0o100644 << 16) >>> 0, 38) // external attributes: regular file rw-r--r--
    entry.writeUInt32LE(offset, 42)
    central.push(entry, name)

    offset += local.length + name.length + packed.length
  }
  const directory = Buffer.concat(central)
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0) // end of central directory signature
  end.writeUInt16LE(Object.keys(files).length, 8)
  end.writeUInt16LE(Object.keys(files).length, 10)
  end.writeUInt32LE(directory.length, 12)
  end.writeUInt32LE(offset, 16)
  return Buffer.concat([...parts, directory, end])
}

// ---------------------------------------------------------------------------------------------
// Function sources

const NODE_ECHO = `
function main(params) {
  const env = {}
  for (const key of Object.keys(process.env)) {
    if (key.startsWith('__OW_')) env[key] = process.env[key]
  }
  return { params, env }
}
`

const PYTHON_ECHO = `
import os

def main(args):
    env = {k: v for k, v in os.environ.items() if k.startswith("__OW_")}
    return {"params": args, "env": env}
`

// ---------------------------------------------------------------------------------------------

before(async () => {
  const namespaces = await ow.namespaces.list()
  assert.ok(Array.isArray(namespaces), 'namespaces.list() resolves with an array')
  assert.equal(namespaces.length, 1)
  assert.equal(typeof namespaces[0], 'string')
  NS = namespaces[0]
})

after(async () => {
  for (const name of created) {
    try {
      await ow.actions.delete({ name })
    } catch (err) {
      if (err.statusCode !== 404) throw err
    }
  }
})

describe('actions', { timeout: 30000 }, () => {
  const nodeName = uniqueName('node')
  const pyName = uniqueName('py')
  const nodeCode = 'function main(params) { return { hello: params.name || "world" } }'
  const pyCode = 'def main(args):\n    return {"hello": args.get("name", "world")}\n'

  it('creates a Node.js action from source (nodejs:default is stored as nodejs:20)', async () => {
    const before = Date.now()
    const action = await createAction({ name: nodeName, action: nodeCode })
    assert.equal(action.name, nodeName)
    assert.equal(action.namespace, NS)
    assert.equal(action.version, '0.0.1')
    assert.equal(action.publish, false)
    assert.deepEqual(action.exec, { kind: 'nodejs:20', code: nodeCode, binary: false })
    assert.deepEqual(action.parameters, [])
    assert.deepEqual(action.limits, DEFAULT_LIMITS)
    assert.equal(annotation(action, 'exec'), 'nodejs:20')
    assert.equal(annotation(action, 'provide-api-key'), false)
    assert.equal(typeof action.updated, 'number')
    assert.ok(action.updated >= before - 5000 && action.updated <= Date.now() + 5000, 'updated is epoch ms')
  })

  it('creates a Python action from source', async () => {
    const action = await createAction({ name: pyName, action: pyCode, kind: 'python:3', params: { name: 'python' } })
    assert.equal(action.name, pyName)
    assert.equal(action.exec.kind, 'python:3')
    assert.equal(action.exec.code, pyCode)
    assert.equal(action.exec.binary, false)
    assert.deepEqual(action.parameters, [{ key: 'name', value: 'python' }])
    assert.equal(annotation(action, 'exec'), 'python:3')

    const result = await ow.actions.invoke({ name: pyName, blocking: true, result: true })
    assert.deepEqual(result, { hello: 'python' })
  })

  it('accepts python:default and stores the concrete kind', async () => {
    const name = uniqueName('pydefault')
    const action = await createAction({ name, action: pyCode, kind: 'python:default' })
    assert.notEqual(action.exec.kind, 'python:default')
    assert.match(action.exec.kind, /^python:/)
    assert.equal(annotation(action, 'exec'), action.exec.kind)
    assert.deepEqual(await ow.actions.invoke({ name, blocking: true, result: true }), { hello: 'world' })
  })

  it('gets an action with its code by default, and without when code=false', async () => {
    const full = await ow.actions.get({ name: nodeName })
    assert.equal(full.name, nodeName)
    assert.equal(full.namespace, NS)
    assert.equal(full.exec.code, nodeCode)
    assert.equal(full.exec.kind, 'nodejs:20')

    const explicit = await ow.actions.get({ name: nodeName, code: true })
    assert.equal(explicit.exec.code, nodeCode)

    const bare = await ow.actions.get({ name: nodeName, code: false })
    assert.equal(bare.name, nodeName)
    assert.equal(bare.exec.kind, 'nodejs:20')
    assert.equal(bare.exec.binary, false)
    assert.equal('code' in bare.exec, false, 'code=false drops exec.code')
    assert.deepEqual(bare.limits, DEFAULT_LIMITS)

    // A string is accepted as the name, as in the client's docs.
    const byString = await ow.actions.get(pyName)
    assert.equal(byString.exec.code, pyCode)
  })

  it('lists actions as summaries, with count, limit and skip', async () => {
    const listed = await ow.actions.list({ limit: 200 })
    assert.ok(Array.isArray(listed))
    const mine = listed.find(a => a.name === nodeName)
    assert.ok(mine, `${nodeName} is listed`)
    assert.equal(mine.namespace, NS)
    assert.equal(mine.version, '0.0.1')
    assert.equal(mine.publish, false)
    assert.equal(mine.exec.binary, false)
    assert.equal(mine.exec.code, undefined, 'summaries carry no code')
    assert.deepEqual(mine.limits, DEFAULT_LIMITS)
    assert.equal(annotation(mine, 'exec'), 'nodejs:20')
    assert.equal(typeof mine.updated, 'number')
    assert.ok(listed.some(a => a.name === pyName))

    const counted = await ow.actions.list({ count: true })
    assert.deepEqual(Object.keys(counted), ['actions'])
    if (listed.length < 200) assert.equal(counted.actions, listed.length)
    else assert.ok(counted.actions >= listed.length)

    // Most recently updated first: three fresh actions come back newest first.
    const trio = ['one', 'two', 'three'].map(n => uniqueName(`list-${n}`))
    for (const name of trio) {
      await createAction({ name, action: nodeCode })
      await sleep(5) // distinct `updated` stamps
    }
    const top = await ow.actions.list({ limit: 3 })
    assert.deepEqual(top.map(a => a.name), [...trio].reverse())
    const second = await ow.actions.list({ limit: 1, skip: 1 })
    assert.deepEqual(second.map(a => a.name), [trio[1]])
    const afterTwo = await ow.actions.list({ limit: 2, skip: 2 })
    assert.equal(afterTwo[0].name, trio[0])
    assert.equal((await ow.actions.list({ count: true })).actions, counted.actions + 3)
  })

  it('updates with overwrite: version bump, parameters replaced, annotations merged', async () => {
    const name = uniqueName('update')
    const v1 = await createAction({
      name,
      action: 'function main(p) { return { v: 1, p } }',
      params: { a: 1, b: 2 },
      annotations: { x: 1, y: 'keep' }
    })
    assert.equal(v1.version, '0.0.1')
    assert.deepEqual(v1.parameters, [{ key: 'a', value: 1 }, { key: 'b', value: 2 }])

    // Creating again without overwrite is refused...
    await rejectsWithError(createAction({ name, action: 'function main() { return {} }' }), 409)

    // ...with overwrite it is an update.
    const v2 = await ow.actions.update({
      name,
      action: 'function main(p) { return { v: 2, p } }',
      params: { c: 3 },
      annotations: { x: 2, z: true }
    })
    assert.equal(v2.version, '0.0.2')
    assert.deepEqual(v2.parameters, [{ key: 'c', value: 3 }], 'parameters are replaced')
    assert.equal(annotation(v2, 'x'), 2, 'a new annotation value wins')
    assert.equal(annotation(v2, 'y'), 'keep', 'old annotations are kept')
    assert.equal(annotation(v2, 'z'), true)
    assert.equal(annotation(v2, 'exec'), 'nodejs:20')
    assert.equal(annotation(v2, 'provide-api-key'), false)
    assert.equal(v2.exec.code, 'function main(p) { return { v: 2, p } }')
    assert.deepEqual(await ow.actions.invoke({ name, blocking: true, result: true }), { v: 2, p: { c: 3 } })

    // create({overwrite: true}) with only limits: code and parameters are kept, limits merged.
    const v3 = await ow.actions.create({ name, overwrite: true, limits: { memory: 128 } })
    assert.equal(v3.version, '0.0.3')
    assert.equal(v3.exec.code, 'function main(p) { return { v: 2, p } }')
    assert.deepEqual(v3.parameters, [{ key: 'c', value: 3 }])
    assert.deepEqual(v3.limits, { ...DEFAULT_LIMITS, memory: 128 })
    assert.equal(annotation(v3, 'y'), 'keep')

    const got = await ow.actions.get({ name })
    assert.equal(got.version, '0.0.3')
    const record = await ow.actions.invoke({ name, blocking: true, params: { d: 4 } })
    assert.equal(record.version, '0.0.3')
    assert.deepEqual(record.response.result, { v: 2, p: { c: 3, d: 4 } })
    assert.deepEqual(annotation(record, 'limits'), { ...DEFAULT_LIMITS, memory: 128 })

    // An explicit version is taken as given; a new kind replaces the runtime and the exec annotation.
    const v4 = await ow.actions.update({
      name, version: '1.2.3', kind: 'python:3', action: 'def main(args):\n    return {"v": 4}\n'
    })
    assert.equal(v4.version, '1.2.3')
    assert.equal(v4.exec.kind, 'python:3')
    assert.equal(annotation(v4, 'exec'), 'python:3')
    const pyRecord = await ow.actions.invoke({ name, blocking: true })
    assertSuccessRecord(pyRecord, {
      name, kind: 'python:3', version: '1.2.3', result: { v: 4 }, limits: { ...DEFAULT_LIMITS, memory: 128 }
    })
  })

  it('deletes an action; afterwards get, invoke and delete give 404', async () => {
    const name = uniqueName('delete')
    await createAction({ name, action: nodeCode })
    const deleted = await ow.actions.delete({ name })
    assert.equal(deleted.name, name)
    assert.equal(deleted.namespace, NS)
    await rejectsWithError(ow.actions.get({ name }), 404)
    await rejectsWithError(ow.actions.invoke({ name, blocking: true }), 404)
    await rejectsWithError(ow.actions.delete({ name }), 404)
    const listed = await ow.actions.list({ limit: 200 })
    assert.equal(listed.some(a => a.name === name), false, 'a deleted action is not listed')
  })
})

describe('invoke', { timeout: 30000 }, () => {
  const echo = uniqueName('echo')
  const pyEcho = uniqueName('pyecho')
  const keyed = uniqueName('keyed')

  before(async () => {
    await createAction({ name: echo, action: NODE_ECHO, params: { greeting: 'hello', who: 'world' } })
    await createAction({ name: pyEcho, action: PYTHON_ECHO, kind: 'python:3', params: { greeting: 'hallo' } })
    await createAction({ name: keyed, action: NODE_ECHO, annotations: { 'provide-api-key': true } })
  })

  it('blocking invoke returns the full activation record', async () => {
    const record = await ow.actions.invoke({ name: echo, blocking: true, params: { extra: [1, 2] } })
    assertSuccessRecord(record, { name: echo, kind: 'nodejs:20' })
    assert.deepEqual(record.response.result.params, { greeting: 'hello', who: 'world', extra: [1, 2] })
    const initTime = annotation(record, 'initTime')
    assert.equal(typeof initTime, 'number', 'the first (cold) run has an initTime annotation')
    assert.ok(initTime >= 0)
    // The stored record is the same activation.
    const stored = await waitForActivation(record.activationId)
    assertSuccessRecord(stored, { name: echo, kind: 'nodejs:20', result: record.response.result })
    assert.equal(stored.activationId, record.activationId)
    assert.equal(stored.start, record.start)
  })

  it('blocking + result returns just the result', async () => {
    const result = await ow.actions.invoke({ name: echo, blocking: true, result: true, params: { n: 7 } })
    assert.equal(result.activationId, undefined)
    assert.equal(result.response, undefined)
    assert.deepEqual(result.params, { greeting: 'hello', who: 'world', n: 7 })
  })

  it('non-blocking invoke returns an activation id; the record appears later', async () => {
    const queued = await ow.actions.invoke({ name: echo, params: { async: true } })
    assert.deepEqual(Object.keys(queued), ['activationId'])
    assert.match(queued.activationId, ID)
    const record = await waitForActivation(queued.activationId)
    assertSuccessRecord(record, { name: echo, kind: 'nodejs:20' })
    assert.equal(record.activationId, queued.activationId)
    assert.deepEqual(record.response.result.params, { greeting: 'hello', who: 'world', async: true })
  })

  it('invoke with just a name (no body) is non-blocking and uses the default parameters', async () => {
    const queued = await ow.actions.invoke(echo)
    assert.match(queued.activationId, ID)
    const record = await waitForActivation(queued.activationId)
    assert.deepEqual(record.response.result.params, { greeting: 'hello', who: 'world' })
  })

  it('default parameters are merged with invoke parameters; invoke parameters win', async () => {
    const result = await ow.actions.invoke({
      name: echo, blocking: true, result: true, params: { who: 'wisp', nested: { a: null } }
    })
    assert.deepEqual(result.params, { greeting: 'hello', who: 'wisp', nested: { a: null } })
    const py = await ow.actions.invoke({ name: pyEcho, blocking: true, result: true, params: { n: 1.5 } })
    assert.deepEqual(py.params, { greeting: 'hallo', n: 1.5 })
  })

  it('the function sees the __OW_* environment of its own activation (Node.js)', async () => {
    for (let i = 0; i < 2; i++) { // the second run reuses the warm process
      const record = await ow.actions.invoke({ name: echo, blocking: true })
      assert.equal(annotation(record, 'initTime'), undefined, 'a warm run has no initTime annotation')
      const env = record.response.result.env
      assert.equal(env.__OW_ACTION_NAME, `/${NS}/${echo}`)
      assert.equal(env.__OW_NAMESPACE, NS)
      assert.equal(env.__OW_ACTIVATION_ID, record.activationId)
      assert.equal(env.__OW_API_HOST, apihost)
      assert.equal(env.__OW_ACTION_VERSION, '0.0.1')
      assert.match(env.__OW_DEADLINE, /^\d+$/)
      assert.ok(Number(env.__OW_DEADLINE) > record.start, 'the deadline is in the future')
      assert.equal(typeof env.__OW_TRANSACTION_ID, 'string')
      assert.equal(env.__OW_API_KEY, undefined, 'no API key without provide-api-key')
      for (const key of Object.keys(record.response.result.params)) {
        assert.ok(!key.startsWith('__OW_'), 'no __OW_ keys among the parameters')
      }
    }
  })

  it('the function sees the __OW_* environment of its own activation (Python)', async () => {
    const record = await ow.actions.invoke({ name: pyEcho, blocking: true })
    assertSuccessRecord(record, { name: pyEcho, kind: 'python:3' })
    const env = record.response.result.env
    assert.equal(env.__OW_ACTION_NAME, `/${NS}/${pyEcho}`)
    assert.equal(env.__OW_NAMESPACE, NS)
    assert.equal(env.__OW_ACTIVATION_ID, record.activationId)
    assert.equal(env.__OW_API_HOST, apihost)
    assert.equal(env.__OW_API_KEY, undefined)
  })

  it('a fully qualified name or an explicit namespace works like the default namespace', async () => {
    const byPath = await ow.actions.invoke({ name: `/${NS}/${echo}`, blocking: true, result: true, params: { via: 'path' } })
    assert.equal(byPath.params.via, 'path')
    const byOption = await ow.actions.invoke({ name: echo, namespace: NS, blocking: true, result: true })
    assert.equal(byOption.env.__OW_ACTION_NAME, `/${NS}/${echo}`)
    const scoped = openwhisk({ apihost, api_key: apiKey, namespace: NS })
    assert.equal((await scoped.actions.get(echo)).name, echo)
    assert.ok((await scoped.actions.list({ limit: 200 })).some(a => a.name === echo))
    const [latest] = await scoped.activations.list({ name: echo, limit: 1 })
    assert.equal(latest.name, echo)
    assert.equal(latest.namespace, NS)
  })

  it('provide-api-key: true gives the function __OW_API_KEY, usable with the client itself', async () => {
    const action = await ow.actions.get({ name: keyed })
    assert.equal(annotation(action, 'provide-api-key'), true)
    const record = await ow.actions.invoke({ name: keyed, blocking: true })
    const env = record.response.result.env
    assert.equal(env.__OW_API_KEY, apiKey)
    assert.equal(env.__OW_ACTIVATION_ID, record.activationId)
    // The client can be configured purely from what the function saw.
    const inner = openwhisk({ apihost: env.__OW_API_HOST, api_key: env.__OW_API_KEY })
    assert.deepEqual(await inner.namespaces.list(), [NS])

    // Turning the annotation off removes the key again.
    await ow.actions.update({ name: keyed, annotations: { 'provide-api-key': false } })
    const after = await ow.actions.invoke({ name: keyed, blocking: true, result: true })
    assert.equal(after.env.__OW_API_KEY, undefined)
  })
})

describe('zip actions', { timeout: 30000 }, () => {
  it('runs a Node.js package: package.json "main" requiring a helper module', async () => {
    const name = uniqueName('nodezip')
    const archive = makeZip({
      'package.json': JSON.stringify({ name: 'zipped', version: '1.0.0', main: 'lib/entry.js' }),
      'lib/entry.js': [
        "const { greet } = require('./helper')",
        'function main (params) { return { message: greet(params.name), file: __filename.endsWith("entry.js") } }',
        'exports.main = main',
        ''
      ].join('\n'),
      'lib/helper.js': "exports.greet = name => `Hello, ${name || 'stranger'}!`\n"
    })
    const action = await createAction({ name, action: archive, kind: 'nodejs:20' })
    assert.equal(action.exec.binary, true, 'a base64 zip is stored as binary')
    assert.equal(action.exec.code, archive.toString('base64'))
    const result = await ow.actions.invoke({ name, blocking: true, result: true, params: { name: 'zip' } })
    assert.deepEqual(result, { message: 'Hello, zip!', file: true })
    const bare = await ow.actions.get({ name, code: false })
    assert.equal(bare.exec.binary, true)
  })

  it('runs a Node.js package with index.js and no package.json', async () => {
    const name = uniqueName('nodezip-index')
    const archive = makeZip({
      'index.js': "const twice = require('./twice.js')\nexports.main = p => ({ doubled: twice(p.n) })\n",
      'twice.js': 'module.exports = n => n * 2\n'
    })
    await createAction({ name, action: archive, kind: 'nodejs:default' })
    assert.deepEqual(await ow.actions.invoke({ name, blocking: true, result: true, params: { n: 21 } }), { doubled: 42 })
  })

  it('runs a Python package: __main__.py importing a helper module', async () => {
    const name = uniqueName('pyzip')
    const archive = makeZip({
      '__main__.py': [
        'from helper import shout',
        '',
        'def main(args):',
        '    return {"message": shout(args.get("name", "nobody"))}',
        ''
      ].join('\n'),
      'helper.py': 'def shout(text):\n    return text.upper() + "!"\n'
    })
    const action = await createAction({ name, action: archive, kind: 'python:3' })
    assert.equal(action.exec.binary, true)
    const record = await ow.actions.invoke({ name, blocking: true, params: { name: 'zipped' } })
    assertSuccessRecord(record, { name, kind: 'python:3', result: { message: 'ZIPPED!' } })
  })
})

describe('activations', { timeout: 30000 }, () => {
  const name = uniqueName('logger')
  const records = []

  before(async () => {
    await createAction({
      name,
      action: `function main(p) {
        console.log('first line')
        console.error('to stderr ' + p.n)
        console.log('second line ' + p.n)
        return { n: p.n }
      }`
    })
    for (let n = 1; n <= 3; n++) {
      records.push(await ow.actions.invoke({ name, blocking: true, params: { n } }))
      await sleep(5) // distinct start stamps
    }
  })

  it('get returns the stored record', async () => {
    const first = records[0]
    const stored = await waitForActivation(first.activationId)
    assertSuccessRecord(stored, { name, kind: 'nodejs:20', result: { n: 1 } })
    assert.equal(stored.activationId, first.activationId)
    assert.equal(stored.start, first.start)
    assert.equal(stored.end, first.end)
    // All the client's ways of naming an activation.
    assert.equal((await ow.activations.get({ activationId: first.activationId })).activationId, first.activationId)
    assert.equal((await ow.activations.get({ activation: first.activationId })).activationId, first.activationId)
    assert.equal((await ow.activations.get({ name: first.activationId })).activationId, first.activationId)
  })

  it('logs are "<RFC 3339 timestamp padded to 30> <stream>: <text>" lines', async () => {
    const record = records[1]
    let logs
    for (let i = 0; i < 100; i++) { // logs may be collected after the blocking reply
      logs = await ow.activations.logs({ activationId: record.activationId })
      if (logs.logs.length >= 3) break
      await sleep(50)
    }
    assert.deepEqual(Object.keys(logs), ['logs'])
    assert.equal(logs.logs.length, 3, JSON.stringify(logs))
    const parsed = logs.logs.map(line => {
      assert.equal(typeof line, 'string')
      const stamp = line.slice(0, 30)
      assert.match(stamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z *$/, `padded timestamp in ${JSON.stringify(line)}`)
      const time = Date.parse(stamp.trim())
      assert.ok(time >= record.start - 1000 && time <= record.end + 1000, `log time within the activation: ${line}`)
      const rest = line.slice(30).match(/^ (stdout|stderr): (.*)$/)
      assert.ok(rest, `stream and text in ${JSON.stringify(line)}`)
      return { time, stream: rest[1], text: rest[2] }
    })
    assert.deepEqual(parsed.filter(l => l.stream === 'stdout').map(l => l.text), ['first line', 'second line 2'])
    assert.deepEqual(parsed.filter(l => l.stream === 'stderr').map(l => l.text), ['to stderr 2'])
    for (let i = 1; i < parsed.length; i++) assert.ok(parsed[i].time >= parsed[i - 1].time, 'lines in time order')
    assert.ok(logs.logs.every(l => !l.includes('XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX')), 'sentinels are stripped')

    // The full record carries the same lines.
    const stored = await ow.activations.get(record.activationId)
    assert.deepEqual(stored.logs, logs.logs)
  })

  it('result returns the response object', async () => {
    const response = await ow.activations.result({ activationId: records[2].activationId })
    assert.equal(response.status, 'success')
    assert.equal(response.success, true)
    assert.deepEqual(response.result, { n: 3 })
    assert.deepEqual(response, (await ow.activations.get(records[2].activationId)).response)
  })

  it('list filtered by name returns summaries, newest first', async () => {
    const listed = await ow.activations.list({ name })
    assert.deepEqual(listed.map(a => a.activationId), records.map(r => r.activationId).reverse())
    for (const summary of listed) {
      assert.equal(summary.name, name)
      assert.equal(summary.namespace, NS)
      assert.equal(summary.version, '0.0.1')
      assert.equal(summary.statusCode, 0)
      assert.equal(typeof summary.start, 'number')
      assert.equal(typeof summary.end, 'number')
      assert.equal(typeof summary.duration, 'number')
      assert.equal(annotation(summary, 'path'), `${NS}/${name}`)
      assert.equal(summary.response, undefined, 'summaries carry no response')
      assert.equal(summary.logs, undefined, 'summaries carry no logs')
    }
    const docs = await ow.activations.list({ name, docs: true })
    assert.deepEqual(docs.map(a => a.response.result), [{ n: 3 }, { n: 2 }, { n: 1 }])
    assert.deepEqual(docs.map(a => a.logs.length), [3, 3, 3])

    assert.deepEqual((await ow.activations.list({ name, limit: 1 })).map(a => a.activationId), [records[2].activationId])
    assert.deepEqual((await ow.activations.list({ name, limit: 1, skip: 2 })).map(a => a.activationId), [records[0].activationId])

    const unfiltered = await ow.activations.list({ limit: 200 })
    assert.ok(unfiltered.length > records.length, 'without a name, other actions\' activations are listed too')
    assert.ok(records.every(r => unfiltered.some(a => a.activationId === r.activationId)))
  })

  it('list filtered by since/upto (inclusive, epoch ms)', async () => {
    const expect = filter => records.filter(filter).map(r => r.activationId).reverse()
    const middle = records[1].start
    const since = await ow.activations.list({ name, since: middle })
    assert.deepEqual(since.map(a => a.activationId), expect(r => r.start >= middle))
    const upto = await ow.activations.list({ name, upto: middle })
    assert.deepEqual(upto.map(a => a.activationId), expect(r => r.start <= middle))
    const both = await ow.activations.list({ name, since: middle, upto: middle })
    assert.deepEqual(both.map(a => a.activationId), expect(r => r.start === middle))
    const future = await ow.activations.list({ name, since: Date.now() + 60000 })
    assert.deepEqual(future, [])
  })

  it('count', async () => {
    assert.deepEqual(await ow.activations.list({ name, count: true }), { activations: 3 })
    assert.deepEqual(await ow.activations.list({ name, count: true, since: records[1].start }),
      { activations: records.filter(r => r.start >= records[1].start).length })
    assert.deepEqual(await ow.activations.list({ name: uniqueName('never-invoked'), count: true }), { activations: 0 })
  })

  it('unknown and malformed activation ids', async () => {
    await rejectsWithError(ow.activations.get(crypto.randomBytes(16).toString('hex')), 404)
    await rejectsWithError(ow.activations.logs(crypto.randomBytes(16).toString('hex')), 404)
    await rejectsWithError(ow.activations.result(crypto.randomBytes(16).toString('hex')), 404)
    await rejectsWithError(ow.activations.get('not-an-id'), 400)
  })
})

describe('errors through the client', { timeout: 30000 }, () => {
  const nodeCode = 'function main() { return {} }'

  it('401 for a wrong key, an unknown subject and a malformed key', async () => {
    const [uuid] = apiKey.split(':')
    for (const key of [`${uuid}:${'x'.repeat(64)}`, `${crypto.randomUUID()}:${'y'.repeat(64)}`, 'not-a-key']) {
      const stranger = openwhisk({ apihost, api_key: key })
      await rejectsWithError(stranger.actions.list(), 401)
      await rejectsWithError(stranger.namespaces.list(), 401)
      await rejectsWithError(stranger.actions.invoke({ name: uniqueName('any'), blocking: true }), 401)
    }
  })

  it('403 for another namespace', async () => {
    const pattern = /not authorized/
    await rejectsWithError(ow.actions.list({ namespace: 'someoneelse' }), 403, pattern)
    await rejectsWithError(ow.actions.get({ name: 'thing', namespace: 'someoneelse' }), 403, pattern)
    await rejectsWithError(ow.actions.get('/someoneelse/thing'), 403, pattern)
    await rejectsWithError(ow.actions.create({ name: 'thing', namespace: 'someoneelse', action: nodeCode }), 403, pattern)
    await rejectsWithError(ow.actions.invoke({ name: '/someoneelse/thing', blocking: true }), 403, pattern)
    await rejectsWithError(ow.actions.delete({ name: 'thing', namespace: 'someoneelse' }), 403, pattern)
    await rejectsWithError(ow.activations.list({ namespace: 'someoneelse' }), 403, pattern)
    // A client configured for another namespace is refused the same way.
    const other = openwhisk({ apihost, api_key: apiKey, namespace: 'someoneelse' })
    await rejectsWithError(other.actions.list(), 403, pattern)
  })

  it('404 for an unknown action', async () => {
    const name = uniqueName('missing')
    await rejectsWithError(ow.actions.get({ name }), 404)
    await rejectsWithError(ow.actions.invoke({ name }), 404)
    await rejectsWithError(ow.actions.invoke({ name, blocking: true, result: true }), 404)
    await rejectsWithError(ow.actions.delete({ name }), 404)
  })

  it('409 when creating an existing action without overwrite', async () => {
    const name = uniqueName('exists')
    await createAction({ name, action: nodeCode })
    await rejectsWithError(ow.actions.create({ name, action: 'function main() { return { other: 1 } }' }), 409)
    const kept = await ow.actions.get({ name })
    assert.equal(kept.exec.code, nodeCode, 'the original is untouched')
    assert.equal(kept.version, '0.0.1')
  })

  it('400 for an unsupported kind', async () => {
    const name = uniqueName('badkind')
    const err = await rejectsWithError(createAction({ name, action: nodeCode, kind: 'cobol:85' }), 400)
    assert.match(err.error.error, /cobol:85/)
    await rejectsWithError(ow.actions.get({ name }), 404)
  })

  it('400 for out-of-range limits', async () => {
    const name = uniqueName('badlimits')
    const memory = await rejectsWithError(createAction({ name, action: nodeCode, limits: { memory: 4096 } }), 400)
    assert.match(memory.error.error, /memory 4096 MB exceeds allowed threshold of 512 MB/)
    const timeout = await rejectsWithError(createAction({ name, action: nodeCode, limits: { timeout: 10 } }), 400)
    assert.match(timeout.error.error, /timeout/i)
    assert.match(timeout.error.error, /\b10\b/)
    await rejectsWithError(createAction({ name, action: nodeCode, limits: { timeout: 300001 } }), 400)
    await rejectsWithError(ow.actions.get({ name }), 404)

    // An update with a bad limit leaves the action as it was.
    await createAction({ name, action: nodeCode })
    await rejectsWithError(ow.actions.update({ name, limits: { memory: 64 } }), 400)
    const kept = await ow.actions.get({ name })
    assert.equal(kept.version, '0.0.1')
    assert.deepEqual(kept.limits, DEFAULT_LIMITS)
  })

  it('400 for out-of-range list parameters', async () => {
    await rejectsWithError(ow.actions.list({ limit: 201 }), 400)
    await rejectsWithError(ow.actions.list({ skip: -1 }), 400)
    await rejectsWithError(ow.activations.list({ limit: 201 }), 400)
    await rejectsWithError(ow.activations.list({ count: true, docs: true }), 400)
  })

  it('400 for invalid names', async () => {
    const illegal = /illegal characters/
    await rejectsWithError(ow.actions.create({ name: `-leading-dash-${RUN}`, action: nodeCode }), 400, illegal)
    await rejectsWithError(ow.actions.create({ name: `bang!${RUN}`, action: nodeCode }), 400, illegal)
    await rejectsWithError(ow.actions.create({ name: 'n'.repeat(257), action: nodeCode }), 400)
  })

  it('502 for a function error, with the activation record as the body', async () => {
    const name = uniqueName('fails')
    await createAction({
      name,
      action: 'function main(p) { return p.structured ? { error: { reason: "bad input", field: "x" } } : { error: "it went wrong" } }'
    })
    const err = await rejectsWith(ow.actions.invoke({ name, blocking: true }), 502)
    assert.equal(err.error.response.success, false)
    assert.equal(err.error.response.status, 'application error')
    assert.deepEqual(err.error.response.result, { error: 'it went wrong' })
    assert.match(err.error.activationId, ID)
    assert.equal(err.error.name, name)
    assert.ok(err.message.endsWith('--> "it went wrong"'), 'the client quotes result.error: ' + err.message)

    // With result: true the client still rejects, with the same record.
    const withResult = await rejectsWith(ow.actions.invoke({ name, blocking: true, result: true, params: { structured: true } }), 502)
    assert.equal(withResult.error.response.success, false)
    assert.deepEqual(withResult.error.response.result, { error: { reason: 'bad input', field: 'x' } })

    // The failure is recorded like any activation.
    const stored = await waitForActivation(err.error.activationId)
    assert.equal(stored.response.success, false)
    assert.equal(stored.response.status, 'application error')
    const [summary] = await ow.activations.list({ name, limit: 1 })
    assert.equal(summary.statusCode, 1)
  })

  it('502 for a Python function that returns an error or raises', async () => {
    const name = uniqueName('pyfails')
    await createAction({
      name,
      kind: 'python:3',
      action: 'def main(args):\n    if args.get("raise"):\n        raise ValueError("nope")\n    return {"error": "python says no"}\n'
    })
    const returned = await rejectsWith(ow.actions.invoke({ name, blocking: true }), 502)
    assert.equal(returned.error.response.success, false)
    assert.deepEqual(returned.error.response.result, { error: 'python says no' })
    assert.equal(returned.error.response.status, 'application error')
    assert.ok(returned.message.endsWith('--> "python says no"'), returned.message)
    // An exception is an application error carrying str(exception); the traceback goes to stderr.
    const raised = await rejectsWith(ow.actions.invoke({ name, blocking: true, params: { raise: true } }), 502)
    assert.equal(raised.error.response.success, false)
    assert.equal(raised.error.response.status, 'application error')
    assert.deepEqual(raised.error.response.result, { error: 'nope' })
    let logs = []
    for (let i = 0; i < 100 && !logs.some(l => l.includes('ValueError: nope')); i++) {
      if (i) await sleep(50)
      logs = (await ow.activations.logs(raised.error.activationId)).logs
    }
    assert.ok(logs.some(l => / stderr: ValueError: nope$/.test(l)), `traceback in the logs: ${JSON.stringify(logs)}`)
  })

  it('502 developer error for a Node.js function that throws', async () => {
    const name = uniqueName('throws')
    await createAction({ name, action: 'function main(p) { if (p.boom) throw new Error("kaboom"); return { fine: true } }' })
    const err = await rejectsWith(ow.actions.invoke({ name, blocking: true, params: { boom: true } }), 502)
    assert.equal(err.error.response.success, false)
    assert.equal(err.error.response.status, 'action developer error')
    assert.match(err.error.response.result.error, /kaboom/)
    // The action still works afterwards.
    assert.deepEqual(await ow.actions.invoke({ name, blocking: true, result: true }), { fine: true })
  })

  it('502 application error for a Node.js promise that rejects', async () => {
    const name = uniqueName('rejects')
    await createAction({
      name,
      action: 'async function main(p) { if (p.plain) throw "plain reason"; throw new Error("async kaboom") }'
    })
    // A rejected Error arrives serialized (as the Node.js runtime's serialize-error does): name, message, stack.
    const err = await rejectsWith(ow.actions.invoke({ name, blocking: true }), 502)
    assert.equal(err.error.response.success, false)
    assert.equal(err.error.response.status, 'application error')
    const error = err.error.response.result.error
    assert.equal(typeof error, 'object', `a serialized Error object, not ${JSON.stringify(error)}`)
    assert.equal(error.name, 'Error')
    assert.equal(error.message, 'async kaboom')
    assert.equal(typeof error.stack, 'string')
    // Any other rejection value is the error as is.
    const plain = await rejectsWith(ow.actions.invoke({ name, blocking: true, params: { plain: true } }), 502)
    assert.equal(plain.error.response.status, 'application error')
    assert.deepEqual(plain.error.response.result, { error: 'plain reason' })
    assert.ok(plain.message.endsWith('--> "plain reason"'), plain.message)
  })

  it('502 when the function exceeds its time limit', async () => {
    const name = uniqueName('spins')
    const action = await createAction({
      name,
      action: 'function main(p) { if (p.spin) { for (;;) {} } return { done: true } }',
      limits: { timeout: 500 }
    })
    assert.equal(action.limits.timeout, 500)
    const started = Date.now()
    const err = await rejectsWith(ow.actions.invoke({ name, blocking: true, params: { spin: true } }), 502)
    const elapsed = Date.now() - started
    assert.ok(elapsed >= 500, `the limit was honoured (${elapsed} ms)`)
    assert.ok(elapsed < 10000, `the function was stopped promptly (${elapsed} ms)`)
    assert.equal(err.error.response.success, false)
    assert.equal(err.error.response.status, 'action developer error')
    assert.deepEqual(err.error.response.result, { error: 'The action exceeded its time limits of 500 milliseconds.' })
    assert.equal(annotation(err.error, 'timeout'), true)
    assert.deepEqual(annotation(err.error, 'limits'), { ...DEFAULT_LIMITS, timeout: 500 })
    assert.ok(err.message.endsWith('--> "The action exceeded its time limits of 500 milliseconds."'), err.message)
    // Listed at once: a listing commits the records queued before it.
    const [summary] = await ow.activations.list({ name, limit: 1 })
    assert.equal(summary.activationId, err.error.activationId)
    assert.equal(summary.statusCode, 2)
    // A fresh process serves the next call.
    assert.deepEqual(await ow.actions.invoke({ name, blocking: true, result: true }), { done: true })
  })
})

describe('concurrency', { timeout: 45000 }, () => {
  it('40 concurrent blocking invokes of one action all succeed with their own results', async () => {
    const name = uniqueName('parallel')
    await createAction({
      name,
      action: 'function main(p) { return new Promise(resolve => setTimeout(() => resolve({ i: p.i, square: p.i * p.i, id: process.env.__OW_ACTIVATION_ID }), 50)) }'
    })
    const count = 40
    const records = await Promise.all(Array.from({ length: count }, (_, i) =>
      ow.actions.invoke({ name, blocking: true, params: { i } })))
    assert.equal(records.length, count)
    records.forEach((record, i) => {
      assert.equal(record.response.success, true, JSON.stringify(record.response))
      assert.equal(record.response.result.i, i)
      assert.equal(record.response.result.square, i * i)
      assert.equal(record.response.result.id, record.activationId)
    })
    assert.equal(new Set(records.map(r => r.activationId)).size, count, 'distinct activation ids')

    let counted
    for (let attempt = 0; attempt < 100; attempt++) {
      counted = await ow.activations.list({ name, count: true })
      if (counted.activations === count) break
      await sleep(50)
    }
    assert.deepEqual(counted, { activations: count })
    // Pages: 30 by default, limit=0 means the maximum (200).
    assert.equal((await ow.activations.list({ name })).length, 30)
    assert.equal((await ow.activations.list({ name, limit: 0 })).length, count)
    assert.equal((await ow.activations.list({ name, skip: 30 })).length, count - 30)
  })
})
