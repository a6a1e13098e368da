"""virtio-net under QEMU (docs/design.md: the `net` lines): QEMU's
virtio-net on MMIO v1 and v2 and PCI modern and legacy.

- QEMU's user network (slirp): the card's line, DHCP's 10.0.2.15, the
  gateway's ping answered; UDP datagrams from the host (hostfwd to port 7)
  of 1 to 1472 bytes, each echoed intact.
- A raw Ethernet peer: `-netdev socket,udp=…` carries each frame in a UDP
  datagram between QEMU and this test, which speaks Ethernet itself: no
  DHCP there, so the kernel takes 10.0.2.15 after a second; ARP, ICMP echo
  and UDP echo checked by exact frame; then hostile frames (runts, oversize,
  lying lengths and checksums, fragments, a flood faster than the kernel
  reads) after which the kernel still answers.
- Device options: mrg_rxbuf=off (on legacy PCI: the 10-byte header),
  csum=off,guest_csum=off, ctrl_vq=off, mq=on (QEMU's user and socket
  backends have one queue pair, so MQ is offered with one; several pairs are
  host-tested); two cards at once; the shell's `net` counters.
- The shell's `net send`: every frame arrives, exact; and against a stream
  backend whose other end never reads, it stops after a second without
  progress, says so, and the shell goes on.
"""

from __future__ import annotations

import os
import re
import socket
import struct
import subprocess
import threading
import time

import pytest

from qemu import MODERN_MMIO, inet_csum

pytestmark = pytest.mark.arch("aarch64", "riscv64", "x86_64")

# transport -> (QEMU arguments, device, version)
TRANSPORTS = {
    "mmio-v1": ([], "virtio-net-device", 1),
    "mmio-v2": (MODERN_MMIO, "virtio-net-device", 2),
    "pci": ([], "virtio-net-pci", 2),
    "pci-legacy": ([], "virtio-net-pci,disable-modern=on", 1),
}
transports = pytest.mark.parametrize("transport", list(TRANSPORTS))

MAC = bytes.fromhex("525400123456")   # QEMU's default for the first card
PEER_MAC = bytes.fromhex("020000000001")
OURS = socket.inet_aton("10.0.2.15")
PEER_IP = socket.inet_aton("10.0.2.2")
NET_RE = re.compile(r"^lvio: net (?P<where>\S+): ok v(?P<v>\d), mac (?P<mac>[0-9a-f:]{17}), "
                    r"link (?P<link>up|down), mtu (?P<mtu>\d+), (?P<pairs>\d+) queue pairs, "
                    r"(?P<service>.*)$", re.M)


def free_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def card(transport: str, netdev: str, props: str = "", ident: str = "n0") -> list[str]:
    args, dev, _ = TRANSPORTS[transport]
    return list(args) + ["-netdev", f"{netdev},id={ident}",
                         "-device", f"{dev},netdev={ident}" + (f",{props}" if props else "")]


def boot(qemu, devices, **kw):
    q = qemu(devices, append="", serial_input=True, **kw)
    q.wait_for(r"^levitate: PASS \d+ tests$", timeout=60)
    return q


# ---------------------------------------------------------------------------
# The user network: DHCP, the gateway's ping, UDP echo from the host


def udp_echo(port: int, sizes, timeout=5.0) -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        for n in sizes:
            data = os.urandom(n)
            for attempt in range(3):  # slirp may drop the first while it learns ARP
                s.sendto(data, ("127.0.0.1", port))
                try:
                    got, _ = s.recvfrom(2048)
                    break
                except socket.timeout:
                    if attempt == 2:
                        raise AssertionError(f"no echo of a {n}-byte datagram")
            assert got == data, f"the echo of a {n}-byte datagram differs"
    finally:
        s.close()


