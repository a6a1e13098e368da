"""A misbehaving or slow device under real QEMU: named errors, recovery, no leaks.

- An rng whose backend never produces: QEMU's `rng-random` backend reading a
  FIFO that this test holds open and does not write. The kernel's read
  (bootarg rng.timeout_ms=1000) must end in LVIO_E_TIMEOUT on that device's
  line, naming the queue and the indexes, and the kernel must carry on with
  the other devices and give its verdict (FAIL: a device that does not work
  is a failed test).
- Recovery: after the timeout the kernel calls lvio_rng_reset and reads once
  more (waiting twice as long). For one of the two silent rngs this test
  writes entropy into its FIFO as soon as the error line appears: that one
  must say "recovered by lvio_rng_reset", the other "not recovered".
- Soak (bootarg soak): 100 000 rng requests and 10 000 GPU presents (plus 100
  framebuffers made and destroyed) in one boot; the DMA pages in use are the
  same after as before, every call succeeds.

The GPU running out of host memory is tested in test_gpu.py
(test_gpu_out_of_host_memory) and, on PCI, in test_pci.py.
"""

from __future__ import annotations

import os
import re
import tempfile

import pytest

from qemu import EXIT_OK, MMIO_STRIDE, MMIO_TOP, MODERN_MMIO, VERDICT_RE, parse_rng

pytestmark = pytest.mark.arch("aarch64", "riscv64", "x86_64")

TRANSPORTS = {"legacy": ([], 1), "modern": (MODERN_MMIO, 2)}
transports = pytest.mark.parametrize("transport", list(TRANSPORTS))

SOAK_RE = re.compile(r"^levitate: soak: (?P<kind>rng|gpu) (?P<name>\S+): (?P<what>.*), "
                     r"DMA pages (?P<before>\d+) before, (?P<after>\d+) after$", re.M)


@pytest.fixture
def fifos():
    """fifos(n) -> paths of n FIFOs, each held open (read-write, so QEMU's open
    does not block and never sees end-of-file) by the returned fds."""
    made, fds = [], []
    tmp = tempfile.mkdtemp(prefix="lvio-fifo-")

    def _make(n):
        out = []
        for i in range(n):
            path = os.path.join(tmp, f"rng{i}")
            os.mkfifo(path)
            made.append(path)
            fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
            fds.append(fd)
            out.append((path, fd))
        return out

    yield _make
    for fd in fds:
        os.close(fd)
    for p in made:
        os.unlink(p)
    os.rmdir(tmp)


def silent_rng(path, ident):
    return ["-object", f"rng-random,filename={path},id={ident}",
            "-device", f"virtio-rng-device,rng={ident}"]


@transports
def test_silent_rng_times_out_and_one_recovers(qemu, fifos, transport):
    args, version = TRANSPORTS[transport]
    (path_a, fd_a), (path_b, _) = fifos(2)
    # Slots from the top: a (silent, fed after its error), b (silent), a good rng, a gpu.
    devices = (args + silent_rng(path_a, "ra") + silent_rng(path_b, "rb")
               + ["-device", "virtio-rng-device", "-device", "virtio-gpu-device"])
    addr_a, addr_b = MMIO_TOP, MMIO_TOP - MMIO_STRIDE
    q = qemu(devices, append="poweroff rng.timeout_ms=1000", timeout=60)
    # The kernel walks the slots from the bottom: b fails first, then a.
    q.wait_for(rf"^lvio: rng mmio@0x{addr_a:08x}: error ", timeout=45)
    os.write(fd_a, os.urandom(256))
    r = q.wait(timeout=45)

    r.check(r.panic is None, f"kernel panicked: {r.panic}")
    for addr in (addr_a, addr_b):
        [line] = [ln for ln in r.of("rng") if ln.addr == addr] or [None]
        r.check(line is not None and not line.ok, f"no error line for the silent rng at {addr:#x}")
        r.check(line.error == "LVIO_E_TIMEOUT", f"expected LVIO_E_TIMEOUT: {line}")
        for word in ("reading 32 bytes", "queue 0", "no completion", "avail idx 1", "used idx 0"):
            r.check(word in line.detail, f"the error does not say {word!r}: {line}")
    r.check(re.search(rf"^levitate: rng mmio@0x{addr_a:08x}: recovered by lvio_rng_reset: "
                      r"32 bytes read$", r.serial, re.M) is not None,
            "the rng whose backend produced after the timeout did not recover")
    r.check(re.search(rf"^levitate: rng mmio@0x{addr_b:08x}: not recovered by lvio_rng_reset: "
                      r"LVIO_E_TIMEOUT", r.serial, re.M) is not None,
            "the rng that stays silent should say it did not recover")
    good = r.ok("rng")
    r.check(len(good) == 1, f"the working rng next to them: {len(good)} ok lines")
    for ln in good:
        d = parse_rng(ln.detail)
        r.check(d is not None and d.version == version and any(d.data), f"bad rng line: {ln}")
    r.check(len(r.ok("gpu")) == 1, "the gpu did not come up next to the silent rngs")
    vs = r.verdicts
    r.check(len(vs) == 1 and not vs[0].passed and vs[0].failed == 2,
            f"expected one verdict, FAIL 2/n: {[v.line for v in vs]}")
    r.check(r.returncode == EXIT_OK, f"QEMU did not power off cleanly: exit status {r.returncode}")


