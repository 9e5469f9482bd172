/* The pipe mode of the third-party kit: the functions of busrt_kit.h
 * answered by a child process in any language, over the length-prefixed
 * protocol of fuzz/README.md ("Pipe protocol"). kit_pipe.c implements
 * busrt_kit.h with it; kit_diff.c is unchanged apart from DIFF() being
 * silent while a batch is planned. */
#ifndef BUSRT_KIT_PIPE_H
#define BUSRT_KIT_PIPE_H

#include <stddef.h>
#include <stdint.h>

/* Request codes (the first byte of a request). */
#define KP_FEATURES 0x00u
#define KP_CLIENT_HEADER 0x01u
#define KP_CLIENT_BODY 0x02u
#define KP_LIST 0x03u
#define KP_NAME 0x04u
#define KP_FRAME_HEADER 0x05u
#define KP_ACK 0x06u
#define KP_FRAME_BODY 0x07u
#define KP_TOPIC 0x08u
#define KP_MASK 0x09u
#define KP_UTF8 0x0Au
#define KP_FLUSH 0xFFu

/* Starts cmd (sh -c 'exec CMD') and asks for its features. 0, or -1 with
 * a message on stderr. */
int kit_pipe_start(const char *cmd);
void kit_pipe_stop(void);

/* Batches (kit_pipe_main.c): kit_pipe_plan_begin(), then for each input
 * kit_pipe_plan_input() and LLVMFuzzerTestOneInput() (the calls are
 * recorded and answered by the reference core, DIFF() silent); then
 * kit_pipe_exchange() sends them all and reads every answer; then for
 * each input kit_pipe_replay_input(i) and LLVMFuzzerTestOneInput() again,
 * now compared with the recorded answers (a call that was not planned is
 * made at once). kit_pipe_sync() returns to one request at a time. */
void kit_pipe_plan_begin(void);
void kit_pipe_plan_input(void);
int kit_pipe_exchange(void);
void kit_pipe_replay_input(size_t i);
void kit_pipe_sync(void);

/* Calls compared so far (answers used from the child). */
extern unsigned long long kit_pipe_calls;
/* Set while planning: kit_diff.c's DIFF() does nothing. */
extern int kit_diff_planning;

#endif
