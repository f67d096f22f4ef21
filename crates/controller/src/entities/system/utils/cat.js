// /whisk.system/utils/cat: joins the array `lines` into the string `payload`, a line each.
function main(params) {
  const lines = Array.isArray(params.lines) ? params.lines : [];
  return { lines, payload: lines.join('\n') };
}
