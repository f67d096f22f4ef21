// A wasm action that answers with its own parameters: what the platform merged and passed in
// (default parameters, invoke parameters, a web request's __ow_* fields) comes back as the
// result. Params holding an "error" come back as an application error, as in every kind.
#include <stdio.h>

int main(void) {
    static char params[65536];
    size_t n = 0, got;
    while (n + 1 < sizeof params && (got = fread(params + n, 1, sizeof params - 1 - n, stdin)) > 0)
        n += got;
    params[n] = 0;
    fprintf(stderr, "echoing %zu bytes\n", n);
    fputs(params, stdout);
    return 0;
}
