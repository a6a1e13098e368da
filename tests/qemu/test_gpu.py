"""virtio-gpu under real QEMU: the `lvio: gpu` line, and the test card by its pixels.

Every screen test boots the kernel without `poweroff` (it stays up), waits for
the verdict, takes a PNG `screendump` over QMP and quits. One boot serves all
the tests of one configuration (the `screen` fixture), so the matrix
{legacy, modern MMIO} x {1280x800, 1024x768, 803x601} costs six boots.

The card and its pixel checks (check_card, check_console), and the boot cache
behind the `screen` fixture (conftest.py), are in qemu.py: test_pci.py uses
them too. The hardware cursor is a separate plane that QEMU's screendump does
not include: it is not tested here.

QEMU 7.2 facts these tests rely on:
  - with `-display none` only scanout 0 is enabled, whatever max_outputs says
    (other heads are enabled by a UI that reports a window size);
  - `virtio-gpu-device,max_hostmem=1000000` makes RESOURCE_CREATE_2D of a
    1280x800 framebuffer fail with ERR_OUT_OF_MEMORY.
"""

from __future__ import annotations

import pytest

from qemu import (EXIT_OK, MMIO_STRIDE, MMIO_TOP, MODERN_MMIO, BootResult, GpuDetail, LvioLine,
                  assert_pass_up, check_card, check_console, parse_gpu, parse_rng, screenshot)

pytestmark = pytest.mark.arch("aarch64", "riscv64", "x86_64")

RNG = ["-device", "virtio-rng-device"]

# transport id -> (QEMU args, version the kernel must report)
TRANSPORTS = {
    "legacy": ([], 1),
    "modern": (MODERN_MMIO, 2),
}
# resolution id -> (virtio-gpu-device properties, size the kernel must report)
RESOLUTIONS = {
    "default": ("", (1280, 800)),      # QEMU's default xres/yres
    "1024x768": (",xres=1024,yres=768", (1024, 768)),
    "803x601": (",xres=803,yres=601", (803, 601)),  # odd: W/8 and H*2/3 do not divide
}
transports = pytest.mark.parametrize("transport", list(TRANSPORTS))
matrix = pytest.mark.parametrize(
    "transport,res", [(t, r) for t in TRANSPORTS for r in RESOLUTIONS])


def gpu_device(props: str = "") -> list[str]:
    return ["-device", "virtio-gpu-device" + props]


# ---------------------------------------------------------------------------
# Checks


def one_gpu_line(r: BootResult) -> LvioLine:
    lines = r.of("gpu")
    r.check(len(lines) == 1, f"expected one gpu line, got {len(lines)}: "
            + "; ".join(map(str, lines)))
    return lines[0]


def gpu_ok(r: BootResult, version: int, size: tuple[int, int] | None = None,
           edid: bool | None = True, address: int | None = MMIO_TOP) -> GpuDetail:
    """The gpu line says ok, vN, one enabled scanout 0 of `size`, edid on/off."""
    line = one_gpu_line(r)
    r.check(line.ok, f"gpu not ok: {line}")
    r.check(line.transport == "mmio", f"expected an mmio transport: {line}")
    if address is not None:
        r.check(line.addr == address, f"expected the gpu at {address:#010x}: {line}")
    d = parse_gpu(line.detail)
    r.check(d is not None,
            f"gpu detail does not look like 'v<N>, <n> scanout(s): <id> <W>x<H>, edid on|off': {line}")
    r.check(d.version == version, f"expected v{version}, got v{d.version}: {line}")
    r.check(d.count == 1 and list(d.scanouts) == [0],
            f"expected exactly scanout 0 enabled (QEMU with -display none): {line}")
    if size is not None:
        r.check(d.scanouts[0] == size, f"expected scanout 0 {size[0]}x{size[1]}: {line}")
    if edid is not None:
        r.check(d.edid is edid, f"expected 'edid {'on' if edid else 'off'}': {line}")
    return d


# ---------------------------------------------------------------------------
# The matrix: transport x resolution


def matrix_screen(screen, transport, res):
    args, version = TRANSPORTS[transport]
    props, size = RESOLUTIONS[res]
    return screen(args + gpu_device(props)), version, size


@matrix
def test_gpu_line(screen, transport, res):
    """`lvio: gpu mmio@0x0a003e00: ok vN, 1 scanout: 0 WxH, edid on`, and PASS."""
    s, version, size = matrix_screen(screen, transport, res)
    r = s.result
    gpu_ok(r, version, size, edid=True)
    assert_pass_up(r)


