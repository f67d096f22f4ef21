'use strict'
// Helpers the compat suite's files share (not a test file itself).

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

module.exports = { sleep, waitForActivation }
