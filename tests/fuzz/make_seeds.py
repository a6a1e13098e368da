#!/usr/bin/env python3
"""Write the hand-made seed inputs of the fuzz targets into
tests/fuzz/corpus/<target>/seed-*.

Every input is two tapes (tests/fuzz/fuzz_dev.h): a 16-bit little-endian
length, the harness's tape (setup and driver calls), then the device's tape
(its decisions). A seed with an empty device tape runs against a
well-behaved device, which goes all the way through the driver; the others
steer the device into one corner each. The byte layouts are described at the
top of each tests/fuzz/fuzz_<target>.c.

Usage: tests/fuzz/make_seeds.py [corpus-dir]   (default: tests/fuzz/corpus)
"""
import os
import struct
import sys


def u8(v):
    return struct.pack("<B", v & 0xFF)


def u16(v):
    return struct.pack("<H", v & 0xFFFF)


def u32(v):
    return struct.pack("<I", v & 0xFFFFFFFF)


def u64(v):
    return struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF)


def seed(harness, device=b""):
    return u16(len(harness)) + harness + device


def common(flags=0, dma_fail=0, share_fail=0, pattern=None):
    """flags: 1 legacy (Version 1), 2 hostile registers, 4 DMA at 16 TiB,
    bits 3..4: 0x18 FEATURES_OK refused, IGNORE_RESETS (0x08) every reset
    after the first ignored, IGNORE_2ND_RESET (0x10) the second only; bits
    5..7 share layout (0 linear, 1 scattered, 2 by pattern)."""
    h = u8(flags) + u8(dma_fail) + u8(share_fail)
    if ((flags >> 5) % 3) == 2:
        h += u64(pattern or 0x5555555555555555)
    return h


IGNORE_RESETS, IGNORE_2ND_RESET = 0x08, 0x10

# ---- the device's moves (fz_device_step: opcode 7, then a misc byte) --------
#
# The clock (misc 6, one byte): tick, stopped, slow, fast, backwards, a
# jump ahead, about to wrap, erratic; the low three bits choose, the rest
# is a parameter.
CLOCK_TICK, CLOCK_STOPPED, CLOCK_SLOW, CLOCK_FAST = 0, 1, 2, 3
CLOCK_BACKWARDS, CLOCK_JUMP, CLOCK_WRAP, CLOCK_ERRATIC = 4, 5, 6, 7


def dev_clock(mode, k=0):
    return u8(7) + u8(6) + u8(mode | k << 3)


def dev_ignore_resets(start=0, count=15):
    """Ignore `count` resets (15: all) from the `start`-th next one."""
    return u8(7) + u8(7) + u8(start << 2 | count << 4)


SCRIBBLE_DESC, SCRIBBLE_AVAIL, SCRIBBLE_READABLE, SCRIBBLE_BACKING = 1, 2, 4, 8
SCRIBBLE_ALL = 15


def dev_scribble(what=SCRIBBLE_ALL, byte=0xA5):
    """From now on, overwrite what the driver wrote for every chain taken."""
    return u8(7) + u8(7) + u8(1 | what << 2) + u8(byte)


def dev_late(log2_polls):
    """Sit out 2**log2_polls relax() calls (up to 2**19), then go on."""
    v = log2_polls if log2_polls <= 13 else log2_polls + 26
    return u8(7) + u8(7) + u8(2 | v << 2)


DEV_RESET_NOW = u8(7) + u8(7) + u8(3)  # an ignored reset completes
DEV_EMPTY_ANSWERS = u8(7) + u8(7) + u8(3 | 1 << 2)  # every answer: 0 bytes, for good
DEV_FULL_ANSWERS = u8(7) + u8(7) + u8(3 | 2 << 2)


def timeout_special(k):
    """fz_timeout's byte for 0, 1 ns, a tick - 1, 2^32, 2^63,
    UINT64_MAX - a tick, UINT64_MAX - 1, UINT64_MAX (k = 0..7)."""
    return 0xF8 + k


FOREVER = timeout_special(7)


# ---- fuzz_virtqueue ---------------------------------------------------------

def vq_header(flags=0, wanted=0, num_max=256, max_size=0):
    return common(flags) + u64(wanted) + u16(num_max ^ 256) + u16(max_size)


def vq_add(outs, ins):
    """outs, ins: lists of (len, offset) in the harness's 64 KiB buffer."""
    h = u8(0) + u8(len(outs) + 6 * len(ins))
    for ln, off in outs + ins:
        h += u16(ln) + u16(off)
    return h


VQ_KICK, VQ_GET, VQ_STEP, VQ_ISR, VQ_DUMP = u8(2), u8(3), u8(5), u8(7), u8(0x87)


def vq_wait(ms):
    return u8(4) + u8(ms)


def virtqueue_seeds():
    basic = (vq_add([(16, 0)], [(64, 256)]) + VQ_KICK + vq_wait(5) +
             vq_add([], [(100, 1024), (28, 2048)]) + vq_add([(8, 4096), (8, 4200)], []) +
             VQ_KICK + VQ_GET + vq_wait(3) + VQ_GET + vq_wait(3) + VQ_DUMP + VQ_ISR)
    yield "basic", seed(vq_header() + basic)
    yield "legacy", seed(vq_header(flags=1) + basic)
    yield "hostile-regs", seed(vq_header(flags=2) + basic)
    yield "dma-16tib", seed(vq_header(flags=4) + basic)
    full = vq_add([(16, 0)], [(16, 64)]) * 5 + VQ_KICK + vq_wait(2) * 5 + VQ_GET
    yield "full", seed(vq_header(max_size=4) + full)
    yield "size1", seed(vq_header(num_max=1) + full)
    # A used entry for id 0x8001: the queue breaks; every later call must
    # fail fast with LVIO_E_BROKEN.
    broken = (vq_add([(16, 0)], [(64, 256)]) + VQ_KICK + VQ_STEP + VQ_GET +
              vq_add([(16, 0)], []) + VQ_KICK + vq_wait(3) + VQ_GET + VQ_DUMP)
    yield "broken-id", seed(vq_header() + broken, u8(5) + u16(0x8001) + u32(0))
    yield "broken-jump", seed(vq_header() + broken, u8(6) + u8(7))
    # Three chains taken and held, the last released first, then the rest.
    ooo = (vq_add([(16, 0)], [(32, 512)]) * 3 + VQ_KICK + VQ_STEP * 4 + VQ_GET * 2 +
           VQ_STEP + VQ_GET * 3)
    yield "out-of-order", seed(vq_header() + ooo,
                               (u8(0) + u8(3)) * 3 + u8(4) + u8(2))
    # Lengths: short, too long (clamped), zero.
    lens = vq_add([], [(64, 0)]) * 3 + VQ_KICK + VQ_STEP * 3 + VQ_GET * 4
    yield "lengths", seed(vq_header() + lens,
                          u8(0) + u8(1) + u16(10) + u8(0) + u8(2) + u16(500) +
                          u8(0) + u8(1) + u16(0))
    # The device asks not to be notified, scribbles on the rings, raises
    # DEVICE_NEEDS_RESET.
    misc = (vq_add([(16, 0)], [(16, 64)]) + VQ_STEP + VQ_KICK + VQ_STEP +
            vq_add([(16, 0)], [(16, 64)]) + VQ_KICK + VQ_STEP + vq_wait(4) + VQ_GET)
    yield "misc", seed(vq_header() + misc,
                       u8(7) + u8(1) + u8(7) + u8(4) + u16(3) + u8(0xEE) + u8(7) + u8(0))
    # Scribble mode: after reading each chain the device overwrites its
    # descriptors, its avail slot and its readable buffers; the driver's
    # bookkeeping must not notice.
    yield "scribble", seed(vq_header() + VQ_STEP + basic + ooo,
                           dev_scribble() + (u8(0) + u8(0)) * 8)
    # Waits of UINT64_MAX and near it: with nothing in flight (the clock
    # runs, then stands still: the stall bound ends it), with the device
    # answering late (it must not time out early), with the clock stopped,
    # slow, backwards, jumping and erratic.
    forever = (vq_wait(FOREVER) + vq_add([(16, 0)], [(64, 256)]) + VQ_KICK +
               vq_wait(FOREVER) + vq_wait(timeout_special(6)))
    yield "wait-forever", seed(vq_header() + forever)
    yield "wait-forever-late", seed(vq_header() + VQ_STEP + forever, dev_late(14))
    yield "wait-forever-later", seed(vq_header() + vq_add([(16, 0)], [(64, 256)]) + VQ_KICK +
                                     VQ_STEP + vq_wait(FOREVER), dev_late(19))
    for name, clock in (("stopped", dev_clock(CLOCK_STOPPED)),
                        ("slow", dev_clock(CLOCK_SLOW, 19)),
                        ("backwards", dev_clock(CLOCK_BACKWARDS)),
                        ("jump", dev_clock(CLOCK_JUMP, 31)),
                        ("wrap", dev_clock(CLOCK_WRAP, 3)),
                        ("erratic", dev_clock(CLOCK_ERRATIC))):
        ops = VQ_STEP + forever + vq_wait(timeout_special(4)) + vq_wait(3) + vq_wait(0)
        yield "clock-" + name, seed(vq_header() + ops, clock + u8(3) * 200)
    # The device ignores the reset at the end and goes on with a chain it
    # holds: the ring is kept (counted in kept_pages), and the device still
    # writes its used ring after teardown.
    dead = vq_add([(16, 0)], [(64, 256)]) * 2 + VQ_KICK + VQ_STEP * 2
    yield "dead", seed(vq_header(flags=IGNORE_RESETS) + dead, u8(0) + u8(3) + u8(0) + u8(0))
    yield "dead-legacy", seed(vq_header(flags=1 | IGNORE_RESETS) + dead,
                              u8(0) + u8(3) + u8(0) + u8(0))


