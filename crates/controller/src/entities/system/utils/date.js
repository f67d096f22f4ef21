// /whisk.system/utils/date: the current date and time, in ISO 8601 (UTC).
function main() {
  return { date: new Date().toISOString() };
}
