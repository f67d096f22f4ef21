// Flips `done` of the to-do with this id.
function main(args) {
  const id = Number(args.id);
  const todos = args.__state.keys.todos || [];
  if (!todos.some((t) => t.id === id)) return refuse(`no to-do ${args.id}`);
  const next = todos.map((t) => (t.id === id ? { ...t, done: !t.done } : t));
  return { todos: next, __state: { keys: { todos: next } } };
}

// An application error: a web action answers its `error` value, so the page gets
// {"error": message} (and the activation is recorded as an application error).
function refuse(message) {
  return { error: { error: message } };
}
