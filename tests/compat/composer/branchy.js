// if on a function's verdict, functions run inside the conductor, and retry.
const composer = require('openwhisk-composer')

module.exports = composer.sequence(
  'triple',
  composer.if(params => params.value > 10, 'increment', params => ({ value: params.value * 2 })),
  composer.retry(2, 'increment'))
