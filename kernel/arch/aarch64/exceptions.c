/*
 * Every exception is fatal in this kernel: report it in one greppable line,
 * then the details, then power off so that a test run ends instead of
 * hanging until its timeout (the report's neutral parts: kernel/panic.c).
 */
#include "internal.h"

struct exception_frame {
    uint64_t x[31];
    uint64_t sp;
    uint64_t elr;
    uint64_t spsr;
    uint64_t esr;
    uint64_t far;
};

void exception_panic(unsigned kind, const struct exception_frame *f)
    __attribute__((noreturn));

static const char *const kind_names[16] = {
    "sync (EL1t)", "IRQ (EL1t)", "FIQ (EL1t)", "SError (EL1t)",
    "sync (EL1h)", "IRQ (EL1h)", "FIQ (EL1h)", "SError (EL1h)",
    "sync (EL0 A64)", "IRQ (EL0 A64)", "FIQ (EL0 A64)", "SError (EL0 A64)",
    "sync (EL0 A32)", "IRQ (EL0 A32)", "FIQ (EL0 A32)", "SError (EL0 A32)",
};

static const char *ec_name(unsigned ec)
{
    switch (ec) {
    case 0x00: return "unknown/undefined instruction";
    case 0x01: return "WFI/WFE trap";
    case 0x07: return "FP/SIMD access trap";
    case 0x0e: return "illegal execution state";
    case 0x15: return "SVC";
    case 0x16: return "HVC";
    case 0x17: return "SMC";
    case 0x18: return "MSR/MRS trap";
    case 0x19: return "SVE access trap";
    case 0x20: return "instruction abort, lower EL";
    case 0x21: return "instruction abort";
    case 0x22: return "PC alignment fault";
    case 0x24: return "data abort, lower EL";
    case 0x25: return "data abort";
    case 0x26: return "SP alignment fault";
    case 0x2c: return "FP exception";
    case 0x2f: return "SError";
    case 0x30: case 0x31: return "breakpoint";
    case 0x32: case 0x33: return "software step";
    case 0x34: case 0x35: return "watchpoint";
    case 0x3c: return "BRK instruction";
    default: return "?";
    }
}

/* The fault status code of an instruction or data abort (ESR.ISS[5:0]). */
static void print_fault_status(unsigned fsc)
{
    static const char *const kinds[] = {
        [0x0] = "address size fault", [0x1] = "translation fault",
        [0x2] = "access flag fault", [0x3] = "permission fault",
    };
    unsigned level = fsc & 3;

    if (fsc < 0x10) {
        kprintf("levitate:   %s, level %u%s\n", kinds[fsc >> 2], level,
                fsc >> 2 == 1 ? " (address not mapped)" : "");
    } else if (fsc == 0x10) {
        kprintf("levitate:   synchronous external abort (no device answered)\n");
    } else if (fsc == 0x21) {
        kprintf("levitate:   alignment fault\n");
    } else {
        kprintf("levitate:   fault status 0x%02x\n", fsc);
    }
}

static void print_abort_detail(unsigned ec, uint64_t esr)
{
    if (ec == 0x24 || ec == 0x25) {
        kprintf("levitate:   %s access", (esr >> 6) & 1 ? "write" : "read");
        if ((esr >> 24) & 1)
            kprintf(" of %u bytes", 1u << ((esr >> 22) & 3));
        kprintf("\n");
    }
    if (ec == 0x20 || ec == 0x21 || ec == 0x24 || ec == 0x25)
        print_fault_status(esr & 0x3f);
}

static const char *const reg_names[32] = {
    "x0",  "x1",  "x2",  "x3",  "x4",  "x5",  "x6",  "x7",  "x8",  "x9",  "x10",
    "x11", "x12", "x13", "x14", "x15", "x16", "x17", "x18", "x19", "x20", "x21",
    "x22", "x23", "x24", "x25", "x26", "x27", "x28", "x29", "x30", "sp",
};

static void print_registers(const struct exception_frame *f)
{
    uint64_t r[32];

    for (int i = 0; i < 31; i++)
        r[i] = f->x[i];
    r[31] = f->sp;
    panic_print_regs(reg_names, r, 32, 2, 3);
}

void exception_panic(unsigned kind, const struct exception_frame *f)
{
    unsigned ec = (unsigned)(f->esr >> 26) & 0x3f;

    panic_report_begin();
    kprintf("%s ESR=0x%08lx EC=0x%02x (%s) FAR=0x%016lx ELR=0x%016lx SPSR=0x%08lx\n",
            kind_names[kind & 15], (unsigned long)f->esr, ec, ec_name(ec),
            (unsigned long)f->far, (unsigned long)f->elr, (unsigned long)f->spsr);
    print_abort_detail(ec, f->esr);
    print_registers(f);
    arch_panic_power_off();
}
