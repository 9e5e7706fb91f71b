"""CPU of one `send()` on a loopback TCP connection, in the sending thread, with a reader draining the other end on
another core: what each write of a response costs the gateway on this machine (the kernel delivers loopback data,
and wakes the reader, in the sender's system call).

    .venv/bin/python bench/loopback_send_cpu.py [--sends 50000] [--size 200,600]

Prints one JSON line: µs of the sending thread's CPU (`time.thread_time`) per send, for each size. Linux only (it
pins the two threads to cores 0 and 1).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import threading
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sends", type=int, default=50_000)
    parser.add_argument("--size", default="200,600", help="comma-separated bytes per send")
    args = parser.parse_args()
    server = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(server.getsockname())
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as uvloop sets it on every TCP transport
    reader, _ = server.accept()

    def drain() -> None:
        os.sched_setaffinity(0, {1})
        while reader.recv(1 << 20):
            pass

    threading.Thread(target=drain, daemon=True).start()
    os.sched_setaffinity(0, {0})
    figures = {}
    for size in (int(text) for text in args.size.split(",")):
        data = b"x" * size
        started = time.thread_time()
        for _ in range(args.sends):
            client.sendall(data)
        figures[f"send_{size}_bytes_us"] = round((time.thread_time() - started) / args.sends * 1e6, 2)
    client.close()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
