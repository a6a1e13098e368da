"""virtio over PCI under real QEMU: the kernel enumerates virt's PCIe host bridge.

The lines are the MMIO ones with the transport `pci` and the function's
address `BB:DD.F` in hex:
    lvio: rng pci@00:01.0: ok v2, 32 bytes 9f04...
    lvio: gpu pci@02:00.0: ok v2, 1 scanout: 0 1280x800, edid on
where v2 is the modern virtio-pci interface (vendor capabilities, memory BARs)
and v1 the legacy one (I/O BAR 0). Screens are checked as in test_gpu.py
(the card helpers are in qemu.py); each configuration boots once.

QEMU 7.2 facts these tests rely on (seen with `info pci` on the monitor):
  - a virtio function on the root bus pcie.0 is *transitional* by default
    (1af4:1005 with an I/O BAR 0 and the modern BARs): disable-legacy=auto
    only turns legacy off behind a PCIe port. Modern-only on pcie.0 needs
    disable-legacy=on (1af4:1044, memory BARs only); legacy-only is
    disable-modern=on,disable-legacy=off (I/O BAR 0, BAR 1 is just MSI-X).
  - behind a pcie-root-port the default is modern-only, and a legacy
    function there works through the port's I/O window.
  - virtio-gpu-pci is always modern-only (1af4:1050, no I/O BAR): QEMU forces
    virtio 1 for it and quietly ignores disable-modern=on. There is no legacy
    PCI GPU to test; the request for one must still come up as v2.
  - `-device ...-pci` without addr= takes the next free slot of pcie.0 from
    00:01.0 (00:00.0 is the host bridge), in command-line order.
  - the firmware-less kernel numbers the buses itself: root ports at 05.0,
    06.0, 07.0 get buses 01, 02, 03 (depth first, in slot order).
  - QMP `screendump` takes `device` (a display device's id): each GPU of a
    boot can be dumped, MMIO or PCI.
"""

from __future__ import annotations

import pytest

from qemu import (EXIT_OK, MMIO_STRIDE, MMIO_TOP, BootResult, GpuDetail, LvioLine, assert_pass_up,
                  check_card, check_console, parse_gpu, parse_rng, pci_address, screenshot)

pytestmark = pytest.mark.arch("aarch64", "riscv64", "x86_64")
# The cases that also boot virtio-mmio devices: not on q35 (test_x86.py has microvm's).
mmio_too = pytest.mark.arch("aarch64", "riscv64")


def dev(driver: str, props: str = "") -> list[str]:
    """dev("virtio-rng-pci", "addr=03.0") -> ["-device", "virtio-rng-pci,addr=03.0"]"""
    return ["-device", driver + ("," + props if props else "")]


def root_port(n: int, slot: int) -> list[str]:
    """A pcie-root-port with id rp<n> at 00:<slot>.0 of pcie.0."""
    return dev("pcie-root-port", f"id=rp{n},bus=pcie.0,chassis={n},addr={slot:02x}.0")


# virtio-pci interface -> (virtio-rng-pci properties, version the kernel must report)
RNG_INTERFACES = {
    "modern": ("disable-legacy=on", 2),
    "legacy": ("disable-modern=on,disable-legacy=off", 1),
    # Both interfaces offered (QEMU's default on pcie.0): a driver that can do
    # modern takes it.
    "transitional": ("disable-modern=off,disable-legacy=off", 2),
}
# gpu configuration -> (virtio-gpu-pci properties, version, scanout 0 size)
GPU_CONFIGS = {
    "modern": ("", 2, (1280, 800)),
    # QEMU keeps virtio-gpu-pci modern-only whatever is asked: v2, not v1.
    "legacy-requested": ("disable-modern=on,disable-legacy=off", 2, (1280, 800)),
    "803x601": ("xres=803,yres=601", 2, (803, 601)),  # W/8 and H*2/3 do not divide
}

FIRST_SLOT = (0, 1, 0)  # where the first -device ...-pci lands


# ---------------------------------------------------------------------------
# Checks


def key(ln: LvioLine):
    """What identifies a line's device: (name, transport, bdf or mmio base)."""
    return ln.device, ln.transport, ln.bdf if ln.transport == "pci" else ln.addr


def where(k) -> str:
    name, transport, a = k
    if transport == "pci" and isinstance(a, tuple):
        return f"{name} pci@{pci_address(*a)}"
    if transport == "mmio" and isinstance(a, int):
        return f"{name} mmio@{a:#010x}"
    return f"{name} {transport}@{a}"