@transports
def test_soak_no_leaks(boot, transport):
    args, _ = TRANSPORTS[transport]
    r = boot(args + ["-device", "virtio-rng-device", "-device", "virtio-gpu-device"],
             append="poweroff soak", timeout=120)
    r.assert_pass()
    soaks = {m["kind"]: m for m in SOAK_RE.finditer(r.serial)}
    r.check(set(soaks) == {"rng", "gpu"}, f"expected an rng and a gpu soak line: {list(soaks)}")
    rng, gpu = soaks.get("rng"), soaks.get("gpu")
    if rng:
        n = int(re.match(r"(\d+) requests", rng["what"])[1])
        r.check(n >= 100000, f"rng soak made {n} requests, want 100000")
        r.check(rng["before"] == rng["after"], f"rng soak leaked DMA pages: {rng[0]}")
    if gpu:
        n = int(re.match(r"(\d+) presents", gpu["what"])[1])
        r.check(n == 10000, f"gpu soak made {n} presents, want 10000")
        r.check(gpu["before"] == gpu["after"], f"gpu soak leaked DMA pages: {gpu[0]}")
    r.check(VERDICT_RE.search(r.serial) is not None, "no verdict")


@transports
def test_stopped_clock_ends_waits(qemu, fifos, transport):
    """The HAL clock stands still (bootarg hal.clock_stopped): a silent rng's
    read (1.5 s by the clock, the default) and its recovery read still end,
    after LVIO_CLOCK_STALL_POLLS polls each, with a timeout that says the
    clock stood still; the working rng and the GPU, whose waits end by
    completions, are unaffected. Before that bound existed the reads would
    have polled 1 500 x 1 000 000 times and held the boot for minutes."""
    args, version = TRANSPORTS[transport]
    [(path, _)] = fifos(1)
    devices = (args + silent_rng(path, "rs")
               + ["-device", "virtio-rng-device", "-device", "virtio-gpu-device"])
    q = qemu(devices, append="poweroff hal.clock_stopped", timeout=90)
    r = q.wait(timeout=90)
    r.check(r.panic is None, f"kernel panicked: {r.panic}")
    [line] = [ln for ln in r.of("rng") if ln.addr == MMIO_TOP] or [None]
    r.check(line is not None and not line.ok, "no error line for the silent rng")
    r.check(line.error == "LVIO_E_TIMEOUT", f"expected LVIO_E_TIMEOUT: {line}")
    r.check("clock stood still" in line.detail, f"the error does not say the clock stopped: {line}")
    r.check(re.search(rf"^levitate: rng mmio@0x{MMIO_TOP:08x}: not recovered by lvio_rng_reset: "
                      r"LVIO_E_TIMEOUT", r.serial, re.M) is not None,
            "the recovery read of the silent rng did not end in a timeout")
    good = r.ok("rng")
    r.check(len(good) == 1 and parse_rng(good[0].detail).version == version,
            f"the working rng: {[str(g) for g in good]}")
    r.check(len(r.ok("gpu")) == 1, "the gpu did not come up with the clock stopped")
    vs = r.verdicts
    r.check(len(vs) == 1 and not vs[0].passed and vs[0].failed == 1,
            f"expected one verdict, FAIL 1/n: {[v.line for v in vs]}")
    r.check(r.returncode == EXIT_OK, f"QEMU did not power off cleanly: exit status {r.returncode}")
