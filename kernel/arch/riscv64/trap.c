/*
 * Traps in C. An interrupt (boot.S's trap_entry, on the interrupted stack):
 * the PLIC's external interrupt goes to irq_dispatch; the SBI timer only
 * ever bounds a sleep, so if it arrives here it is switched off. Every
 * exception is fatal in this kernel: reported in one greppable line, then
 * the details, then power-off, so that a test run ends instead of hanging
 * until its timeout (the report's neutral parts: kernel/panic.c).
 */
#include "internal.h"
#include "irq.h"
#include "riscv.h"

/* Filled by boot.S (fatal): x0..x31 (x0 unused), then the trap CSRs. */
struct trap_frame {
    uint64_t x[32];
    uint64_t sepc;
    uint64_t sstatus;
    uint64_t scause;
    uint64_t stval;
};

struct trap_frame trap_frame;

void exception_panic(const struct trap_frame *f) __attribute__((noreturn));

void trap_interrupt(uint64_t scause)
{
    switch (scause & ~SCAUSE_INTERRUPT) {
    case IRQ_S_EXT:
        irq_dispatch();
        break;
    case IRQ_S_TIMER:
        sbi_set_timer(~0ULL); /* the sleep it bounded is over */
        break;
    case IRQ_S_SOFT:
        csr_clear(sip, 1ULL << IRQ_S_SOFT);
        break;
    default:
        panic("unexpected interrupt, scause=0x%llx", (unsigned long long)scause);
    }
}

static const char *cause_name(uint64_t cause)
{
    switch (cause) {
    case 0: return "instruction address misaligned";
    case 1: return "instruction access fault";
    case 2: return "illegal instruction";
    case 3: return "breakpoint";
    case 4: return "load address misaligned";
    case 5: return "load access fault";
    case 6: return "store address misaligned";
    case 7: return "store access fault";
    case 8: return "ecall from U-mode";
    case 9: return "ecall from S-mode";
    case 12: return "instruction page fault";
    case 13: return "load page fault";
    case 15: return "store page fault";
    default: return "?";
    }
}

static void print_fault_detail(uint64_t cause, uint64_t stval)
{
    if (cause == 12 || cause == 13 || cause == 15)
        kprintf("levitate:   %s of 0x%016llx: page fault (address not mapped)\n",
                cause == 12 ? "fetch" : cause == 13 ? "read" : "write",
                (unsigned long long)stval);
    else if (cause == 1 || cause == 5 || cause == 7)
        kprintf("levitate:   access fault at 0x%016llx (no device answered, or PMP)\n",
                (unsigned long long)stval);
}

static const char *const reg_names[32] = {
    "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0",
    "a1", "a2", "a3", "a4", "a5", "a6", "a7", "s2", "s3", "s4", "s5",
    "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6",
};

void exception_panic(const struct trap_frame *f)
{
    panic_report_begin();
    kprintf("%s scause=0x%llx stval=0x%016llx sepc=0x%016llx sstatus=0x%llx\n",
            cause_name(f->scause), (unsigned long long)f->scause,
            (unsigned long long)f->stval, (unsigned long long)f->sepc,
            (unsigned long long)f->sstatus);
    print_fault_detail(f->scause, f->stval);
    panic_print_regs(&reg_names[1], &f->x[1], 31, 2, 4); /* not x0, zero */
    arch_panic_power_off();
}
