/*
 * Time from the TSC, calibrated once at boot against the PIT (8254
 * channel 2, 1.193182 MHz, which QEMU runs from its virtual clock: real
 * time under TCG). The same window calibrates the local APIC timer, which
 * bounds sleeps (apic.c). The PIT is on q35 and on microvm (pit=on, the
 * default).
 */
#include "kernel.h"
#include "x86.h"

#define NS_PER_SEC 1000000000ULL
#define PIT_HZ 1193182ULL
#define PIT_CH2 0x42
#define PIT_CMD 0x43
#define PIT_GATE 0x61      /* bit 0: channel 2 gate, bit 1: speaker, bit 5: OUT2 */
#define CALIBRATE_MS 20
/* Until calibrated: an over-estimate, so time only jumps forwards. */
#define FREQ_GUESS 10000000000ULL
#define PIT_SPIN_LIMIT 100000000

static uint64_t boot_count;
static uint64_t freq = FREQ_GUESS;

void timer_init(void)
{
    uint32_t count = (uint32_t)(PIT_HZ * CALIBRATE_MS / 1000);
    uint8_t gate = inb(PIT_GATE);
    unsigned spins = 0;

    outb(PIT_GATE, (uint8_t)((gate & ~0x02) | 0x01)); /* gate on, speaker off */
    outb(PIT_CMD, 0xb0);       /* channel 2, low then high byte, mode 0 */
    outb(PIT_CH2, (uint8_t)count);
    uint32_t lapic0 = lapic_timer_calibrate_begin();
    uint64_t t0 = rdtsc();
    outb(PIT_CH2, (uint8_t)(count >> 8)); /* counting starts: OUT2 low */
    while (!(inb(PIT_GATE) & 0x20) && ++spins < PIT_SPIN_LIMIT)
        ;
    uint64_t t1 = rdtsc();
    outb(PIT_GATE, gate);
    if (spins >= PIT_SPIN_LIMIT || t1 <= t0) {
        kprintf("levitate: warning: no PIT: TSC assumed at %llu MHz\n",
                (unsigned long long)(freq / 1000000));
        return;
    }
    freq = (t1 - t0) * 1000 / CALIBRATE_MS;
    lapic_timer_calibrate_end(lapic0, (uint64_t)CALIBRATE_MS * 1000000);
}

uint64_t cycles(void)
{
    return rdtsc();
}

uint64_t cycles_per_second(void)
{
    return freq;
}

/* Seconds and the remainder separately: rem < f < 2^34, rem * 1e9 < 2^64. */
uint64_t time_ns(void)
{
    uint64_t t = rdtsc();

    if (!boot_count)
        boot_count = t;
    t -= boot_count;
    return t / freq * NS_PER_SEC + t % freq * NS_PER_SEC / freq;
}

void delay_ns(uint64_t ns)
{
    uint64_t end = time_ns() + ns;

    while (time_ns() < end)
        __asm__ volatile("pause");
}
