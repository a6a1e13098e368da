"""The ring's optional features against QEMU's own devices.

QEMU's virtio devices offer VIRTIO_F_INDIRECT_DESC (28) and
VIRTIO_F_EVENT_IDX (29) unless told `indirect_desc=off` / `event_idx=off`.
The library takes both whenever they are offered, so every other QEMU test
already runs with both on; here each is switched off in turn, on every
transport, with an rng and a GPU (the GPU's batches are the chains of two
and three buffers that go indirect). The kernel's in-guest tests must pass
and `lvio.dump` must show exactly the features QEMU offered accepted.
"""

from __future__ import annotations

import re

import pytest

from qemu import MODERN_MMIO

pytestmark = pytest.mark.arch("aarch64", "riscv64", "x86_64")

INDIRECT, EVENT_IDX = 1 << 28, 1 << 29

# transport id -> (extra QEMU args, rng device, gpu device or None)
TRANSPORTS = {
    "mmio-legacy": ([], "virtio-rng-device", "virtio-gpu-device"),
    "mmio-modern": (MODERN_MMIO, "virtio-rng-device", "virtio-gpu-device"),
    "pci-modern": ([], "virtio-rng-pci", "virtio-gpu-pci"),
    # QEMU's virtio-gpu-pci is modern-only: the legacy PCI interface is the rng's
    "pci-legacy": ([], "virtio-rng-pci,disable-modern=on", None),
}
# variant id -> (device properties, features QEMU still offers of the two)
VARIANTS = {
    "indirect-off": (",indirect_desc=off", EVENT_IDX),
    "event-idx-off": (",event_idx=off", INDIRECT),
    "both-off": (",indirect_desc=off,event_idx=off", 0),
}

FEATURES_RE = re.compile(r"^\s*\[lvio info\] (?P<name>\S+): dump: features offered "
                         r"0x(?P<offered>[0-9a-f]+) accepted 0x(?P<accepted>[0-9a-f]+)$", re.M)


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("transport", list(TRANSPORTS))
def test_ring_features_off(boot, transport, variant):
    args, rng, gpu = TRANSPORTS[transport]
    props, left = VARIANTS[variant]
    devices = args + ["-device", rng + props]
    if gpu:
        devices += ["-device", gpu + props]
    r = boot(devices, append="poweroff lvio.dump")
    r.assert_pass()
    seen = {m["name"]: m for m in FEATURES_RE.finditer(r.serial)}
    r.check(len(seen) == (2 if gpu else 1), f"expected a dump per device, got {list(seen)}")
    for name, m in seen.items():
        offered, accepted = int(m["offered"], 16), int(m["accepted"], 16)
        r.check(offered & (INDIRECT | EVENT_IDX) == left,
                f"{name}: QEMU offered 0x{offered:x}, expected ring features 0x{left:x}")
        r.check(accepted & (INDIRECT | EVENT_IDX) == left,
                f"{name}: accepted 0x{accepted:x}: the ring features offered are 0x{left:x}")
