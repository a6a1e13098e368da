"""Interrupts against QEMU's own interrupt controllers and devices.

Every `ok` line ends with how the device is serviced (`irq <n>`, `msi-x <n>`
or `polled`), and `levitate: interrupts taken: ...` counts, per device, the
interrupts the kernel's handler acknowledged: proof that they arrived, not
only that they were set up. The line numbers are checked against what
QEMU's virt machine wires: virtio-mmio slot s (registers at 0x0a000000 +
0x200 s) on SPI 16 + s, i.e. GIC INTID 48 + s; a PCI function in slot d
with INTx pin A on SPI 3 + d % 4 (the interrupt-map's swizzle), INTID
35 + d % 4.
"""

from __future__ import annotations

import pytest

from qemu import MODERN_MMIO

MMIO_BASE, MMIO_STRIDE = 0x0A000000, 0x200

WIRED = MODERN_MMIO + [
    "-device", "virtio-rng-device",
    "-device", "virtio-gpu-device",
    "-device", "virtio-rng-pci,disable-modern=on",
    "-device", "virtio-rng-pci,vectors=0",
    "-device", "virtio-gpu-pci,vectors=0",
]


def expected_irq(line) -> int:
    if line.transport == "mmio":
        return 48 + (line.addr - MMIO_BASE) // MMIO_STRIDE
    _bus, dev, _fn = line.bdf
    return 35 + dev % 4


def check_wired(r, lines):
    taken = r.interrupts
    for ln in lines:
        r.check(ln.service == ("irq", expected_irq(ln)),
                f"{ln.device} {ln.transport}@{ln.address}: serviced {ln.service}, "
                f"expected irq {expected_irq(ln)}")
        r.check(taken.get(f"{ln.transport}@{ln.address}", 0) > 0,
                f"{ln.transport}@{ln.address}: no interrupts taken ({taken})")


@pytest.mark.parametrize("gic", ["2", "3"])
def test_wired_interrupts(boot, gic):
    """MMIO (modern) and PCI INTx (legacy, and modern without MSI-X) on GICv2 and GICv3."""
    r = boot(WIRED, machine=f"virt,gic-version={gic}")
    r.assert_pass()
    r.check(f"levitate: interrupts: GICv{gic} at 0x08000000" in r.serial,
            "the kernel did not say which GIC it found")
    lines = r.ok()
    r.check(len(lines) == 5, f"expected 5 devices, got {len(lines)}")
    check_wired(r, lines)


def test_legacy_mmio_interrupts(boot):
    """QEMU's default (legacy) virtio-mmio: the same lines."""
    r = boot(["-device", "virtio-rng-device", "-device", "virtio-gpu-device"])
    r.assert_pass()
    lines = r.ok()
    r.check(len(lines) == 2, f"expected 2 devices, got {len(lines)}")
    check_wired(r, lines)


def test_irq_off_polls_everything(boot):
    """Bootarg irq.off: no controller is set up, every device says polled and works."""
    r = boot(WIRED, append="poweroff irq.off")
    r.assert_pass()
    lines = r.ok()
    r.check(len(lines) == 5, f"expected 5 devices, got {len(lines)}")
    for ln in lines:
        r.check(ln.service == ("polled", None), f"{ln}: expected polled")
    r.check(not r.interrupts, "interrupts counted with irq.off")
