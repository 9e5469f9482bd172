/* A tiny synchronous BUS/RT test client over raw sockets, plus helpers that
 * start and stop the broker under test. Used only by the black-box
 * integration tests in this directory; it builds and parses frames with the
 * pure core codec (busrt/frame.h) and nothing else.
 *
 * Every blocking call takes a timeout in milliseconds and never hangs.
 * Return conventions: a non-negative value is a result (a byte, a count, a
 * frame type); a negative value is one of the WC_* codes below. */
#ifndef BUSRT_IT_WIRE_H
#define BUSRT_IT_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Negative results. WC_EOF is -1 so that handshake calls return "the reply
 * code byte or -1 on EOF". */
#define WC_EOF (-1)        /* the peer closed (EOF, ECONNRESET, EPIPE) */
#define WC_TIMEOUT (-2)    /* nothing (or not enough) arrived in time */
#define WC_ERR (-3)        /* a local system call failed */
#define WC_UNEXPECTED (-4) /* something arrived that the call did not expect */
#define WC_SHORT (-5)      /* EOF in the middle of a frame */
#define WC_PROTO (-6)      /* bytes that are not a valid broker frame */

/* wc_read_one / wc_read_next results. */
#define WC_FRAME 1 /* a delivered frame (message, broadcast, publication) */
#define WC_ACK 2   /* an ACK */
#define WC_NOP 3   /* a keep-alive NOP (wc_read_one only) */

/* ---- Time and environment ------------------------------------------------ */

/* Ignores SIGPIPE in the test process, removes the service manager's
 * variables (NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID) from its
 * environment, and arms a watchdog alarm (300 s, 900 s under valgrind).
 * Call once at the start. */
void wc_init(void);
/* 1 when BUSRT_TEST_UNDER_VALGRIND=1 is set. */
int wc_under_valgrind(void);
/* A timeout scaled for slow runs (x5 under valgrind). */
int wc_ms(int ms);
/* Monotonic clock in milliseconds. */
int64_t wc_now_ms(void);
void wc_sleep_ms(int ms);
/* Raises RLIMIT_NOFILE towards want (bounded by the hard limit). Returns the
 * resulting soft limit. */
long wc_raise_nofile(long want);
/* A currently free TCP port on 127.0.0.1 (bind to port 0, read it, close).
 * Returns the port or WC_ERR. */
int wc_free_tcp_port(void);

/* ---- Broker process -------------------------------------------------------- */

struct wc_broker {
    pid_t pid;              /* 0 when not running */
    char dir[128];          /* mkdtemp directory under /tmp */
    char sock[192];         /* <dir>/bus.sock: the default UNIX listener */
    char pidfile[192];      /* <dir>/busrtd.pid */
    char out_log[192];      /* the broker's stdout */
    char err_log[192];      /* the broker's stderr */
};

/* Creates the temp dir and fills the paths; does not start anything.
 * Returns 0 or WC_ERR. */
int wc_broker_init(struct wc_broker *b);
/* Starts [BUSRTD_WRAPPER words...] BUSRTD [BUSRTD_ARGS words...] args...
 * (args NULL-terminated), with RLIMIT_NOFILE set to BUSRTD_NOFILE if given,
 * stdin from /dev/null, stdout/stderr to the log files. Does not wait.
 * Returns 0 or WC_ERR. */
int wc_broker_spawn(struct wc_broker *b, const char *const *args);
/* wc_broker_spawn with the broker's current directory set to cwd (NULL:
 * the test's own); a relative BUSRTD is resolved against the test's. */
int wc_broker_spawn_in(struct wc_broker *b, const char *cwd, const char *const *args);
/* Waits until addr accepts connections (UNIX path or HOST:PORT), up to
 * timeout_ms. Returns 0, WC_TIMEOUT, or WC_EOF when the broker exited. */
int wc_broker_wait_ready(struct wc_broker *b, const char *addr, int timeout_ms);
/* init + spawn "-B <sock> -P <pidfile> extra..." + wait_ready on <sock>
 * (5 s, 30 s under valgrind). extra may be NULL. Returns 0 or negative (the
 * broker's stderr is then copied to ours). */
int wc_broker_start(struct wc_broker *b, const char *const *extra);
/* Waits up to timeout_ms for the broker to exit by itself. Returns its exit
 * status (128 + signal when killed by a signal) or WC_TIMEOUT. */
int wc_broker_wait_exit(struct wc_broker *b, int timeout_ms);
/* Sends SIGTERM and waits up to 20 s. Returns the
 * exit status (128 + signal when killed by a signal), or WC_TIMEOUT (the
 * broker is then killed with SIGKILL). A non-zero status copies the broker's
 * stderr to ours. */
