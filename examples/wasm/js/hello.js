// A Wisp action as a WebAssembly component of the world wisp:function/function@0.1.0
// (wit/wisp-function.wit): `handle` takes the params JSON and returns the result JSON.
import log from "wisp:function/log@0.1.0";

// Module state lives as long as the instance. A warm instance serves activation after
// activation of the same action, so this counts them; with the annotation
// `wasm-fresh-instance: true` every activation gets a new instance and it stays 1.
let activations = 0;

export function handle(params) {
  const { name = "World" } = JSON.parse(params);
  activations += 1;
  // QuickJS here has no `console`: the log import writes the activation's log lines
  // (`info` as stdout, `warn` as stderr).
  log.log("info", `greeting ${name}`);
  log.log("warn", `activation ${activations} of this instance`);
  return JSON.stringify({ greeting: `Hello, ${name}!`, activations });
}