@matrix
def test_screendump_size_is_the_reported_mode(screen, transport, res):
    s, version, _ = matrix_screen(screen, transport, res)
    r = s.result
    img = screenshot(s)
    line = one_gpu_line(r)
    d = parse_gpu(line.detail)
    r.check(d is not None and 0 in d.scanouts, f"no scanout 0 size on the gpu line: {line}")
    w, h = d.scanouts[0]
    r.check(img.size == (w, h),
            f"screendump is {img.size[0]}x{img.size[1]}, the gpu line says {w}x{h}: {line}")


@matrix
def test_card(screen, transport, res):
    """The eight bars, exact RGB, several points per bar and the exact bar edges."""
    s, _, size = matrix_screen(screen, transport, res)
    check_card(s.result, screenshot(s), size)


@matrix
def test_console(screen, transport, res):
    """Bottom third: mostly 0x101820 with light text; no console colour above it."""
    s, _, size = matrix_screen(screen, transport, res)
    check_console(s.result, screenshot(s), size)


# ---------------------------------------------------------------------------
# EDID


@transports
def test_edid_off(screen, transport):
    """Without F_EDID the driver says `edid off` and still shows the card."""
    args, version = TRANSPORTS[transport]
    s = screen(args + gpu_device(",edid=off"))
    r = s.result
    gpu_ok(r, version, (1280, 800), edid=False)
    assert_pass_up(r)
    check_card(r, screenshot(s), (1280, 800))


# ---------------------------------------------------------------------------
# With other devices


@transports
def test_gpu_between_two_rngs(screen, transport):
    """rng, gpu, rng on neighbouring slots: all three work, the card shows, PASS."""
    args, version = TRANSPORTS[transport]
    s = screen(args + RNG + gpu_device() + RNG)
    r = s.result
    assert_pass_up(r)
    rngs = r.ok("rng")
    r.check(len(rngs) == 2 and len(r.of("rng")) == 2,
            f"expected two rng ok lines, got {len(rngs)} ok of {len(r.of('rng'))}")
    for ln in rngs:
        d = parse_rng(ln.detail)
        r.check(d is not None and d.version == version and any(d.data), f"bad rng line: {ln}")
    # QEMU fills slots from the top: rng 0x0a003e00, gpu 0x0a003c00, rng 0x0a003a00.
    gpu_ok(r, version, (1280, 800), address=MMIO_TOP - MMIO_STRIDE)
    r.check({ln.addr for ln in rngs} == {MMIO_TOP, MMIO_TOP - 2 * MMIO_STRIDE},
            "rngs not on the slots around the gpu: " + ", ".join(ln.address for ln in rngs))
    img = screenshot(s)
    check_card(r, img, (1280, 800))
    check_console(r, img, (1280, 800))


@transports
def test_gpu_out_of_host_memory(boot, transport):
    """The device refuses the framebuffer: a named error, the other devices unharmed.

    max_hostmem=1000000 is less than a 1280x800x4 resource, so QEMU answers
    RESOURCE_CREATE_2D with ERR_OUT_OF_MEMORY. The kernel must say so on the
    gpu line, still bring up the rng next to it, give its verdict (FAIL: a
    GPU error is a failed test) and power off.
    """
    args, version = TRANSPORTS[transport]
    r = boot(args + RNG + gpu_device(",max_hostmem=1000000") + RNG, timeout=30)
    r.check(not r.timed_out, "QEMU timed out")
    r.check(r.panic is None, f"kernel panicked: {r.panic}")
    line = one_gpu_line(r)
    r.check(not line.ok, f"expected a gpu error line: {line}")
    r.check(line.error == "ERR_OUT_OF_MEMORY", f"expected ERR_OUT_OF_MEMORY: {line}")
    r.check(line.addr == MMIO_TOP - MMIO_STRIDE, f"gpu error at the wrong address: {line}")
    r.check("1280x800" in line.detail, f"the error does not say what it was creating: {line}")
    rngs = r.ok("rng")
    r.check(len(rngs) == 2, f"expected both rngs ok next to the failed gpu, got {len(rngs)}")
    for ln in rngs:
        d = parse_rng(ln.detail)
        r.check(d is not None and d.version == version and any(d.data), f"bad rng line: {ln}")
    vs = r.verdicts
    r.check(len(vs) == 1, f"expected exactly one verdict line, got {len(vs)}")
    r.check(not vs[0].passed and vs[0].failed >= 1,
            f"a GPU that cannot make its framebuffer must fail a test: {vs[0].line}")
    r.check(r.returncode == EXIT_OK, f"QEMU did not power off cleanly: exit status {r.returncode}")