# ---- fuzz_mmio --------------------------------------------------------------

def mmio_header(flags=0, device_id=4, features=1 << 32, num_max=(256, 256, 256, 256),
                config=bytes(16), size_code=0, wanted=0, queues=(), cfg_ops=()):
    h = common(flags) + u8(device_id ^ 4) + u64(features ^ (1 << 32))
    for n in num_max:
        h += u16(n ^ 256)
    h += config + u8(size_code) + u64(wanted)
    h += u8(len(queues)) + b"".join(u8(m) for m in queues)
    h += u8(len(cfg_ops)) + b"".join(u16(off) + u16(ln) for off, ln in cfg_ops)
    return h


def mmio_seeds():
    ops = ((0, 8), (4, 5), (1, 6), (12, 4))  # even length: read, odd: write
    cfg = bytes(range(1, 17))
    yield "v2", seed(mmio_header(queues=(0, 0), cfg_ops=ops, config=cfg,
                                 wanted=(1 << 32) | (1 << 28) | 1))
    yield "v1", seed(mmio_header(flags=1, queues=(0, 3), cfg_ops=ops, config=cfg,
                                 features=0x30000001))
    yield "four-queues", seed(mmio_header(queues=(1, 2, 9, 0), num_max=(256, 7, 1, 0x8000)))
    yield "empty-slot", seed(mmio_header(device_id=0))
    yield "small-region", seed(mmio_header(size_code=8))
    yield "not-virtio", seed(mmio_header(), u8(0xA0))
    yield "v1-16tib", seed(mmio_header(flags=5, queues=(0, 0, 0)))
    yield "refused", seed(mmio_header(flags=0x18, queues=(0,)))
    yield "no-version-1", seed(mmio_header(features=0, queues=(0,)))
    # Reset never completes (status reads 0x01 a few times, then honest).
    yield "slow-reset", seed(mmio_header(queues=(0,)),
                             u8(0) * 5 + u8(0xA1) * 6 + u8(0) * 8 + u8(0xFF) + u32(0x40))
    yield "big-config", seed(mmio_header(cfg_ops=((0x0F0, 0x20), (0x1000, 3000),
                                                  (4096, 1), (0, 4097))))
    # The device ignores every reset after the first: teardown's reset is
    # LVIO_E_DEAD, the rings are kept (kept_pages), the device touches them
    # after teardown.
    yield "dead", seed(mmio_header(flags=IGNORE_RESETS, queues=(0, 3), cfg_ops=ops))
    yield "dead-v1", seed(mmio_header(flags=1 | IGNORE_RESETS, queues=(0, 3, 9)))
    # QueueReady reads 0 (the 12th register read) after the device got the
    # ring, and the reset meant to make it let go is ignored: lvio_vq_setup
    # is LVIO_E_DEAD and keeps the ring.
    yield "queue-refused-dead", seed(mmio_header(flags=IGNORE_RESETS, queues=(0,)),
                                     u8(0) * 11 + u8(0xA0))
    # A status read of 0 (a hostile register: the 81st read, the first of
    # the last reset) completes an ignored reset: the driver frees the
    # rings, and may.
    yield "ignored-reset-told-0", seed(mmio_header(flags=IGNORE_RESETS, queues=(0,)),
                                       u8(0) * 80 + u8(0xA0) * 40)


# ---- fuzz_rng ---------------------------------------------------------------

def rng_header(flags=0, features=1 << 32, num_max=8):
    return common(flags) + u64(features ^ (1 << 32)) + u16(num_max ^ 8)


def rng_read(n, timeout_ms, reset=False):
    return u16(n) + u8(timeout_ms | (0x80 if reset else 0))


def rng_read_special(n, k, reset=False):
    """A read whose timeout is fz_timeout's special value k (7: UINT64_MAX)."""
    return u16(n) + u8((0x78 + k) | (0x80 if reset else 0))


def rng_seeds():
    reads = (rng_read(32, 5) + rng_read(5000, 20) + rng_read(0, 0) + rng_read(100, 0) +
             rng_read(64, 5, reset=True) + rng_read(1, 1))
    yield "basic", seed(rng_header() + reads)
    yield "legacy", seed(rng_header(flags=1) + reads)
    yield "hostile-regs", seed(rng_header(flags=2) + reads)
    yield "queue-2", seed(rng_header(num_max=2) + rng_read(900, 5) + rng_read(2000, 9))
    # A device that stalls, then answers short, long, zero and late.
    yield "slow", seed(rng_header() + rng_read(64, 3) + rng_read(64, 10) + rng_read(2000, 12),
                       u8(3) * 6 + u8(0) + u8(1) + u16(7) + u8(0) + u8(2) + u16(99) +
                       u8(0) + u8(3) + u8(0) + u8(4) + u8(3) * 3 + u8(4) + u8(0))
    yield "needs-reset", seed(rng_header() + rng_read(64, 5) + rng_read(64, 5, reset=True),
                              u8(7) + u8(0))
    yield "no-dma", seed(common(dma_fail=1) + u64(0) + u16(0) + rng_read(16, 1))
    # One descriptor: a read of many slots' worth waits for each in turn
    # (the queue full of requests is not an error).
    yield "queue-1", seed(rng_header(num_max=1) + rng_read(3000, 20) + rng_read(700, 0))
    # A stopped clock and a device that answers every request at once with
    # 0 bytes: a read that may wait forever still ends (stall bound), and
    # one with the clock running again ends by its time.
    yield "stopped-clock-zero-bytes", seed(
        rng_header() + rng_read_special(32, 7) + rng_read(16, 5) + rng_read_special(8, 7),
        dev_clock(CLOCK_STOPPED) + DEV_EMPTY_ANSWERS + u8(0) * 10 + dev_clock(CLOCK_TICK))
    # Forever, with a device that answers after 65536 polls: a full read,
    # not a timeout. dev_late(19) asks for 2^19 polls, which the device model
    # cuts to its 2^15 per input: the wait still outlasts the stall bound.
    yield "forever-late", seed(rng_header() + rng_read_special(64, 7) +
                               rng_read_special(64, 6) + rng_read_special(8, 4),
                               dev_late(16))
    yield "forever-later", seed(rng_header() + rng_read_special(64, 7), dev_late(19))
    for name, clock in (("slow", dev_clock(CLOCK_SLOW, 12)),
                        ("fast", dev_clock(CLOCK_FAST, 15)),
                        ("backwards", dev_clock(CLOCK_BACKWARDS)),
                        ("jump", dev_clock(CLOCK_JUMP, 31)),
                        ("wrap", dev_clock(CLOCK_WRAP, 2)),
                        ("erratic", dev_clock(CLOCK_ERRATIC))):
        reads = b"".join(rng_read_special(48, k) for k in range(8)) + rng_read(48, 23)
        yield "clock-" + name, seed(rng_header() + reads, clock + u8(3) * 300)
    # The device ignores the reset of teardown and goes on with a request it
    # holds: ring and page are kept, and it still answers into them after.
    yield "dead-teardown", seed(rng_header(flags=IGNORE_RESETS) + rng_read(64, 3),
                                u8(0) + u8(4) + u8(3) * 4)
    # It ignores lvio_rng_reset's reset only: LVIO_E_DEAD inside, then
    # init's reset completes and reads go on; what was kept stays counted.
    yield "dead-reset", seed(rng_header(flags=IGNORE_2ND_RESET) + rng_read(64, 3) +
                             rng_read(64, 5, reset=True) + rng_read(100, 5),
                             u8(0) + u8(4) + u8(3) * 4)
    # It ignores every reset after the first: the recovery fails with
    # LVIO_E_DEAD, later reads are LVIO_E_INVAL.
    yield "dead-for-good", seed(rng_header(flags=IGNORE_RESETS) + rng_read(64, 3) +
                                rng_read(64, 5, reset=True) + rng_read(10, 5),
                                u8(0) + u8(4) + u8(3) * 4)
    # The device starts ignoring resets itself, then completes the ignored
    # one late, within the reset's wait.
    yield "late-reset", seed(rng_header() + rng_read(64, 3) + rng_read(64, 5, reset=True) +
                             rng_read(32, 5),
                             dev_ignore_resets(0, 1) + u8(0) + u8(0) + u8(3) * 3 +
                             DEV_RESET_NOW)
    yield "scribble", seed(rng_header() + rng_read(3000, 20) + rng_read(64, 5),
                           dev_scribble(SCRIBBLE_DESC | SCRIBBLE_AVAIL, 0xFF) + u8(0) * 40)


