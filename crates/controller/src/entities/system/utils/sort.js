// /whisk.system/utils/sort: sorts the array `lines` and says how long it is.
function main(params) {
  const lines = Array.isArray(params.lines) ? [...params.lines].sort() : [];
  return { lines, length: lines.length };
}
