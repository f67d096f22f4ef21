// A deployed composition used as a component of another one.
const composer = require('openwhisk-composer')

module.exports = composer.sequence('tripleInc', 'increment')