# ---- fuzz_blk ---------------------------------------------------------------

BLK_CFG_LEN = 72
BLK_READ, BLK_WRITE, BLK_FLUSH, BLK_DISCARD, BLK_WZ, BLK_SE, BLK_GET_ID = range(7)
BLK_F_RO, BLK_F_SIZE_MAX, BLK_F_MQ = 5, 1, 12


def blk_header(flags=0, features=0, qmax=64, cfg=None, max_queues=0):
    """features: bits flipped in the usual set; cfg: {offset: (value, width)}
    changes to the sane disk (2048 sectors, seg_max 8, 2 queues...)."""
    x = bytearray(BLK_CFG_LEN)
    sane = {0: 2048, 12: 8, 20: 512, 32: 1, 34: 2, 36: 64, 40: 2, 44: 8, 48: 64, 52: 1,
            56: 1, 60: 64, 64: 1}
    for off, (v, w) in (cfg or {}).items():
        old = sane.get(off, 0)
        for i in range(w):
            x[off + i] = ((old ^ v) >> (8 * i)) & 0xFF
    return (common(flags) + u64(features) + u16(qmax ^ 64) + bytes(x) + u8(max_queues))


def blk_submit(slot, kind, queue=0, segs=(), sector=(0, 0), sectors=0, flags=0, fill=1):
    """segs: lengths in sectors (1..16), or ("bytes", n) for any length up
    to 8192; sector: (mode, value): mode 0-3 a small aligned number, 4 the
    last blocks, 5 the capacity, 6 any 64-bit value, 7 odd."""
    h = u8(slot << 3) + u8(kind) + u8(queue) + u8(flags) + u8(fill) + u8(len(segs))
    for sg in segs:
        h += u16(0x8000 | sg[1]) if isinstance(sg, tuple) else u16(sg - 1)
    if kind in (BLK_DISCARD, BLK_WZ, BLK_SE):
        h += u16(sectors)
    if kind not in (BLK_FLUSH, BLK_GET_ID):
        mode, v = sector
        h += u8(mode) + (u64(v) if mode == 6 else u16(v) if mode != 4 and mode != 5 else b"")
    return h


def blk_poll(isr=1):
    return u8(2) + u8(isr)


def blk_wait(slot, timeout=20):
    return u8(slot << 3 | 3) + u8(timeout)


BLK_RESET, BLK_COLLECT = u8(4), u8(7)


def blk_helper(which, timeout=20, sector=0):
    """which: 0 read, 1 write, 2 flush, 3 get-id."""
    h = u8(which << 3 | 5) + u8(timeout)
    return h + (u16(sector) if which < 2 else b"")


def blk_writeback(on):
    return u8(6 | (8 if on else 0))


def blk_seeds():
    every = (blk_submit(0, BLK_READ, segs=[8], sector=(0, 16)) + blk_wait(0) +
             blk_submit(1, BLK_WRITE, segs=[1, ("bytes", 1000), ("bytes", 24)], sector=(0, 64)) +
             blk_wait(1) + blk_submit(2, BLK_FLUSH) + blk_wait(2) +
             blk_submit(3, BLK_DISCARD, sectors=200, sector=(0, 8)) + blk_wait(3) +
             blk_submit(4, BLK_WZ, sectors=16, flags=1, sector=(0, 32)) + blk_wait(4) +
             blk_submit(5, BLK_SE, sectors=8, sector=(4, 0)) + blk_wait(5) +
             blk_submit(6, BLK_GET_ID, segs=[1]) + blk_wait(6) +
             blk_helper(0) + blk_helper(1, sector=100) + blk_helper(2) + blk_helper(3) +
             blk_writeback(False) + blk_writeback(True))
    yield "every-request", seed(blk_header() + every)
    yield "legacy", seed(blk_header(flags=1) + every)
    yield "hostile-regs", seed(blk_header(flags=2) + every)
    # Many in flight on both queues, then answered as the device likes.
    many = b"".join(blk_submit(i, BLK_READ, queue=i % 2, segs=[1 + i], sector=(0, 8 * i),
                               fill=i) for i in range(8))
    yield "many-in-flight", seed(blk_header() + many + blk_poll() + blk_wait(7) +
                                 blk_wait(0) + BLK_COLLECT)
    yield "out-of-order", seed(blk_header() + many + blk_wait(3, 30) + blk_poll() +
                               BLK_COLLECT, (u8(4) + u8(0)) * 12)
    # Bad answers: a status from the tape, none, short lengths, garbage.
    yield "bad-answers", seed(blk_header() + many + blk_wait(0) + blk_wait(1) + blk_wait(2) +
                              blk_wait(3) + BLK_COLLECT,
                              u8(1) + u8(1) + u8(2) + u8(3) + u16(1) + u8(1) + u8(2) +
                              u8(5) + b"\x5a" * 40 + u16(3) + u8(1) + u8(7))
    # Refusals: past the end, odd sectors on a 4Kn disk, a read-only disk,
    # queue 4, op 0 and 99.
    refuse = (blk_submit(0, BLK_READ, segs=[8], sector=(5, 0)) +
              blk_submit(1, BLK_READ, segs=[8], sector=(7, 3)) +
              blk_submit(2, BLK_WRITE, segs=[8], sector=(0, 0)) +
              blk_submit(3, BLK_READ, queue=4, segs=[1]) +
              u8(4 << 3) + u8(0xF8) + u8(0) * 5 + u8(0) + u16(0) +
              blk_submit(5, BLK_READ, segs=[8], sector=(4, 0)) + blk_wait(5))
    yield "refusals-4kn", seed(blk_header(cfg={20: (4096, 4)}) + refuse)
    yield "refusals-ro", seed(blk_header(features=1 << BLK_F_RO) + refuse)
    # Split by size_max 1000 and seg_max 3, a 4 KiB block in odd pieces.
    yield "split", seed(blk_header(features=1 << BLK_F_SIZE_MAX,
                                   cfg={8: (1000, 4), 12: (3, 4), 20: (1024, 4)}) +
                        blk_submit(0, BLK_WRITE, segs=[("bytes", 700), ("bytes", 1348), 4, 16],
                                   sector=(0, 16)) + blk_wait(0, 40))
    # Four queues of 8 descriptors; past 2 TiB.
    yield "small-queues-big-disk", seed(
        blk_header(qmax=8, cfg={0: (0, 4), 4: (4, 4), 34: (4, 2)}) +
        b"".join(blk_submit(i, BLK_READ, queue=i % 4, segs=[16, 16], sector=(6, (1 << 33) + 64 * i))
                 for i in range(8)) + blk_wait(7, 40) + blk_poll() + BLK_COLLECT)
    # A silent device: the wait times out and resets; forever waits end.
    yield "silent", seed(blk_header() + blk_submit(0, BLK_READ, segs=[1]) + blk_wait(0, 5) +
                         blk_submit(1, BLK_FLUSH) + blk_wait(1, FOREVER),
                         dev_late(19))
    yield "reset", seed(blk_header() + many + BLK_RESET + BLK_COLLECT + every)
    yield "dead-teardown", seed(blk_header(flags=IGNORE_RESETS) + many + blk_poll(),
                                u8(0) + u8(4) + u8(3) * 4)
    yield "dead-reset", seed(blk_header(flags=IGNORE_2ND_RESET) + many + blk_wait(0, 3) +
                             every, u8(4) * 10)
    yield "config-errors", seed(blk_header(cfg={20: (1000, 4)}))
    yield "no-mq-one-queue", seed(blk_header(features=1 << BLK_F_MQ, max_queues=1) + every)
    yield "share-fails", seed(common(share_fail=2) + u64(0) + u16(0) + bytes(BLK_CFG_LEN) +
                              u8(0) + many + blk_wait(3))


