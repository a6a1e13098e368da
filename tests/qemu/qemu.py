"""Boot the levitate test kernel under QEMU and read what it says.

Standard library only (PIL is imported lazily, for decoding screendumps).

    r = boot(["-device", "virtio-rng-device"])       # waits for QEMU to exit
    r.assert_pass()
    [rng] = r.ok("rng")                                # parsed `lvio:` lines
    parse_rng(rng.detail)                              # its detail (parse_gpu for gpu lines)

    with Qemu(["-device", "virtio-gpu-device"], append="", qmp=True) as q:
        q.wait_for(VERDICT_RE)                         # a serial line
        png = q.screendump()                           # via QMP, format png
        img = load_png(png)

    s = take_screen(["-device", "virtio-gpu-pci,id=g1"], dumps=("g1",))
    check_card(s.result, screenshot(s, "g1"), (1280, 800))   # the eight bars, by pixel

    with Xvfb() as x:                                  # GL (virtio-gpu-gl-*): a display
        r = boot(["-device", "virtio-gpu-gl-pci"], gl=x)   # -display gtk,gl=on on it
        [g3] = r.gpu3d                                 # `levitate: gpu3d` lines

The serial contract (docs/design.md, "Kernel contract"):
    lvio: <device> <transport>@<address>: ok <detail>
    lvio: <device> <transport>@<address>: error <ERROR_NAME> <detail>
        <transport>@<address> is mmio@0x0a003e00 (the register base) or
        pci@BB:DD.F (hex bus, device, function: pci@01:00.0)
    lvio: no <device> devices                  (none of a kind: not a failure)
    levitate: PASS <n> tests | levitate: FAIL <failed>/<n> tests   (exactly once)
    levitate: PANIC ...                        (a crash)
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# The architecture under test (env LVIO_ARCH, default aarch64) and its one
# QEMU command line, from kernel/arch/<arch>/arch.mk (ARCH_* := value).
ARCH = os.environ.get("LVIO_ARCH", "aarch64")


def arch_var(name: str, arch: str = ARCH) -> str:
    text = (REPO / "kernel" / "arch" / arch / "arch.mk").read_text()
    m = re.search(rf"^{name}\s*:=\s*(.*?)\s*$", text, re.M)
    if not m:
        raise KeyError(f"{name} not in kernel/arch/{arch}/arch.mk")
    return m.group(1)


DEFAULT_IMAGE = REPO / "build" / ARCH / arch_var("ARCH_IMAGE")
QEMU = arch_var("ARCH_QEMU")
QEMU_MACHINE = arch_var("ARCH_QEMU_MACHINE")
QEMU_ARGS = shlex.split(arch_var("ARCH_QEMU_ARGS"))
DEFAULT_TIMEOUT = 60.0

# What QEMU's virt machine wires, per architecture (docs/design.md; the
# riscv64 facts are in ../shared/ports.md):
#   mmio        virtio-mmio transports: (base, stride, slots). QEMU fills
#               them from the top: the first -device gets the last slot.
#   mmio_irq    the interrupt line of slot 0 (slot n: mmio_irq + n)
#   intx_irq    the line of a root-bus PCI function in slot d with INTx pin A:
#               intx_irq + d % 4 (the interrupt-map's swizzle)
#   controller  how the kernel's `levitate: interrupts:` line names it
#   fault       a physical pointer's PANIC line: its fields, the exception's
#               name, and the words that say the address was not mapped
#   display     a display device QMP can screendump without the kernel's help
#               (riscv64's virt has no fw_cfg DMA, which ramfb needs: there
#               the kernel's own GPU is the display)
ARCHES = {
    "aarch64": dict(mmio=(0x0A000000, 0x200, 32), mmio_irq=48, intx_irq=35,
                    controller="GICv2 at 0x08000000",
                    fault=(("ESR=", "FAR=", "ELR="), "data abort", "translation fault"),
                    display=["-device", "ramfb"]),
    "riscv64": dict(mmio=(0x10001000, 0x1000, 8), mmio_irq=1, intx_irq=32,
                    controller="PLIC at 0x0c000000",
                    fault=(("scause=", "stval=", "sepc="), "load page fault", "address not mapped"),
                    display=["-device", "virtio-gpu-pci"]),
    # q35 (SeaBIOS, -vga none) for PCI; its virtio-mmio is microvm's (tests pick
    # machine="microvm"): 24 ACPI transports, the second IOAPIC's GSI 24 + slot.
    # INTx: the ISA IRQ SeaBIOS wrote in the Interrupt Line register, by slot.
    "x86_64": dict(mmio=(0xFEB00000, 0x200, 24), mmio_irq=24,
                   intx=lambda dev: (10, 10, 11, 11)[dev % 4],
                   controller="IOAPIC at 0xfec00000",
                   fault=(("vector=", "cr2=", "rip="), "page fault", "address not mapped"),
                   display=["-device", "virtio-gpu-pci"], mmio_machine="microvm"),
}
FACTS = ARCHES[ARCH]
# The default machine's virtio devices (virtio-rng-<VIRTIO>) and QEMU's exit
# status after a clean power-off (x86_64's isa-debug-exit: 1), from arch.mk.
def _arch_var_or(name: str, default: str) -> str:
    try:
        return arch_var(name)
    except KeyError:
        return default


VIRTIO = _arch_var_or("ARCH_QEMU_VIRTIO", "device")
EXIT_OK = int(_arch_var_or("ARCH_QEMU_EXIT_OK", "0"))
RNG_DEVICE = ["-device", f"virtio-rng-{VIRTIO}"]

MMIO_BASE, MMIO_STRIDE, MMIO_SLOTS = FACTS["mmio"]
MMIO_SLOT_ADDRS = [MMIO_BASE + n * MMIO_STRIDE for n in range(MMIO_SLOTS)]
MMIO_TOP = MMIO_SLOT_ADDRS[-1]  # aarch64 0x0a003e00, riscv64 0x10008000


def wired_irq(line) -> int:
    """The line QEMU wires for an ok line's device: its MMIO slot's, or its PCI INTA's."""
    if line.transport == "mmio":
        return FACTS["mmio_irq"] + (line.addr - MMIO_BASE) // MMIO_STRIDE
    _bus, dev, _fn = line.bdf
    if "intx" in FACTS:
        return FACTS["intx"](dev)
    return FACTS["intx_irq"] + dev % 4

