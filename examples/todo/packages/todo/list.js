// The whole list, oldest first.
function main(args) {
  return { todos: args.__state.keys.todos || [] };
}
