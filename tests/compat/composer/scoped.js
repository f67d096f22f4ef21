// mask hides the innermost let: the function sees k = 2, not 3; retain keeps the input.
const composer = require('openwhisk-composer')

module.exports = composer.retain(
  composer.let({ k: 2 }, composer.let({ k: 3 }, composer.mask(params => ({ value: params.value * k })))))