MODERN_MMIO = ["-global", "virtio-mmio.force-legacy=false"]
LEGACY_MMIO: list[str] = []

# virt's PCIe root bus (host bridge at 00:00.0; -device ...-pci takes the next free slot).
PCI_ROOT_BUS = "pcie.0"
# `BB:DD.F`, hex, as the kernel prints a PCI function's address.
BDF_RE = re.compile(r"^(?P<bus>[0-9A-Fa-f]{2}):(?P<dev>[0-9A-Fa-f]{2})\.(?P<fn>[0-7])$")


def pci_address(bus: int, dev: int, fn: int = 0) -> str:
    """(1, 0, 0) -> "01:00.0", the contract's spelling of a PCI function."""
    return f"{bus:02x}:{dev:02x}.{fn:x}"

NOT_BUILT = f"run make ARCH={ARCH} first"

# ---------------------------------------------------------------------------
# Parsing the serial output

LVIO_RE = re.compile(
    r"^lvio: (?P<device>[A-Za-z0-9_.-]+) (?P<transport>[a-z]+)@(?P<address>\S+?):"
    r" (?P<status>ok|error)(?:\s+(?P<rest>.*))?$"
)
NONE_RE = re.compile(r"^lvio: no (?P<device>[A-Za-z0-9_.-]+)\b")
PASS_RE = re.compile(r"^levitate: PASS (?P<total>\d+) tests?\b")
FAIL_RE = re.compile(r"^levitate: FAIL (?P<failed>\d+)/(?P<total>\d+) tests?\b")
# The whole verdict line, up to its newline: a screen test that stops QEMU
# as soon as the line starts would cut it short ("PASS 20 tes").
VERDICT_RE = re.compile(r"^levitate: (?:PASS|FAIL) .*\n", re.M)
PANIC_RE = re.compile(r"^levitate: PANIC\b.*$", re.M)
# The end of every ok line: `, irq 48` / `, msi-x 3` / `, polled`.
SERVICE_RE = re.compile(r",\s*(?P<how>irq|msi-x|polled)(?: (?P<n>\d+))?\s*$")
# `levitate: interrupts taken: rng mmio@0x0a003e00 5, gpu pci@00:02.0 12`
INTERRUPTS_RE = re.compile(r"^levitate: interrupts taken: (?P<list>.*)$", re.M)
# `ok v1, 32 bytes 9f04...` — anything may follow.
RNG_RE = re.compile(r"\bv(?P<version>\d+),\s*(?P<count>\d+) bytes?\s+(?P<hex>[0-9A-Fa-f]+)")


@dataclass
class LvioLine:
    """One `lvio: <device> <transport>@<address>: ok|error ...` result line."""

    device: str
    transport: str
    address: str
    status: str  # "ok" or "error"
    error: str | None  # ERROR_NAME for status "error"
    detail: str  # the rest of the line (after ok / after ERROR_NAME)
    line: str  # the whole line as printed
    more: list[str] = field(default_factory=list)  # indented continuation lines

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def addr(self) -> int | None:
        """The register base of an mmio device as a number (None for pci or a malformed one)."""
        if self.transport != "mmio":
            return None
        try:
            return int(self.address, 16)
        except ValueError:
            return None

    @property
    def bdf(self) -> tuple[int, int, int] | None:
        """(bus, device, function) of a pci device (None for mmio or a malformed address)."""
        m = BDF_RE.match(self.address) if self.transport == "pci" else None
        if not m:
            return None
        return int(m.group("bus"), 16), int(m.group("dev"), 16), int(m.group("fn"))

    @property
    def service(self) -> tuple[str, int | None] | None:
        """How an ok line says the device is serviced: ("irq", n), ("msi-x", n), ("polled", None)."""
        m = SERVICE_RE.search(self.detail) if self.ok else None
        if not m:
            return None
        return m.group("how"), int(m.group("n")) if m.group("n") else None

    def __str__(self) -> str:
        return self.line


@dataclass
class RngDetail:
    version: int
    count: int
    data: bytes


