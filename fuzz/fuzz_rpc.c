/* RPC layer headers: decode, bounds of the spans, and re-encoding. */
#include <string.h>

#include "busrt/rpcproto.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct busrt_rpc_header h;
    int rc = busrt_rpc_decode(data, size, &h);
    if (rc != 0) {
        CHECK(rc == BUSRT_ERR_SHORT || rc == BUSRT_ERR_RPC_KIND || rc == BUSRT_ERR_NOSEP);
        return 0;
    }
    CHECK(h.data.off + h.data.len == size);
    CHECK(h.method.off + h.method.len <= size);
    uint8_t out[65536 + 8];
    switch (h.kind) {
    case BUSRT_RPC_NOTIFICATION:
        CHECK(busrt_rpc_notification_encode(out, sizeof out) == 1 && h.data.off == 1);
        break;
    case BUSRT_RPC_REPLY:
        CHECK(busrt_rpc_reply_encode(h.call_id, out, sizeof out) == 5);
        CHECK(memcmp(out, data, 5) == 0 && h.data.off == 5);
        break;
    case BUSRT_RPC_ERROR:
        CHECK(busrt_rpc_error_encode(h.call_id, h.code, out, sizeof out) == 7);
        CHECK(memcmp(out, data, 7) == 0 && h.data.off == 7);
        break;
    default: {
        CHECK(h.kind == BUSRT_RPC_REQUEST);
        CHECK(memchr(data + h.method.off, 0, h.method.len) == NULL);
        CHECK(data[h.method.off + h.method.len] == 0);
        int n = busrt_rpc_request_encode(h.call_id, data + h.method.off, h.method.len, out,
                                         sizeof out);
        if (h.method.len > 65535u) {
            CHECK(n == BUSRT_ERR_LIMIT);
        } else {
            CHECK(n == (int)h.data.off && memcmp(out, data, (size_t)n) == 0);
        }
        break;
    }
    }
    return 0;
}
