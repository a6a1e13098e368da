"""Interrupts against QEMU's own interrupt controllers and devices.

Every `ok` line ends with how the device is serviced (`irq <n>`, `msi-x <n>`
or `polled`), and `levitate: interrupts taken: ...` counts, per device, the
interrupts the kernel's handlers took: proof that they arrived, not only
that they were set up. The line numbers are checked against what QEMU's
virt machine wires (qemu.wired_irq). On aarch64: virtio-mmio slot s
(registers at 0x0a000000 + 0x200 s) on SPI 16 + s, i.e. GIC INTID 48 + s; a
PCI function in slot d with INTx pin A on SPI 3 + d % 4 (the
interrupt-map's swizzle), INTID 35 + d % 4. On riscv64: slot s (registers at
0x10001000 + 0x1000 s) on PLIC source s + 1; PCI slot d's INTA on source
32 + d % 4.

MSI-X: on GICv2 (QEMU's default) the kernel routes each vector to an SPI of
the v2m frame, on GICv3 to an LPI through the ITS (device id: the PCI
requester id, event: the vector); the library programs the configuration
vector and one per queue (shared when the device has fewer entries). Without
an ITS (`its=off`) PCI devices use INTx; so do `vectors=0` (no MSI-X
capability) and the bootarg `msix.off`. riscv64's virt has no MSI controller
(no IMSIC): every PCI device uses INTx there, without a warning.
"""

from __future__ import annotations

import pytest

from qemu import FACTS, MODERN_MMIO, wired_irq

# Each test says which GIC it boots (conftest would otherwise run it on both).
pytestmark = pytest.mark.one_gic
both_archs = pytest.mark.arch("aarch64", "riscv64")

WIRED = MODERN_MMIO + [
    "-device", "virtio-rng-device",
    "-device", "virtio-gpu-device",
    "-device", "virtio-rng-pci,disable-modern=on",
    "-device", "virtio-rng-pci,vectors=0",
    "-device", "virtio-gpu-pci,vectors=0",
]


expected_irq = wired_irq


def check_wired(r, lines):
    taken = r.interrupts
    for ln in lines:
        r.check(ln.service == ("irq", expected_irq(ln)),
                f"{ln.device} {ln.transport}@{ln.address}: serviced {ln.service}, "
                f"expected irq {expected_irq(ln)}")
        r.check(taken.get(f"{ln.transport}@{ln.address}", 0) > 0,
                f"{ln.transport}@{ln.address}: no interrupts taken ({taken})")


@pytest.mark.parametrize("version", ["2", "3"])
def test_wired_interrupts(boot, version):
    """MMIO (modern) and PCI INTx (legacy, and modern without MSI-X) on GICv2 and GICv3."""
    r = boot(WIRED, machine=f"virt,gic-version={version}", append="poweroff msix.off")
    r.assert_pass()
    r.check(f"levitate: interrupts: GICv{version} at 0x08000000" in r.serial,
            "the kernel did not say which GIC it found")
    lines = r.ok()
    r.check(len(lines) == 5, f"expected 5 devices, got {len(lines)}")
    check_wired(r, lines)


@pytest.mark.arch("riscv64")
def test_wired_interrupts_plic(boot):
    """riscv64: MMIO (modern) and PCI INTx (legacy, modern, and with MSI-X tables) on the PLIC."""
    r = boot(WIRED + ["-device", "virtio-rng-pci"])
    r.assert_pass()
    r.check(f"levitate: interrupts: {FACTS['controller']}, " in r.serial,
            "the kernel did not say it found the PLIC")
    lines = r.ok()
    r.check(len(lines) == 6, f"expected 6 devices, got {len(lines)}")
    check_wired(r, lines)
    r.check("[lvio warn]" not in r.serial, "a warning where INTx is the plan")


@pytest.mark.arch("aarch64", "riscv64", "x86_64")  # x86_64: on microvm
def test_legacy_mmio_interrupts(boot):
    """QEMU's default (legacy) virtio-mmio: the same lines."""
    r = boot(["-device", "virtio-rng-device", "-device", "virtio-gpu-device"])
    r.assert_pass()
    lines = r.ok()
    r.check(len(lines) == 2, f"expected 2 devices, got {len(lines)}")
    check_wired(r, lines)


@both_archs
def test_irq_off_polls_everything(boot):
    """Bootarg irq.off: no controller is set up, every device says polled and works."""
    r = boot(WIRED, append="poweroff irq.off")
    r.assert_pass()
    lines = r.ok()
    r.check(len(lines) == 5, f"expected 5 devices, got {len(lines)}")
    for ln in lines:
        r.check(ln.service == ("polled", None), f"{ln}: expected polled")
    r.check(not r.interrupts, "interrupts counted with irq.off")


# device -> vectors in use: the configuration's and one per queue
MSIX = {
    "virtio-rng-pci": 2,                       # requestq
    "virtio-rng-pci,disable-modern=on": 2,     # the legacy interface's registers
    "virtio-gpu-pci": 3,                       # controlq, cursorq
    "virtio-gpu-pci,vectors=2": 2,             # both queues share entry 1
}


@pytest.mark.parametrize("version,through", [("2", "MSI through v2m SPIs"),
                                             ("3", "MSI through the ITS")])
def test_msix_vectors(boot, version, through):
    """GICv2 + v2m, GICv3 + ITS: every PCI device with an MSI-X table takes its interrupts as messages."""
    devices = []
    for d in MSIX:
        devices += ["-device", d]
    devices += ["-device", "virtio-rng-pci,vectors=0", "-device", "virtio-rng-device"]
    r = boot(devices, machine=f"virt,gic-version={version}", append="poweroff lvio.dump")
    r.assert_pass()
    r.check(through in r.serial, f"the kernel did not say '{through}'")
    lines = r.ok()
    r.check(len(lines) == len(MSIX) + 2, f"expected {len(MSIX) + 2} devices, got {len(lines)}")
    taken = r.interrupts
    pci = sorted((ln for ln in lines if ln.transport == "pci"), key=lambda ln: ln.bdf)
    for ln, (dev, vectors) in zip(pci, list(MSIX.items()) + [("vectors=0", None)]):
        want = ("irq", expected_irq(ln)) if vectors is None else ("msi-x", vectors)
        r.check(ln.service == want, f"{dev} at {ln.address}: serviced {ln.service}, want {want}")
    for ln in lines:
        r.check(taken.get(f"{ln.transport}@{ln.address}", 0) > 0,
                f"{ln.transport}@{ln.address}: no interrupts taken ({taken})")
    mmio = [ln for ln in lines if ln.transport == "mmio"]
    r.check(mmio[0].service == ("irq", expected_irq(mmio[0])), f"{mmio[0]}: expected irq")


def test_msix_without_its_falls_back_to_intx(boot):
    """GICv3 without an ITS: PCI devices with MSI-X tables use INTx, quietly, and work."""
    r = boot(["-device", "virtio-rng-pci", "-device", "virtio-gpu-pci"],
             machine="virt,gic-version=3,its=off")
    r.assert_pass()
    lines = r.ok()
    r.check(len(lines) == 2, f"expected 2 devices, got {len(lines)}")
    check_wired(r, lines)
    r.check("[lvio warn]" not in r.serial, "a warning where INTx is the plan")
