// A counter in the namespace's key-value store (the same keys as `wisp kv` and the REST API
// see): every activation adds `by` (default 1) to the key `key` (default "counter").
import kv from "wisp:function/kv@0.1.0";

export function handle(params) {
  const { key = "counter", by = 1 } = JSON.parse(params);
  try {
    const count = kv.incr(key, by);
    return JSON.stringify({ key, count });
  } catch (e) {
    // A refused operation throws an Error whose `payload` is the error variant of
    // wit/wisp-function.wit: { tag, val }. Throwing a string returns `err`: the activation
    // is an application error.
    const refusal = e.payload;
    throw refusal ? `${refusal.tag}: ${refusal.val}` : String(e);
  }
}