def exactly(r: BootResult, *want) -> None:
    """The device lines are exactly `want`, each (name, transport, bdf | mmio base), once."""
    __tracebackhide__ = True
    got = sorted(map(key, r.lines), key=repr)
    r.check(got == sorted(want, key=repr),
            f"expected the lines [{', '.join(map(where, want))}], got "
            f"[{', '.join(ln.line for ln in r.lines) or 'none'}]")


def line_at(r: BootResult, device: str, bdf: tuple[int, int, int]) -> LvioLine:
    """The one `lvio: <device> pci@<bdf>` line."""
    __tracebackhide__ = True
    found = [ln for ln in r.of(device) if ln.transport == "pci" and ln.bdf == bdf]
    r.check(len(found) == 1, f"expected one {device} line at pci@{pci_address(*bdf)}, got "
            f"{len(found)}: " + "; ".join(map(str, r.lines)))
    return found[0]


def rng_ok(r: BootResult, line: LvioLine, version: int) -> bytes:
    """An rng ok line: vN, 32 nonzero bytes, all printed; returns them."""
    __tracebackhide__ = True
    r.check(line.ok, f"rng not ok: {line}")
    d = parse_rng(line.detail)
    r.check(d is not None, f"rng detail does not look like 'v<N>, <n> bytes <hex>': {line}")
    r.check(d.version == version, f"expected v{version}, got v{d.version}: {line}")
    r.check(d.count == 32, f"expected 32 bytes, got {d.count}: {line}")
    r.check(len(d.data) == d.count, f"{d.count} bytes announced, {len(d.data)} printed: {line}")
    r.check(any(d.data), f"all-zero random bytes (the device wrote nothing?): {line}")
    return d.data


def gpu_ok(r: BootResult, line: LvioLine, version: int, size: tuple[int, int]) -> GpuDetail:
    """A gpu ok line: vN, exactly scanout 0 enabled at `size`, edid on."""
    __tracebackhide__ = True
    r.check(line.ok, f"gpu not ok: {line}")
    d = parse_gpu(line.detail)
    r.check(d is not None, "gpu detail does not look like "
            f"'v<N>, <n> scanout(s): <id> <W>x<H>, edid on|off': {line}")
    r.check(d.version == version, f"expected v{version}, got v{d.version}: {line}")
    r.check(d.count == 1 and list(d.scanouts) == [0],
            f"expected exactly scanout 0 enabled (QEMU with -display none): {line}")
    r.check(d.scanouts[0] == size, f"expected scanout 0 {size[0]}x{size[1]}: {line}")
    r.check(d.edid is True, f"expected 'edid on' (QEMU's default): {line}")
    return d


def all_different(r: BootResult, named: dict[str, bytes]) -> None:
    __tracebackhide__ = True
    seen: dict[bytes, str] = {}
    for name, data in named.items():
        r.check(data not in seen, f"{name} and {seen.get(data)} returned the same bytes")
        seen[data] = name


# ---------------------------------------------------------------------------
# rng on each virtio-pci interface


@pytest.mark.parametrize("interface", list(RNG_INTERFACES))
def test_rng(boot, interface):
    """One virtio-rng-pci at 00:01.0: its line says vN and 32 bytes, PASS, powered off."""
    props, version = RNG_INTERFACES[interface]
    r = boot(dev("virtio-rng-pci", props))
    r.assert_pass()
    exactly(r, ("rng", "pci", FIRST_SLOT))
    rng_ok(r, line_at(r, "rng", FIRST_SLOT), version)


# ---------------------------------------------------------------------------
# gpu: the line, the card, the console


def gpu_screen(screen, config):
    props, version, size = GPU_CONFIGS[config]
    return screen(dev("virtio-gpu-pci", props)), version, size


gpu_configs = pytest.mark.parametrize("config", list(GPU_CONFIGS))


@gpu_configs
def test_gpu_line(screen, config):
    """`lvio: gpu pci@00:01.0: ok v2, 1 scanout: 0 WxH, edid on`, and PASS."""
    s, version, size = gpu_screen(screen, config)
    r = s.result
    exactly(r, ("gpu", "pci", FIRST_SLOT))
    gpu_ok(r, line_at(r, "gpu", FIRST_SLOT), version, size)
    assert_pass_up(r)


