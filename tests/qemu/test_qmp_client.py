"""The test harness's own QMP client (qemu.QMP), against a fake QMP server.

CI once saw QEMU send its RESUME event ahead of the QMP greeting (x86_64
microvm, a screen boot): the client must keep such events and go on to the
greeting, and still refuse a first message that is neither.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import threading

import pytest

import qemu as lq

GREETING = {"QMP": {"version": {}, "capabilities": []}}
RESUME = {"timestamp": {"seconds": 1, "microseconds": 2}, "event": "RESUME"}


def fake_server(path, first):
    """Serve one client: send `first` (a list of messages), then answer every
    command with {"return": {}}. Returns the thread and the commands it saw."""
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    seen = []

    def run():
        conn, _ = srv.accept()
        with conn, srv:
            for m in first:
                conn.sendall(json.dumps(m).encode() + b"\n")
            buf = b""
            while True:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                buf += chunk
                while b"\n" in buf:
                    line, _, buf = buf.partition(b"\n")
                    seen.append(json.loads(line)["execute"])
                    conn.sendall(b'{"return": {}}\n')

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, seen


@pytest.mark.parametrize("first", [[GREETING], [RESUME, GREETING], [RESUME, RESUME, GREETING]],
                         ids=["greeting", "event-first", "two-events-first"])
def test_events_before_the_greeting_are_kept(first):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "qmp.sock")
        t, seen = fake_server(path, first)
        q = lq.QMP(path, timeout=5)
        try:
            assert q.greeting == GREETING
            assert q.events == first[:-1]
            assert q.execute("query-status") == {}
        finally:
            q.close()
        t.join(5)
        assert seen == ["qmp_capabilities", "query-status"]


def test_a_first_message_that_is_no_greeting_is_refused():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "qmp.sock")
        t, _ = fake_server(path, [{"return": {}}])
        with pytest.raises(lq.QMPError, match="unexpected QMP greeting"):
            lq.QMP(path, timeout=5)
        t.join(5)