@transports
def test_user_network(qemu, transport):
    port = free_port()
    q = boot(qemu, card(transport, f"user,hostfwd=udp:127.0.0.1:{port}-:7"))
    m = NET_RE.search(q.serial)
    assert m, q.serial
    assert int(m["v"]) == TRANSPORTS[transport][2]
    assert m["mac"] == "52:54:00:12:34:56" and m["link"] == "up" and m["mtu"] == "1500"
    assert re.fullmatch(r"irq \d+|msi-x \d+", m["service"]), m[0]
    q.wait_for(rf"^levitate: net {re.escape(m['where'])}: ip 10\.0\.2\.15$")
    q.wait_for(r"^levitate: net \S+: dhcp from 10\.0\.2\.2, mask 255\.255\.255\.0, "
               r"gateway 10\.0\.2\.2$")
    q.wait_for(r"^levitate: net \S+: ping 10\.0\.2\.2: \d+ us$")
    sizes = range(1, 1473) if transport == "pci" else (1, 2, 17, 64, 511, 512, 1000, 1471, 1472)
    udp_echo(port, sizes)


# ---------------------------------------------------------------------------
# A raw Ethernet peer


csum = inet_csum


def eth(dst: bytes, typ: int, payload: bytes) -> bytes:
    return dst + PEER_MAC + struct.pack("!H", typ) + payload


def ipv4(proto: int, payload: bytes, src=PEER_IP, dst=OURS, flags=0x4000, bad_csum=False):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, flags, 64, proto, 0, src, dst)
    c = csum(h) ^ (1 if bad_csum else 0)
    return h[:10] + struct.pack("!H", c) + h[12:] + payload


def udp(sport: int, dport: int, data: bytes, bad_csum=False, length=None) -> bytes:
    ln = 8 + len(data) if length is None else length
    pseudo = PEER_IP + OURS + struct.pack("!BBH", 0, 17, 8 + len(data))
    h = struct.pack("!HHHH", sport, dport, ln, 0)
    c = csum(pseudo + h + data) or 0xFFFF
    return struct.pack("!HHHH", sport, dport, ln, c ^ (1 if bad_csum else 0)) + data


def arp_request(target=OURS) -> bytes:
    body = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, PEER_MAC, PEER_IP, b"\0" * 6, target)
    return eth(b"\xff" * 6, 0x0806, body)


class Peer:
    """This test's end of `-netdev socket,udp=`: one frame per datagram."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.qemu_port = free_port()

    def netdev(self) -> str:
        # QEMU binds localaddr and sends to udp=.
        return f"socket,udp=127.0.0.1:{self.port},localaddr=127.0.0.1:{self.qemu_port}"

    def send(self, frame: bytes) -> None:
        self.sock.sendto(frame, ("127.0.0.1", self.qemu_port))

    def expect(self, match, timeout=5.0, what="a frame") -> bytes:
        """The next frame `match` accepts (others, like DHCP's, are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"no {what} from the kernel"
            self.sock.settimeout(left)
            try:
                f, _ = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            if match(f):
                return f

    def ping(self, ident: int, seq: int, data: bytes, timeout=5.0) -> bytes:
        icmp = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + data
        icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
        self.send(eth(MAC, 0x0800, ipv4(1, icmp)))
        return self.expect(lambda f: f[12:14] == b"\x08\x00" and f[23] == 1 and
                           f[34] == 0 and f[38:42] == struct.pack("!HH", ident, seq),
                           timeout, f"echo reply {ident}/{seq}")

    def udp_echo(self, data: bytes, sport=40000, timeout=5.0) -> bytes:
        self.send(eth(MAC, 0x0800, ipv4(17, udp(sport, 7, data))))
        return self.expect(lambda f: f[12:14] == b"\x08\x00" and f[23] == 17 and
                           struct.unpack("!HH", f[34:38]) == (7, sport), timeout,
                           f"UDP echo to port {sport}")


@pytest.fixture
def peer():
    p = Peer()
    yield p
    p.sock.close()


def check_reply_ip(f: bytes, proto: int, n: int) -> bytes:
    assert f[:6] == PEER_MAC and f[6:12] == MAC, f[:14].hex()
    ip = f[14:34]
    assert ip[0] == 0x45 and ip[9] == proto and csum(ip) == 0
    assert ip[12:16] == OURS and ip[16:20] == PEER_IP
    assert struct.unpack("!H", ip[2:4])[0] == 20 + n and len(f) >= 34 + n
    return f[34:34 + n]


@transports
def test_raw_peer(qemu, peer, transport):
    q = boot(qemu, card(transport, peer.netdev()))
    q.wait_for(r"^levitate: net \S+: ip 10\.0\.2\.15$")
    q.wait_for(r"^levitate: net \S+: no DHCP answer in 1000 ms: fixed, mask 255\.255\.255\.0, "
               r"gateway 10\.0\.2\.2$")
    # ARP, by exact frame.
    peer.send(arp_request())
    f = peer.expect(lambda f: f[12:14] == b"\x08\x06" and f[20:22] == b"\x00\x02",
                    what="ARP reply")
    want = eth(PEER_MAC, 0x0806, struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 2, MAC, OURS,
                                             PEER_MAC, PEER_IP))
    assert f[:6] == PEER_MAC and f[6:12] == MAC and f[12:42] == want[12:42], f.hex()
    # ICMP echo.
    data = bytes(range(56))
    f = peer.ping(0x4242, 1, data)
    icmp = check_reply_ip(f, 1, 8 + 56)
    assert csum(icmp) == 0 and icmp[8:] == data
    # UDP echo, exact bytes back.
    for n in (1, 100, 1472):
        data = os.urandom(n)
        f = peer.udp_echo(data)
        u = check_reply_ip(f, 17, 8 + n)
        assert u[8:] == data
        pseudo = OURS + PEER_IP + struct.pack("!BBH", 0, 17, 8 + n)
        assert csum(pseudo + u) == 0, "bad UDP checksum on the echo"


