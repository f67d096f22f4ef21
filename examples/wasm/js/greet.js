// The benchmark's JavaScript hello (bench/src/workerd.rs): `main` is word for word the function
// workerd and Wisp's Node.js kind serve in the same run; `handle` is the component's door to
// it, as `fetch` is workerd's. No logs, no globals: the call alone.
function main ({ name = 'stranger' }) {
  return { greeting: `Hello, ${name}!` }
}

export function handle (params) {
  return JSON.stringify(main(JSON.parse(params)))
}
