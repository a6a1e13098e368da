/* System register and barrier access for C. */
#ifndef KERNEL_AARCH64_SYSREG_H
#define KERNEL_AARCH64_SYSREG_H

#include <stdint.h>

#define read_sysreg(name)                                                  \
    __extension__({                                                        \
        uint64_t v_;                                                       \
        __asm__ volatile("mrs %0, " #name : "=r"(v_));                     \
        v_;                                                                \
    })

#define write_sysreg(name, v)                                              \
    __asm__ volatile("msr " #name ", %0" : : "r"((uint64_t)(v)) : "memory")

static inline void isb(void) { __asm__ volatile("isb" ::: "memory"); }
static inline void dsb_sy(void) { __asm__ volatile("dsb sy" ::: "memory"); }
static inline void wfi(void) { __asm__ volatile("wfi" ::: "memory"); }

/* After changing live page-table entries: make them visible, drop the TLB. */
static inline void tlb_flush_all(void)
{
    __asm__ volatile("dsb ishst\n\ttlbi vmalle1is\n\tdsb ish\n\tisb" ::: "memory");
}

#endif