@pytest.mark.parametrize("transport", ["pci", "mmio-v2"])
def test_hostile_frames(qemu, peer, transport):
    q = boot(qemu, card(transport, peer.netdev()))
    q.wait_for(r"^levitate: net \S+: ip 10\.0\.2\.15$")
    hostile = [
        b"\x01",                                                  # runt
        MAC + PEER_MAC,                                           # no ethertype
        eth(MAC, 0x0800, b"\x45\x00"),                            # IPv4 cut short
        eth(MAC, 0x0800, ipv4(17, udp(1, 7, b"x"))[:-3]),         # total length past the end
        eth(MAC, 0x0800, ipv4(17, udp(1, 7, b"x"), bad_csum=True)),
        eth(MAC, 0x0800, ipv4(17, udp(1, 7, b"x" * 64), flags=0x2000)),   # a fragment
        eth(MAC, 0x0800, ipv4(17, udp(1, 7, b"x" * 8, length=200))),      # UDP length lies
        eth(MAC, 0x0800, ipv4(17, udp(1, 7, b"x" * 8, bad_csum=True))),
        eth(MAC, 0x0800, ipv4(1, b"\x08\x00\x00\x00")),           # ICMP bad checksum
        eth(MAC, 0x86DD, b"\x60" + b"\0" * 60),                   # IPv6
        eth(MAC, 0x0800, b"\x46" + b"\0" * 60),                   # IP options
        eth(MAC, 0x0806, b"\0" * 10),                             # ARP cut short
        eth(MAC, 0x0800, ipv4(17, udp(1, 7, b"y" * 3000)))[:9000],  # oversize
    ]
    for f in hostile:
        peer.send(f)
    # A flood: 3000 echoes as fast as the socket takes them; answers may be
    # missed (the device drops what has no buffer), but the kernel goes on.
    for i in range(3000):
        peer.send(eth(MAC, 0x0800, ipv4(17, udp(50000 + i % 100, 7, b"flood"))))
    # The kernel answers what it took at its own pace: wait until no echo
    # came for half a second (bounded) before asking again.
    deadline = time.monotonic() + 30
    peer.sock.settimeout(0.5)
    while time.monotonic() < deadline:
        try:
            peer.sock.recvfrom(65536)
        except socket.timeout:
            break
    # Still answering, everything: ARP, ping, UDP.
    peer.send(arp_request())
    peer.expect(lambda f: f[12:14] == b"\x08\x06" and f[20:22] == b"\x00\x02", what="ARP reply")
    peer.ping(7, 7, b"still there")
    assert peer.udp_echo(b"after the storm", sport=41000)[42:] == b"after the storm"
    # The shell's counters name what was refused.
    at = q.mark()
    q.send("net\r")
    m = q.wait_for(r"not taken:(.*)\n", since=at, timeout=30)
    counts = dict(re.findall(r" (\S+) (\d+)", m[1]))
    for why in ("runt", "ip-checksum", "fragment", "udp", "icmp", "ethertype", "ip-header"):
        assert int(counts.get(why, 0)) >= 1, f"{why} not counted: {m[1]}"


