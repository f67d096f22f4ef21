// try/finally around an action that always fails, retried twice before the handler runs.
const composer = require('openwhisk-composer')

module.exports = composer.finally(
  composer.try(composer.retry(2, 'fail'), error => ({ caught: error.error })),
  params => Object.assign(params, { cleaned: true }))
