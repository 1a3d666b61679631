// robolm_run: RoboLM's dependency-free command-line runtime.
// The GGUF loader and generation loop arrive with the runtime work; until then
// this binary only proves that the build links the C core with libc and libm.
#include <stdio.h>
#include <string.h>

#include "kernels.h"

int main(int argc, char** argv) {
    if (argc > 1 && (strcmp(argv[1], "--version") == 0)) {
        printf("robolm_run 0.1.0\n");
        return 0;
    }
    fprintf(stderr, "robolm_run: the GGUF runtime is not built yet (see README, 'Status').\n");
    return 2;
}
