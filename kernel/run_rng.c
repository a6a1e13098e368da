/*
 * virtio-rng in the test kernel: bring it up, read, check the interrupt
 * status, read more, tear down and bring it up again.
 */
#include "ktest.h"
#include "shell.h"

#define RNG_MORE 256
/* How long a read may go without a byte before the device counts as
 * silent: a slow device (QEMU's rate-limited example gives 64 bytes a
 * second) keeps a read going as long as bytes come, and a silent one costs
 * this plus the recovery read (RNG_RECOVERY_WAITS times as long) of the
 * boot. Bootarg rng.timeout_ms=N changes it. */
#define RNG_TIMEOUT_MS 1500
#define RNG_RECOVERY_WAITS 2

/* The rng of a device whose run_rng got state (kdev_state). */
static struct lvio_rng *rng_of(struct kdev *k)
{
    return k->drv;
}

static uint64_t rng_timeout_ns(void)
{
    char v[16];
    uint64_t ms = 0;

    if (!kernel_bootarg_value("rng.timeout_ms", v, sizeof v))
        return RNG_TIMEOUT_MS * MS;
    for (const char *p = v; *p >= '0' && *p <= '9' && ms < 3600000; p++)
        ms = ms * 10 + (uint64_t)(*p - '0');
    return (ms ? ms : RNG_TIMEOUT_MS) * MS;
}

