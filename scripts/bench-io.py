#!/usr/bin/env python3
"""The interactive benchmarks of `make bench` (scripts/bench.sh runs this
after its boots): what needs the host on the other side, so the kernel
cannot time it alone.

Boots build/<arch>/<image> (env LVIO_ARCH) without poweroff, with a GPU, a
virtio-keyboard and a virtio-serial whose port 1 is org.levitate.echo, then
prints `bench: <name>: <value> <unit>` lines:

- console echo port: MB/s of 4 MiB written to the echo port's socket and
  read back intact, both at once (QEMU's chardev, the driver's receive and
  transmit buffers, the kernel copying).
- key to echo: milliseconds from QMP `input-send-event` of a key press
  (not `send-key`, which spaces keys out by QEMU's own delay) to the
  character's echo on the serial line, median of 40 keys (QMP's round
  trip, the virtio-input event and its interrupt, the kernel's main loop
  taking it, the shell's echo through the UART).

Exit status 1, with the reason on stderr, when a figure cannot be taken.
"""

from __future__ import annotations

import os
import select
import socket
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "qemu"))

import qemu as lq  # noqa: E402

ECHO = "org.levitate.echo"


def main() -> int:
    suffix = "pci"
    q = lq.Qemu([], append="", qmp=True, serial_input=True, timeout=60)
    # The devices once the run's temp dir exists: the socket lives in it.
    echo_sock = os.path.join(q.tmpdir, "echo.sock")
    q.cmd += ["-device", f"virtio-gpu-{suffix},xres=640,yres=480",
              "-device", f"virtio-keyboard-{suffix}",
              "-device", f"virtio-serial-{suffix},id=vser0",
              "-chardev", f"socket,id=echo,path={echo_sock},server=on,wait=off",
              "-device", f"virtserialport,chardev=echo,bus=vser0.0,nr=1,name={ECHO}"]
    try:
        q.start()
        q.wait_for(r"^levitate: PASS \d+ tests$")
        q.wait_for(r"^levitate> ")

        # Echo port throughput.
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(echo_sock)
        s.setblocking(False)
        data = os.urandom(4 << 20)
        got = bytearray()
        sent = 0
        t0 = time.monotonic()
        while len(got) < len(data):
            if time.monotonic() - t0 > 120:
                print(f"bench-io: echo port: {len(got)} of {len(data)} bytes back in 120 s",
                      file=sys.stderr)
                return 1
            r, w, _ = select.select([s], [s] if sent < len(data) else [], [], 1.0)
            if w:
                try:
                    sent += s.send(data[sent:sent + 65536])
                except BlockingIOError:
                    pass
            if r:
                chunk = s.recv(1 << 16)
                if not chunk:
                    print("bench-io: echo port closed", file=sys.stderr)
                    return 1
                got += chunk
        dt = time.monotonic() - t0
        if bytes(got) != data:
            print("bench-io: the echo port's bytes differ from what was sent", file=sys.stderr)
            return 1
        print(f"bench: console echo port 4 MiB: {len(data) / dt / 1e6:.1f} MB/s")

        # Key to echo.
        times = []
        for i in range(40):
            ch = "abcdefghij"[i % 10]
            at = q.mark()
            t0 = time.monotonic()
            k = {"type": "qcode", "data": ch}
            q.qmp.execute("input-send-event",
                          events=[{"type": "key", "data": {"down": True, "key": k}}])
            q.qmp.execute("input-send-event",
                          events=[{"type": "key", "data": {"down": False, "key": k}}])
            q.wait_for(ch, since=at, timeout=10)
            times.append(time.monotonic() - t0)
        q.send("\x03")
        print(f"bench: key to echo, median of 40: {statistics.median(times) * 1000:.1f} ms")
        return 0
    except (lq.BootTimeout, lq.QMPError, OSError) as e:
        print(f"bench-io: {e}", file=sys.stderr)
        return 1
    finally:
        q.kill()


if __name__ == "__main__":
    sys.exit(main())
