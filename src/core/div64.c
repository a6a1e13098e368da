/*
 * 64-bit division without the compiler's helpers.
 *
 * On a 32-bit target a plain `/` or `%` of uint64_t makes the compiler call
 * __udivdi3 / __umoddi3 (libgcc, compiler-rt), which a freestanding kernel
 * need not have: the library promises to need nothing but memcpy, memset
 * and memcmp (make check-lib checks it on riscv32). The few 64-bit
 * divisions the library does (number formatting, microseconds in messages,
 * sector and alignment arithmetic) go through lvio_div64 / lvio_mod64 /
 * lvio_divmod64 (internal.h), which use `/` on 64-bit targets and this
 * function on 32-bit ones. The host tests call it directly (test_div64.c).
 */
#include "internal.h"

uint64_t lvio_div64_soft(uint64_t n, uint64_t d, uint64_t *rem)
{
    if (d == 0) {
        /* Never done by the library; defined so it cannot loop or trap. */
        if (rem)
            *rem = n;
        return UINT64_MAX;
    }
    if ((n >> 32) == 0 && (d >> 32) == 0) {
        /* Both fit in 32 bits: the target's own 32-bit division. */
        uint32_t q32 = (uint32_t)n / (uint32_t)d;
        if (rem)
            *rem = (uint32_t)n - q32 * (uint32_t)d;
        return q32;
    }
    /* Shift and subtract: move d up under n's leading bit, then take it
     * away wherever it fits on the way back down, one quotient bit a step
     * (at most 64 steps, fewer the closer d is to n). */
    uint64_t q = 0;
    unsigned shift = 0;
    while (!(d >> 63) && (d << 1) <= n) {
        d <<= 1;
        shift++;
    }
    for (;;) {
        q <<= 1;
        if (n >= d) {
            n -= d;
            q |= 1;
        }
        if (shift == 0)
            break;
        shift--;
        d >>= 1;
    }
    if (rem)
        *rem = n;
    return q;
}
