"""virtio-rng under real QEMU, on legacy (v1) and modern (v2) virtio-mmio."""

import pytest

from qemu import MMIO_SLOT_ADDRS, MMIO_STRIDE, MMIO_TOP, MODERN_MMIO, parse_rng

pytestmark = pytest.mark.arch("aarch64", "riscv64", "x86_64")

RNG = ["-device", "virtio-rng-device"]

# transport id -> (QEMU args, version the kernel must report)
TRANSPORTS = {
    "legacy": ([], 1),
    "modern": (MODERN_MMIO, 2),
}
transports = pytest.mark.parametrize("transport", list(TRANSPORTS))


def rng_ok(r, line, version):
    """Check one rng ok line; returns its bytes."""
    r.check(line.ok, f"rng not ok: {line}")
    r.check(line.transport == "mmio", f"expected an mmio transport: {line}")
    r.check(line.addr in MMIO_SLOT_ADDRS,
            f"address {line.address} is not a virt virtio-mmio slot: {line}")
    d = parse_rng(line.detail)
    r.check(d is not None, f"rng detail does not look like 'v<N>, <n> bytes <hex>': {line}")
    r.check(d.version == version, f"expected v{version}, got v{d.version}: {line}")
    r.check(d.count == 32, f"expected 32 bytes, got {d.count}: {line}")
    r.check(len(d.data) == d.count, f"{d.count} bytes announced, {len(d.data)} printed: {line}")
    r.check(any(d.data), f"all-zero random bytes (the device wrote nothing?): {line}")
    return d.data


@transports
def test_one_rng(boot, transport):
    args, version = TRANSPORTS[transport]
    r = boot(args + RNG)
    r.assert_pass()
    lines = r.of("rng")
    r.check(len(lines) == 1, f"expected one rng line, got {len(lines)}")
    rng_ok(r, lines[0], version)
    # QEMU gives the first -device the top slot; the kernel must report where it found it.
    r.check(lines[0].addr == MMIO_TOP,
            f"expected the rng at {MMIO_TOP:#010x} (QEMU's first slot), got {lines[0].address}")
    r.check(not r.errors(), "unexpected error lines: " + "; ".join(map(str, r.errors())))


@transports
def test_no_rng(boot, transport):
    args, _ = TRANSPORTS[transport]
    r = boot(args)
    r.assert_pass()
    r.check(not r.of("rng"), "rng lines without an rng device")
    r.check(not r.lines, "device lines without any device: " + "; ".join(map(str, r.lines)))
    r.check(r.none_found("rng"), "the kernel did not say it found no rng ('lvio: no rng ...')")


@transports
def test_two_rngs(boot, transport):
    args, version = TRANSPORTS[transport]
    r = boot(args + RNG + RNG)
    r.assert_pass()
    lines = r.ok("rng")
    r.check(len(lines) == 2 and len(r.of("rng")) == 2,
            f"expected two rng ok lines, got {len(lines)} ok of {len(r.of('rng'))}")
    a, b = (rng_ok(r, ln, version) for ln in lines)
    r.check(lines[0].addr != lines[1].addr, "both rng lines report the same address")
    r.check({ln.addr for ln in lines} == {MMIO_TOP, MMIO_TOP - MMIO_STRIDE},
            "expected the two top slots: " + ", ".join(ln.address for ln in lines))
    r.check(a != b, "two devices returned the same bytes")


@transports
def test_rate_limited_rng(boot, transport):
    """64 bytes per second: slow, but reads must complete (no timing asserted)."""
    args, version = TRANSPORTS[transport]
    r = boot(args + ["-object", "rng-random,filename=/dev/urandom,id=r0",
                     "-device", "virtio-rng-device,rng=r0,max-bytes=64,period=1000"],
             timeout=90)
    r.assert_pass()
    lines = r.of("rng")
    r.check(len(lines) == 1, f"expected one rng line, got {len(lines)}")
    rng_ok(r, lines[0], version)


def test_legacy_and_modern_bytes_differ_between_boots(boot):
    """Two boots must not print the same 'random' bytes (a fixed buffer would)."""
    r1 = boot(RNG)
    r2 = boot(MODERN_MMIO + RNG)
    d1 = parse_rng(r1.ok("rng")[0].detail) if r1.ok("rng") else None
    d2 = parse_rng(r2.ok("rng")[0].detail) if r2.ok("rng") else None
    r1.check(d1 is not None, "no rng ok line on legacy")
    r2.check(d2 is not None, "no rng ok line on modern")
    assert d1.data != d2.data, "legacy and modern boots printed identical random bytes"
