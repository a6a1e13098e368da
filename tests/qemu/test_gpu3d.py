"""virtio-gpu 3D (virgl) under real QEMU: the kernel draws and checks its own pixels.

QEMU cannot screendump a GL scanout ("no surface"), so the verdict is the
kernel's: it reads its render target back (TRANSFER_FROM_HOST_3D) and checks
the clear colour in the corners and the triangle's at its centroid, then says

    lvio: gpu <t>@<a>: ok v<n>, 1 scanout: 0 1280x800, edid on, virgl capset 1 v1, <service>
    levitate: gpu3d <t>@<a>: clear ok, triangle ok, 60 frames in <ms> ms
    levitate: gpu3d <t>@<a>: 2 contexts at once: clear ok, triangle ok in both

or `levitate: gpu3d <t>@<a>: error <NAME> ...` and a failed test in the verdict.
These tests can fail: the bootarg `gpu3d.wrong` makes the kernel expect a
wrong triangle colour, and the negative control checks that it says
PIXEL_MISMATCH and FAILs.

QEMU runs with `-display gtk,gl=on` on the session's Xvfb (conftest.py's
`xvfb` fixture; Mesa's llvmpipe renders). QEMU 7.2 facts these tests rely on:
  - virtio-gpu-gl-device / -pci offer VIRGL; GET_CAPSET_INFO index 0 is capset 1
    (VIRGL) version 1;
  - the GL devices have no `virgl` property: a GL device without 3D is the
    kernel's choice (bootarg `virgl.off`), and then it is a 2D GPU as any;
  - virtio-gpu-gl-pci, like virtio-gpu-pci, is modern-only: with
    `disable-modern=on,disable-legacy=off` it is still v2 (no legacy PCI to test);
  - `-display egl-headless` needs a DRM render node (none here): GTK it is;
  - x86_64's microvm (its only virtio-mmio machine) never reaches the kernel
    with a graphical display (gtk or sdl, with or without gl, -nodefaults,
    qboot or bios-microvm: the vCPU halts in the firmware, nothing on the
    serial line), so on x86_64 the GL GPU is tested on q35's PCI only.

Few boots: one per transport (cached: the line tests and the two-context
tests share it), each powers off by itself; not repeated per GIC.
"""

from __future__ import annotations

import pytest

import qemu as lq
from qemu import EXIT_OK, MODERN_MMIO, BootResult, LvioLine, parse_gpu

pytestmark = pytest.mark.arch("aarch64", "riscv64", "x86_64")

V = lq.VIRTIO  # the default machine's transport for virtio-*-<V> (x86_64: pci)

# transport id -> (QEMU args, the gpu line's transport, its version, the archs)
TRANSPORTS = {
    "legacy-mmio": (["-device", "virtio-gpu-gl-device"], "mmio", 1, ("aarch64", "riscv64")),
    "modern-mmio": (MODERN_MMIO + ["-device", "virtio-gpu-gl-device"], "mmio", 2,
                    ("aarch64",)),
    "pci": (["-device", "virtio-gpu-gl-pci"], "pci", 2, ("aarch64", "riscv64", "x86_64")),
}
VIRGL_CAPSET = (1, 1)
FRAMES = 60


def for_arch(names):
    return [n for n in names if lq.ARCH in TRANSPORTS[n][3]]


transports = pytest.mark.parametrize("transport", for_arch(TRANSPORTS))


def _machine_for(devices) -> str | None:
    """x86_64's q35 has no virtio-mmio: a virtio-*-device boots on microvm."""
    mm = lq.FACTS.get("mmio_machine")
    if mm and any(str(a).split(",")[0].endswith("-device") and str(a).startswith("virtio-")
                  for a in devices):
        return mm
    return None


class GlBoots:
    """One boot per (devices, bootargs) for the module, on the session's Xvfb."""

    def __init__(self, image, xvfb, scale):
        self.image, self.xvfb, self.scale = image, xvfb, scale
        self.runs: dict[tuple, BootResult] = {}

    def get(self, devices, append="poweroff", timeout=90.0) -> BootResult:
        key = (tuple(devices), append)
        if key not in self.runs:
            kw = {"machine": _machine_for(devices)}
            try:
                r = lq.boot(list(devices), image=self.image, append=append, gl=self.xvfb,
                            timeout=timeout * self.scale, **kw)
            except lq.BootTimeout as e:
                pytest.fail(str(e), pytrace=False)
            self.runs[key] = r
        return self.runs[key]