@pytest.mark.parametrize("props", ["mrg_rxbuf=off", "csum=off,guest_csum=off", "ctrl_vq=off",
                                   "mq=on,vectors=10"])
def test_device_options(qemu, peer, props):
    transport = "pci-legacy" if props == "mrg_rxbuf=off" else "pci"
    q = boot(qemu, card(transport, peer.netdev(), props))
    m = NET_RE.search(q.serial)
    assert m, q.serial
    # mq=on: QEMU's socket and user backends have one queue pair, so the
    # card offers MQ with max_virtqueue_pairs 1 (several pairs: host tests).
    assert m["pairs"] == "1", m[0]
    q.wait_for(r"^levitate: net \S+: ip 10\.0\.2\.15$")
    for n in (1, 1472):
        data = os.urandom(n)
        assert peer.udp_echo(data)[42:42 + n] == data
    peer.ping(1, 2, b"x" * 32)


def test_two_cards(qemu, peer):
    port = free_port()
    q = boot(qemu, card("pci", f"user,hostfwd=udp:127.0.0.1:{port}-:7", ident="n0") +
             card("pci", peer.netdev(), "mac=52:54:00:12:34:57", ident="n1"))
    lines = NET_RE.findall(q.serial)
    assert len(lines) == 2, q.serial
    q.wait_for(r"dhcp from 10\.0\.2\.2")
    q.wait_for(r"no DHCP answer in 1000 ms")
    udp_echo(port, (1, 1000))


# ---------------------------------------------------------------------------
# The shell's `net send`: frames out as fast as the ring takes them, and a
# backend that stops taking them (a stream whose other end never reads)

SENT_RE = (r"^sent (\d+) frames of (\d+) bytes in \d+ us: \d+ frames/s, \d+ notifies, "
           r"\d+ interrupts, \d+ busy$")


def shell(q, cmd: str, pattern: str, timeout=60):
    at = q.mark()
    q.send(cmd + "\r")
    return q.wait_for(pattern, since=at, timeout=timeout)


def to_port9(f: bytes) -> bool:
    """A UDP datagram to port 9 (discard), as `net send` sends."""
    return len(f) >= 42 and f[12:14] == b"\x08\x00" and f[23] == 17 and f[36:38] == b"\x00\x09"


def collect(sock: socket.socket, into: list, want: int, quiet: float = 5.0) -> None:
    """`net send`'s frames into `into` until `want` came, or none for `quiet` seconds."""
    sock.settimeout(quiet)
    try:
        while len(into) < want:
            f = sock.recvfrom(65536)[0]
            if to_port9(f):
                into.append(f)
    except socket.timeout:
        pass


@pytest.mark.parametrize("transport", ["pci", "mmio-v1"])
def test_shell_net_send(qemu, peer, transport):
    q = boot(qemu, card(transport, peer.netdev()))
    q.wait_for(r"^levitate: net \S+: ip 10\.0\.2\.15$")
    q.wait_for(r"^levitate> ")
    # Read while the kernel sends, into a socket buffer that holds them all
    # even so (the frames come faster than this test reads): a frame missing
    # is then the kernel's or QEMU's, not this socket's.
    peer.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)  # at most rmem_max
    for count, size in ((250, 60), (100, 1514)):  # 32 transmit buffers: full again and again
        port9: list[bytes] = []
        reader = threading.Thread(target=collect, args=(peer.sock, port9, count), daemon=True)
        reader.start()
        m = shell(q, f"net send {count} {size}", SENT_RE)
        assert (int(m[1]), int(m[2])) == (count, size), m[0]
        reader.join(30)
        assert len(port9) == count, f"{len(port9)} of {count} frames from `net send` arrived"
        for got, f in enumerate(port9):  # every one a UDP datagram to the gateway's port 9
            # to the gateway's MAC, or to all while the kernel has no ARP entry for it
            assert f[:6] in (PEER_MAC, b"\xff" * 6) and f[6:12] == MAC, f[:14].hex()
            assert len(f) == size and csum(f[14:34]) == 0, f"frame {got + 1}: {len(f)} bytes"
            assert f[26:30] == OURS and f[30:34] == PEER_IP
            assert csum(OURS + PEER_IP + struct.pack("!BBH", 0, 17, size - 34) + f[34:]) == 0
            assert f[42:] == bytes(k & 0xFF for k in range(size - 42)), f"frame {got + 1}"


