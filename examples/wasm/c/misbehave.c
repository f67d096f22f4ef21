// A wasm action that misbehaves on request, for the platform's tests: the "mode" parameter
// picks exit, text, trap, loop, grow, read, env or flood.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
    static char params[65536];
    size_t n = fread(params, 1, sizeof params - 1, stdin);
    params[n] = 0;
    if (strstr(params, "\"mode\":\"exit\"")) {
        fprintf(stderr, "giving up\n");
        return 3;
    }
    if (strstr(params, "\"mode\":\"text\"")) {
        printf("this is not JSON\n");
        return 0;
    }
    if (strstr(params, "\"mode\":\"trap\"")) __builtin_trap();
    if (strstr(params, "\"mode\":\"loop\"")) {
        volatile unsigned long spins = 0;
        for (;;) spins++;
    }
    if (strstr(params, "\"mode\":\"grow\"")) {
        // 1 MB at a time, touched and kept (a list the compiler cannot drop), until the
        // platform stops it.
        static void *volatile kept;
        for (unsigned long mb = 1;; mb++) {
            char *block = malloc(1 << 20);
            if (!block) {
                printf("{\"error\":\"malloc failed after %lu MB\"}\n", mb);
                return 0;
            }
            memset(block, 1, 1 << 20);
            *(void **)block = kept;
            kept = block;
        }
    }
    if (strstr(params, "\"mode\":\"read\"")) {
        FILE *f = fopen("/etc/passwd", "r");
        printf("{\"opened\":%s,\"errno\":%d}\n", f ? "true" : "false", f ? 0 : errno);
        return 0;
    }
    if (strstr(params, "\"mode\":\"env\"")) {
        const char *home = getenv("HOME");
        const char *greeting = getenv("GREETING");
        const char *ns = getenv("__OW_NAMESPACE");
        printf("{\"home\":\"%s\",\"greeting\":\"%s\",\"namespace\":\"%s\"}\n",
               home ? home : "", greeting ? greeting : "", ns ? ns : "");
        return 0;
    }
    if (strstr(params, "\"mode\":\"flood\"")) {
        for (int i = 0; i < 20000; i++) fprintf(stderr, "line %d of a flood of logs\n", i);
        printf("{\"flooded\":true}\n");
        return 0;
    }
    printf("{\"mode\":\"none\"}\n");
    return 0;
}
