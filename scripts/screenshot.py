#!/usr/bin/env python3
"""Save a running QEMU's screen as a PNG through QMP (standard library only).

    scripts/screenshot.py [--socket build/qmp.sock] [--out build/screen.png]
                          [--log build/run.log] [--pattern REGEX] [--timeout 30]

QEMU must have been started with `-qmp unix:<socket>,server=on,wait=off`.
With --log, waits until the serial log (e.g. a chardev logfile) matches
--pattern (by default the kernel's verdict line) before taking the picture;
if it never does within --timeout seconds, takes it anyway and says so.
scripts/run.sh runs this in the background when there is no $DISPLAY.

Exit status: 0 saved, 1 failed (message on stderr), 2 QEMU went away first
(nothing to save; quiet unless --verbose).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import sys
import time

VERDICT = r"^levitate: (?:PASS|FAIL) "


class Gone(Exception):
    """QEMU is not (or no longer) there."""


def say(msg: str, stream=sys.stdout) -> None:
    # The terminal may be in raw mode (QEMU -nographic owns it): end lines with CR LF.
    end = "\r\n" if stream.isatty() else "\n"
    stream.write(("\r" if stream.isatty() else "") + msg + end)
    stream.flush()


class QMP:
    def __init__(self, path: str, deadline: float, qemu_pid: int | None):
        while True:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                s.close()
                if qemu_pid is not None and not alive(qemu_pid):
                    raise Gone(f"process {qemu_pid} exited")
                if time.monotonic() > deadline:
                    raise Gone(f"no QMP socket at {path}")
                time.sleep(0.1)
        s.settimeout(30)
        self.sock = s
        self.buf = b""
        # QEMU can send an event (RESUME) ahead of the greeting; skip events.
        greeting = self.read()
        while "event" in greeting:
            greeting = self.read()
        if "QMP" not in greeting:
            raise RuntimeError(f"unexpected QMP greeting: {greeting!r}")
        self.execute("qmp_capabilities")

    def read(self) -> dict:
        while b"\n" not in self.buf:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                raise Gone("QMP connection closed")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return json.loads(line)

    def execute(self, command: str, **arguments):
        msg = {"execute": command}
        if arguments:
            msg["arguments"] = arguments
        try:
            self.sock.sendall(json.dumps(msg).encode() + b"\n")
        except (BrokenPipeError, ConnectionResetError):
            raise Gone("QMP connection closed") from None
        while True:
            r = self.read()
            if "error" in r:
                e = r["error"]
                raise RuntimeError(f"{command}: {e.get('class')}: {e.get('desc')}")
            if "return" in r:
                return r["return"]
            # anything else is an event: ignore

    def close(self) -> None:
        self.sock.close()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is not alive: look at /proc if we can
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def wait_for_log(path: str, pattern: str, deadline: float, qmp: QMP) -> bool:
    rx = re.compile(pattern, re.M)
    while time.monotonic() < deadline:
        try:
            with open(path, "rb") as f:
                text = f.read().decode("utf-8", "replace").replace("\r", "")
            if rx.search(text):
                return True
        except FileNotFoundError:
            pass
        qmp.execute("query-status")  # raises Gone when QEMU has quit
        time.sleep(0.2)
    return False


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--socket", default="build/qmp.sock", help="QMP unix socket")
    ap.add_argument("--out", default="build/screen.png", help="PNG to write")
    ap.add_argument("--log", help="serial log to watch before taking the picture")
    ap.add_argument("--pattern", default=VERDICT, help="regex to wait for in --log")
    ap.add_argument("--timeout", type=float, default=30, help="seconds to wait (socket, then log)")
    ap.add_argument("--device", help="display device id (default: the first console)")
    ap.add_argument("--head", type=int, help="head (scanout) of --device")
    ap.add_argument("--pid", type=int,
                    help="give up waiting for the socket once this process (QEMU or its parent) exits")
    ap.add_argument("--prefix", default="screenshot", help="word in front of messages")
    ap.add_argument("--verbose", action="store_true", help="also say when QEMU went away")
    a = ap.parse_args()

    out = os.path.abspath(a.out)  # QEMU writes it, from its own working directory
    deadline = time.monotonic() + a.timeout
    try:
        qmp = QMP(a.socket, deadline, a.pid)
        try:
            note = ""
            if a.log:
                if not wait_for_log(a.log, a.pattern, time.monotonic() + a.timeout, qmp):
                    note = f" (no /{a.pattern}/ in {a.log} after {a.timeout:g} s)"
            args = {"filename": out, "format": "png"}
            if a.device:
                args["device"] = a.device
            if a.head is not None:
                args["head"] = a.head
            qmp.execute("screendump", **args)
        finally:
            qmp.close()
    except Gone as e:
        if a.verbose:
            say(f"{a.prefix}: no screen saved: {e}", sys.stderr)
        return 2
    except (RuntimeError, OSError, ValueError) as e:
        say(f"{a.prefix}: screendump failed: {e}", sys.stderr)
        return 1
    say(f"{a.prefix}: screen saved to {os.path.relpath(out)}{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