@gpu_configs
def test_gpu_card(screen, config):
    """The eight bars, exact RGB, at the size the line reports."""
    s, _, size = gpu_screen(screen, config)
    check_card(s.result, screenshot(s), size)


@gpu_configs
def test_gpu_console(screen, config):
    s, _, size = gpu_screen(screen, config)
    check_console(s.result, screenshot(s), size)


# ---------------------------------------------------------------------------
# Several functions on the root bus

# Two rngs as functions 0 and 1 of one multifunction slot (the function number
# must be read, not assumed 0), the gpu at slot 0x0a (hex, not "10").
MANY = (dev("virtio-rng-pci", "addr=03.0,multifunction=on") + dev("virtio-rng-pci", "addr=03.1")
        + dev("virtio-gpu-pci", "addr=0a.0"))
MANY_RNGS = [(0, 3, 0), (0, 3, 1)]
MANY_GPU = (0, 0x0A, 0)


def test_several_functions_line_each(screen):
    """Every function at its own bdf, the rngs' bytes differ, PASS."""
    s = screen(MANY)
    r = s.result
    exactly(r, *[("rng", "pci", b) for b in MANY_RNGS], ("gpu", "pci", MANY_GPU))
    # Both rngs here are QEMU's default on pcie.0: transitional, so modern.
    data = {pci_address(*b): rng_ok(r, line_at(r, "rng", b), 2) for b in MANY_RNGS}
    all_different(r, data)
    gpu_ok(r, line_at(r, "gpu", MANY_GPU), 2, (1280, 800))
    assert_pass_up(r)


def test_several_functions_screen(screen):
    s = screen(MANY)
    img = screenshot(s)
    check_card(s.result, img, (1280, 800))
    check_console(s.result, img, (1280, 800))


def test_non_virtio_functions_are_left_alone(boot):
    """A non-virtio function (pci-testdev, 1b36:0005, with memory and I/O BARs) and an
    empty root port before the rng: no lines for them, the rng works, PASS."""
    r = boot(dev("pci-testdev", "addr=01.0") + root_port(1, 2) + dev("virtio-rng-pci", "addr=03.0"))
    r.assert_pass()
    exactly(r, ("rng", "pci", (0, 3, 0)))
    rng_ok(r, line_at(r, "rng", (0, 3, 0)), 2)


# ---------------------------------------------------------------------------
# Behind PCIe root ports

# rp1 (05.0) -> bus 01: rng, modern-only (the default behind a port);
# rp2 (06.0) -> bus 02: gpu, its 64-bit prefetchable BAR through the port's window;
# rp3 (07.0) -> bus 03: legacy rng, its I/O BAR through the port's I/O window.
BRIDGED = (root_port(1, 5) + root_port(2, 6) + root_port(3, 7)
           + dev("virtio-rng-pci", "bus=rp1") + dev("virtio-gpu-pci", "bus=rp2")
           + dev("virtio-rng-pci", "bus=rp3,disable-modern=on,disable-legacy=off"))


def test_behind_root_ports(screen):
    """Buses numbered 01..03 in slot order, one line per device (none for the ports), PASS."""
    s = screen(BRIDGED)
    r = s.result
    exactly(r, ("rng", "pci", (1, 0, 0)), ("gpu", "pci", (2, 0, 0)), ("rng", "pci", (3, 0, 0)))
    a = rng_ok(r, line_at(r, "rng", (1, 0, 0)), 2)
    b = rng_ok(r, line_at(r, "rng", (3, 0, 0)), 1)
    all_different(r, {"01:00.0": a, "03:00.0": b})
    gpu_ok(r, line_at(r, "gpu", (2, 0, 0)), 2, (1280, 800))
    assert_pass_up(r)


def test_behind_root_port_screen(screen):
    """The gpu behind rp2 shows the card: its framebuffer commands and BARs really work."""
    s = screen(BRIDGED)
    img = screenshot(s)
    check_card(s.result, img, (1280, 800))
    check_console(s.result, img, (1280, 800))


# ---------------------------------------------------------------------------
# MMIO and PCI in one boot

# Legacy MMIO (QEMU's default) next to modern PCI, the two GPUs at different
# sizes so that each screendump shows which GPU it is.
MIXED = (dev("virtio-rng-device") + dev("virtio-gpu-device", "id=g0,xres=1024,yres=768")
         + dev("virtio-rng-pci") + dev("virtio-gpu-pci", "id=g1,xres=803,yres=601"))
