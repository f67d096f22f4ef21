// One more visit: the stored count arrives in __state, the new one goes back in __state.
function main(args) {
  const visits = (Number(args.__state.keys.visits) || 0) + 1;
  return { visits, __state: { keys: { visits } } };
}
