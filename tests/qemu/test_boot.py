"""The kernel's boot contract, and the harness's QMP path (used by the GPU tests)."""

import time

import pytest

from qemu import FACTS, PANIC_RE, RNG_DEVICE, VERDICT_RE, load_png

pytestmark = pytest.mark.arch("aarch64", "riscv64", "x86_64")

RNG = RNG_DEVICE  # virtio-rng-device; x86_64's q35: virtio-rng-pci


def test_poweroff_exits_cleanly_with_one_verdict(boot):
    r = boot(RNG)
    v = r.assert_pass()
    r.check(r.serial.count("levitate: ") >= 1 and len(r.verdicts) == 1,
            f"expected a single verdict line, got {[x.line for x in r.verdicts]}")
    assert v.total > 0


def test_stays_up_without_poweroff_and_qmp_works(qemu):
    """Without `poweroff` the kernel stays up (the demo); QMP can inspect and stop it.

    A ramfb display (riscv64, x86_64: a virtio-gpu-pci) gives QMP something to
    screendump: this checks the PNG path the GPU tests rely on.
    """
    q = qemu(RNG + FACTS["display"], append="", qmp=True)
    q.wait_for(VERDICT_RE)
    time.sleep(1.0)
    r = q.result()
    r.check(q.alive(), "QEMU exited although the kernel was not told to power off")
    r.check(PANIC_RE.search(q.serial) is None, "kernel panicked")
    status = q.qmp.execute("query-status")
    r.check(status.get("status") == "running", f"query-status: {status}")
    png = q.screendump()
    img = load_png(png)
    r.check(img.width > 0 and img.height > 0, f"empty screendump {img.size}")
    r = q.quit()
    r.check(len(r.verdicts) == 1 and r.verdicts[0].passed, "expected one PASS verdict")


def test_fault_is_reported_not_hung(boot):
    """A bad pointer in the kernel gives a readable report and QEMU exits.

    `selftest.fault` makes the kernel read through a physical address used as
    a pointer after its verdict; the kernel runs high with the low half
    unmapped, so this must be a translation fault reported as a PANIC line
    naming the exception syndrome, the faulting address and the instruction
    (aarch64 ESR/FAR/ELR, a data abort; riscv64 scause/stval/sepc, a load
    page fault; x86_64 vector/cr2/rip, a page fault).
    """
    fields, exception, unmapped = FACTS["fault"]
    r = boot(RNG, append="poweroff selftest.fault")
    panic = r.panic
    r.check(panic is not None, "no 'levitate: PANIC' line after the deliberate fault")
    if panic:
        for field in fields:
            r.check(field in panic, f"panic line lacks {field}: {panic}")
        r.check(exception in panic, f"expected a {exception}: {panic}")
    r.check(unmapped in r.serial, "the fault status was not decoded")
    r.check("no fault" not in r.serial, "the read through a physical address did not fault")
    r.check(not r.timed_out, "QEMU hung after the fault instead of powering off")
    r.check(len(r.verdicts) == 1 and r.verdicts[0].passed, "the verdict before the fault")
