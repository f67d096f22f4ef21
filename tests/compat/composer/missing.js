// A component that does not exist: the conductor is told, and the handler turns it into a result.
const composer = require('openwhisk-composer')

module.exports = composer.try('doesNotExist', error => ({ caught: error.error }))
