'use strict'
// Helpers the compat suite's files share (not a test file itself).

const assert = require('node:assert/strict')

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

/** Polls `ow.activations.get` until the record is stored (404 until then). */
async function waitForActivation (ow, id, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await ow.activations.get(id)
    } catch (err) {
      if (err.statusCode !== 404 || Date.now() > deadline) throw err
      await sleep(50)
    }
  }
}

/** Awaits a client call that must fail with HTTP `statusCode` (and an error matching `pattern`). */
async function rejects (promise, statusCode, pattern) {
  try {
    const result = await promise
    assert.fail(`expected HTTP ${statusCode}, got ${JSON.stringify(result)}`)
  } catch (err) {
    assert.equal(err.statusCode, statusCode, err.message)
    if (pattern) assert.match(err.error.error, pattern)
    return err
  }
}

module.exports = { rejects, sleep, waitForActivation }
