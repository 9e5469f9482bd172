/* The pipe mode under libFuzzer or AFL++: LLVMFuzzerInitialize starts the
 * implementation named by --pipe=CMD (libFuzzer leaves options that start
 * with "--" to the target) or by the environment variable BUSRT_KIT_PIPE,
 * and every call then goes to it one request at a time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kit_pipe.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *cmd = getenv("BUSRT_KIT_PIPE");
    for (int i = 1; i < *argc; i++) {
        if (strncmp((*argv)[i], "--pipe=", 7) == 0) {
            cmd = (*argv)[i] + 7;
        }
    }
    if (cmd == NULL || cmd[0] == 0) {
        fprintf(stderr, "kit_pipe: give the implementation with --pipe=CMD or "
                        "BUSRT_KIT_PIPE=CMD\n");
        exit(2);
    }
    if (kit_pipe_start(cmd) != 0) {
        exit(2);
    }
    return 0;
}
