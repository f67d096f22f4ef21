// /whisk.system/utils/echo: answers with the parameters it was given.
function main(params) {
  return params;
}
