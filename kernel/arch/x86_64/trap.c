/*
 * Traps in C: the TSS (its IST 1 is the panic stack every exception
 * switches to, so that a fault with a bad stack is still reported), the
 * IDT (vectors.S's stubs), interrupts (x86_interrupt: the local APIC's
 * lines go to irq_dispatch) and exceptions. Every exception is fatal in
 * this kernel: reported in one greppable line, then the details, then
 * power-off, so that a test run ends instead of hanging until its timeout
 * (the report's neutral parts: kernel/panic.c).
 */
#include "internal.h"
#include "irq.h"
#include "x86.h"

/* vectors.S's frame: pushed by it (r15 first at the lowest address), then
 * by the CPU. */
struct trap_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rdi, rsi, rbp, rbx, rdx, rcx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;
};

struct idt_entry {
    uint16_t offset_lo;
    uint16_t selector;
    uint8_t ist;
    uint8_t type;       /* 0x8e: present, ring 0, 64-bit interrupt gate */
    uint16_t offset_mid;
    uint32_t offset_hi;
    uint32_t reserved;
};
_Static_assert(sizeof(struct idt_entry) == 16, "IDT entry");

struct __attribute__((packed)) tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
};
_Static_assert(sizeof(struct tss) == 104, "TSS");

struct __attribute__((packed)) table_ptr {
    uint16_t limit;
    uint64_t base;
};

extern uint64_t gdt[GDT_ENTRIES];
extern char idt_stubs[];
extern char panic_stack_top[];

static struct idt_entry idt[256] __attribute__((aligned(16)));
static struct tss tss __attribute__((aligned(16)));

void exception_panic(const struct trap_frame *f) __attribute__((noreturn));

void trap_init(void)
{
    uint64_t t = (uintptr_t)&tss;
    struct table_ptr idtr = {sizeof idt - 1, (uintptr_t)idt};

    tss.ist[0] = (uintptr_t)panic_stack_top; /* IST 1 */
    tss.iomap_base = sizeof tss;             /* no I/O permission map */
    /* A 64-bit available TSS descriptor (type 9), present. */
    gdt[SEL_TSS / 8] = (sizeof tss - 1) | (t & 0xffffff) << 16 | 0x89ULL << 40 |
                       ((t >> 24) & 0xff) << 56;
    gdt[SEL_TSS / 8 + 1] = t >> 32;
    __asm__ volatile("ltr %w0" : : "r"(SEL_TSS) : "memory");

    for (unsigned v = 0; v < 256; v++) {
        uint64_t h = (uintptr_t)(idt_stubs + 16 * v);

        idt[v] = (struct idt_entry){
            .offset_lo = (uint16_t)h,
            .selector = SEL_CODE,
            .ist = v < 32 ? 1 : 0,
            .type = 0x8e,
            .offset_mid = (uint16_t)(h >> 16),
            .offset_hi = (uint32_t)(h >> 32),
        };
    }
    __asm__ volatile("lidt %0" : : "m"(idtr) : "memory");
}

void x86_interrupt(uint64_t vector)
{
    if (vector == VEC_SPURIOUS)
        return; /* no EOI for the spurious vector */
    if (vector == VEC_TIMER) {
        lapic_eoi(); /* the sleep it bounded is over */
        return;
    }
    if (vector >= VEC_LINE0 && vector <= VEC_LAST_LINE) {
        irq_dispatch();
        return;
    }
    panic("unexpected interrupt vector 0x%llx", (unsigned long long)vector);
}

static const char *const exception_names[32] = {
    "divide error", "debug", "NMI", "breakpoint", "overflow", "bound range",
    "invalid opcode", "device not available", "double fault", "coprocessor overrun",
    "invalid TSS", "segment not present", "stack fault", "general protection fault",
    "page fault", "reserved", "x87 error", "alignment check", "machine check",
    "SIMD error", "virtualization", "control protection", "reserved", "reserved",
    "reserved", "reserved", "reserved", "reserved", "hypervisor injection",
    "VMM communication", "security", "reserved",
};

static void print_fault_detail(const struct trap_frame *f, uint64_t cr2)
{
    if (f->vector != 14)
        return;
    kprintf("levitate:   %s of 0x%016llx: %s\n",
            f->error & 0x10 ? "fetch" : f->error & 0x2 ? "write" : "read",
            (unsigned long long)cr2,
            f->error & 0x1 ? "protection violation" : "page not present (address not mapped)");
}

static const char *const reg_names[15] = {
    "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
    "r8",  "r9",  "r10", "r11", "r12", "r13", "r14",
};

static void print_registers(const struct trap_frame *f)
{
    const uint64_t r[15] = {
        f->rax, f->rbx, f->rcx, f->rdx, f->rsi, f->rdi, f->rbp, f->rsp,
        f->r8,  f->r9,  f->r10, f->r11, f->r12, f->r13, f->r14,
    };

    panic_print_regs(reg_names, r, 15, 3, 3);
    kprintf("levitate:   r15=0x%016llx rflags=0x%llx cs=0x%llx ss=0x%llx\n",
            (unsigned long long)f->r15, (unsigned long long)f->rflags,
            (unsigned long long)f->cs, (unsigned long long)f->ss);
}

void exception_panic(const struct trap_frame *f)
{
    uint64_t cr2;

    __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
    panic_report_begin();
    kprintf("%s vector=%llu error=0x%llx cr2=0x%016llx rip=0x%016llx\n",
            exception_names[f->vector & 31], (unsigned long long)f->vector,
            (unsigned long long)f->error, (unsigned long long)cr2, (unsigned long long)f->rip);
    print_fault_detail(f, cr2);
    print_registers(f);
    arch_panic_power_off();
}