def parse_rng(detail: str) -> RngDetail | None:
    """`v1, 32 bytes <hex>...` -> RngDetail (None if it does not look like that)."""
    m = RNG_RE.search(detail)
    if not m:
        return None
    hx = m.group("hex")
    if len(hx) % 2:
        hx = hx[:-1]
    return RngDetail(int(m.group("version")), int(m.group("count")), bytes.fromhex(hx))


# `ok v1, 1 scanout: 0 1280x800, edid on` / `ok v2, 2 scanouts: 0 1024x768, 1 1024x768, edid off`
# / with 3D: `ok v2, 1 scanout: 0 1280x800, edid on, virgl capset 1 v1, msi-x 3`
GPU_RE = re.compile(r"\bv(?P<version>\d+),\s*(?P<count>\d+) scanouts?:\s*(?P<list>.*?)"
                    r"(?:,\s*edid (?P<edid>on|off))?"
                    r"(?:,\s*virgl capset (?P<capset>\d+) v(?P<capver>\d+))?"
                    r"(?:,\s*(?:irq \d+|msi-x \d+|polled))?\s*$")
GPU_SCANOUT_RE = re.compile(r"(?P<id>\d+) (?P<w>\d+)x(?P<h>\d+)")


@dataclass
class GpuDetail:
    version: int
    count: int  # enabled scanouts, as announced
    scanouts: dict[int, tuple[int, int]]  # scanout id -> (width, height)
    edid: bool | None  # None: the line does not say
    virgl: tuple[int, int] | None = None  # (capset id, version) with 3D; None: 2D


def parse_gpu(detail: str) -> GpuDetail | None:
    """`v1, 1 scanout: 0 1280x800, edid on` -> GpuDetail (None if it does not look like that)."""
    m = GPU_RE.search(detail)
    if not m:
        return None
    scanouts = {int(s.group("id")): (int(s.group("w")), int(s.group("h")))
                for s in GPU_SCANOUT_RE.finditer(m.group("list"))}
    edid = None if m.group("edid") is None else m.group("edid") == "on"
    virgl = (int(m.group("capset")), int(m.group("capver"))) if m.group("capset") else None
    return GpuDetail(int(m.group("version")), int(m.group("count")), scanouts, edid, virgl)


# GPU 3D, after a gpu ok line with virgl (docs/design.md):
#   levitate: gpu3d <t>@<a>: clear ok, triangle ok, <frames> frames in <ms> ms
#   levitate: gpu3d <t>@<a>: 2 contexts at once: clear ok, triangle ok in both
#   levitate: gpu3d <t>@<a>: error <NAME> <detail>
GPU3D_RE = re.compile(r"^levitate: gpu3d (?P<transport>[a-z]+)@(?P<address>\S+?): (?P<rest>.*)$",
                      re.M)
GPU3D_OK_RE = re.compile(r"^clear ok, triangle ok, (?P<frames>\d+) frames in (?P<ms>\d+) ms$")
GPU3D_TWO_RE = re.compile(r"^2 contexts at once: clear ok, triangle ok in both$")


@dataclass
class Gpu3dLine:
    """One `levitate: gpu3d <t>@<a>: ...` line."""

    transport: str
    address: str
    kind: str  # "ok" (clear, triangle, frames), "two" (2 contexts), "error", "other"
    error: str | None  # the error's NAME
    detail: str  # what follows `<t>@<a>: ` (after NAME for an error)
    frames: int | None
    ms: int | None
    line: str

    @property
    def where(self) -> str:
        return f"{self.transport}@{self.address}"


def parse_gpu3d(text: str) -> list[Gpu3dLine]:
    out = []
    for m in GPU3D_RE.finditer(text):
        rest = m.group("rest")
        kind, err, frames, ms = "other", None, None, None
        ok = GPU3D_OK_RE.match(rest)
        if ok:
            kind, frames, ms = "ok", int(ok.group("frames")), int(ok.group("ms"))
        elif GPU3D_TWO_RE.match(rest):
            kind = "two"
        elif rest.startswith("error "):
            kind = "error"
            err, _, rest = rest[len("error "):].partition(" ")
        out.append(Gpu3dLine(m.group("transport"), m.group("address"), kind, err, rest,
                             frames, ms, m.group(0)))
    return out


@dataclass
class Verdict:
    passed: bool
    failed: int
    total: int
    line: str


