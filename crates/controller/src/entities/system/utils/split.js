// /whisk.system/utils/split: cuts the string `payload` into `lines` at `separator`
// (any line break when absent).
function main(params) {
  const payload = params.payload === undefined ? '' : String(params.payload);
  const separator = typeof params.separator === 'string' ? params.separator : /\r?\n/;
  return { lines: payload.split(separator), payload };
}