MIXED_DUMPS = ("g0", "g1")
MIXED_GPUS = {"g0": (1024, 768), "g1": (803, 601)}


@mmio_too
def test_mmio_and_pci_lines(screen):
    """Four ok lines: v1 on mmio (first -device on the top slot), v2 on pci; PASS."""
    s = screen(MIXED, dumps=MIXED_DUMPS)
    r = s.result
    exactly(r, ("rng", "mmio", MMIO_TOP), ("gpu", "mmio", MMIO_TOP - MMIO_STRIDE),
            ("rng", "pci", (0, 1, 0)), ("gpu", "pci", (0, 2, 0)))
    [mrng] = [ln for ln in r.of("rng") if ln.transport == "mmio"]
    [mgpu] = [ln for ln in r.of("gpu") if ln.transport == "mmio"]
    all_different(r, {"mmio rng": rng_ok(r, mrng, 1),
                      "pci rng": rng_ok(r, line_at(r, "rng", (0, 1, 0)), 2)})
    gpu_ok(r, mgpu, 1, MIXED_GPUS["g0"])
    gpu_ok(r, line_at(r, "gpu", (0, 2, 0)), 2, MIXED_GPUS["g1"])
    assert_pass_up(r)


@mmio_too
@pytest.mark.parametrize("gpu", MIXED_DUMPS)
def test_mmio_and_pci_screens(screen, gpu):
    """Each GPU's own screendump (QMP screendump device=<id>): its card at its
    size, and the boot log in its console area (every screen carries it)."""
    s = screen(MIXED, dumps=MIXED_DUMPS)
    r = s.result
    img = screenshot(s, gpu)
    size = MIXED_GPUS[gpu]
    check_card(r, img, size)
    gpus = [parse_gpu(ln.detail) for ln in r.ok("gpu")]
    r.check(len(gpus) == 2 and all(gpus), "expected two gpu ok lines")
    check_console(r, img, size)


# ---------------------------------------------------------------------------
# Errors and absence


def test_gpu_out_of_host_memory(boot):
    """max_hostmem=1000000 < a 1280x800x4 resource: QEMU answers RESOURCE_CREATE_2D
    with ERR_OUT_OF_MEMORY. The gpu line names it at the gpu's pci address, both
    rngs around it still work, the verdict is FAIL, and the kernel powers off."""
    r = boot(dev("virtio-rng-pci") + dev("virtio-gpu-pci", "max_hostmem=1000000")
             + dev("virtio-rng-pci"), timeout=30)
    r.check(not r.timed_out, "QEMU timed out")
    r.check(r.panic is None, f"kernel panicked: {r.panic}")
    exactly(r, ("rng", "pci", (0, 1, 0)), ("gpu", "pci", (0, 2, 0)), ("rng", "pci", (0, 3, 0)))
    line = line_at(r, "gpu", (0, 2, 0))
    r.check(not line.ok, f"expected a gpu error line: {line}")
    r.check(line.error == "ERR_OUT_OF_MEMORY", f"expected ERR_OUT_OF_MEMORY: {line}")
    r.check("1280x800" in line.detail, f"the error does not say what it was creating: {line}")
    all_different(r, {b: rng_ok(r, line_at(r, "rng", (0, d, 0)), 2)
                      for b, d in (("00:01.0", 1), ("00:03.0", 3))})
    vs = r.verdicts
    r.check(len(vs) == 1, f"expected exactly one verdict line, got {len(vs)}")
    r.check(not vs[0].passed and vs[0].failed >= 1,
            f"a GPU that cannot make its framebuffer must fail a test: {vs[0].line}")
    r.check(r.returncode == EXIT_OK, f"QEMU did not power off cleanly: exit status {r.returncode}")


@mmio_too
def test_no_pci_devices(boot):
    """Only an MMIO rng: the PCI bus (host bridge alone) adds no lines; PASS as before."""
    r = boot(dev("virtio-rng-device"))
    r.assert_pass()
    exactly(r, ("rng", "mmio", MMIO_TOP))
    r.check(not [ln for ln in r.lines if ln.transport == "pci"], "pci lines without pci devices")
    r.check(r.none_found("gpu"), "the kernel did not say it found no gpu ('lvio: no gpu ...')")