def normalize(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse_lines(text: str) -> list[LvioLine]:
    out: list[LvioLine] = []
    last: LvioLine | None = None
    for ln in text.split("\n"):
        m = LVIO_RE.match(ln)
        if m:
            rest = (m.group("rest") or "").strip()
            err = None
            if m.group("status") == "error":
                err, _, rest = rest.partition(" ")
                rest = rest.strip()
            last = LvioLine(m.group("device"), m.group("transport"), m.group("address"),
                            m.group("status"), err or None, rest, ln)
            out.append(last)
        elif last is not None and ln[:1] in (" ", "\t") and ln.strip():
            last.more.append(ln.strip())
        else:
            last = None
    return out


def parse_verdicts(text: str) -> list[Verdict]:
    out = []
    for ln in text.split("\n"):
        m = PASS_RE.match(ln)
        if m:
            out.append(Verdict(True, 0, int(m.group("total")), ln))
            continue
        m = FAIL_RE.match(ln)
        if m:
            out.append(Verdict(False, int(m.group("failed")), int(m.group("total")), ln))
    return out


# ---------------------------------------------------------------------------
# The result of one boot


class BootTimeout(AssertionError):
    pass


@dataclass
class BootResult:
    cmd: list[str]
    serial: str
    stderr: str
    returncode: int | None  # None: still running when we stopped (killed)
    timed_out: bool
    seconds: float

    @property
    def lines(self) -> list[LvioLine]:
        return parse_lines(self.serial)

    def of(self, device: str) -> list[LvioLine]:
        return [ln for ln in self.lines if ln.device == device]

    def ok(self, device: str | None = None) -> list[LvioLine]:
        return [ln for ln in self.lines if ln.ok and (device is None or ln.device == device)]

    def errors(self, device: str | None = None) -> list[LvioLine]:
        return [ln for ln in self.lines if not ln.ok and (device is None or ln.device == device)]

    def none_found(self, device: str) -> bool:
        """The kernel said it found no device of this kind (`lvio: no rng ...`)."""
        return any(
            (m := NONE_RE.match(ln)) and m.group("device") == device
            for ln in self.serial.split("\n")
        )

    @property
    def interrupts(self) -> dict[str, int]:
        """`levitate: interrupts taken: rng mmio@0x0a003e00 5, ...` -> {"mmio@0x0a003e00": 5}."""
        m = INTERRUPTS_RE.search(self.serial)
        if not m:
            return {}
        out = {}
        for item in m.group("list").split(","):
            parts = item.split()
            if len(parts) == 3 and parts[2].isdigit():
                out[parts[1]] = int(parts[2])
        return out

    @property
    def gpu3d(self) -> list["Gpu3dLine"]:
        """Every `levitate: gpu3d ...` line, in order."""
        return parse_gpu3d(self.serial)

    @property
    def verdicts(self) -> list[Verdict]:
        return parse_verdicts(self.serial)

    @property
    def verdict(self) -> Verdict | None:
        v = self.verdicts
        return v[-1] if v else None

    @property
    def panic(self) -> str | None:
        m = PANIC_RE.search(self.serial)
        return m.group(0) if m else None

    @property
    def command_line(self) -> str:
        return shlex.join(self.cmd)

    def log(self) -> str:
        """Everything needed to debug a failure, as one text."""
        parts = [
            f"$ {self.command_line}",
            f"exit status: {self.returncode}"
            + (" (timed out, killed)" if self.timed_out else "")
            + f", {self.seconds:.1f} s",
            "---- serial ----",
            self.serial.rstrip("\n") or "(nothing on the serial line)",
        ]
        if self.stderr.strip():
            parts += ["---- qemu stderr ----", self.stderr.rstrip("\n")]
        return "\n".join(parts)

    def check(self, cond: bool, what: str) -> None:
        """assert with the whole log in the message."""
        __tracebackhide__ = True
        if not cond:
            raise AssertionError(f"{what}\n{self.log()}")

    def assert_pass(self) -> Verdict:
        """A clean run: no panic, exactly one verdict, PASS, QEMU exited 0."""
        __tracebackhide__ = True
        self.check(not self.timed_out, "QEMU timed out")
        self.check(self.panic is None, f"kernel panicked: {self.panic}")
        vs = self.verdicts
        self.check(len(vs) == 1, f"expected exactly one 'levitate: PASS|FAIL' line, got {len(vs)}")
        v = vs[0]
        self.check(v.passed, f"in-guest tests failed: {v.line}")
        self.check(v.total > 0, f"no in-guest tests ran: {v.line}")
        self.check(self.returncode == EXIT_OK, f"QEMU exited with status {self.returncode}"
                   + (f" (a clean power-off exits {EXIT_OK})" if EXIT_OK else ""))
        return v


# ---------------------------------------------------------------------------
# Running QEMU


def inet_csum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of `data`: 0 over a packet whose
    checksum field is right."""
    if len(data) % 2:
        data += b"\0"
    s = sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def qemu_binary() -> str:
    return os.environ.get("LVIO_QEMU", QEMU)


def check_environment(image: Path) -> None:
    """Fail clearly when the kernel image or QEMU is missing."""
    if not Path(image).is_file():
        raise FileNotFoundError(
            f"kernel image {image} not found: {NOT_BUILT} (or `make check-qemu`)")
    if shutil.which(qemu_binary()) is None:
        raise FileNotFoundError(
            f"{qemu_binary()} not found: run scripts/deps.sh qemu")


# QEMU's display for a GL device (virtio-gpu-gl-*): GTK with OpenGL, on an X
# server (Xvfb below; Mesa's llvmpipe renders). QEMU 7.2's egl-headless needs
# a DRM render node, which these machines do not have.
GL_DISPLAY = "gtk,gl=on"


def build_command(devices=(), *, image=None, append="poweroff", machine=None,
                  qmp_socket=None, extra=(), display="none") -> list[str]:
    """The architecture's QEMU command line (arch.mk; `machine` replaces its -M value)."""
    cmd = [qemu_binary(), "-M", machine or QEMU_MACHINE, *QEMU_ARGS,
           "-display", display, "-serial", "stdio", "-monitor", "none",
           "-nic", "none", "-no-reboot", "-kernel", str(image or DEFAULT_IMAGE)]
    if append is not None and append != "":
        cmd += ["-append", append]
    if qmp_socket:
        cmd += ["-qmp", f"unix:{qmp_socket},server=on,wait=off"]
    cmd += list(extra)
    cmd += list(devices)
    return cmd


class Xvfb:
    """An X server in memory (Xvfb) for QEMU's GL display: one per test session.

    start() picks a free display number (from 90 up: the lock files say
    which are taken; a race with another starter moves on to the next),
    writes a fresh cookie to a throwaway XAUTHORITY file, starts
    `Xvfb :N -auth <file> -nolisten tcp` and waits until it is ready (it
    writes its display number to -displayfd then). .env is what a client
    needs: DISPLAY and XAUTHORITY. stop() ends it and removes the file.
    """

    def __init__(self, screen: str = "1280x1024x24", timeout: float = 20.0):
        self.screen = screen
        self.timeout = timeout
        self.proc: subprocess.Popen | None = None
        self.display: str | None = None
        self.tmpdir: str | None = None
        self.log = ""

    @property
    def env(self) -> dict[str, str]:
        if not self.display:
            raise RuntimeError("Xvfb not started")
        return {"DISPLAY": self.display, "XAUTHORITY": os.path.join(self.tmpdir, "Xauthority")}

    def start(self) -> "Xvfb":
        for tool, pkg in (("Xvfb", "xvfb"), ("xauth", "xauth")):
            if shutil.which(tool) is None:
                raise FileNotFoundError(f"{tool} not found ({pkg}): run scripts/deps.sh gl")
        self.tmpdir = tempfile.mkdtemp(prefix="lvio-xvfb-")
        problems = []
        for n in range(90, 190):
            if os.path.exists(f"/tmp/.X{n}-lock") or os.path.exists(f"/tmp/.X11-unix/X{n}"):
                continue
            why = self._try(n)
            if why is None:
                self.display = f":{n}"
                return self
            problems.append(f":{n}: {why}")
            if len(problems) >= 5:
                break
        self.stop()
        raise RuntimeError("could not start Xvfb: " + "; ".join(problems))

    def _try(self, n: int) -> str | None:
        """Start on display n; None when it is ready, else why not."""
        auth = os.path.join(self.tmpdir, "Xauthority")
        cookie = os.urandom(16).hex()
        subprocess.run(["xauth", "-q", "-f", auth, "add", f":{n}", ".", cookie], check=True,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)  # "file does not exist": it makes it
        rfd, wfd = os.pipe()
        try:
            self.proc = subprocess.Popen(
                ["Xvfb", f":{n}", "-auth", auth, "-nolisten", "tcp", "-screen", "0", self.screen,
                 "-displayfd", str(wfd)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                pass_fds=(wfd,), start_new_session=True)
        finally:
            os.close(wfd)
        got = b""
        deadline = time.monotonic() + self.timeout
        with os.fdopen(rfd, "rb", buffering=0) as r:
            while b"\n" not in got and time.monotonic() < deadline:
                chunk = r.read(16)  # blocks until Xvfb writes, or exits (EOF)
                if not chunk:
                    break
                got += chunk
        if got.strip() == str(n).encode():
            return None
        err = ""
        if self.proc.poll() is None:
            self._kill()
            err = "not ready in time"
        else:
            err = self.proc.stderr.read().decode(errors="replace").strip().splitlines()
            err = err[-1] if err else f"exited with status {self.proc.returncode}"
        self.proc = None
        return err

    def _kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=5)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait()

    def stop(self) -> None:
        self._kill()
        self.proc = None
        self.display = None
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None

    def __enter__(self) -> "Xvfb":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class _Reader(threading.Thread):
    """Collects a pipe into a buffer; wait_for() blocks on new data."""

    def __init__(self, pipe, cond: threading.Condition):
        super().__init__(daemon=True)
        self.pipe = pipe
        self.cond = cond
        self.buf = bytearray()
        self.eof = False

    def run(self):
        fd = self.pipe.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            with self.cond:
                if chunk:
                    self.buf += chunk
                else:
                    self.eof = True
                self.cond.notify_all()
            if not chunk:
                return


class Qemu:
    """One QEMU process. Use as a context manager (it is always killed at exit).

    devices: QEMU arguments for the devices (and any other options), e.g.
      ["-device", "virtio-rng-device"] or MODERN_MMIO + [...].
    timeout: wall-clock seconds for wait_for()/wait() (each call may override).
    qmp: also open a QMP socket (self.qmp once started).
    serial_input: the serial line's input is a pipe (send() types on it);
      otherwise it reads nothing.
    gl: a started Xvfb: QEMU shows its display there with OpenGL (GL_DISPLAY),
      which virtio-gpu-gl-* devices need; None: -display none.
    """

    def __init__(self, devices=(), *, image=None, append="poweroff", timeout=DEFAULT_TIMEOUT,
                 qmp=False, extra=(), serial_input=False, gl: Xvfb | None = None, **machine):
        self.image = Path(image or DEFAULT_IMAGE)
        self.timeout = timeout
        self.tmpdir = tempfile.mkdtemp(prefix="lvio-qemu-")  # short: unix sockets <= 107 chars
        self.qmp_path = os.path.join(self.tmpdir, "qmp.sock") if qmp else None
        self.env = {**os.environ, **gl.env} if gl else None
        self.cmd = build_command(devices, image=self.image, append=append,
                                 qmp_socket=self.qmp_path, extra=extra,
                                 display=GL_DISPLAY if gl else "none", **machine)
        self.proc: subprocess.Popen | None = None
        self.qmp: QMP | None = None
        self._cond = threading.Condition()
        self._out: _Reader | None = None
        self._err: _Reader | None = None
        self._t0 = 0.0
        self._t1: float | None = None
        self.timed_out = False
        self._shots = 0
        self.serial_input = serial_input

    # -- lifecycle --
    def start(self) -> "Qemu":
        check_environment(self.image)
        self._t0 = time.monotonic()
        self.proc = subprocess.Popen(self.cmd,
                                     stdin=subprocess.PIPE if self.serial_input
                                     else subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=self.env, start_new_session=True)
        self._out = _Reader(self.proc.stdout, self._cond)
        self._err = _Reader(self.proc.stderr, self._cond)
        self._out.start()
        self._err.start()
        if self.qmp_path:
            self.qmp = QMP(self.qmp_path, proc=self.proc, timeout=min(self.timeout, 30))
        return self

    def __enter__(self) -> "Qemu":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.kill()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.qmp:
            self.qmp.close()
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait()
            self._join()
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    def _join(self) -> None:
        for r in (self._out, self._err):
            if r is not None:
                r.join(timeout=5)
        if self._t1 is None:
            self._t1 = time.monotonic()

    # -- input --
    def send(self, text: str | bytes) -> None:
        """Type `text` on the serial line (start with serial_input=True)."""
        if not self.serial_input or self.proc is None or self.proc.stdin is None:
            raise RuntimeError("start Qemu(..., serial_input=True) to type on the serial line")
        self.proc.stdin.write(text.encode() if isinstance(text, str) else text)
        self.proc.stdin.flush()

    def mark(self) -> int:
        """Where the serial output is now: wait_for(..., since=mark) looks only after it."""
        return len(self.serial)

    # -- output --
    @property
    def serial(self) -> str:
        with self._cond:
            return normalize(bytes(self._out.buf)) if self._out else ""

    @property
    def stderr(self) -> str:
        with self._cond:
            return normalize(bytes(self._err.buf)) if self._err else ""

    def result(self) -> BootResult:
        end = self._t1 if self._t1 is not None else time.monotonic()
        if self.proc is None:  # never started
            end = self._t0
        rc = self.proc.poll() if self.proc else None
        if self.timed_out:
            rc = None
        return BootResult(self.cmd, self.serial, self.stderr, rc, self.timed_out, end - self._t0)

    def _deadline(self, timeout):
        return time.monotonic() + (self.timeout if timeout is None else timeout)

    def wait_for(self, pattern, timeout=None, since=0) -> re.Match:
        """Wait until the serial output (from offset `since`: a mark()) matches
        `pattern` (a regex, re.M applies).

        Raises BootTimeout (with the log) on timeout, or if QEMU exits first.
        """
        __tracebackhide__ = True
        rx = re.compile(pattern, re.M) if isinstance(pattern, str) else pattern
        deadline = self._deadline(timeout)
        while True:
            m = rx.search(self.serial, since)
            if m:
                return m
            with self._cond:
                if self._out.eof:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 0.5))
        m = rx.search(self.serial, since)
        if m:
            return m
        if self.alive():
            self.timed_out = True
            what = f"timed out after {time.monotonic() - self._t0:.0f} s"
        else:
            what = "QEMU exited"
        self.kill()
        raise BootTimeout(f"{what} waiting for /{rx.pattern}/ on the serial line\n"
                          f"{self.result().log()}")

    def wait(self, timeout=None) -> BootResult:
        """Wait for QEMU to exit by itself; on timeout kill it and raise BootTimeout."""
        __tracebackhide__ = True
        deadline = self._deadline(timeout)
        try:
            self.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.timed_out = True
            waited = time.monotonic() - self._t0
            self.kill()
            raise BootTimeout(f"QEMU did not exit within {waited:.0f} s (killed)\n"
                              f"{self.result().log()}") from None
        self._join()
        return self.result()

    # -- QMP conveniences --
    def screendump(self, filename=None, *, device=None, head=None) -> Path:
        """Take a PNG screendump over QMP; returns its path (in a temp dir unless given)."""
        if not self.qmp:
            raise RuntimeError("start Qemu(..., qmp=True) to take screendumps")
        # Default: inside this run's temp dir, which kill() removes; pass a path to keep it.
        if filename:
            path = Path(filename)
        else:
            self._shots += 1
            path = Path(self.tmpdir) / f"screen{self._shots}.png"
        self.qmp.screendump(str(path), device=device, head=head)
        return path

    def quit(self, timeout=10) -> BootResult:
        """Ask QEMU to quit over QMP (or kill it), and return the result."""
        if self.qmp and self.alive():
            try:
                self.qmp.execute("quit")
            except (QMPError, OSError):
                pass
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        self.kill()
        return self.result()


