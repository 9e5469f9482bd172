#!/usr/bin/env python3
"""busrt-clientfuzz adapter for the deployed Python client of BUS/RT.

The client is the synchronous package `busrt` of github alttch/busrt
(bindings/python/busrt/busrt/), which this project does not ship: give the
directory that holds the package directory `busrt/` with --client-dir or
the environment variable BUSRT_PY_CLIENT_DIR. It needs the `msgpack` module
(Debian: python3-msgpack).

Usage: busrt_python_adapter.py [--client-dir DIR] ADDR [NAME]

Prints the line protocol of fuzz/clientfuzz/README.md on stdout: "ready"
after connecting and subscribing to "#", one "frame" line per frame the
client hands to its on_frame callback, "error" for a failed connect or
subscribe, and "closed" once the client says it is no longer connected.
The client does not expose the realtime byte, so frame lines carry none.
"""
import json
import os
import sys
import threading
import time


def main():
    args = sys.argv[1:]
    client_dir = os.environ.get('BUSRT_PY_CLIENT_DIR')
    if len(args) >= 2 and args[0] == '--client-dir':
        client_dir = args[1]
        args = args[2:]
    if not client_dir or not 1 <= len(args) <= 2:
        sys.stderr.write('usage: busrt_python_adapter.py [--client-dir DIR] ADDR [NAME]\n'
                         '  (or BUSRT_PY_CLIENT_DIR=DIR): DIR holds the package busrt/ of '
                         'alttch/busrt bindings/python/busrt\n')
        return 2
    sys.path.insert(0, client_dir)
    import busrt.client

    lock = threading.Lock()

    def emit(obj):
        with lock:
            sys.stdout.write(json.dumps(obj) + '\n')
            sys.stdout.flush()

    kinds = {0x01: 'publication', 0x12: 'message', 0x13: 'broadcast'}

    def on_frame(frame):
        topic = frame.topic.encode() if frame.topic is not None else b''
        payload = bytes(frame.payload)
        emit({'ev': 'frame', 'kind': kinds.get(frame.type, frame.type),
              'sender_hex': frame.sender.encode().hex(), 'topic_hex': topic.hex(),
              'payload_hex': payload.hex()})

    client = busrt.client.Client(args[0], args[1] if len(args) == 2 else 'clientfuzz')
    client.on_frame = on_frame
    try:
        client.connect()
        result = client.subscribe('#').wait_completed(timeout=5)
        if result != busrt.client.RESPONSE_OK:
            raise RuntimeError('subscribe: result code 0x%02x' % result)
    except Exception as e:  # the client reports every failure as an exception
        emit({'ev': 'error', 'what': '%s: %s' % (type(e).__name__, e)})
        emit({'ev': 'closed'})
        return 0
    emit({'ev': 'ready'})
    while client.is_connected():
        time.sleep(0.01)
    emit({'ev': 'closed'})
    return 0


if __name__ == '__main__':
    sys.exit(main())
