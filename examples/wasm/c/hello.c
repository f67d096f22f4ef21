// A wasm action in C: the params JSON arrives on stdin, the result JSON goes to stdout, and
// anything written to stderr is the activation's log.
#include <stdio.h>
#include <string.h>

// Reads all of stdin into buf (at most size - 1 bytes) and terminates it.
static size_t read_all(char *buf, size_t size) {
    size_t n = 0, got;
    while (n + 1 < size && (got = fread(buf + n, 1, size - 1 - n, stdin)) > 0) n += got;
    buf[n] = 0;
    return n;
}

// Copies the string value of "key" in the flat JSON object json into out, or returns 0.
static int string_param(const char *json, const char *key, char *out, size_t size) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
    const char *start = strstr(json, pattern);
    if (!start) return 0;
    start += strlen(pattern);
    const char *end = strchr(start, '"');
    if (!end || (size_t)(end - start) >= size) return 0;
    memcpy(out, start, end - start);
    out[end - start] = 0;
    return 1;
}

int main(void) {
    static char params[65536];
    char name[256] = "stranger";
    read_all(params, sizeof params);
    string_param(params, "name", name, sizeof name);
    fprintf(stderr, "greeting %s\n", name);
    printf("{\"greeting\":\"Hello, %s!\"}\n", name);
    return 0;
}