def boot(devices=(), *, timeout=DEFAULT_TIMEOUT, on_result=None, **kw) -> BootResult:
    """Boot with `-append poweroff` (by default), wait for QEMU to exit, return the result.

    on_result(result) is called with the result (also on timeout) before returning/raising,
    so callers can keep the log for reporting.
    """
    __tracebackhide__ = True
    q = Qemu(devices, timeout=timeout, **kw)
    try:
        q.start()
        r = q.wait()
    except BootTimeout:
        if on_result:
            on_result(q.result())
        raise
    finally:
        q.kill()
    if on_result:
        on_result(r)
    return r


# ---------------------------------------------------------------------------
# QMP


class QMPError(Exception):
    pass


class QMP:
    """A minimal QMP client on a unix socket: greeting, qmp_capabilities, execute()."""

    def __init__(self, path, *, proc=None, timeout=30.0):
        self.path = path
        self.timeout = timeout
        self.events: list[dict] = []
        self.greeting: dict | None = None
        self.sock = None
        deadline = time.monotonic() + timeout
        while True:
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                s.close()
                if proc is not None and proc.poll() is not None:
                    raise QMPError(f"QEMU exited (status {proc.returncode}) before QMP was up")
                if time.monotonic() > deadline:
                    raise QMPError(f"no QMP socket at {path} after {timeout} s")
                time.sleep(0.05)
        s.settimeout(timeout)
        self.sock = s
        self._buf = b""
        # The greeting should come first, but QEMU can let an event through ahead
        # of it: the VM's RESUME, broadcast from the main thread while the monitor
        # thread has accepted the connection and not yet sent the greeting (seen
        # once in CI on x86_64 microvm). Events before the greeting are kept.
        while True:
            msg = self._read()
            if "QMP" in msg:
                self.greeting = msg
                break
            if "event" not in msg:
                raise QMPError(f"unexpected QMP greeting {msg!r}")
            self.events.append(msg)
        self.execute("qmp_capabilities")

    def _read(self) -> dict:
        while b"\n" not in self._buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise QMPError("QMP connection closed")
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return json.loads(line)

    def execute(self, command: str, **arguments):
        """Run a command and return its "return" value; events seen meanwhile go to .events."""
        msg = {"execute": command}
        if arguments:
            msg["arguments"] = arguments
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            r = self._read()
            if "event" in r:
                self.events.append(r)
            elif "error" in r:
                e = r["error"]
                raise QMPError(f"{command}: {e.get('class')}: {e.get('desc')}")
            elif "return" in r:
                return r["return"]

    def screendump(self, filename: str, *, device=None, head=None, format="png"):
        args = {"filename": filename, "format": format}
        if device is not None:
            args["device"] = device
        if head is not None:
            args["head"] = head
        return self.execute("screendump", **args)

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None


