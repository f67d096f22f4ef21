// A wasm web action that answers HTTP itself: its result is {statusCode, headers, body}, which
// a web action's `.http` extension turns into the response.
#include <stdio.h>
#include <string.h>

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
    size_t n = fread(params, 1, sizeof params - 1, stdin);
    params[n] = 0;
    char name[128] = "stranger", method[16] = "?";
    string_param(params, "name", name, sizeof name);
    string_param(params, "__ow_method", method, sizeof method);
    fprintf(stderr, "%s page for %s\n", method, name);
    printf("{\"statusCode\":201,\"headers\":{\"content-type\":\"text/html\",\"x-guest\":\"wasm\"},"
           "\"body\":\"<h1>Hello, %s!</h1><p>%s</p>\"}\n",
           name, method);
    return 0;
}
