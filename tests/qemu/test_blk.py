"""virtio-blk under real QEMU: QEMU's own block device on every transport.

The kernel's line (docs/design.md, kernel contract):
    lvio: blk <t>@<a>: ok v<n>, <N> sectors, <B>-byte blocks, serial "<id>",
          <ro|rw>, <Q> queues, sector0 <16 bytes hex>, last <16 bytes hex>, <service>
where `last` is the first 16 bytes of the last logical block. DATA SAFETY:
the kernel writes only to a disk whose serial is exactly `lvio-scratch`;
every other disk's image is byte-for-byte the same after the boot (each test
hashes it before and after).

The images are made here (pytest's tmp dir): the pattern disk's 8-byte
little-endian word at byte offset o is PATTERN_BASE + o (kernel/run_blk.c),
so the kernel checks every byte it reads, and a disk whose first block holds
it gets the in-guest read tests (random reads of one block to 4 MiB, the last
blocks, 32 requests on every queue at once). The scratch disk starts with the
pattern too; the kernel writes WRITE_BASE + o words, zeroes and discards
there, and the test reads the image back afterwards.

QEMU 7.2 facts relied on: virtio-blk offers SEG_MAX (queue-size - 2),
BLK_SIZE, TOPOLOGY, GEOMETRY, FLUSH (with a writeback cache), CONFIG_WCE
(config-wce=on by default), DISCARD and WRITE_ZEROES (on by default), MQ
when num-queues > 1, RO for readonly=on; a legacy virtio-pci device
(disable-modern=on on pcie.0) fixes its queue size at queue-size; blkdebug
(`file=blkdebug:<conf>:<image>`) fails reads touching a sector with errno 5,
which virtio-blk reports as IOERR (rerror=report, the default for reads).
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from array import array
from pathlib import Path

import pytest

from qemu import MMIO_SLOT_ADDRS, MODERN_MMIO, BootResult, LvioLine

# The transport matrix runs on both GICs, on riscv64's PLIC and on x86_64
# (PCI modern and legacy on q35, MMIO v1 and v2 on microvm: conftest boots
# a virtio-*-device there); the other cases, which pick configurations rather
# than interrupt controllers, once, on aarch64 (4 KiB blocks on x86_64 too).
one_gic = pytest.mark.one_gic
all_archs = pytest.mark.arch("aarch64", "riscv64", "x86_64")

PATTERN_BASE = 0x6C76000000000000
WRITE_BASE = 0x7772000000000000
MIB = 1 << 20
SCRATCH, PATTERN, IOERR = "lvio-scratch", "lvio-pattern", "lvio-ioerr"

BLK_RE = re.compile(r"\bv(?P<version>\d+), (?P<sectors>\d+) sectors, (?P<block>\d+)-byte blocks, "
                    r"serial \"(?P<serial>[^\"]*)\", (?P<mode>ro|rw), (?P<queues>\d+) queues, "
                    r"sector0 (?P<first>[0-9a-f]{32}), last (?P<last>[0-9a-f]{32}), ")

# transport -> (QEMU arguments besides the device, device name, extra
# properties, the version the kernel must report)
TRANSPORTS = {
    "mmio-v1": ([], "virtio-blk-device", "", 1),
    "mmio-v2": (MODERN_MMIO, "virtio-blk-device", "", 2),
    "pci": ([], "virtio-blk-pci", "", 2),
    "pci-legacy": ([], "virtio-blk-pci", "disable-modern=on", 1),
}


# ---------------------------------------------------------------------------
# Images


def words(base: int, start: int, size: int) -> bytes:
    """The 8-byte little-endian words base + o for byte offsets [start, start + size)."""
    a = array("Q", range(base + start, base + start + size, 8))
    if sys.byteorder != "little":
        a.byteswap()
    return a.tobytes()


def make_pattern(path: Path, size: int) -> Path:
    path.write_bytes(words(PATTERN_BASE, 0, size))
    return path


def make_sparse(path: Path, size: int, tail: int = 0) -> Path:
    """A sparse image of `size` bytes; its last `tail` bytes hold the pattern."""
    with open(path, "wb") as f:
        f.truncate(size)
        if tail:
            f.seek(size - tail)
            f.write(words(PATTERN_BASE, size - tail, tail))
    return path


def to_qcow2(raw: Path) -> Path:
    q = raw.with_suffix(".qcow2")
    subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", str(raw), str(q)],
                   check=True)
    return q


def qcow2_bytes(q: Path, tmp: Path) -> bytes:
    raw = tmp / (q.stem + "-back.raw")
    subprocess.run(["qemu-img", "convert", "-q", "-f", "qcow2", "-O", "raw", str(q), str(raw)],
                   check=True)
    return raw.read_bytes()


def digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(MIB), b""):
            h.update(chunk)
    return h.hexdigest()


def read_at(path: Path, off: int, n: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(off)
        return f.read(n)


def disk(path: Path, serial: str | None, *, driver: str = "virtio-blk-pci", props: str = "",
         fmt: str = "raw", drive: str = "", ident: str = "d0") -> list[str]:
    """-drive and -device arguments for one disk."""
    d = f"if=none,id={ident},file={path},format={fmt}" + ("," + drive if drive else "")
    p = f"{driver},drive={ident}" + (f",serial={serial}" if serial is not None else "")
    return ["-drive", d, "-device", p + ("," + props if props else "")]


# ---------------------------------------------------------------------------
# The kernel's lines


def blk_lines(r: BootResult, n: int) -> list[LvioLine]:
    lines = r.ok("blk")
    r.check(len(lines) == n and len(r.of("blk")) == n,
            f"expected {n} blk ok lines, got {len(lines)} of {len(r.of('blk'))}")
    return lines


def detail(r: BootResult, line: LvioLine) -> dict:
    m = BLK_RE.search(line.detail)
    r.check(m is not None, f"blk line does not read 'v<n>, <N> sectors, ...': {line}")
    d = m.groupdict()
    for k in ("version", "sectors", "block", "queues"):
        d[k] = int(d[k])
    return d


def of_serial(r: BootResult, lines: list[LvioLine], serial: str) -> tuple[LvioLine, dict]:
    for ln in lines:
        d = detail(r, ln)
        if d["serial"] == serial:
            return ln, d
    r.check(False, f"no blk line with serial {serial!r}")
    raise AssertionError  # not reached


def check_line(r: BootResult, line: LvioLine, image: bytes | Path, *, version: int,
               block: int = 512, serial: str, mode: str = "rw", queues: int = 1) -> dict:
    """The line against the image as it was before the boot."""
    d = detail(r, line)
    size = image.stat().st_size if isinstance(image, Path) else len(image)
    last = (size // block - 1) * block

    def at(off: int) -> bytes:
        return read_at(image, off, 16) if isinstance(image, Path) else image[off:off + 16]

    want = dict(version=version, sectors=size // 512, block=block, serial=serial, mode=mode,
                queues=queues, first=at(0).hex(), last=at(last).hex())
    got = {k: d[k] for k in want}
    r.check(got == want, f"blk line {line}\n  says {got}\n  want {want}")
    return d


def scratch_written(r: BootResult, data: bytes, block: int = 512) -> None:
    """What the kernel's scratch tests leave (run_blk.c): the last block and
    the first 64 blocks from block 8 are WRITE_BASE words; the write
    zeroes region (blocks 72..135) zeroes."""
    size = len(data)
    last = (size // block - 1) * block
    r.check(data[last:last + block] == words(WRITE_BASE, last, block),
            "the scratch disk's last block is not what the kernel wrote")
    start, region = 8 * block, 64 * block
    first = data[start:start + region // 2]
    r.check(first == words(WRITE_BASE, start, region // 2),
            "the scratch disk's first written region is not what the kernel wrote")
    z = data[start + region:start + 2 * region]
    r.check(z == bytes(region), "the scratch disk's write-zeroes region is not zeroes")


def scratch_done(r: BootResult, line: LvioLine) -> str:
    m = re.search(rf"^levitate: blk {re.escape(line.transport)}@{re.escape(line.address)}: "
                  r"scratch: (.*)$", r.serial, re.M)
    r.check(m is not None, f"no scratch line for {line.transport}@{line.address}")
    return m.group(1)


def pattern_tested(r: BootResult, line: LvioLine, queues: int = 1) -> None:
    where = f"{line.transport}@{line.address}"
    r.check(re.search(rf"^levitate: blk {re.escape(where)}: 30 random reads", r.serial, re.M)
            is not None, f"{where}: no random reads")
    r.check(re.search(rf"^levitate: blk {re.escape(where)}: 32 reads on {queues} queues at once",
                      r.serial, re.M) is not None, f"{where}: no concurrent reads on {queues} queues")


# ---------------------------------------------------------------------------
# The tests


@all_archs
@pytest.mark.parametrize("transport", list(TRANSPORTS))
def test_transports(boot, tmp_path, transport):
    """A pattern disk and a scratch disk on each transport: the lines, the
    reads checked in-guest, the scratch disk written and read back, the
    pattern disk untouched."""
    args, driver, props, version = TRANSPORTS[transport]
    pat = make_pattern(tmp_path / "pattern.img", 16 * MIB)
    scr = make_pattern(tmp_path / "scratch.img", 16 * MIB)
    before, original = digest(pat), scr.read_bytes()
    r = boot(args + disk(pat, PATTERN, driver=driver, props=props, ident="p") +
             disk(scr, SCRATCH, driver=driver, props=props, ident="s"))
    r.assert_pass()
    lines = blk_lines(r, 2)
    p, _ = of_serial(r, lines, PATTERN)
    s, _ = of_serial(r, lines, SCRATCH)
    check_line(r, p, pat, version=version, serial=PATTERN)
    check_line(r, s, original, version=version, serial=SCRATCH)
    for ln in (p, s):
        r.check(ln.service is not None and ln.service[0] in ("irq", "msi-x"),
                f"{ln}: not interrupt-driven")
        if transport.startswith("mmio"):
            r.check(ln.addr in MMIO_SLOT_ADDRS, f"{ln}: not a virtio-mmio slot")
        pattern_tested(r, ln)
    done = scratch_done(r, s)
    r.check("discard" in done and "write zeroes" in done, f"scratch tests: {done}")
    r.check(digest(pat) == before, "the pattern disk's image changed")
    scratch_written(r, scr.read_bytes())


@one_gic
def test_qcow2(boot, tmp_path):
    """qcow2 images (qemu-img): the same lines and data as raw."""
    raw = make_pattern(tmp_path / "pattern.raw", 8 * MIB)
    pat = to_qcow2(raw)
    scr = to_qcow2(make_pattern(tmp_path / "scratch.raw", 8 * MIB))
    before = digest(pat)
    r = boot(disk(pat, PATTERN, fmt="qcow2", ident="p") +
             disk(scr, SCRATCH, fmt="qcow2", ident="s", driver="virtio-blk-device"))
    r.assert_pass()
    lines = blk_lines(r, 2)
    p, _ = of_serial(r, lines, PATTERN)
    s, _ = of_serial(r, lines, SCRATCH)
    check_line(r, p, raw, version=2, serial=PATTERN)
    check_line(r, s, raw, version=1, serial=SCRATCH)
    pattern_tested(r, p)
    r.check(digest(pat) == before, "the pattern disk's qcow2 image changed")
    scratch_written(r, qcow2_bytes(scr, tmp_path))


@one_gic
def test_read_only(boot, tmp_path):
    """readonly=on: the line says ro; even the scratch disk is refused every
    write by the driver (LVIO_E_READ_ONLY), and both images stay the same."""
    pat = make_pattern(tmp_path / "pattern.img", 4 * MIB)
    scr = make_pattern(tmp_path / "scratch.img", 4 * MIB)
    hashes = digest(pat), digest(scr)
    r = boot(disk(pat, PATTERN, drive="readonly=on", ident="p") +
             disk(scr, SCRATCH, drive="readonly=on", ident="s", driver="virtio-blk-device"))
    r.assert_pass()
    lines = blk_lines(r, 2)
    p, _ = of_serial(r, lines, PATTERN)
    s, _ = of_serial(r, lines, SCRATCH)
    check_line(r, p, pat, version=2, serial=PATTERN, mode="ro")
    check_line(r, s, scr, version=1, serial=SCRATCH, mode="ro")
    pattern_tested(r, p)
    r.check(f"levitate: blk {s.transport}@{s.address}: read-only: write refused "
            "(LVIO_E_READ_ONLY)" in r.serial, "the read-only scratch disk's writes not refused")
    r.check((digest(pat), digest(scr)) == hashes, "a read-only image changed")


@one_gic
@pytest.mark.arch("aarch64", "x86_64")
@pytest.mark.parametrize("driver", ["virtio-blk-pci", "virtio-blk-device"])
def test_4kn(boot, tmp_path, driver):
    """logical_block_size=4096: 4096-byte blocks, the last block at 4 KiB,
    every read and write in whole 4 KiB blocks."""
    kn = "logical_block_size=4096,physical_block_size=4096"
    pat = make_pattern(tmp_path / "pattern.img", 8 * MIB)
    scr = make_pattern(tmp_path / "scratch.img", 8 * MIB)
    before, original = digest(pat), scr.read_bytes()
    r = boot(MODERN_MMIO + disk(pat, PATTERN, props=kn, ident="p", driver=driver) +
             disk(scr, SCRATCH, props=kn, ident="s", driver=driver))
    r.assert_pass()
    lines = blk_lines(r, 2)
    p, _ = of_serial(r, lines, PATTERN)
    s, _ = of_serial(r, lines, SCRATCH)
    check_line(r, p, pat, version=2, block=4096, serial=PATTERN)
    check_line(r, s, original, version=2, block=4096, serial=SCRATCH)
    pattern_tested(r, p)
    scratch_written(r, scr.read_bytes(), block=4096)
    r.check(digest(pat) == before, "the pattern disk's image changed")


@one_gic
def test_larger_than_2tib(boot, tmp_path):
    """A 3 TiB sparse disk: sector numbers past 2^32. Its last block holds
    the pattern (read back in the line), the scratch tests write there."""
    size = 3 << 40
    big = make_sparse(tmp_path / "big.img", size, tail=64 * 1024)
    r = boot(disk(big, SCRATCH))
    r.assert_pass()
    [ln] = blk_lines(r, 1)
    d = detail(r, ln)
    r.check(d["sectors"] == size // 512 and d["sectors"] > 1 << 32, f"{ln}: sectors")
    r.check(d["last"] == words(PATTERN_BASE, size - 512, 16).hex(), f"{ln}: last block")
    r.check(d["first"] == "0" * 32, f"{ln}: sector 0 of a sparse image")
    scratch_done(r, ln)
    last = read_at(big, size - 512, 512)
    r.check(last == words(WRITE_BASE, size - 512, 512),
            "the last block of the 3 TiB disk is not what the kernel wrote there")


@one_gic
def test_four_queues(boot, tmp_path):
    """num-queues=4 on PCI (MSI-X: a vector per queue and the config's) and
    on MMIO: four queues in use, requests on all of them at once."""
    pat = make_pattern(tmp_path / "pattern.img", 8 * MIB)
    scr = make_pattern(tmp_path / "scratch.img", 8 * MIB)
    r = boot(MODERN_MMIO + disk(pat, PATTERN, props="num-queues=4", ident="p") +
             disk(scr, SCRATCH, props="num-queues=4", ident="s", driver="virtio-blk-device"))
    r.assert_pass()
    lines = blk_lines(r, 2)
    p, _ = of_serial(r, lines, PATTERN)
    s, _ = of_serial(r, lines, SCRATCH)
    r.check(detail(r, p)["queues"] == 4 and detail(r, s)["queues"] == 4, "not 4 queues")
    r.check(p.service == ("msi-x", 5), f"{p}: expected msi-x 5")
    pattern_tested(r, p, queues=4)
    pattern_tested(r, s, queues=4)
    r.check(" 4 queues: read back" in scratch_done(r, s), "scratch writes not on 4 queues")


@one_gic
def test_queue_size_1024(boot, tmp_path):
    """queue-size=1024, more than the driver's 256: modern PCI and MMIO take
    256. A legacy PCI device fixes its size at 1024, which the driver cannot
    take: an error line by name, and the kernel goes on."""
    pat = make_pattern(tmp_path / "pattern.img", 4 * MIB)
    r = boot(MODERN_MMIO + disk(pat, PATTERN, props="queue-size=1024", ident="p",
                                drive="readonly=on") +
             disk(pat, PATTERN, props="queue-size=1024", ident="q", driver="virtio-blk-device",
                  drive="readonly=on") +
             disk(pat, PATTERN, props="queue-size=1024,disable-modern=on", ident="l",
                  drive="readonly=on") + ["-device", "virtio-rng-device"])
    r.check(r.panic is None and r.verdict is not None, "no verdict")
    lines = r.ok("blk")
    r.check(len(lines) == 2, f"expected 2 blk ok lines, got {len(lines)}")
    for ln in lines:
        pattern_tested(r, ln)
    [err] = r.errors("blk")
    r.check(err.error == "LVIO_E_QUEUE" and "1024" in err.detail, f"{err}")
    r.check(len(r.ok("rng")) == 1, "the rng after it did not come up")


@one_gic
def test_discard_and_write_zeroes_off(boot, tmp_path):
    """discard=off,write-zeroes=off: not offered, not sent; the rest works."""
    scr = make_pattern(tmp_path / "scratch.img", 4 * MIB)
    r = boot(disk(scr, SCRATCH, props="discard=off,write-zeroes=off"))
    r.assert_pass()
    [ln] = blk_lines(r, 1)
    done = scratch_done(r, ln)
    r.check("discard" not in done and "write zeroes" not in done, f"scratch tests: {done}")
    r.check(read_at(scr, scr.stat().st_size - 512, 512) ==
            words(WRITE_BASE, scr.stat().st_size - 512, 512), "last block not written")


@one_gic
@pytest.mark.parametrize("cache", ["writeback", "writethrough"])
def test_config_wce_off(boot, tmp_path, cache):
    """config-wce=off (and a writethrough cache, where QEMU offers no FLUSH
    at all): the writes and flushes still go, and reach the image."""
    scr = make_pattern(tmp_path / "scratch.img", 4 * MIB)
    r = boot(disk(scr, SCRATCH, props="config-wce=off", drive=f"cache={cache}"))
    r.assert_pass()
    [ln] = blk_lines(r, 1)
    scratch_done(r, ln)
    scratch_written(r, scr.read_bytes())


@one_gic
def test_ioerr_injected(boot, tmp_path):
    """blkdebug fails every read of sector 16: IOERR by name for that block,
    every other block reads and is checked, and the kernel goes on."""
    img = make_pattern(tmp_path / "ioerr.img", 4 * MIB)
    conf = tmp_path / "blkdebug.conf"
    conf.write_text('[inject-error]\nevent = "read_aio"\nerrno = "5"\nsector = "16"\n')
    before = digest(img)
    r = boot(["-drive", f"if=none,id=e,format=raw,file=blkdebug:{conf}:{img}",
              "-device", f"virtio-blk-pci,drive=e,serial={IOERR}",
              "-device", "virtio-rng-device"])
    r.assert_pass()
    [ln] = blk_lines(r, 1)
    check_line(r, ln, img, version=2, serial=IOERR)
    where = f"{ln.transport}@{ln.address}"
    r.check(f"levitate: blk {where}: error IOERR reading sector 16: blk read of sectors 16..16 "
            "on queue 0: the device answered IOERR" in r.serial, "no IOERR for sector 16")
    r.check(f"levitate: blk {where}: scanned 64 blocks, 1 read errors" in r.serial,
            "the other blocks did not all read")
    r.check(len(r.ok("rng")) == 1, "the kernel did not go on to the rng")
    r.check(digest(img) == before, "the image changed")


@one_gic
def test_several_disks_and_data_safety(boot, tmp_path):
    """Five disks at once on both transports; only the one whose serial is
    exactly lvio-scratch is written: near misses and a disk without a serial
    stay byte-for-byte the same."""
    names = [PATTERN, "lvio-scratch2", "LVIO-SCRATCH", None, SCRATCH]
    imgs = [make_pattern(tmp_path / f"d{i}.img", 4 * MIB) for i in range(5)]
    hashes = [digest(p) for p in imgs]
    args = []
    for i, (p, name) in enumerate(zip(imgs, names)):
        args += disk(p, name, ident=f"d{i}", driver="virtio-blk-pci" if i % 2 else
                     "virtio-blk-device")
    r = boot(args)
    r.assert_pass()
    lines = blk_lines(r, 5)
    r.check(len({(ln.transport, ln.address) for ln in lines}) == 5, "two lines for one disk")
    serials = sorted(detail(r, ln)["serial"] for ln in lines)
    r.check(serials == sorted(n or "" for n in names), f"serials {serials}")
    for i, (p, name) in enumerate(zip(imgs, names)):
        if name == SCRATCH:
            r.check(digest(p) != hashes[i], "the scratch disk was not written")
        else:
            r.check(digest(p) == hashes[i], f"disk {i} (serial {name!r}) changed: DATA SAFETY")


@one_gic
def test_no_blk(boot):
    r = boot(["-device", "virtio-rng-device"])
    r.assert_pass()
    r.check(r.none_found("blk"), "the kernel did not say 'lvio: no blk devices found'")


@all_archs
@one_gic
def test_soak(boot, tmp_path):
    """Bootarg soak: 100 000 4 KiB random reads at depth 32 over four queues
    (PCI, MSI-X) of a pattern disk, every block checked in-guest; every DMA
    page comes back, and the image is unchanged."""
    pat = make_pattern(tmp_path / "pattern.img", 16 * MIB)
    before = digest(pat)
    r = boot(disk(pat, PATTERN, props="num-queues=4", ident="p"), append="poweroff soak",
             timeout=180)
    r.assert_pass()
    m = re.search(r"^levitate: soak: blk (?P<name>\S+): (?P<reads>\d+) reads on (?P<queues>\d+) "
                  r"queues in \d+ ms, DMA pages (?P<before>\d+) before, (?P<after>\d+) after$",
                  r.serial, re.M)
    r.check(m is not None, "no blk soak line")
    if m:
        r.check(int(m["reads"]) == 100000, f"blk soak made {m['reads']} reads, want 100000")
        r.check(int(m["queues"]) == 4, f"blk soak on {m['queues']} queues, want 4")
        r.check(m["before"] == m["after"], f"blk soak leaked DMA pages: {m[0]}")
    r.check(digest(pat) == before, "the pattern disk's image changed")
