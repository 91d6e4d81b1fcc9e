#!/usr/bin/env python3
# bench/failover_time.py STREAM_ID OWNER_PID [OWNER_PORT] [OTHER_PORT] — for bench/failover.sh:
# reads the stream on its owner until event 50, kills the owner (-9), resumes at once
# through another node; prints the ms from the kill to the first resumed event, and the
# wall clock of the kill (ms since the epoch).
import os, signal, socket, sys, time

sid, apid = sys.argv[1], int(sys.argv[2])
owner_port = int(sys.argv[3]) if len(sys.argv) > 3 else 8121
other_port = int(sys.argv[4]) if len(sys.argv) > 4 else 8122

def open_stream(port, after=None):
    s = socket.create_connection(("127.0.0.1", port))
    h = f"GET /v1/streams/{sid} HTTP/1.1\r\nHost: 127.0.0.1\r\n" + (f"Last-Event-ID: {after}\r\n" if after else "") + "\r\n"
    s.sendall(h.encode()); return s
s = open_stream(owner_port); buf = b""; last = 0
while last < 50:
    chunk = s.recv(65536)
    if not chunk: sys.exit(f"the stream ended at event {last}: {buf[-300:]!r}")
    buf += chunk
    for line in buf.split(b"\n"):
        if line.startswith(b"id: "): last = max(last, int(line[4:]))
t0 = time.monotonic(); os.kill(apid, signal.SIGKILL)
r = open_stream(other_port, last); got = b""
while b"\nid: " not in got:  # the first event after the response's head
    chunk = r.recv(65536)
    if not chunk: break
    got += chunk
print(f"{(time.monotonic() - t0) * 1000:.0f} {int(time.time() * 1000) - int((time.monotonic() - t0) * 1000)}")