@pytest.fixture(scope="module")
def gl_boots(kernel_image, xvfb, pytestconfig) -> GlBoots:
    return GlBoots(kernel_image, xvfb, pytestconfig.getoption("--qemu-timeout-scale"))


@pytest.fixture
def gl_boot(request, gl_boots):
    """gl_boot(devices, append=...) -> BootResult, cached; its log goes to a failure's report."""
    def _boot(devices, **kw) -> BootResult:
        r = gl_boots.get(devices, **kw)
        request.node.__dict__.setdefault("_lvio_runs", []).append(r)
        return r
    return _boot


# ---------------------------------------------------------------------------
# Checks


def gpu_lines(r: BootResult, count: int) -> list[LvioLine]:
    lines = r.of("gpu")
    r.check(len(lines) == count, f"expected {count} gpu line(s), got {len(lines)}: "
            + "; ".join(map(str, lines)))
    return lines


def gpu_3d_ok(r: BootResult, line: LvioLine, transport: str, version: int) -> None:
    """A gpu ok line of a GL device: its transport, vN, 1280x800, edid on, virgl capset 1 v1."""
    r.check(line.ok, f"gpu not ok: {line}")
    r.check(line.transport == transport, f"expected a {transport} gpu: {line}")
    d = parse_gpu(line.detail)
    r.check(d is not None, f"gpu detail does not parse: {line}")
    r.check(d.version == version, f"expected v{version}: {line}")
    r.check(d.scanouts.get(0) == (1280, 800), f"expected scanout 0 1280x800: {line}")
    r.check(d.virgl == VIRGL_CAPSET,
            f"expected ', virgl capset {VIRGL_CAPSET[0]} v{VIRGL_CAPSET[1]}' on the line: {line}")
    r.check(line.service is not None, f"the line does not end with how it is serviced: {line}")


def gpu3d_of(r: BootResult, line: LvioLine, kind: str) -> list:
    where = f"{line.transport}@{line.address}"
    return [g for g in r.gpu3d if g.where == where and g.kind == kind]


def gpu3d_ok(r: BootResult, line: LvioLine) -> None:
    """The gpu3d line for this gpu: clear ok, triangle ok, 60 frames in <ms> ms; no error."""
    where = f"{line.transport}@{line.address}"
    errors = gpu3d_of(r, line, "error")
    r.check(not errors, "gpu3d errors: " + "; ".join(g.line for g in errors))
    oks = gpu3d_of(r, line, "ok")
    r.check(len(oks) == 1, f"expected one 'levitate: gpu3d {where}: clear ok, triangle ok, "
            f"{FRAMES} frames in <ms> ms' line, got {len(oks)}")
    r.check(oks[0].frames == FRAMES and oks[0].ms > 0, f"frames or time wrong: {oks[0].line}")


# ---------------------------------------------------------------------------
# One GL GPU per transport


@transports
def test_gpu3d_clear_and_triangle(gl_boot, transport):
    """virgl negotiated and named on the gpu line; the kernel's clear and triangle pass."""
    args, tr, version, _ = TRANSPORTS[transport]
    r = gl_boot(args)
    r.assert_pass()
    [line] = gpu_lines(r, 1)
    gpu_3d_ok(r, line, tr, version)
    gpu3d_ok(r, line)
    # The order of the contract: the gpu's ok line, then its gpu3d line.
    r.check(r.serial.index(line.line) < r.serial.index(gpu3d_of(r, line, "ok")[0].line),
            "the gpu3d line came before the gpu's ok line")


@transports
def test_gpu3d_two_contexts_at_once(gl_boot, transport):
    """Two contexts, each drawing in its own target, both checked by their pixels."""
    args, _, _, _ = TRANSPORTS[transport]
    r = gl_boot(args)
    r.assert_pass()
    [line] = gpu_lines(r, 1)
    two = gpu3d_of(r, line, "two")
    r.check(len(two) == 1, "expected 'levitate: gpu3d ...: 2 contexts at once: clear ok, "
            f"triangle ok in both' for {line.transport}@{line.address}")