def test_shell_net_send_stalled(qemu):
    """QEMU's stream backend to a listener that accepts and never reads:
    once the host's socket buffers are full, the card takes no more frames.
    `net send` stops after a second of that and says so, and the shell
    goes on."""
    lsn = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fills sooner
    lsn.bind(("127.0.0.1", 0))
    lsn.listen(1)
    lsn.settimeout(30)
    port = lsn.getsockname()[1]
    try:
        q = boot(qemu, card("pci", f"stream,server=off,addr.type=inet,addr.host=127.0.0.1,"
                                   f"addr.port={port}"))
        conn, _ = lsn.accept()
        with conn:
            q.wait_for(r"^levitate: net \S+: ip 10\.0\.2\.15$")
            q.wait_for(r"^levitate> ")
            at = q.mark()
            q.send("net send 1000000 1514\r")
            m = q.wait_for(r"^net send: stopped: the device took no frame for 1000 ms, "
                           r"(\d+) sent$", since=at, timeout=60)
            assert 0 < int(m[1]) < 1000000, m[0]
            assert int(q.wait_for(SENT_RE, since=at)[1]) == int(m[1])
            shell(q, "net", r"tx busy [1-9]\d*")  # the shell still answers
    finally:
        lsn.close()


# ---------------------------------------------------------------------------
# Several queue pairs for real: a multiqueue tap on the host (needs root and
# /dev/net/tun; skipped, saying why, without them). The host's tap spreads
# flows over its queues, so datagrams from 64 source ports arrive on every
# pair, and the kernel answers each on the pair it came on.

@pytest.fixture
def tap():
    name = f"lvt{os.getpid() % 1000000}"
    r = subprocess.run(["ip", "tuntap", "add", "dev", name, "mode", "tap", "multi_queue"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"no multiqueue tap here: {r.stderr.strip()}")
    yield name
    subprocess.run(["ip", "link", "del", name], capture_output=True)


def test_multiqueue_tap(qemu, tap):
    q = boot(qemu, ["-netdev", f"tap,id=n0,ifname={tap},script=no,downscript=no,queues=4",
                    "-device", "virtio-net-pci,netdev=n0,mq=on,vectors=10"])
    m = NET_RE.search(q.serial)
    assert m and m["pairs"] == "4", q.serial
    q.wait_for(r"^levitate: net \S+: ip 10\.0\.2\.15$")
    # Only host routes (/32): nothing else on the host's network changes.
    for cmd in (["ip", "addr", "add", "10.0.2.2/32", "dev", tap], ["ip", "link", "set", tap, "up"],
                ["ip", "route", "add", "10.0.2.15/32", "dev", tap]):
        subprocess.run(cmd, check=True, capture_output=True)
    for port in range(41000, 41064):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind(("10.0.2.2", port))
            s.settimeout(5)
            data = b"pair test %d" % port
            s.sendto(data, ("10.0.2.15", 7))
            assert s.recvfrom(2048)[0] == data, f"the echo to port {port} differs"
        finally:
            s.close()
    at = q.mark()
    q.send("net\r")
    m = q.wait_for(r"frames per pair: rx ([\d ]+), tx ([\d ]+)\n", since=at, timeout=30)
    rx, tx = ([int(x) for x in m[i].split()] for i in (1, 2))
    assert len(rx) == 4 and all(rx), f"frames received per pair: {rx}"
    assert len(tx) == 4 and all(tx), f"frames sent per pair: {tx}"