# ---- fuzz_input -------------------------------------------------------------

def input_header(flags=0, features=1 << 32, qev=64, qst=64, model=0):
    """model: 0 keyboard, 1 mouse, 2 tablet, 3 nothing; | 4 a name without
    its NUL, | 8 a serial."""
    return (common(flags) + u64(features ^ (1 << 32)) + u16(qev ^ 64) + u8(qst ^ 64) +
            u8(model))


def in_step(n=1):
    """The device acts n (1..32) times; with its tape empty, each time it
    answers every chain it has."""
    return u8(0 | (n - 1) << 3)


def in_poll(isr_from_device=True, again=True, isr=0):
    return u8(2) + u8((1 if isr_from_device else 0) | (2 if again else 0) | isr << 6)


def in_take(n=None):
    return u8(4 | (31 if n is None else (n - 1) // 8) << 3)


def in_led(led, on):
    return u8(5) + u8(led | (0x80 if on else 0))


IN_RESET, IN_TEARDOWN = u8(6), u8(6 | 0x80)


def in_lookup(ev_type, code):
    return u8(7) + u8(ev_type) + u16(code)


# A keyboard's configuration takes 72 answers (select, then subsel, for
# name, serial, ids, properties and 32 event types): device bytes of 0
# leave each as the model gives it.
IN_CONFIG_AS_IS = bytes(72)


def input_seeds():
    every = (in_step() + in_poll() + in_take() + in_led(1, True) + in_step() + in_poll() +
             in_led(1, False) + in_led(0, True) + in_led(2, True) + in_led(3, True) +
             in_led(16, True) + in_step() + in_poll(isr=2) + in_take() + in_lookup(1, 30) +
             in_lookup(3, 0) + in_lookup(0x11, 1) + IN_RESET + in_step() + in_poll() +
             in_take(2) + IN_TEARDOWN + in_poll() + in_take())
    for name, model in (("keyboard", 0), ("mouse", 1), ("tablet", 2), ("other", 3 | 4 | 8)):
        yield name, seed(input_header(model=model) + every)
    yield "legacy", seed(input_header(flags=1) + every)
    yield "hostile-regs", seed(input_header(flags=2) + every)
    yield "dma-16tib", seed(input_header(flags=4, model=2) + every)
    yield "fifo-overflow", seed(input_header() + (in_step() + in_poll(again=False)) * 6 +
                                in_take(16) + (in_step() + in_poll()) * 2 + in_take())
    yield "small-queues", seed(input_header(qev=4, qst=1) + every)
    yield "dead-teardown", seed(input_header(flags=IGNORE_RESETS) + every)
    yield "dead-reset", seed(input_header(flags=IGNORE_2ND_RESET, model=2) + every)
    # Events of every used length, held and completed out of order.
    lengths = b"".join(u8(0) + u8(4) + u8(1) + u16(30 + i) + u16(i * 3) for i in range(8))
    held = b"".join(u8(0) + u8(5) + u8(2) + u16(i) for i in range(6)) + (u8(4) + u8(3)) * 6
    odd = (u8(0) + u8(6) + bytes(16) + u8(8)) + (u8(0) + u8(7)) * 2
    yield "bad-lengths", seed(input_header() + in_step(8) + in_poll() + in_take(),
                              IN_CONFIG_AS_IS + lengths)
    yield "out-of-order", seed(input_header(model=1) + in_step(12) + in_poll() + in_take(),
                               bytes(72) + held)
    yield "untagged", seed(input_header() + in_step(3) + in_poll() + in_take(),
                           IN_CONFIG_AS_IS + odd)
    # Status buffers the device keeps: LVIO_E_AGAIN, then back.
    keep = (u8(0x20) + u8(3)) * 8
    yield "led-again", seed(input_header() + in_led(1, True) * 4 + in_step(8) +
                            in_led(2, True) + in_poll() + in_step() + in_poll() +
                            in_led(2, True), IN_CONFIG_AS_IS + keep)
    # Answers the driver must refuse: a size past the union, garbage.
    yield "config-size", seed(input_header(), u8(0) * 2 + u8(5) + u8(200))
    yield "config-garbage", seed(input_header(model=2) + every,
                                 u8(0) * 10 + u8(7) + u8(128) + bytes(range(128)))
    yield "config-change", seed(input_header(model=2) + in_step() + in_poll(isr=2) + in_take(),
                                bytes(76) + u8(7) + u8(3) + u8(0) + u16(0x8000))


# ---- fuzz_gpu ---------------------------------------------------------------

def gpu_header(flags=0, features=(1 << 32) | 2, q0=64, q1=16, scanouts=1):
    return (common(flags) + u64(features ^ ((1 << 32) | 2)) + u16(q0 ^ 64) + u16(q1 ^ 16) +
            u8(scanouts ^ 1))


def gpu_create(slot, w=32, h=24, fmt=0, cursor=False, page_off=None):
    shape = (1 if cursor else 0) | (8 if page_off is not None else 0)
    b = u8(slot << 4) + u8(shape)
    if not cursor:
        b += u8(w) + u8(h)
    b += u8(fmt)
    if page_off is not None:
        b += u8(page_off)
    return b


def gpu_destroy(slot):
    return u8((slot << 4) | 1)


def gpu_present(slot, rect=None):
    return u8((slot << 4) | 2) + (bytes(rect) if rect else b"\x01\x00\x00\x00")


def gpu_show(scanout, slot=None):
    return u8(3) + u8(scanout) + u8(0x80 if slot is None else slot)


def gpu_cursor(scanout, slot, hx=3, hy=4, x=10, y=20):
    return u8(4) + u8(scanout) + u8(0x80 if slot is None else slot) + bytes([hx, hy, x, y])


GPU_POLL, GPU_QUERY, GPU_RESET = u8(6), u8(7), u8(9)


def gpu_move(scanout, x, y):
    return u8(5) + u8(scanout) + u16(x) + u16(y)


def gpu_mode(scanout):
    return u8(8) + u8(scanout)


def gpu_timeout(ms):
    return u8(10) + u8(ms - 1)


def gpu_timeout_special(k):
    return u8(10) + u8(timeout_special(k))


def gpu_seeds():
    ops = (gpu_create(0) + gpu_show(0, 0) + gpu_present(0) + gpu_present(0, (2, 4, 8, 6)) +
           gpu_create(1, cursor=True, fmt=1) + gpu_cursor(0, 1) + gpu_move(0, 100, 50) +
           gpu_cursor(0, None) + GPU_POLL + GPU_QUERY + gpu_mode(0) + gpu_show(0, None) +
           gpu_destroy(1) + gpu_destroy(0))
    yield "basic", seed(gpu_header() + ops)
    yield "legacy", seed(gpu_header(flags=1) + ops)
    yield "no-edid", seed(gpu_header(features=1 << 32) + ops)
    yield "hostile-regs", seed(gpu_header(flags=2) + ops)
    yield "scattered", seed(gpu_header(flags=0x20) + gpu_create(0, 96, 80, page_off=17) +
                            gpu_show(0, 0) + gpu_destroy(0))
    yield "share-pattern", seed(gpu_header(flags=0x40) + gpu_create(0, 96, 80, page_off=3) +
                                gpu_present(0) + gpu_destroy(0))
    multi = (gpu_create(0, 40, 30) + gpu_create(1, 50, 20, fmt=4) + gpu_show(0, 0) +
             gpu_show(1, 0) + gpu_show(2, 1) + gpu_show(1, 1) + gpu_mode(2) +
             gpu_destroy(0) + gpu_destroy(1))
    yield "three-scanouts", seed(gpu_header(scanouts=3) + multi)
    yield "reset", seed(gpu_header() + gpu_create(0) + GPU_RESET + gpu_present(0) +
                        gpu_show(0, 0) + gpu_create(1) + gpu_show(0, 1) + gpu_destroy(0) +
                        gpu_destroy(1))
    yield "bad-args", seed(gpu_header() + gpu_create(0, 0, 5) + u8(0) + u8(2) + u8(8) +
                           u8(8) + u8(0) + gpu_create(1, 8, 8, fmt=0xF5) + u32(77) +
                           gpu_show(7, None) + gpu_cursor(5, None) + gpu_mode(9))
    # Device decisions (2 bytes per command answered: serve, how):
    # init's display info and EDID answered well, then the create's
    # RESOURCE_CREATE_2D refused, the next create's ATTACH_BACKING lost
    # (the device stalls), answered late by the query after it.
    init_ok = u8(0) + u8(0) + u8(0) + u8(0)
    yield "refused", seed(gpu_header() + gpu_create(0) + gpu_create(1) + gpu_destroy(1),
                          init_ok + u8(0) + u8(1) + u8(1) + u8(0) + u8(0))
    yield "lost-attach", seed(gpu_header() + gpu_timeout(4) + gpu_create(0) + GPU_QUERY +
                              gpu_create(1) + gpu_destroy(1),
                              init_ok + u8(0) + u8(0) + u8(3) * 12)
    yield "events", seed(gpu_header() + GPU_POLL + gpu_create(0) + GPU_POLL + gpu_destroy(0),
                         init_ok + u8(0) + u8(7) + u8(0) + u8(0))
    # Display info and EDID from the device's tape; a bad EDID checksum.
    yield "modes", seed(gpu_header(scanouts=2) + gpu_mode(0) + gpu_mode(1) + GPU_QUERY +
                        gpu_mode(0),
                        u8(0) + u8(6) + (u32(0) * 2 + u32(800) + u32(600) + u32(1) + u32(0)) +
                        (u32(0) * 2 + u32(0) + u32(0) + u32(1) + u32(0)) + bytes(24 * 14) +
                        u8(0) + u8(6) + u8(2) + u8(0x20) + u8(5) + u8(0) + u8(1) + u16(128))
    # A control queue too small for the largest batch: init says so, every
    # later call is refused.
    yield "small-ctrlq", seed(gpu_header(q0=2) + ops)
    yield "ctrlq-8-three-scanouts", seed(gpu_header(q0=8, scanouts=3) + multi)
    yield "garbage", seed(gpu_header() + gpu_create(0) + gpu_present(0) + gpu_destroy(0),
                          init_ok + u8(0) + u8(2) + u32(0x1100) + u8(0) + u8(0) + u8(3) +
                          u16(30) + bytes(range(30)) + u16(24))
    # Scribble mode from the first relax on: every request, backing list
    # (the ATTACH_BACKING's second buffer) and transferred pixel is
    # overwritten after the device read it; unsharing must not care.
    yield "scribble", seed(gpu_header(flags=0x20) + gpu_create(2, 96, 80, page_off=5) + ops +
                           gpu_show(0, 2) + gpu_destroy(2),
                           dev_scribble(SCRIBBLE_ALL, 0xFF))
    yield "scribble-pattern", seed(gpu_header(flags=0x40) + GPU_POLL +
                                   gpu_create(0, 96, 80, page_off=3) + gpu_show(0, 0) +
                                   gpu_present(0) + gpu_destroy(0),
                                   dev_scribble(SCRIBBLE_READABLE, 0x00))
    # Timeouts of UINT64_MAX: the device stalls, then answers (no early
    # timeout); with the clock stopped (the stall bound ends the waits); and
    # a timeout of 0.
    forever = gpu_timeout_special(7) + gpu_create(0) + gpu_present(0) + GPU_QUERY
    yield "timeout-forever", seed(gpu_header() + forever + gpu_destroy(0),
                                  init_ok + u8(3) * 50 + u8(0) + u8(0) + u8(3) * 50)
    yield "timeout-forever-late", seed(gpu_header() + forever + gpu_destroy(0),
                                       init_ok + dev_late(15))
    yield "timeout-forever-stopped", seed(gpu_header() + forever + gpu_destroy(0) + GPU_RESET,
                                          init_ok + dev_clock(CLOCK_STOPPED) + u8(0) + u8(5) +
                                          u8(3) * 200)
    yield "timeout-zero", seed(gpu_header() + gpu_timeout_special(0) + gpu_create(0) +
                               gpu_present(0) + gpu_destroy(0) + GPU_RESET, init_ok)
    # The device ignores lvio_gpu_reset's reset: a transfer it held stays
    # shared for good (kept), init's reset completes; destroying the stale
    # framebuffer leaves those shares (lvio_gpu_memory_busy: not busy).
    yield "dead-reset", seed(gpu_header(flags=IGNORE_2ND_RESET) + gpu_create(0) +
                             gpu_timeout(4) + gpu_present(0) + GPU_RESET + gpu_present(0) +
                             gpu_destroy(0),
                             init_ok + u8(0) + u8(0) + u8(0) + u8(0) + u8(0) + u8(5) +
                             u8(3) * 10)
    # It ignores every reset after the first: lvio_gpu_reset fails with
    # LVIO_E_DEAD, everything is kept, memory_busy says so for all of it.
    yield "dead-for-good", seed(gpu_header(flags=IGNORE_RESETS) + gpu_create(0) +
                                gpu_create(1, 8, 8) + gpu_show(0, 0) + GPU_RESET +
                                gpu_destroy(0) + gpu_present(1) + gpu_destroy(1))
    yield "dead-teardown", seed(gpu_header(flags=IGNORE_RESETS) + ops,
                                init_ok + u8(0) + u8(0) + u8(0) + u8(0) + u8(0) + u8(5))


# ---- fuzz_pci ---------------------------------------------------------------

def cap(at, nxt, cfg_type, bar, off, length, mult=None):
    body = bytes([0x09, nxt, 20 if mult is not None else 16, cfg_type, bar, 0, 0, 0])
    body += u32(off) + u32(length)
    if mult is not None:
        body += u32(mult)
    return at, body


def config_space(device_id, subsys, command, caps=(), status=0x10):
    cfg = bytearray(0x200)
    cfg[0:2] = u16(0x1AF4)
    cfg[2:4] = u16(device_id)
    cfg[4:6] = u16(command)
    cfg[6:8] = u16(status)
    cfg[0x2C:0x2E] = u16(0x1AF4)
    cfg[0x2E:0x30] = u16(subsys)
    cfg[0x34] = caps[0][0] if caps else 0
    for at, body in caps:
        cfg[at:at + len(body)] = body
    cfg[0x100:0x110] = bytes(range(0x41, 0x51))  # device-specific configuration
    return bytes(cfg)


def modern_caps(common_off=0, notify_mult=4, bar=4, msix=False):
    caps = [cap(0x40, 0x50, 1, bar, common_off, 0x1000),
            cap(0x50, 0x60, 3, bar, 0x1000, 0x1000),
            cap(0x60, 0x70, 4, bar, 0x2000, 0x1000),
            cap(0x70, 0x84 if msix else 0, 2, bar, 0x3000, 0x1000, notify_mult)]
    if msix:
        caps.append((0x84, bytes([0x11, 0, 0x00, 0x80])))  # MSI-X, enabled
    return caps


def msix_cap(at, nxt=0, size=4, bir=1, table_off=0, pba_off=0x800, enabled=False):
    """The whole MSI-X capability: `size` entries at BAR `bir` + table_off."""
    mc = (size - 1) | (0x8000 if enabled else 0)
    return at, bytes([0x11, nxt]) + u16(mc) + u32(table_off | bir) + u32(pba_off | bir)


def bars(**sizes):
    """BAR size codes: n -> 1 << n bytes; io adds 0x80."""
    return b"".join(u8(sizes.get("b%d" % i, 0)) for i in range(6))


def pci_seed(flags, bar_codes, cfg, wanted=0, max_size=0, cfg_reads=((0, 8),),
             map_fail=0, device=b""):
    h = u8(flags) + u8(0) + bar_codes + u8(map_fail) + u16(len(cfg)) + cfg
    h += u64(wanted) + u8(max_size)
    h += u8(len(cfg_reads)) + b"".join(u16(o) + u8(n - 1) for o, n in cfg_reads)
    return seed(h, device)


def pci_seeds():
    modern = config_space(0x1044, 4, 0x6, modern_caps())
    yield "modern", pci_seed(1, bars(b4=14, b1=12), modern, cfg_reads=((0, 8), (2, 3), (0xFF0, 32)))
    yield "modern-256", pci_seed(0, bars(b4=14), modern[:0x100])
    legacy = config_space(0x1004, 4, 0x5, status=0)
    yield "legacy", pci_seed(1, bars(b0=0x80 | 5), legacy, cfg_reads=((0, 4), (1, 2)))
    msix = config_space(0x1010, 16, 0x5, [(0x40, bytes([0x11, 0, 0, 0x80]))])
    yield "legacy-msix", pci_seed(1, bars(b0=0x80 | 6), msix)
    trans = config_space(0x1004, 4, 0x7, modern_caps())
    yield "transitional", pci_seed(1, bars(b0=0x80 | 5, b4=14), trans)
    yield "io-bar-modern", pci_seed(1, bars(b4=0x80 | 14), modern)
    yield "no-decoding", pci_seed(1, bars(b4=14), config_space(0x1044, 4, 0x4, modern_caps()))
    yield "bar-too-small", pci_seed(1, bars(b4=12), modern)
    yield "unassigned-bar", pci_seed(1, bars(b2=14), modern)
    loop = config_space(0x1044, 4, 0x6, [cap(0x40, 0x40, 1, 4, 0, 0x1000)])
    yield "cap-loop", pci_seed(1, bars(b4=14), loop)
    yield "map-fails", pci_seed(1, bars(b4=14), modern, map_fail=2)
    yield "queue-size-1", pci_seed(1, bars(b4=14), modern, max_size=1)
    yield "not-virtio", pci_seed(0, bars(), b"\x86\x80\x00\x10")
    yield "no-function", pci_seed(0, bars(), b"\xff\xff\xff\xff")
    # A device whose configuration reads may change between two reads.
    yield "volatile-config", pci_seed(3, bars(b4=14), modern, device=u8(0) * 64)
    # Registers that would fault on Device memory: a common structure at
    # an odd offset, a notify multiplier of 1 (queue 1 notifies at +1).
    yield "common-misaligned", pci_seed(1, bars(b4=14),
                                        config_space(0x1044, 4, 0x6, modern_caps(common_off=2)))
    yield "notify-odd", pci_seed(1, bars(b4=14),
                                 config_space(0x1044, 4, 0x6, modern_caps(notify_mult=1)))
    gpu = config_space(0x1050, 16, 0x6, modern_caps(msix=True))
    yield "gpu-msix", pci_seed(1, bars(b4=14, b1=12), gpu, wanted=2)
    # MSI-X with a usable table in BAR 1: vectors programmed (modern and
    # legacy, left enabled by firmware or not); one entry (everything
    # shares vector 0); a table that does not fit its BAR (INTx).
    for name, size, enabled, off in (("msix", 4, False, 0), ("msix-on", 8, True, 0),
                                      ("msix-one-entry", 1, False, 0),
                                      ("msix-past-bar", 4, False, 0xFF8)):
        caps = modern_caps()
        caps[3] = cap(0x70, 0x84, 2, 4, 0x3000, 0x1000, 4)
        caps.append(msix_cap(0x84, size=size, enabled=enabled, table_off=off))
        yield name, pci_seed(1, bars(b4=14, b1=12), config_space(0x1044, 4, 0x6, caps))
    yield "msix-legacy", pci_seed(1, bars(b0=0x80 | 6, b1=12),
                                  config_space(0x1004, 4, 0x7, [msix_cap(0x40, enabled=True)]),
                                  cfg_reads=((0, 8),))
    # The device ignores resets (0x20: after the first; 0x40: the second;
    # 0x60: all), and with 0x80 the clock stands still: LVIO_E_DEAD, the
    # rings kept.
    yield "dead", pci_seed(1 | 0x20, bars(b4=14, b1=12), modern)
    yield "dead-legacy", pci_seed(1 | 0x20, bars(b0=0x80 | 5), legacy, cfg_reads=((0, 4),))
    yield "dead-stopped-clock", pci_seed(1 | 0x20 | 0x80, bars(b4=14), modern)
    yield "ignores-all-resets", pci_seed(1 | 0x60, bars(b4=14), modern)


# ---- fuzz_console -----------------------------------------------------------

CON_F_SIZE, CON_F_MULTIPORT, CON_F_EMERG = 0, 1, 2
CON_ADD, CON_REMOVE, CON_CONSOLE, CON_OPEN, CON_NAME, CON_RESIZE, CON_RAW, CON_HOLD = range(8)
CON_CTRL_RX_STEP = u8(2 << 5)  # a device step serving the control receive queue


def con_header(flags=0, features=0, qmax=8, cfg=None, nports=3):
    """features: bits flipped in (VERSION_1, SIZE, MULTIPORT, EMERG_WRITE);
    cfg: 12 bytes xor-ed into (cols 80, rows 25, max_nr_ports 3)."""
    return (common(flags) + u64(features) + u16(qmax ^ 8) + bytes(cfg or bytes(12)) +
            u8(nports - 1))


def con_op(kind, port=0):
    return u8(kind | port << 3)


def con_poll(isr=1):
    return con_op(0) + u8(isr)


def con_read(port, n):
    return con_op(1, port) + u16(n)


def con_write_nb(port, n):
    return con_op(2, port) + u16(n)


def con_write(port, n, timeout=20):
    return con_op(3, port) + u16(n) + u8(timeout)


def con_flush(port, timeout=20):
    return con_op(4, port) + u8(timeout)


def con_device(steps):
    return con_op(5) + u8(steps - 1)


CON_EVENTS = con_op(6)


def con_misc(which, arg=0, flag=False):
    """which: 0 reset, 1 emergency write (arg: the byte), 2 port by name
    (arg: whose name), 3 open (arg: the port; flag: open)."""
    return u8(7 | which << 3 | (0x80 if flag else 0)) + (u8(arg) if which else b"")


def con_msg(kind, port, *rest):
    """A device step that writes one control message (fuzz_console.c's
    ctrl_rx): kind, port, then what the kind takes."""
    return CON_CTRL_RX_STEP + u8(kind) + u8(port) + b"".join(rest)


def con_name(port, name):
    return con_msg(CON_NAME, port, u8(len(name)), name)


def con_data(port, how=0):
    """A device step filling a receive buffer of `port` (0..2): how 0 all of
    it, 1 a length from the tape, 2 past the buffer, 3 none."""
    return u8((0 if port == 0 else 2 * port + 2) << 5) + u8(how)


def con_take_tx(port):
    return u8((1 if port == 0 else 2 * port + 3) << 5) + u8(0)


def con_seeds():
    bring_up = (con_msg(CON_ADD, 0) + con_msg(CON_ADD, 1) + con_msg(CON_ADD, 2) +
                con_msg(CON_CONSOLE, 0) + con_name(1, b"echo") + con_msg(CON_OPEN, 1, u8(1)) +
                con_name(2, b"org.qemu.guest_agent.0") + con_msg(CON_OPEN, 2, u8(1)))
    talk = (con_device(8) + con_poll() + CON_EVENTS + con_misc(3, 1, True) +
            con_misc(2, 1) + con_misc(2, 2) + con_device(6) + con_poll() + con_read(1, 3000) +
            con_write_nb(1, 2000) + con_write(1, 5000) + con_flush(1) + con_device(4) +
            con_poll() + con_read(1, 100) + con_read(0, 10) + con_misc(1, 0x41))
    data = (con_data(1) * 3 + con_data(1, 1) + u16(100) + con_take_tx(1) * 4 +
            con_msg(CON_ADD, 1))
    yield "bring-up", seed(con_header() + talk, bring_up + data)
    yield "legacy", seed(con_header(flags=1) + talk, bring_up + data)
    yield "hostile-regs", seed(con_header(flags=2) + talk, bring_up + data)
    yield "small-queues", seed(con_header(qmax=2, nports=4) + talk, bring_up + data)
    # One port, no control queues: the device behaves (an empty device tape).
    single = (con_write(0, 3000) + con_device(8) + con_poll() + con_read(0, 5000) +
              con_flush(0) + con_misc(3, 0, True) + con_misc(1, 0x21))
    yield "single-port", seed(con_header(features=1 << CON_F_MULTIPORT, nports=1) + single)
    yield "single-port-size", seed(
        con_header(features=(1 << CON_F_MULTIPORT) | (1 << CON_F_SIZE)) + single +
        con_poll(3), u8(7) + u8(3) + u16(132) + u16(43))
    # Everything wrong: short messages, ids past max_nr_ports and past the
    # storage, a driver's events, an empty and a long name, a cut RESIZE,
    # used lengths past the buffers.
    bad = (con_msg(CON_ADD, 0) + con_msg(CON_ADD, 1) +
           con_msg(CON_RAW, 1, u16(3), u16(0), u8(4)) +
           con_msg(CON_RAW, 1, u16(6), u16(1), u8(0)) +
           con_msg(CON_OPEN | 0x80, 0x80, u32(7), u8(1)) + con_msg(CON_ADD, 2) +
           con_msg(CON_NAME, 1, u8(0)) + con_name(1, b"n" * 200) +
           con_msg(CON_RAW, 1, u16(5), u16(0), u8(10), b"\x01\x02") +
           con_msg(CON_ADD | 0x40, 1, u16(4000)) + con_msg(CON_RAW, 1, u16(0), u16(1), u8(8)) +
           con_msg(CON_RESIZE, 1, u16(100), u16(30)) + con_msg(CON_CONSOLE, 2) +
           con_data(1, 2) + u16(5) + con_data(1, 1) + u16(0) + con_data(1))
    yield "bad-messages", seed(con_header(nports=2) + con_device(16) + con_poll() + CON_EVENTS +
                               con_misc(3, 1, True) + con_device(4) + con_poll() +
                               con_read(1, 4000) + con_read(4, 1), bad)
    # A port removed with bytes both ways in flight, then added again.
    hot = (con_msg(CON_ADD, 1) + con_msg(CON_OPEN, 1, u8(1)) + con_data(1) + con_data(1) +
           con_msg(CON_REMOVE, 1) + con_take_tx(1) + con_msg(CON_ADD, 1) +
           con_name(1, b"again") + con_data(1))
    yield "hot-remove", seed(con_header() + con_device(3) + con_poll() + con_misc(3, 1, True) +
                             con_read(1, 10) + con_write_nb(1, 3000) + con_device(8) +
                             con_poll() + con_read(1, 2000) + con_write(1, 100) + con_poll() +
                             con_read(1, 4000), hot)
    # The device gives back nothing: writes and flushes time out, forever
    # waits end; then a reset.
    yield "silent", seed(con_header() + con_write(0, 9000, 5) + con_flush(0, FOREVER) +
                         con_misc(0) + con_write(0, 10, FOREVER), dev_late(19))
    yield "dead-reset", seed(con_header(flags=IGNORE_RESETS) + con_device(3) + con_poll() +
                             con_misc(0) + con_poll() + con_read(1, 5), bring_up)

# ---- fuzz_net ---------------------------------------------------------------

NET_F_MRG_RXBUF, NET_F_CTRL_VQ, NET_F_MQ, NET_F_CSUM = 15, 17, 22, 0
NET_VERSION_1 = 32


def net_header(flags=0, features=0, qmax=32, cfg=None, pairs=1, csum=False, big_rx=False,
               refuse=0):
    """features: bits flipped in (VERSION_1, MAC, STATUS, MRG_RXBUF, CTRL_VQ, CTRL_RX,
    CTRL_MAC_ADDR, GUEST_ANNOUNCE, MQ, CSUM, GUEST_CSUM); cfg: 12 bytes xor-ed into
    (52:54:00:12:34:56, LINK_UP, 2 pairs, mtu 1500)."""
    opts = (pairs % 4) | (4 if csum else 0) | (8 if big_rx else 0)
    return (common(flags) + u64(features) + u16(qmax ^ 32) + bytes(cfg or bytes(12)) +
            u8(opts) + u64(refuse))


def net_op(kind, pair=0):
    return u8(kind | pair << 3)


def net_poll(isr=1, pair=0):
    return net_op(0, pair) + u8(isr)


def net_recv(pair, n):
    return net_op(1, pair) + u16(n)


def net_peek_release(pair):
    return net_op(2, pair)


def net_send(pair, n, k=4):
    """k: 1 checksum offload asked (offset k >> 4), 2 an unknown flag, 4 no info."""
    return net_op(3, pair) + u16(n) + u8(k)


def net_send_sg(pair, n, k=0):
    """k % 8: the harness's frame; (k >> 3) % 5 + 1 buffers."""
    return net_op(4, pair) + u8(k) + u16(n)


def net_tx_done(pair):
    return net_op(5, pair)


def net_rx_mode(promisc, allmulti):
    return u8(6 | (1 | (2 if promisc else 0) | (4 if allmulti else 0)) << 3)


def net_set_mac(mac, timeout=20):
    return u8(6 | 2 << 3) + bytes(mac) + u8(timeout)


def net_misc(which, arg=None):
    """which: 0 reset, 1 events and link, 2 the device acts (arg: steps), 3 peek only
    (arg: the pair)."""
    return u8(7 | which << 3) + (u8(arg) if arg is not None else b"")


def net_device(steps):
    return net_misc(2, steps - 1)


def net_serve(queue, *rest):
    """A device step serving the next chain of `queue` (or the next live one after it)."""
    return u8(queue << 5) + b"".join(rest)


def net_seeds():
    talk = (net_device(8) + net_poll() + net_recv(0, 2000) + net_recv(0, 30) +
            net_peek_release(0) + net_misc(3, 0) + net_recv(0, 2000) + net_send(0, 60) +
            net_send(0, 1514, 1 | 6 << 4) + net_send_sg(0, 300, 8) + net_send_sg(0, 900, 17) +
            net_device(6) + net_poll(1) + net_tx_done(0) + net_tx_done(0) +
            net_rx_mode(False, True) + net_set_mac(b"\x02\x00\x00\x00\x00\x07") +
            net_misc(1) + net_poll(2) + net_misc(0) + net_device(4) + net_poll() +
            net_recv(0, 2000) + net_send(0, 100))
    yield "bring-up", seed(net_header() + talk)
    yield "legacy", seed(net_header(flags=1) + talk)
    yield "no-mrg", seed(net_header(features=1 << NET_F_MRG_RXBUF) + talk)
    yield "legacy-no-mrg", seed(net_header(flags=1, features=1 << NET_F_MRG_RXBUF) + talk)
    yield "no-ctrl", seed(net_header(features=1 << NET_F_CTRL_VQ) + talk)
    yield "hostile-regs", seed(net_header(flags=2) + talk)
    yield "small-queues", seed(net_header(qmax=4) + talk)
    yield "csum-big-rx", seed(net_header(csum=True, big_rx=True) + talk +
                              net_send(0, 200, 1 | 6 << 4))
    mq = (net_device(8) + net_poll() + net_recv(0, 2000) + net_recv(1, 2000) +
          net_send(1, 80) + net_send(0, 80) + net_send(3, 80) + net_device(4) + net_poll() +
          net_recv(1, 2000) + net_peek_release(1))
    yield "multiqueue", seed(net_header(pairs=2, features=1 << NET_F_MRG_RXBUF) + mq)
    # Frames the device lies about: short, past the buffer, num_buffers, merged.
    lies = (net_serve(0, u8(5), u8(0), u16(3)) + net_serve(0, u8(6), u8(0), u16(9), u16(7)) +
            net_serve(0, u8(7), u16(100), u8(0), u16(5)) + net_serve(0, u8(0x10 | 0x20), u16(0),
            u8(3), u8(1), u16(0x1234), u16(99)) + net_serve(0, u8(0), u16(0), u8(2), u8(30),
            u8(6), u16(200)) + net_serve(0, u8(0x08), u16(64), u8(1)))
    yield "lies", seed(net_header(csum=True, big_rx=True) + net_device(12) + net_poll() +
                       net_recv(0, 70000) + net_recv(0, 70000) + net_peek_release(0) +
                       net_recv(0, 70000) + net_device(4) + net_poll() + net_recv(0, 10),
                       lies)
    # Control answers: ERR, another value, no ack byte, held.
    ctrl = b"".join(net_serve(4, u8(k)) for k in (1, 2, 3, 4)) + u8(2) + u8(7)
    yield "ctrl-answers", seed(net_header() + net_rx_mode(True, False) + net_rx_mode(False,
                               False) + net_set_mac(b"\x02\x01\x02\x03\x04\x05", 5) +
                               net_rx_mode(True, True) + net_device(4) + net_rx_mode(True,
                               True), ctrl)
    # The link goes down and up, an announcement asked for.
    link = (u8(7) + u8(3) + u16(0) + u8(7) + u8(3) + u16(3) + u8(7) + u8(3) + u16(1))
    yield "link", seed(net_header() + net_device(3) + net_poll(2) + net_misc(1) +
                       net_send(0, 60) + net_poll(2) + net_misc(1) + net_poll(3) +
                       net_misc(1), link)
    yield "dead-reset", seed(net_header(flags=IGNORE_RESETS) + net_send_sg(0, 500) +
                             net_device(3) + net_poll() + net_misc(0) + net_poll() +
                             net_recv(0, 100))

# ---- fuzz_gpu3d -------------------------------------------------------------

G3_FEATURES = (1 << 32) | 0x1F  # VERSION_1, VIRGL, EDID, RESOURCE_UUID, RESOURCE_BLOB, CONTEXT_INIT


def g3_header(flags=0, features=G3_FEATURES, capsets=2, want=0x0F):
    """want: bits 0-4 lvio_gpu_init_with's, 0x20 no shared memory region,
    0x40 one that wraps."""
    return (common(flags) + u64(features ^ G3_FEATURES) + u8(capsets ^ 2) + u8(want))


def g3_ctx(i, arg=2):
    """Create context i (arg % 4 picks the name, arg & 0x80 a capset), or
    destroy it when it exists."""
    return u8(i << 4) + u8(arg)


def g3_submit(i, dwords=16, off=None, odd=False):
    shape = (1 if off is not None else 0) | (2 if odd else 0)
    return u8(i << 4 | 1) + u8(shape) + u16(dwords - 1) + (u8(off) if off is not None else b"")


def g3_wait(i, beyond=False):
    return u8(i << 4 | 3) + u8(0x81 if beyond else 0)


G3_FENCES, G3_CAPSET, G3_RESET = u8(4), u8(7) + u8(0) + u16(4096), u8(9)


def g3_res(i, what):
    """Resource i: created when it is not; else what >> 4 & 3: 0 to host,
    1 from host, 2 show (0x80) / flush, 3 attach (detach with 0x80) to
    context what % 3, or destroy when that context does not exist."""
    return u8(i << 4 | 5) + u8(what)


def g3_blob(i, what):
    """Blob i: created when it is not (mem 1 + what % 3, flags what >> 2 & 7);
    else what >> 6: 0 map, 1 unmap, 2 uuid, 3 destroy."""
    return u8(i << 4 | 6) + u8(what)


def g3_poll(isr=1):
    return u8(8) + u8(isr)


def gpu3d_seeds():
    work = (g3_ctx(0) + g3_ctx(1, 1) + g3_res(0, 0) + g3_res(0, 0x30) + g3_res(0, 0x31) +
            g3_submit(0) + g3_submit(1, 300, off=9) + g3_submit(0, 1024) + g3_wait(0) +
            G3_FENCES + g3_res(0, 0x00) + g3_res(0, 0x10) + g3_res(0, 0xA0) + g3_res(0, 0x20) +
            G3_CAPSET + g3_blob(0, 0x04) + g3_blob(0, 0x00) + g3_blob(0, 0x40) +
            g3_blob(0, 0x80) + g3_blob(0, 0xC0) + g3_blob(1, 0x05) + g3_blob(1, 0x01) +
            g3_poll() + g3_wait(1) + g3_res(0, 0xB0) + g3_res(0, 0x32) + g3_ctx(0) + g3_ctx(1))
    yield "basic", seed(g3_header() + work)
    yield "legacy", seed(g3_header(flags=1) + work)
    yield "2d-only", seed(g3_header(want=0) + work)
    yield "virgl-only", seed(g3_header(features=(1 << 32) | 1, want=0x1F) + work)
    yield "no-region", seed(g3_header(want=0x2F) + work)
    yield "wrapping-region", seed(g3_header(want=0x4F) + work)
    yield "scattered", seed(g3_header(flags=0x20) + g3_ctx(0) + g3_submit(0, 3000, off=3) +
                            g3_submit(0, 2000) + g3_wait(0) + G3_FENCES + g3_ctx(0))
    yield "many-capsets", seed(g3_header(capsets=40) + G3_CAPSET + u8(7) + u8(5) + u16(100))
    yield "reset", seed(g3_header() + g3_ctx(0) + g3_submit(0) + g3_res(1, 0) + G3_RESET +
                        g3_submit(0) + g3_ctx(0) + g3_ctx(0) + g3_submit(0) + g3_wait(0))
    many = g3_ctx(0) + b"".join(g3_submit(0, 4 + k) for k in range(10)) + g3_wait(0, True)
    yield "in-flight-limit", seed(g3_header() + many + G3_FENCES + g3_ctx(0))
    # The device: init's display info, EDID, both capset infos answered
    # (2 bytes each: step, mode), then every submit held (mode 5) and given
    # back late and out of order by the device's own steps.
    init_ok = (u8(0) + u8(0)) * 4
    yield "held-fences", seed(g3_header() + g3_ctx(0) + g3_submit(0) + g3_submit(0, 40) +
                              g3_submit(0, 8) + G3_FENCES + g3_wait(0) + g3_ctx(0),
                              init_ok + u8(0) + u8(0) + (u8(0) + u8(5)) * 3)
    # Fence echoes from the tape (mode 6): flags and fence off by one.
    yield "bad-echo", seed(g3_header() + g3_ctx(0) + g3_submit(0) + g3_wait(0) + g3_ctx(0),
                           init_ok + u8(0) + u8(0) + u8(0) + u8(6) + u8(1) + u8(2))
    yield "scribble", seed(g3_header(flags=0x20) + work, dev_scribble(SCRIBBLE_ALL, 0xFF))


TARGETS = {
    "virtqueue": virtqueue_seeds,
    "mmio": mmio_seeds,
    "rng": rng_seeds,
    "gpu": gpu_seeds,
    "gpu3d": gpu3d_seeds,
    "pci": pci_seeds,
    "blk": blk_seeds,
    "input": input_seeds,
    "console": con_seeds,
    "net": net_seeds,
}


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
    for target, gen in TARGETS.items():
        d = os.path.join(root, target)
        os.makedirs(d, exist_ok=True)
        for name in os.listdir(d):
            if name.startswith("seed-"):
                os.remove(os.path.join(d, name))
        n = 0
        for name, data in gen():
            with open(os.path.join(d, "seed-" + name), "wb") as f:
                f.write(data)
            n += 1
        print("%s: %d seeds" % (target, n))


if __name__ == "__main__":
    main()