int wc_broker_stop(struct wc_broker *b);
/* Kills the broker if still running, removes the temp dir and its files. */
void wc_broker_cleanup(struct wc_broker *b);
/* Copies the broker's stderr log to the test's stderr. */
void wc_broker_dump_log(const struct wc_broker *b);
/* Reads up to cap-1 bytes of a file into buf, NUL-terminates. Returns the
 * byte count or WC_ERR. */
long wc_read_file(const char *path, char *buf, size_t cap);

/* ---- Connections -------------------------------------------------------- */

/* Returns a non-blocking, close-on-exec socket fd, or a negative WC_* code
 * (WC_EOF: refused). */
int wc_connect_unix(const char *path, int timeout_ms);
int wc_connect_tcp(const char *host, int port, int timeout_ms);
/* A UNIX path (ends in .sock/.socket/.ipc or starts with '/') or HOST:PORT. */
int wc_connect(const char *addr, int timeout_ms);
void wc_close(int fd);

/* ---- Raw I/O -------------------------------------------------------------- */

/* Returns 0, WC_EOF (peer gone), WC_TIMEOUT or WC_ERR. */
int wc_send_all(int fd, const void *buf, size_t n, int timeout_ms);
/* Returns 0; WC_EOF when EOF came before any byte; WC_SHORT when EOF came
 * after some bytes; WC_TIMEOUT; WC_ERR. */
int wc_read_exact(int fd, void *buf, size_t n, int timeout_ms);
/* One byte (0..255) or a negative code. */
int wc_read_byte(int fd, int timeout_ms);

/* ---- Handshake -------------------------------------------------------------- */

/* Reads the broker's 3 greeting bytes into out. Returns 0 or negative. */
int wc_hs_read_greeting(int fd, uint8_t out[3], int timeout_ms);
/* Sends a greeting: byte g0 then the u16 version. */
int wc_hs_send_greeting(int fd, uint8_t g0, uint16_t version);
/* Sends the u16 name length then the name bytes. */
int wc_hs_send_name(int fd, const void *name, size_t len);
/* The whole client side: read greeting (must be EB 01 00, else WC_PROTO),
 * echo it, read the reply; when it is 01, send the name and read the final
 * reply. Returns the last reply byte, or a negative code (WC_EOF on EOF). */
int wc_handshake(int fd, const void *name, size_t len, int timeout_ms);
/* connect + wc_handshake with a NUL-terminated name. Returns the fd when
 * the broker replied 01, else a negative code (the socket is closed). */
int wc_register(const char *addr, const char *name);

/* ---- Client frames -------------------------------------------------------- */

/* Sends a 9-byte header with the given raw flags byte and length (no body);
 * any op code, even invalid ones. */
int wc_send_header_raw(int fd, uint32_t op_id, uint8_t flags, uint32_t len);
/* Sends header + body, the header built with busrt_client_header_encode
 * (op must be one of the nine valid codes, qos 0..3). Returns 0 or negative. */
int wc_send_frame(int fd, uint8_t op, uint8_t qos, uint32_t op_id,
                  const void *body, size_t len);
/* body = a NUL b NUL ... payload: nparts NUL-terminated strings joined by
 * NUL, then a NUL and the payload (used for message, broadcast, publish,
 * publish-for). */
int wc_send_frame_parts(int fd, uint8_t op, uint8_t qos, uint32_t op_id,
                        const char *const *parts, size_t nparts,
                        const void *payload, size_t plen);
int wc_send_msg(int fd, uint8_t qos, uint32_t op_id, const char *target,
                const void *payload, size_t plen);
int wc_send_bcast(int fd, uint8_t qos, uint32_t op_id, const char *mask,
                  const void *payload, size_t plen);
int wc_send_pub(int fd, uint8_t qos, uint32_t op_id, const char *topic,
                const void *payload, size_t plen);
int wc_send_pub_for(int fd, uint8_t qos, uint32_t op_id, const char *topic,
                    const char *receiver, const void *payload, size_t plen);
/* subscribe/unsubscribe/exclude/unexclude: topics joined by NUL, no
 * trailing NUL (n == 0 sends an empty body). */
int wc_send_topics(int fd, uint8_t op, uint8_t qos, uint32_t op_id,
                   const char *const *topics, size_t n);
/* The client ping: nine zero bytes. */
int wc_ping(int fd);
/* wc_send_topics with QoS 1 and op id 0x5EB, then waits for its ACK
 * (no delivered frame may come first). Returns the ACK code or negative. */
