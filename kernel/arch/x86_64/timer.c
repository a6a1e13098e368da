/*
 * The TSC, which kernel/time.c counts time by, calibrated once at boot
 * against the PIT (8254 channel 0, 1.193182 MHz, which QEMU runs from its
 * virtual clock: real time under TCG): its counter is read back (latched)
 * until 20 ms of PIT ticks have gone by. Channel 0 rather than the usual
 * channel 2, whose output is read through port 0x61: microvm has no such
 * port. The same window calibrates the local APIC timer, which bounds
 * sleeps (apic.c). The PIT is on q35 and on microvm (pit=on, the default);
 * channel 0's interrupt (IRQ 0) stays masked.
 */
#include "kernel.h"
#include "x86.h"

#define PIT_HZ 1193182ULL
#define PIT_CH0 0x40
#define PIT_CMD 0x43
#define PIT_CH0_RATE 0x34    /* channel 0, low then high byte, mode 2 */
#define PIT_CH0_LATCH 0x00
#define CALIBRATE_MS 20
/* Until calibrated: an over-estimate, so time only jumps forwards. */
#define FREQ_GUESS 10000000000ULL
#define FREQ_MIN 50000000ULL  /* below this the PIT did not count */
#define PIT_READS_LIMIT 10000000

static uint64_t freq = FREQ_GUESS;

static uint16_t pit_count(void)
{
    outb(PIT_CMD, PIT_CH0_LATCH);
    uint8_t lo = inb(PIT_CH0);
    return (uint16_t)(lo | inb(PIT_CH0) << 8);
}

void timer_init(void)
{
    uint64_t want = PIT_HZ * CALIBRATE_MS / 1000, ticks = 0;
    unsigned reads = 0;

    outb(PIT_CMD, PIT_CH0_RATE);
    outb(PIT_CH0, 0); /* reload 65536: counts down through 0xffff..1 */
    outb(PIT_CH0, 0);
    uint16_t last = pit_count();
    uint32_t lapic0 = lapic_timer_calibrate_begin();
    uint64_t t0 = rdtsc();
    while (ticks < want && ++reads < PIT_READS_LIMIT) {
        uint16_t now = pit_count();
        ticks += (uint16_t)(last - now); /* down-counting, modulo 2^16 */
        last = now;
    }
    uint64_t t1 = rdtsc();
    uint64_t f = ticks ? (t1 - t0) * PIT_HZ / ticks : 0;
    if (ticks < want || f < FREQ_MIN) {
        kprintf("levitate: warning: the PIT does not count: TSC assumed at %llu MHz\n",
                (unsigned long long)(freq / 1000000));
        return;
    }
    freq = f;
    lapic_timer_calibrate_end(lapic0, ticks_to_ns(ticks, PIT_HZ));
}

uint64_t cycles(void)
{
    return rdtsc();
}

uint64_t cycles_per_second(void)
{
    return freq;
}
