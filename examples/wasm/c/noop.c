// The benchmark's no-op command: ignores its parameters and answers an empty object, so that
// what is measured is the platform and the instance, not the guest's work.
#include <stdio.h>

int main(void) {
    fputs("{}\n", stdout);
    return 0;
}