# ---------------------------------------------------------------------------
# A 2D GPU and a 3D GPU in one boot; a GL device without VIRGL


def test_2d_and_3d_gpu_in_one_boot(gl_boot):
    """virtio-gpu-pci (2D) and virtio-gpu-gl-pci: both ok, only the GL one has virgl and a
    gpu3d line; the 2D one is exactly what it always was."""
    r = gl_boot(["-device", "virtio-gpu-pci", "-device", "virtio-gpu-gl-pci"])
    r.assert_pass()
    lines = gpu_lines(r, 2)
    for ln in lines:
        r.check(ln.ok, f"gpu not ok: {ln}")
    details = [parse_gpu(ln.detail) for ln in lines]
    r.check(all(d is not None for d in details), "a gpu line does not parse")
    three = [ln for ln, d in zip(lines, details) if d.virgl]
    two = [ln for ln, d in zip(lines, details) if not d.virgl]
    r.check(len(three) == 1 and len(two) == 1,
            "expected one gpu with virgl and one without: " + "; ".join(map(str, lines)))
    gpu_3d_ok(r, three[0], "pci", 2)
    gpu3d_ok(r, three[0])
    r.check(not gpu3d_of(r, two[0], "ok") and not gpu3d_of(r, two[0], "error"),
            f"a gpu3d line for the 2D gpu {two[0].address}")
    d2 = parse_gpu(two[0].detail)
    r.check(d2.version == 2 and d2.scanouts.get(0) == (1280, 800) and d2.edid is True,
            f"the 2D gpu's line changed: {two[0]}")


@pytest.mark.arch("aarch64")
def test_gl_device_without_virgl_is_2d(gl_boot):
    """bootarg virgl.off: the kernel does not ask for VIRGL; the GL device is a 2D GPU."""
    r = gl_boot(["-device", "virtio-gpu-gl-pci"], append="poweroff virgl.off")
    r.assert_pass()
    [line] = gpu_lines(r, 1)
    r.check(line.ok, f"gpu not ok: {line}")
    d = parse_gpu(line.detail)
    r.check(d is not None and d.virgl is None, f"virgl on the line with virgl.off: {line}")
    r.check(d.scanouts.get(0) == (1280, 800) and d.edid is True, f"not the 2D line: {line}")
    r.check(not r.gpu3d, "gpu3d lines with virgl.off: " + "; ".join(g.line for g in r.gpu3d))


# ---------------------------------------------------------------------------
# The negative control: the check can fail


@pytest.mark.arch("aarch64")
def test_wrong_colour_is_a_named_failure(gl_boot):
    """bootarg gpu3d.wrong: the kernel expects a wrong triangle colour, so its own pixel
    check must fail: PIXEL_MISMATCH on the gpu3d line, a FAIL verdict, a clean power-off."""
    r = gl_boot(["-device", "virtio-gpu-gl-pci"], append="poweroff gpu3d.wrong")
    r.check(not r.timed_out, "QEMU timed out")
    r.check(r.panic is None, f"kernel panicked: {r.panic}")
    [line] = gpu_lines(r, 1)
    gpu_3d_ok(r, line, "pci", 2)  # the device itself is fine
    errors = gpu3d_of(r, line, "error")
    r.check(len(errors) == 1 and errors[0].error == "PIXEL_MISMATCH",
            "expected one 'levitate: gpu3d ...: error PIXEL_MISMATCH ...' line, got: "
            + "; ".join(g.line for g in r.gpu3d))
    r.check("triangle" in errors[0].detail and "expected" in errors[0].detail,
            f"the mismatch does not say what and where: {errors[0].line}")
    r.check(not gpu3d_of(r, line, "ok"), "a gpu3d ok line although the check failed")
    vs = r.verdicts
    r.check(len(vs) == 1 and not vs[0].passed and vs[0].failed >= 1,
            "a pixel mismatch must fail a test: " + "; ".join(v.line for v in vs))
    r.check(r.returncode == EXIT_OK, f"QEMU did not power off cleanly: {r.returncode}")
