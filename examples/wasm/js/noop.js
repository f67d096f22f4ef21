// The benchmark's no-op component: ignores its parameters and answers an empty object, so that
// what is measured is the platform and the call, not the guest's work.
export function handle (params) {
  return '{}'
}