def load_png(path):
    """Decode a screendump into an RGB PIL image (needs python3-pil)."""
    from PIL import Image  # lazily: only screenshot tests need it

    with Image.open(path) as im:
        return im.convert("RGB")


# ---------------------------------------------------------------------------
# Screens: one boot that stays up, its screendumps, and the test card's pixels
#
# The card (docs/design.md, kernel contract): rows 0 .. H*2/3-1 are eight vertical
# bars, bar i covering x in [i*W/8, (i+1)*W/8) (integer division), white,
# yellow, cyan, green, magenta, red, blue, black; rows H*2/3 .. H-1 are the text
# console, light text on 0x101820. QEMU's screendump leaves out the hardware
# cursor plane, so the cursor is not seen here.

BARS = [
    ("white", 0xFFFFFF), ("yellow", 0xFFFF00), ("cyan", 0x00FFFF), ("green", 0x00FF00),
    ("magenta", 0xFF00FF), ("red", 0xFF0000), ("blue", 0x0000FF), ("black", 0x000000),
]
CONSOLE_BG = 0x101820


@dataclass
class Screen:
    """One boot without poweroff: its result (QEMU was told to quit) and its screendumps."""

    result: BootResult
    images: dict  # QMP screendump device (None: the first display) -> PIL RGB image
    problem: str | None  # why an image is missing (boot timed out, QMP failed, ...)

    @property
    def image(self):
        """The first screendump taken (None if there is none)."""
        return next(iter(self.images.values()), None)


