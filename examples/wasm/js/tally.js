// Declared state in a component, as in every kind: the action's `state` annotation declares
// `{"read": ["greeting"], "write": ["tally"]}`; the platform loads both keys into
// params.__state.keys before the call and stores the `__state.keys` of the result after it
// (atomically, retrying on a concurrent change). No import is used.
export function handle (params) {
  const { __state } = JSON.parse(params)
  const tally = (__state.keys.tally || 0) + 1
  const greeting = __state.keys.greeting || 'hello'
  return JSON.stringify({ tally, greeting, __state: { keys: { tally } } })
}
