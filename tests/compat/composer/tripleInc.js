// A plain sequence of two actions; deployed as `tripleInc` and nested in `outer`.
const composer = require('openwhisk-composer')

module.exports = composer.sequence('triple', 'increment')
