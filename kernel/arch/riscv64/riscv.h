/* What only the riscv64 files share with each other: CSRs, SBI, set-up calls. */
#ifndef KERNEL_RISCV64_RISCV_H
#define KERNEL_RISCV64_RISCV_H

#include <stdbool.h>
#include <stdint.h>

struct fdt;

#define csr_read(csr)                                                      \
    __extension__({                                                        \
        uint64_t v_;                                                       \
        __asm__ volatile("csrr %0, " #csr : "=r"(v_) : : "memory");        \
        v_;                                                                \
    })
#define csr_write(csr, v) __asm__ volatile("csrw " #csr ", %0" : : "r"((uint64_t)(v)) : "memory")
#define csr_set(csr, v) __asm__ volatile("csrs " #csr ", %0" : : "r"((uint64_t)(v)) : "memory")
#define csr_clear(csr, v) __asm__ volatile("csrc " #csr ", %0" : : "r"((uint64_t)(v)) : "memory")

/* sstatus, and the interrupt bits of sie/sip (by cause number). */
#define SSTATUS_SIE (1ULL << 1)
#define IRQ_S_SOFT 1
#define IRQ_S_TIMER 5
#define IRQ_S_EXT 9
#define SCAUSE_INTERRUPT (1ULL << 63)

static inline void wfi(void) { __asm__ volatile("wfi" ::: "memory"); }

/* After changing live page-table entries: the walker sees them, stale
 * translations are gone. */
static inline void tlb_flush_all(void) { __asm__ volatile("sfence.vma" ::: "memory"); }
static inline void tlb_flush_page(uintptr_t va)
{
    __asm__ volatile("sfence.vma %0, zero" : : "r"(va) : "memory");
}

/* kernel_start, called by boot.S at the high address (start.c). */
void kernel_start(uint64_t dtb_phys, uint64_t load_phys, unsigned hart);
/* The hart kernel_start runs on (OpenSBI's boot hart). */
unsigned boot_hart(void);

/* sbi.c: the SBI calls this kernel makes. */
void sbi_set_timer(uint64_t stime);
/* The DT's "sifive,test0" (QEMU's syscon): power_off's fallback to SRST. */
void power_init(const struct fdt *fdt);

/* uart.c: registers 1 << shift bytes apart (the DT's reg-shift), for the
 * next console_init. */
void uart_set_shift(unsigned shift);

/* timer.c: timebase-frequency from /cpus (10 MHz until then). */
void timer_init(const struct fdt *fdt);

/* trap.c: an interrupt trap (boot.S), scause in hand. */
void trap_interrupt(uint64_t scause);

#endif
