// while over a let variable, then repeat.
const composer = require('openwhisk-composer')

module.exports = composer.sequence(
  composer.let({ left: 3 }, composer.while(() => left-- > 0, 'increment')),
  composer.repeat(2, 'triple'))
