// Appends {id, text, done: false}; `text` is required and at most 200 characters.
function main(args) {
  const text = String(args.text || '').trim();
  if (!text) return refuse('give the to-do a text');
  if (text.length > 200) return refuse('a to-do is at most 200 characters');
  const todos = args.__state.keys.todos || [];
  const id = todos.reduce((max, t) => Math.max(max, t.id), 0) + 1;
  const next = [...todos, { id, text, done: false }];
  return { todos: next, __state: { keys: { todos: next } } };
}

// An application error: a web action answers its `error` value, so the page gets
// {"error": message} (and the activation is recorded as an application error).
function refuse(message) {
  return { error: { error: message } };
}