static void hex(char *out, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* Read exactly n bytes, for as long as each wait brings some (a short
 * read is progress), or report why not. */
static bool rng_read_all(struct kdev *k, uint8_t *buf, size_t n)
{
    char doing[48];
    size_t got = 0;
    int rc = 0;

    while (got < n) {
        rc = lvio_rng_read(rng_of(k), buf + got, n - got, rng_timeout_ns());
        if (rc <= 0)
            break;
        got += (size_t)rc;
    }
    if (got == n)
        return true;
    if (got > 0 || rc == 0) {
        ksnprintf(doing, sizeof(doing), "short read: %zu of %zu bytes", got, n);
        report_error(k, "LVIO_E_TIMEOUT", doing);
    } else {
        ksnprintf(doing, sizeof(doing), "reading %zu bytes", n);
        report_error(k, lvio_errname(rc), doing);
    }
    return false;
}

/*
 * After a failed first read: the library's recovery, lvio_rng_reset, then
 * one more read. The device keeps its error line and failed test; this says
 * whether it came back (a test may make a silent backend produce now).
 */
static void rng_recover(struct kdev *k)
{
    uint8_t buf[RNG_SAMPLE];
    size_t pages = dma_pages_in_use();
    int rc = lvio_rng_reset(rng_of(k));

    if (rc != LVIO_OK) {
        kprintf("levitate: rng %s: lvio_rng_reset: %s: %s\n", k->dev.name, lvio_errname(rc),
                lvio_device_error(&k->dev));
        return;
    }
    expect(dma_pages_in_use() == pages, "%s: reset changed the DMA pages in use (%zu, %zu)",
           k->dev.name, pages, dma_pages_in_use());
    /* Longer than the first wait: a test makes the backend produce once it
     * has seen the error line. */
    rc = lvio_rng_read(rng_of(k), buf, sizeof buf, RNG_RECOVERY_WAITS * rng_timeout_ns());
    if (rc == (int)sizeof buf)
        kprintf("levitate: rng %s: recovered by lvio_rng_reset: %d bytes read\n", k->dev.name,
                rc);
    else
        kprintf("levitate: rng %s: not recovered by lvio_rng_reset: %s%s%s\n", k->dev.name,
                rc < 0 ? lvio_errname(rc) : "short read", rc < 0 ? ": " : "",
                rc < 0 ? lvio_device_error(&k->dev) : "");
}

/*
 * virtio-rng: bring it up, read a sample, check the interrupt status is set
 * and acknowledged, read more, tear down (every DMA page comes back), bring
 * it up again and read once more.
 */
static void run_rng(struct kdev *k)
{
    static uint8_t more[RNG_MORE];
    struct lvio_rng *rng = kdev_state(k, sizeof *rng);
    uint8_t second[RNG_SAMPLE];
    char sample_hex[2 * RNG_SAMPLE + 1];
    size_t pages_before = dma_pages_in_use();
    uint32_t isr, isr_after;
    char how[24];
    uint64_t t0, more_ms;
    int rc;

    if (!rng)
        return; /* said by kdev_state */
    rc = lvio_rng_init(rng, &k->dev);
    if (!expect(rc == LVIO_OK, "%s: rng init: %s", k->dev.name, lvio_errname(rc))) {
        report_error(k, lvio_errname(rc), "initialising");
        return;
    }
    if (!expect(rng_read_all(k, k->sample, RNG_SAMPLE), "%s: read %u bytes", k->dev.name,
                RNG_SAMPLE)) {
        rng_recover(k);
        goto out;
    }
    k->has_sample = true;

    /* Nothing is in flight now: the completions set bit 0, which the
     * interrupt handler (or, polled, this read) acknowledged. The
     * interrupt may still be on its way when the completion is seen. */
    isr = kdev_wait_isr(k, 100 * MS);
    isr_after = lvio_device_isr(&k->dev);
    expect(isr & LVIO_VIRTIO_ISR_QUEUE, "%s: ISR 0x%x after a completion, want bit 0",
           k->dev.name, isr);
    /* With MSI-X the ISR status is not the interrupt's acknowledgement
     * (QEMU still sets it, and nobody needs to read it). */
    expect(isr_after == 0 || k->dev.irq_mode == LVIO_IRQ_MSIX,
           "%s: ISR still 0x%x after it was acknowledged", k->dev.name, isr_after);

    expect(!all_zero(k->sample, RNG_SAMPLE), "%s: %u random bytes all zero", k->dev.name,
           RNG_SAMPLE);
    if (!expect(rng_read_all(k, second, RNG_SAMPLE), "%s: second read", k->dev.name))
        goto out;
    expect(memcmp(second, k->sample, RNG_SAMPLE) != 0, "%s: two reads gave the same bytes",
           k->dev.name);

    t0 = time_ns();
    if (!expect(rng_read_all(k, more, RNG_MORE), "%s: read %u bytes", k->dev.name, RNG_MORE))
        goto out;
    more_ms = (time_ns() - t0) / MS;
    expect(!all_zero(more, RNG_MORE), "%s: %u random bytes all zero", k->dev.name, RNG_MORE);

    /* Teardown gives back every page; the device comes up again after it. */
    lvio_rng_teardown(rng);
    expect(dma_pages_in_use() == pages_before, "%s: %zu DMA pages leaked by teardown",
           k->dev.name, dma_pages_in_use() - pages_before);
    rc = lvio_rng_init(rng, &k->dev);
    if (!expect(rc == LVIO_OK, "%s: rng init after teardown: %s", k->dev.name,
                lvio_errname(rc))) {
        report_error(k, lvio_errname(rc), "initialising again after teardown");
        return;
    }
    if (!expect(rng_read_all(k, second, RNG_SAMPLE), "%s: read after re-init", k->dev.name))
        goto out;

    hex(sample_hex, k->sample, RNG_SAMPLE);
    kprintf("lvio: rng %s: ok v%u, %u bytes %s, %u more in %llu ms, isr 0x%x, %s\n",
            k->dev.name, (unsigned)k->dev.version, RNG_SAMPLE, sample_hex, RNG_MORE,
            (unsigned long long)more_ms, isr, kdev_service(k, how, sizeof how));
out:
    if (opt_dump)
        lvio_dump(&k->dev);
    lvio_rng_teardown(rng);
}


/*
 * Soak: bring the rng up and read until the device has answered `requests`
 * requests (32 bytes each), then tear down; every read must succeed and
 * every DMA page must come back.
 */
static void soak_rng(struct kdev *k)
{
    const uint64_t requests = 100000;
    struct lvio_rng *rng = rng_of(k);
    size_t pages = dma_pages_in_use();
    uint64_t t0 = time_ns(), bytes = 0;
    uint8_t buf[RNG_SAMPLE];
    int rc = lvio_rng_init(rng, &k->dev);

    while (rc == LVIO_OK && rng->requests < requests) {
        rc = lvio_rng_read(rng, buf, sizeof buf, rng_timeout_ns());
        if (rc >= 0) {
            bytes += (uint64_t)rc;
            rc = LVIO_OK;
        }
    }
    uint64_t done = rng->dev ? rng->requests : 0;
    expect(rc == LVIO_OK, "%s: soak: %s after %llu requests: %s", k->dev.name, lvio_errname(rc),
           (unsigned long long)done, lvio_device_error(&k->dev));
    lvio_rng_teardown(rng);
    expect(dma_pages_in_use() == pages, "%s: soak: DMA pages in use %zu before, %zu after",
           k->dev.name, pages, dma_pages_in_use());
    kprintf("levitate: soak: rng %s: %llu requests, %llu bytes in %llu ms, "
            "DMA pages %zu before, %zu after\n",
            k->dev.name, (unsigned long long)done, (unsigned long long)bytes,
            (unsigned long long)((time_ns() - t0) / MS), pages, dma_pages_in_use());
}

/*
 * make bench: rng throughput with large reads (the driver keeps all its
 * request slots with the device), the cost of one small read, and how many
 * notifies the device needed per request (EVENT_IDX saves the rest).
 */
static void bench_rng(struct kdev *k)
{
    static uint8_t buf[64 * 1024];
    struct lvio_rng *rng = rng_of(k);
    const unsigned rounds = 16, small = 2000;
    int rc = lvio_rng_init(rng, &k->dev);
    uint64_t c0, ns, bytes = 0;

    if (rc != LVIO_OK) {
        kprintf("bench: rng failed: %s: %s\n", lvio_errname(rc), lvio_device_error(&k->dev));
        return;
    }
    uint64_t kicks0 = rng->vq.kicks, req0 = rng->requests, irq0 = k->interrupts;
    c0 = cycles();
    for (unsigned i = 0; i < rounds && rc >= 0; i++) {
        rc = lvio_rng_read(rng, buf, sizeof buf, rng_timeout_ns());
        bytes += rc > 0 ? (uint64_t)rc : 0;
    }
    ns = bench_elapsed_ns(c0);
    if (rc >= 0) {
        bench_line("rng read 64 KiB x16", bytes * 10000 / (ns ? ns : 1), "MB/s");
        uint64_t reqs = rng->requests - req0 ? rng->requests - req0 : 1;
        bench_line("rng notifies per request", (rng->vq.kicks - kicks0) * 10 / reqs, "notifies");
        bench_line("rng interrupts per request", (k->interrupts - irq0) * 10 / reqs,
                   "interrupts");
    }
    c0 = cycles();
    for (unsigned i = 0; i < small && rc >= 0; i++)
        rc = lvio_rng_read(rng, buf, 32, rng_timeout_ns());
    ns = bench_elapsed_ns(c0);
    if (rc >= 0)
        bench_line("rng read 32 bytes", ns * 10 / small / 1000, "us");
    else
        kprintf("bench: rng failed: %s: %s\n", lvio_errname(rc), lvio_device_error(&k->dev));
    lvio_rng_teardown(rng);
}

/* The shell's `rng <bytes>`: up to 256 bytes from the first rng, in hex
 * (the device is brought up for it and torn down after). */
static void shell_rng(struct kdev *k, struct shell_term *t, int argc, char **argv)
{
    struct lvio_rng *rng = rng_of(k);
    uint8_t buf[256];
    char hexbuf[2 * sizeof buf + 1];
    char *end;
    uint64_t n = argc == 2 ? parse_u64(argv[1], &end) : 0;
    size_t got = 0;
    int rc;

    if (argc != 2 || *end || n == 0 || n > sizeof buf) {
        shell_printf(t, "usage: rng <bytes: 1..%zu>\n", sizeof buf);
        return;
    }
    rc = lvio_rng_init(rng, &k->dev);
    while (rc >= 0 && got < n) {
        rc = lvio_rng_read(rng, buf + got, n - got, rng_timeout_ns());
        if (rc > 0)
            got += (size_t)rc;
        else if (rc == 0)
            rc = LVIO_E_TIMEOUT;
    }
    if (rc < 0) {
        shell_printf(t, "rng %s: %s: %s\n", k->dev.name, lvio_errname(rc),
                     lvio_device_error(&k->dev));
    } else {
        hex(hexbuf, buf, got);
        shell_printf(t, "%s\n", hexbuf);
    }
    lvio_rng_teardown(rng);
}

const struct kdriver kdriver_rng = {
    .device_id = LVIO_VIRTIO_ID_RNG, .name = "rng",
    .run = run_rng, .soak = soak_rng, .bench = bench_rng,
    .shell = shell_rng, .shell_help = "rng <bytes>: random bytes from the first rng, in hex",
};
