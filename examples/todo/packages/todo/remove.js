// Removes the to-do with this id (removing one that is gone is not an error).
function main(args) {
  const id = Number(args.id);
  const next = (args.__state.keys.todos || []).filter((t) => t.id !== id);
  return { todos: next, __state: { keys: { todos: next } } };
}
