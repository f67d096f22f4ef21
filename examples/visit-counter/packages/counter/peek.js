// The count as stored (0 before the first visit).
function main(args) {
  return { visits: Number(args.__state.keys.visits) || 0 };
}
