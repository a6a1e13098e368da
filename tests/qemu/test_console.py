"""virtio-console under QEMU (docs/design.md: the `console` line, the shell
on port 0, the echo port): QEMU's virtio-serial on MMIO v1 and v2 and PCI
modern and legacy, with a `virtconsole` on port 0 and a `virtserialport`
named org.levitate.echo, each on a unix socket this test holds.

- The line: `lvio: console <t>@<a>: ok v<n>, 2 ports (port0 console,
  org.levitate.echo), …`.
- The shell answers on port 0: a command typed there, its answer there.
- The echo port sends back 1 MiB intact, in order (the test writes as fast
  as the socket takes it and reads at the same time).
- A port hot-added (QMP chardev-add + device_add of a virtserialport) and
  removed (device_del): the kernel says both, by id and name.
- Two consoles at once.
"""

from __future__ import annotations

import os
import re
import select
import socket
import time

import pytest

from qemu import MODERN_MMIO

pytestmark = pytest.mark.arch("aarch64", "riscv64", "x86_64")

# transport -> (QEMU arguments, the virtio-serial device, version)
TRANSPORTS = {
    "mmio-v1": ([], "virtio-serial-device", 1),
    "mmio-v2": (MODERN_MMIO, "virtio-serial-device", 2),
    "pci": ([], "virtio-serial-pci", 2),
    "pci-legacy": ([], "virtio-serial-pci,disable-modern=on", 1),
}
transports = pytest.mark.parametrize("transport", list(TRANSPORTS))

ECHO = "org.levitate.echo"
PROMPT = "levitate> "
LINE_RE = re.compile(r"^lvio: console (?P<where>\S+): ok v(?P<v>\d), (?P<n>\d+) ports "
                     r"\((?P<names>[^)]*)\), max (?P<max>\d+), (?P<service>.*)$", re.M)


class Port:
    """The host side of a port: a unix socket QEMU serves."""

    def __init__(self, path: str, timeout: float = 30):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.buf = b""

    def read_until(self, pattern: bytes, timeout: float = 30) -> bytes:
        rx = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        while not rx.search(self.buf):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"port: no {pattern!r} in {self.buf[-400:]!r}")
            r, _, _ = select.select([self.sock], [], [], left)
            if r:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise AssertionError(f"port closed; got {self.buf[-400:]!r}")
                self.buf += chunk
        return self.buf

    def close(self):
        self.sock.close()


def devices(tmp, transport, bus="vser0", echo=True):
    """A virtio-serial `bus` with a console on port 0 (socket c0) and, with
    `echo`, the echo port on port 1 (socket e0: names are QEMU-wide)."""
    args, dev, _ = TRANSPORTS[transport]
    out = list(args) + ["-device", f"{dev},id={bus}"]
    for nr, name, ident in ((0, None, "c0"), (1, ECHO, "e0"))[:2 if echo else 1]:
        path = os.path.join(tmp, f"{bus}-{ident}.sock")
        out += ["-chardev", f"socket,id={bus}{ident},path={path},server=on,wait=off"]
        kind = "virtconsole" if name is None else f"virtserialport,name={name}"
        out += ["-device", f"{kind},chardev={bus}{ident},bus={bus}.0,nr={nr}"]
    return out


@pytest.fixture
def console(qemu, tmp_path):
    """console(transport) -> a started Qemu with one virtio-serial (bus
    vser0: port 0 a console on socket c0, port 1 the echo port on e0), at
    its verdict."""
    def _console(transport, more=()):
        tmp = str(tmp_path)
        q = qemu(devices(tmp, transport) + list(more), append="", qmp=True)
        q.sockdir = tmp
        q.wait_for(r"^levitate: PASS \d+ tests$")
        return q
    return _console


def port(q, bus, ident):
    return Port(os.path.join(q.sockdir, f"{bus}-{ident}.sock"))


@transports
def test_line_and_shell_on_port0(console, transport):
    q = console(transport)
    m = LINE_RE.search(q.serial)
    assert m, q.serial
    assert int(m["v"]) == TRANSPORTS[transport][2], m[0]
    assert m["n"] == "2" and m["names"] == f"port0 console, {ECHO}", m[0]
    assert re.fullmatch(r"irq \d+|msi-x \d+", m["service"]), m[0]
    p0 = port(q, "vser0", "c0")
    p0.sock.sendall(b"\r")  # a fresh prompt, now that someone listens
    p0.read_until(re.escape(PROMPT).encode())
    p0.buf = b""
    p0.sock.sendall(b"echo hello port zero\r")
    out = p0.read_until(rb"hello port zero\r\n" + re.escape(PROMPT).encode())
    assert b"echo hello port zero" in out
    # The serial line's shell did not see it.
    assert "hello port zero" not in q.serial


@transports
def test_echo_port_one_mib(console, transport):
    q = console(transport)
    e = port(q, "vser0", "e0")
    data = os.urandom(1 << 20)
    got = bytearray()
    sent = 0
    e.sock.setblocking(False)
    deadline = time.monotonic() + 120
    while len(got) < len(data):
        assert time.monotonic() < deadline, f"echo: {len(got)} of {len(data)} bytes back"
        want_w = [e.sock] if sent < len(data) else []
        r, w, _ = select.select([e.sock], want_w, [], 1.0)
        if w:
            try:
                sent += e.sock.send(data[sent:sent + 65536])
            except BlockingIOError:
                pass
        if r:
            chunk = e.sock.recv(1 << 16)
            assert chunk, "echo port closed"
            got += chunk
    assert bytes(got) == data, "the echo port's bytes differ from what was sent"


@pytest.mark.parametrize("transport", ["pci", "mmio-v2"])
def test_hot_add_and_remove(console, transport):
    q = console(transport)
    path = os.path.join(q.sockdir, "hot.sock")
    q.qmp.execute("chardev-add", id="hot",
                  backend={"type": "socket",
                           "data": {"addr": {"type": "unix", "data": {"path": path}},
                                    "server": True, "wait": False}})
    at = q.mark()
    q.qmp.execute("device_add", driver="virtserialport", id="hotport", bus="vser0.0",
                  chardev="hot", name="org.levitate.hot", nr=3)
    m = q.wait_for(r"^levitate: console (\S+): port 3 added$", since=at, timeout=30)
    q.wait_for(rf"^levitate: console {re.escape(m[1])}: port 3 named org\.levitate\.hot$",
               since=at, timeout=30)
    at = q.mark()
    q.qmp.execute("device_del", id="hotport")
    q.wait_for(rf"^levitate: console {re.escape(m[1])}: port 3 removed$", since=at, timeout=30)
    # The device still works: port 0's shell answers.
    p0 = port(q, "vser0", "c0")
    p0.sock.sendall(b"echo still here\r")
    p0.read_until(rb"still here\r\n")


def test_two_consoles(console, tmp_path):
    more = devices(str(tmp_path), "pci", bus="vser1", echo=False)
    q = console("pci", more=more)
    ms = [m["names"] for m in LINE_RE.finditer(q.serial)]
    assert sorted(ms) == sorted([f"port0 console, {ECHO}", "port0 console"]), q.serial
    for bus in ("vser0", "vser1"):
        p0 = port(q, bus, "c0")
        p0.sock.sendall(f"echo on {bus}\r".encode())
        p0.read_until(f"on {bus}\r\n".encode())
