/* busrt-netfuzz as a libFuzzer (or AFL++ libFuzzer-driver) harness: every
 * input is one session against the broker at $BUSRT_NETFUZZ_TARGET, which
 * must be running already. A violation writes its case file and aborts, so
 * the fuzzer keeps the input; `busrt-netfuzz --target ADDR --input FILE`
 * replays it.
 *
 * Environment: BUSRT_NETFUZZ_TARGET (required), BUSRT_NETFUZZ_BODY_LIMIT
 * (the broker's exact body limit, optional), BUSRT_NETFUZZ_WAIT_MS
 * (default 2000), BUSRT_NETFUZZ_OUT (default build/netfuzz). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nf.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct nf_opts o;
static struct nf_broker br;
static struct nf_sess S;

static unsigned long env_num(const char *name, unsigned long dflt)
{
    const char *v = getenv(name);
    return v != NULL && *v != 0 ? strtoul(v, NULL, 10) : dflt;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *t = getenv("BUSRT_NETFUZZ_TARGET");
    if (t == NULL || *t == 0) {
        fprintf(stderr, "fuzz_net: set BUSRT_NETFUZZ_TARGET to the address of a running "
                        "broker (UNIX path or HOST:PORT)\n");
        exit(2);
    }
    memset(&o, 0, sizeof o);
    o.target = t;
    o.out_dir = getenv("BUSRT_NETFUZZ_OUT") != NULL ? getenv("BUSRT_NETFUZZ_OUT")
                                                     : "build/netfuzz";
    o.wait_ms = (int)env_num("BUSRT_NETFUZZ_WAIT_MS", 2000);
    o.body_limit = (uint32_t)env_num("BUSRT_NETFUZZ_BODY_LIMIT", 0);
    o.assume_body = 65536;
    o.max_actions = 40;
    o.session_ms = 2500;
    o.progress = 1;
    o.abort_on_violation = 1;
    signal(SIGPIPE, SIG_IGN);
    (void)mkdir(o.out_dir, 0755);
    snprintf(br.addr, sizeof br.addr, "%s", t);
    snprintf(br.log, sizeof br.log, "/dev/null");
    if (nf_broker_start(&br, &o) != 0) {
        exit(2);
    }
    S.o = &o;
    S.broker = &br;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[1200];
    nf_src_data(&S.src, data, size);
    S.index++;
    if (nf_session_run(&S, path, sizeof path) != 0) {
        fprintf(stderr, "fuzz_net: VIOLATION [%s]: %s\n  case: %s\n", S.vreq, S.vmsg, path);
        abort();
    }
    return 0;
}