def take_screen(devices, *, image=None, timeout=30.0, dumps=(None,), machine=None) -> Screen:
    """Boot without poweroff, wait for the verdict, screendump each of `dumps`, quit.

    dumps: QMP screendump `device` arguments (a display device's id; None: the first).
    machine: another -M value (x86_64: "microvm" for virtio-mmio).
    A dump that fails leaves its image out and says why in .problem.
    """
    q = Qemu(devices, image=image, timeout=timeout, append="", qmp=True, machine=machine)
    images: dict = {}
    problems = []
    try:
        q.start()
        q.wait_for(VERDICT_RE)
        for dev in dumps:
            try:
                images[dev] = load_png(q.screendump(device=dev))  # now: kill() removes the file
            except QMPError as e:
                problems.append(f"screendump device={dev!r}: {e}")
        r = q.quit()
    except (BootTimeout, QMPError, OSError) as e:
        problems.append(f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
        q.kill()
        r = q.result()
    finally:
        q.kill()
    return Screen(r, images, "; ".join(problems) or None)


class ScreenCache:
    """One boot per configuration (devices + dumps), shared by the tests that look at it."""

    def __init__(self, image, scale=1.0):
        self.image = image
        self.scale = scale
        self.shots: dict[tuple, Screen] = {}

    def get(self, devices, timeout: float = 30, dumps=(None,), machine=None) -> Screen:
        key = (tuple(devices), tuple(dumps), machine)
        if key not in self.shots:
            self.shots[key] = take_screen(list(devices), image=self.image,
                                          timeout=timeout * self.scale, dumps=tuple(dumps),
                                          machine=machine)
        return self.shots[key]


def assert_pass_up(r: BootResult) -> None:
    """One PASS verdict, no panic, no error lines (QEMU was told to quit: no exit status)."""
    __tracebackhide__ = True
    r.check(r.panic is None, f"kernel panicked: {r.panic}")
    vs = r.verdicts
    r.check(len(vs) == 1, f"expected exactly one verdict line, got {len(vs)}")
    r.check(vs[0].passed and vs[0].total > 0, f"expected PASS: {vs[0].line}")
    r.check(not r.errors(), "unexpected error lines: " + "; ".join(map(str, r.errors())))


def screenshot(s: Screen, device=None):
    """The screendump of `device` (default: the first taken); fails with the log if missing."""
    __tracebackhide__ = True
    img = s.images.get(device) if device is not None else s.image
    of = f" of {device}" if device is not None else ""
    s.result.check(img is not None, f"no screendump{of}: {s.problem}")
    return img


def rgb(c: int) -> tuple[int, int, int]:
    return (c >> 16) & 0xFF, (c >> 8) & 0xFF, c & 0xFF


def hexrgb(p) -> str:
    return "%02x%02x%02x" % tuple(p[:3])


def bar_range(i: int, width: int) -> tuple[int, int]:
    return i * width // 8, (i + 1) * width // 8


def card_problems(img, width: int, height: int) -> list[str]:
    """Every way the top two thirds differ from the eight bars (empty: a perfect card)."""
    top = height * 2 // 3
    bad = []
    # Several points inside each bar, away from its edges...
    rows = [top * k // 8 for k in (1, 3, 5, 7)]
    for i, (name, color) in enumerate(BARS):
        x0, x1 = bar_range(i, width)
        for x in (x0 + (x1 - x0) * k // 8 for k in (2, 4, 6)):
            for y in rows:
                p = img.getpixel((x, y))
                if p != rgb(color):
                    bad.append(f"bar {i} ({name}) at ({x},{y}): {hexrgb(p)}, expected {color:06x}")
    # ...and the exact edges the contract gives: first and last column of each bar,
    # on the first, middle and last row of the card.
    for y in (0, top // 2, top - 1):
        for i, (name, color) in enumerate(BARS):
            x0, x1 = bar_range(i, width)
            for x in (x0, x1 - 1):
                p = img.getpixel((x, y))
                if p != rgb(color):
                    bad.append(f"bar {i} ({name}) edge ({x},{y}): {hexrgb(p)}, expected {color:06x}")
    return bad


def check_card(r: BootResult, img, size: tuple[int, int]) -> None:
    __tracebackhide__ = True
    r.check(img.size == size, f"screendump is {img.size[0]}x{img.size[1]}, expected {size[0]}x{size[1]}")
    bad = card_problems(img, *size)
    r.check(not bad, f"test card wrong at {len(bad)} points:\n  " + "\n  ".join(bad[:16]))


def colors(img, box) -> dict[tuple, int]:
    """rgb -> pixel count inside box (left, top, right, bottom)."""
    region = img.crop(box)
    return {c: n for n, c in region.getcolors(region.width * region.height)}


def bright(p) -> bool:
    return sum(p[:3]) >= 3 * 160


def console_stats(img, width: int, height: int):
    top = height * 2 // 3
    hist = colors(img, (0, top, width, height))
    total = width * (height - top)
    bg = hist.get(rgb(CONSOLE_BG), 0) / total
    light = sum(n for c, n in hist.items() if bright(c)) / total
    card_bg = colors(img, (0, 0, width, top)).get(rgb(CONSOLE_BG), 0)
    return bg, light, card_bg


def check_console(r: BootResult, img, size: tuple[int, int], text: bool = True) -> None:
    """Bottom third mostly 0x101820, none of it above; with text, light text on it.

    text=False: the console area without the log (the kernel writes the log on
    the first GPU only; the others show the card over an empty console area).
    """
    __tracebackhide__ = True
    bg, light, card_bg = console_stats(img, *size)
    w, h = size
    common = sorted(colors(img, (0, h * 2 // 3, w, h)).items(), key=lambda kv: -kv[1])[:4]
    seen = ", ".join(f"{hexrgb(c)} x{n}" for c, n in common)
    r.check(bg > 0.5, f"console area (bottom third) is only {bg:.1%} background "
            f"{CONSOLE_BG:06x}; most common colours: {seen}")
    if text:
        r.check(light > 0.005, f"console area has only {light:.2%} bright pixels: no text? "
                f"(most common colours: {seen})")
    r.check(card_bg == 0,
            f"{card_bg} pixels of console background {CONSOLE_BG:06x} in the top two thirds")
