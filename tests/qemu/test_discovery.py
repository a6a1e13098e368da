"""Device discovery is driven by the device tree, not by probing fixed addresses.

QEMU's virt machine always has 32 virtio-mmio transports in its DTB, most of
them empty (DeviceID 0): the kernel must print lines only for slots that hold
a device. And when a `virtio,mmio` node is removed from the DTB (we boot with
an edited `-dtb`), the device behind it must not be found even though QEMU
still emulates it.
"""

import re
import shlex
import shutil
import subprocess

import pytest

import qemu as lq
from qemu import MMIO_STRIDE, MMIO_TOP, MODERN_MMIO

pytestmark = pytest.mark.arch("aarch64", "riscv64")

RNG = ["-device", "virtio-rng-device"]
TRANSPORTS = {"legacy": [], "modern": MODERN_MMIO}
transports = pytest.mark.parametrize("transport", list(TRANSPORTS))


@transports
def test_lines_only_for_slots_with_devices(boot, transport):
    r = boot(TRANSPORTS[transport] + RNG * 3)
    r.assert_pass()
    want = {MMIO_TOP - n * MMIO_STRIDE for n in range(3)}
    got = [ln.addr for ln in r.lines]
    r.check(sorted(got) == sorted(want),
            "expected exactly one line for each of the three top slots "
            f"{sorted(hex(a) for a in want)}, got {[ln.address for ln in r.lines]}")
    r.check(all(ln.ok and ln.device == "rng" for ln in r.lines), "not all rng ok")


def _edited_dtb(tmp_path, qemu_args, drop_addr, machine):
    """QEMU's own DTB for these args and machine, minus the virtio_mmio node at drop_addr."""
    if shutil.which("dtc") is None:
        pytest.fail("dtc not found: run scripts/deps.sh build", pytrace=False)
    dumped = tmp_path / "virt.dtb"
    cmd = lq.build_command(qemu_args, machine=f"{machine},dumpdtb={dumped}", append="poweroff")
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    assert dumped.is_file(), f"dumpdtb failed: {shlex.join(cmd)}\n{p.stdout}{p.stderr}"
    dts = subprocess.run(["dtc", "-q", "-I", "dtb", "-O", "dts", str(dumped)],
                         check=True, capture_output=True, text=True).stdout
    lines = dts.split("\n")
    head = re.compile(rf"^(\s*)virtio_mmio@{drop_addr:x} \{{\s*$")
    for i, ln in enumerate(lines):
        m = head.match(ln)
        if m:
            end = next(j for j in range(i + 1, len(lines)) if lines[j] == m.group(1) + "};")
            del lines[i:end + 1]
            break
    else:
        pytest.fail(f"no virtio_mmio@{drop_addr:x} node in QEMU's DTB")
    edited = tmp_path / "edited.dtb"
    (tmp_path / "edited.dts").write_text("\n".join(lines))
    subprocess.run(["dtc", "-q", "-I", "dts", "-O", "dtb", "-o", str(edited),
                    str(tmp_path / "edited.dts")], check=True)
    return edited


@transports
def test_node_removed_from_dtb_is_not_found(boot, machine, transport, tmp_path):
    args = TRANSPORTS[transport] + RNG + RNG  # at MMIO_TOP and MMIO_TOP - 0x200
    dtb = _edited_dtb(tmp_path, args, MMIO_TOP, machine)
    r = boot(args, extra=["-dtb", str(dtb)])
    r.assert_pass()
    addrs = [ln.address for ln in r.lines]
    r.check([ln.addr for ln in r.lines] == [MMIO_TOP - MMIO_STRIDE],
            f"expected only the device at {MMIO_TOP - MMIO_STRIDE:#010x} (its node is the only "
            f"one left with a device), got {addrs}")
