"""x86_64 only: what the PC has and virt has not (ports.md; kernel/arch/x86_64/).

q35 (SeaBIOS, the default machine): virtio-pci through the firmware's BARs,
legacy interfaces through real port I/O, MSI-X to the local APIC, INTx from
the Interrupt Line register through the IOAPIC. The PCI matrix itself
(modern, legacy, transitional rng; gpu pixels; bridges) is test_pci.py's,
which runs here too.

microvm: virtio-mmio only, found without a device tree. With ACPI (the
default) 24 transports at 0xfeb00000 + n * 0x200 described in the DSDT, the
first -device in slot 23, interrupts on the second IOAPIC (GSI 24 + slot);
with acpi=off 8 transports, from the `virtio_mmio.device=512@<addr>:<irq>`
words QEMU appends to the command line (irq 5 + slot).
"""

from __future__ import annotations

import pytest

from qemu import (FACTS, MODERN_MMIO, BootResult, assert_pass_up, check_card, parse_gpu,
                  parse_rng, screenshot, wired_irq)

pytestmark = pytest.mark.arch("x86_64")

MMIO_BASE = 0xFEB00000
MMIO_STRIDE = 0x200
# machine -> (transports, GSI of slot 0)
MICROVMS = {"microvm": (24, 24), "microvm,acpi=off": (8, 5)}
TRANSPORTS = {"legacy": ([], 1), "modern": (MODERN_MMIO, 2)}


def dev(driver: str, props: str = "") -> list[str]:
    return ["-device", driver + ("," + props if props else "")]


def interrupts_came(r: BootResult, names) -> None:
    __tracebackhide__ = True
    taken = r.interrupts
    for name in names:
        r.check(taken.get(name, 0) > 0, f"no interrupts counted for {name}: {taken}")


@pytest.mark.parametrize("transport", list(TRANSPORTS))
@pytest.mark.parametrize("machine", list(MICROVMS))
def test_microvm_mmio(boot, machine, transport):
    """rng and gpu on microvm's top two slots, their GSIs wired and taken, PASS."""
    slots, gsi0 = MICROVMS[machine]
    args, version = TRANSPORTS[transport]
    r = boot(args + dev("virtio-rng-device") + dev("virtio-gpu-device"), machine=machine)
    r.assert_pass()
    top = MMIO_BASE + (slots - 1) * MMIO_STRIDE
    lines = {ln.device: ln for ln in r.ok()}
    r.check(set(lines) == {"rng", "gpu"}, f"expected an rng and a gpu line: {r.lines}")
    r.check(lines["rng"].addr == top and lines["gpu"].addr == top - MMIO_STRIDE,
            f"expected rng at {top:#x}, gpu at {top - MMIO_STRIDE:#x}: {r.lines}")
    rng = parse_rng(lines["rng"].detail)
    gpu = parse_gpu(lines["gpu"].detail)
    r.check(rng is not None and rng.version == version and any(rng.data), str(lines["rng"]))
    r.check(gpu is not None and gpu.version == version, str(lines["gpu"]))
    for ln in lines.values():
        slot = (ln.addr - MMIO_BASE) // MMIO_STRIDE
        r.check(ln.service == ("irq", gsi0 + slot), f"expected irq {gsi0 + slot}: {ln}")
    interrupts_came(r, [ln.address and f"mmio@{ln.address}" for ln in lines.values()])
    if machine == "microvm":
        r.check("and at 0xfec10000, 24 lines from GSI 24" in r.serial,
                "the second IOAPIC of the MADT is not named")


def test_microvm_card(screen):
    """The test card on microvm's (legacy) virtio-mmio gpu, by pixels."""
    s = screen(dev("virtio-gpu-device"), machine="microvm")
    check_card(s.result, screenshot(s), (1280, 800))
    assert_pass_up(s.result)


# rng modern and legacy (port I/O) and a gpu: one line each, by slot.
Q35 = (dev("virtio-rng-pci", "disable-legacy=on") + dev("virtio-rng-pci", "disable-modern=on")
       + dev("virtio-gpu-pci"))


def test_q35_msix(boot):
    """MSI-X to the local APIC: rng 2 vectors (legacy one too), gpu 3; all taken."""
    r = boot(Q35)
    r.assert_pass()
    r.check(f"levitate: interrupts: {FACTS['controller']}, " in r.serial, "no IOAPIC line")
    want = {"00:01.0": ("msi-x", 2), "00:02.0": ("msi-x", 2), "00:03.0": ("msi-x", 3)}
    got = {ln.address: ln.service for ln in r.ok()}
    r.check(got == want, f"expected {want}, got {got}")
    interrupts_came(r, [f"pci@{a}" for a in want])


def test_q35_intx(boot):
    """msix.off: each function's INTx is the firmware's Interrupt Line (an ISA IRQ) on
    the IOAPIC, level-triggered; every device raises it."""
    r = boot(Q35, append="poweroff msix.off")
    r.assert_pass()
    for ln in r.ok():
        r.check(ln.service == ("irq", wired_irq(ln)), f"expected irq {wired_irq(ln)}: {ln}")
    interrupts_came(r, [f"pci@{ln.address}" for ln in r.ok()])


def test_irq_off_polls_everything(boot):
    r = boot(Q35, append="poweroff irq.off")
    r.assert_pass()
    r.check(all(ln.service == ("polled", None) for ln in r.ok()) and len(r.ok()) == 3,
            "expected three polled devices: " + "; ".join(map(str, r.ok())))
    r.check(not r.interrupts, "interrupts counted with irq.off")


def test_panic_exit_status(boot):
    """A panic powers off through isa-debug-exit with status 1 (QEMU exits 3), so a
    crash is told apart from a clean run (1) by the exit status alone."""
    r = boot(dev("virtio-rng-pci"), append="poweroff selftest.fault")
    r.check(r.panic is not None, "no PANIC line")
    r.check(r.returncode == 3, f"expected QEMU's exit status 3, got {r.returncode}")
