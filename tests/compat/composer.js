'use strict'
// Wisp compatibility suite, part five: compositions written with `openwhisk-composer` 0.12.0
// (pinned in package.json), compiled by its `compose` and deployed by its own `deploy` command
// against the test server, then invoked through the npm client. They run unchanged.

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const openwhisk = require('openwhisk')

const ow = openwhisk({ apihost: process.env.WISP_APIHOST, api_key: process.env.WISP_AUTH })
const BIN = path.join(__dirname, 'node_modules', 'openwhisk-composer', 'bin')
const SOURCES = path.join(__dirname, 'composer')

const COMPONENTS = {
  triple: 'function main({ value }) { return { value: value * 3 } }',
  increment: 'function main({ value }) { return { value: value + 1 } }',
  fail: "function main() { return { error: 'boom' } }"
}

let scratch

/** compose, then deploy with the package's own tools; returns the compiled JSON. */
function deploy (name) {
  const compiled = path.join(scratch, `${name}.json`)
  execFileSync(process.execPath, [path.join(BIN, 'compose.js'), path.join(SOURCES, `${name}.js`), '-o', compiled])
  const out = execFileSync(process.execPath, [
    path.join(BIN, 'deploy.js'), name, compiled, '-w',
    '--apihost', process.env.WISP_APIHOST, '--auth', process.env.WISP_AUTH, '--basic'
  ], { env: { PATH: process.env.PATH, HOME: scratch } }).toString()
  assert.match(out, new RegExp(`ok: created action /_/${name}`))
  return JSON.parse(fs.readFileSync(compiled, 'utf8'))
}

async function run (name, params) {
  const record = await ow.actions.invoke({ name, params, blocking: true })
  return { result: record.response.result, steps: record.logs.length, record }
}

before(async () => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'wisp-composer-'))
  for (const [name, code] of Object.entries(COMPONENTS)) {
    await ow.actions.update({ name, action: code })
  }
})

after(async () => {
  for (const name of [...Object.keys(COMPONENTS), 'tripleInc', 'branchy', 'counted', 'guarded', 'scoped', 'outer', 'missing']) {
    await ow.actions.delete({ name }).catch(() => {})
  }
  fs.rmSync(scratch, { recursive: true, force: true })
})

describe('openwhisk-composer 0.12.0', { timeout: 120000 }, () => {
  it('deploys a conductor action the way Composer means it', async () => {
    const compiled = deploy('tripleInc')
    assert.equal(compiled.version, '0.12.0')
    const action = await ow.actions.get({ name: 'tripleInc' })
    const annotations = Object.fromEntries(action.annotations.map(a => [a.key, a.value]))
    assert.deepEqual(annotations.conductor, compiled.ast)
    assert.equal(annotations['provide-api-key'], true)
    assert.equal(action.exec.kind, 'nodejs:20')
  })

  it('sequence: C A C A C', async () => {
    const { result, steps, record } = await run('tripleInc', { value: 3 })
    assert.deepEqual(result, { value: 10 })
    assert.equal(steps, 5)
    assert.equal(record.annotations.find(a => a.key === 'conductor').value, true)
  })

  it('if and retry, with functions run inside the conductor', async () => {
    deploy('branchy')
    assert.deepEqual(await run('branchy', { value: 1 }).then(r => [r.result, r.steps]), [{ value: 7 }, 5])
    assert.deepEqual(await run('branchy', { value: 5 }).then(r => [r.result, r.steps]), [{ value: 17 }, 7])
  })

  it('let, while and repeat', async () => {
    deploy('counted')
    const { result, steps } = await run('counted', { value: 0 })
    assert.deepEqual(result, { value: 27 })
    assert.equal(steps, 1 + 2 * 3 + 2 * 2)
  })

  it('try, finally and retry of a failing action', async () => {
    deploy('guarded')
    const { result, steps } = await run('guarded', {})
    assert.deepEqual(result, { caught: 'boom', cleaned: true })
    assert.equal(steps, 7)
  })

  it('let, mask and retain without any component', async () => {
    deploy('scoped')
    const { result, steps } = await run('scoped', { value: 4 })
    assert.deepEqual(result, { params: { value: 4 }, result: { value: 8 } })
    assert.equal(steps, 1)
  })

  it('a missing component is an error the composition can handle', async () => {
    deploy('missing')
    const namespace = (await ow.namespaces.list())[0]
    const { result, steps } = await run('missing', { x: 1 })
    assert.deepEqual(result, { caught: `Failed to resolve action with name '${namespace}/doesNotExist' during composition.` })
    assert.equal(steps, 2)
  })

  it('a deployed composition nested in another', async () => {
    deploy('outer')
    const { result, steps, record } = await run('outer', { value: 3 })
    assert.deepEqual(result, { value: 11 })
    assert.equal(steps, 5)
    const nested = await ow.activations.get({ name: record.logs[1] })
    assert.equal(nested.name, 'tripleInc')
    assert.equal(nested.cause, record.activationId)
    assert.equal(nested.logs.length, 5)
  })
})