int wc_topics_sync(int fd, uint8_t op, const char *const *topics, size_t n);
/* Subscribe to one topic synchronously (QoS 1, waits for the ACK). */
int wc_subscribe(int fd, const char *topic);

/* ---- Broker frames ---------------------------------------------------------- */

struct wc_frame {
    int type;              /* WC_FRAME, WC_ACK or WC_NOP */
    uint8_t header[6];     /* the raw 6 header (or ACK) bytes */
    uint8_t kind;          /* delivered frame kind */
    uint8_t realtime;      /* byte 5 of the delivered header */
    uint32_t ack_id;       /* ACK: op id */
    uint8_t ack_code;      /* ACK: result code */
    uint8_t *body;         /* malloc'ed, body_len + 1 bytes, NUL-terminated */
    size_t body_len;
    const char *sender;    /* into body, NUL-terminated */
    size_t sender_len;
    const char *topic;     /* publications only, NUL-terminated; else "" */
    size_t topic_len;
    const uint8_t *payload;/* into body (NUL-terminated by the extra byte) */
    size_t payload_len;
    unsigned nops;         /* NOPs skipped by wc_read_next before this */
};

/* Reads one thing from the broker (a NOP, an ACK, or a delivered frame),
 * all within timeout_ms. Returns WC_FRAME/WC_ACK/WC_NOP or negative. Frees
 * f's previous body first (f must be zeroed before the first use). */
int wc_read_one(int fd, struct wc_frame *f, int timeout_ms);
/* As wc_read_one but skips NOPs (counted in f->nops). */
int wc_read_next(int fd, struct wc_frame *f, int timeout_ms);
void wc_frame_free(struct wc_frame *f);
/* Waits for the next non-NOP item, which must be an ACK for op_id. Returns
 * the ACK code; WC_UNEXPECTED when something else arrives first; else
 * negative. */
int wc_expect_ack(int fd, uint32_t op_id, int timeout_ms);
/* Reads until EOF. Returns 0 when EOF came within timeout_ms and nothing
 * but NOPs arrived before it; WC_UNEXPECTED when anything else arrived;
 * WC_TIMEOUT. */
int wc_expect_eof(int fd, int timeout_ms);
/* Reads and discards bytes until EOF. Returns 0 (and the number of bytes
 * discarded in *nbytes when not NULL) or WC_TIMEOUT. */
int wc_drain_to_eof(int fd, int timeout_ms, size_t *nbytes);
/* Watches the connection for ms milliseconds. Returns 0 when nothing but
 * NOPs arrived and the connection stayed open; WC_EOF when it closed;
 * WC_UNEXPECTED when a frame or ACK arrived. */
int wc_expect_silence(int fd, int ms);

/* 1 when the frame is a delivered frame of the given kind from sender with
 * this payload (and, for publications, this topic; topic NULL = any). */
int wc_frame_is(const struct wc_frame *f, uint8_t kind, const char *sender,
                const char *topic, const void *payload, size_t plen);

/* ---- msgpack (a minimal reader for the broker's replies) ----------------- */

/* Each reader takes the value at *pos, advances *pos past what it read and
 * returns 0, or returns -1 (pos unchanged) when the value there is not of
 * that type or is truncated. */
int wc_mp_read_str(const uint8_t *mp, size_t len, size_t *pos, const uint8_t **s, size_t *n);
int wc_mp_read_uint(const uint8_t *mp, size_t len, size_t *pos, uint64_t *v);
int wc_mp_read_array(const uint8_t *mp, size_t len, size_t *pos, size_t *count);
int wc_mp_read_map(const uint8_t *mp, size_t len, size_t *pos, size_t *count);
/* Skips any one value, containers included. */
int wc_mp_skip(const uint8_t *mp, size_t len, size_t *pos);
/* In the map at map_pos, finds string key; *vpos = its value's position.
 * Returns 0 or -1. */
int wc_mp_map_find(const uint8_t *mp, size_t len, size_t map_pos, const char *key,
                   size_t *vpos);
/* Finds key in the top-level map and copies its string value into out
 * (NUL-terminated). Returns the value length, or -1 when the payload is not
 * a map, the key is missing, or the value is not a string (or too long). */
int wc_mp_map_str(const uint8_t *mp, size_t len, const char *key, char *out,
                  size_t cap);
/* 1 when the top-level map has key (any value type), else 0. */
int wc_mp_map_has(const uint8_t *mp, size_t len, const char *key);

#endif
