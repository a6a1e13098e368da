/*
 * Entry of the aarch64 test kernel: an arm64 Image header, so that QEMU's
 * -kernel loads us 2 MiB aligned in RAM and passes the DTB's physical
 * address in x0 (a plain ELF would get no DTB). From there: drop to EL1,
 * build the page tables, switch the MMU on, jump to the high link address,
 * and call kernel_start(dtb_phys, load_phys, entry_el) in C.
 *
 * The image is linked at KERNEL_VBASE but runs from wherever it was loaded
 * until the MMU is on, so everything before high_entry is position
 * independent (adr/adrp only, no absolute addresses).
 */
#include "layout.h"

    .section .text.head, "ax"
    .globl _start
_start:
    b       primary_entry           /* code0 */
    .long   0                       /* code1 */
    .quad   0                       /* text_offset: load at a 2 MiB boundary */
    .quad   _image_size             /* image_size, .bss included, so the */
                                    /* loader puts nothing (the DTB) over it */
    .quad   0xa                     /* flags: LE, 4 KiB pages, anywhere in RAM */
    .quad   0, 0, 0                 /* res2..res4 */
    .ascii  "ARM\x64"               /* magic, offset 0x38 */
    .long   0                       /* res5 (no PE/COFF header) */

primary_entry:
    mov     x19, x0                 /* DTB physical address, from the loader */
    msr     daifset, #0xf
    mrs     x21, CurrentEL          /* the EL we were entered at, for the log */
    lsr     x21, x21, #2
    bl      drop_to_el1
    adr     x20, _start             /* physical load address */
    bl      clear_page_tables
    bl      build_page_tables
    bl      enable_mmu
    ldr     x0, =high_entry         /* the link (virtual) address */
    br      x0

/*
 * QEMU enters at EL1 unless virtualization=on; at EL2 we configure just
 * enough (AArch64 EL1, timer access, no traps) and eret to our caller at EL1.
 */
drop_to_el1:
    mrs     x0, CurrentEL
    lsr     x0, x0, #2
    cmp     x0, #1
    b.eq    1f
    cmp     x0, #2
    b.ne    halt                    /* EL3: not supported by this kernel */
    mov     x0, #(1 << 31)          /* HCR_EL2.RW: EL1 is AArch64; E2H off */
    msr     hcr_el2, x0
    mrs     x0, cnthctl_el2
    orr     x0, x0, #3              /* EL1PCTEN | EL1PCEN: counter and timer */
    msr     cnthctl_el2, x0
    msr     cntvoff_el2, xzr
    mov     x0, #0x33ff             /* CPTR_EL2: RES1 bits, no FP/SIMD trap */
    msr     cptr_el2, x0
    msr     hstr_el2, xzr
    msr     vttbr_el2, xzr
    ldr     x0, =SCTLR_RES1         /* EL1 MMU and caches off */
    msr     sctlr_el1, x0
    mov     x0, #0x3c5              /* EL1h, DAIF masked */
    msr     spsr_el2, x0
    msr     elr_el2, x30
    eret
1:  ret

clear_page_tables:
    adrp    x0, __pgtables_start
    adrp    x1, __pgtables_end
1:  stp     xzr, xzr, [x0], #16
    cmp     x0, x1
    b.lo    1b
    ret

/*
 * x20 = physical load address. Tables (all in .pgtables, page aligned):
 *   pgt_l0_hi     TTBR1 root: [0] -> l1_low, [1] -> l1_high, [511] -> l1_kernel
 *   pgt_l1_low    PA [0, 512 GiB) in 1 GiB blocks, see layout.h
 *   pgt_l1_high   PA [512 GiB, 1 TiB) as Device
 *   pgt_l1_kernel [511] -> l2_kernel (VA 0xffffffffc0000000)
 *   pgt_l2_kernel the image in 2 MiB blocks
 *   pgt_l0_id, pgt_l1_id   TTBR0: the 1 GiB around the load address mapped
 *                 to itself, only so that the instruction after the MMU is
 *                 switched on can be fetched.
 */
build_page_tables:
    adrp    x0, pgt_l0_hi
    adrp    x1, pgt_l1_low
    adrp    x2, pgt_l1_high
    adrp    x3, pgt_l1_kernel
    adrp    x4, pgt_l2_kernel
    orr     x5, x1, #PTE_TABLE
    str     x5, [x0, #0]
    orr     x5, x2, #PTE_TABLE
    str     x5, [x0, #8]
    orr     x5, x3, #PTE_TABLE
    str     x5, [x0, #(511 * 8)]

    ldr     x6, =PTE_DEVICE         /* [0, 1 GiB): devices */
    str     x6, [x1, #0]
    ldr     x6, =PTE_RAM            /* [1, 256 GiB): possible RAM */
    mov     x7, #1
1:  orr     x5, x6, x7, lsl #30
    str     x5, [x1, x7, lsl #3]
    add     x7, x7, #1
    cmp     x7, #256
    b.lo    1b
    ldr     x6, =PTE_DEVICE         /* [256, 257 GiB): PCIe high ECAM */
    orr     x5, x6, x7, lsl #30
    str     x5, [x1, x7, lsl #3]

    mov     x7, #0                  /* [512 GiB, 1 TiB): PCIe high MMIO */
2:  add     x8, x7, #512
    orr     x5, x6, x8, lsl #30
    str     x5, [x2, x7, lsl #3]
    add     x7, x7, #1
    cmp     x7, #512
    b.lo    2b

    orr     x5, x4, #PTE_TABLE
    str     x5, [x3, #(511 * 8)]
    adrp    x8, _end                /* image size in 2 MiB blocks, rounded up */
    add     x8, x8, :lo12:_end
    sub     x8, x8, x20
    ldr     x9, =(BLOCK_2M - 1)
    add     x8, x8, x9
    lsr     x8, x8, #21
    ldr     x6, =PTE_KERNEL
    mov     x7, #0
3:  add     x5, x20, x7, lsl #21
    orr     x5, x5, x6
    str     x5, [x4, x7, lsl #3]
    add     x7, x7, #1
    cmp     x7, x8
    b.lo    3b

    adrp    x0, pgt_l0_id
    adrp    x1, pgt_l1_id
    lsr     x2, x20, #39
    orr     x5, x1, #PTE_TABLE
    str     x5, [x0, x2, lsl #3]
    lsr     x2, x20, #30
    lsl     x5, x2, #30
    and     x2, x2, #511
    orr     x5, x5, x6              /* PTE_KERNEL: executable */
    str     x5, [x1, x2, lsl #3]

    /*
     * The tables were written with the MMU (and so the caches) off; drop any
     * stale cache lines so the walker, which reads through the cache, sees
     * what is in memory.
     */
    adrp    x0, __pgtables_start
    adrp    x1, __pgtables_end
    mrs     x2, ctr_el0
    ubfx    x2, x2, #16, #4         /* DminLine: log2(words per line) */
    mov     x3, #4
    lsl     x3, x3, x2
    dsb     sy
4:  dc      ivac, x0
    add     x0, x0, x3
    cmp     x0, x1
    b.lo    4b
    dsb     sy
    ret

enable_mmu:
    ldr     x0, =MAIR_VALUE
    msr     mair_el1, x0
    ldr     x0, =TCR_VALUE
    mrs     x1, id_aa64mmfr0_el1
    and     x1, x1, #0xf            /* PARange, capped at 48 bits: 52-bit */
    mov     x2, #5                  /* output needs LPA2 with 4 KiB pages */
    cmp     x1, x2
    csel    x1, x1, x2, ls
    bfi     x0, x1, #TCR_IPS_SHIFT, #3
    msr     tcr_el1, x0
    adrp    x0, pgt_l0_id
    msr     ttbr0_el1, x0
    adrp    x0, pgt_l0_hi
    msr     ttbr1_el1, x0
    mov     x0, #(3 << 20)          /* CPACR_EL1.FPEN: no FP/SIMD traps */
    msr     cpacr_el1, x0
    isb
    tlbi    vmalle1
    dsb     nsh
    ic      iallu
    dsb     nsh
    isb
    ldr     x0, =SCTLR_VALUE
    msr     sctlr_el1, x0
    isb
    ret

halt:
    wfe
    b       halt

    .ltorg

/* From here on we run at the link address. */
    .text
high_entry:
    adrp    x0, vectors
    add     x0, x0, :lo12:vectors
    msr     vbar_el1, x0
    adrp    x0, boot_stack_top
    add     x0, x0, :lo12:boot_stack_top
    mov     sp, x0
    isb

    /* No lower-half mappings from now on: a physical pointer must fault. */
    mrs     x0, tcr_el1
    orr     x0, x0, #TCR_EPD0
    msr     tcr_el1, x0
    isb
    tlbi    vmalle1
    dsb     nsh
    isb

    adrp    x0, __bss_start
    add     x0, x0, :lo12:__bss_start
    adrp    x1, __bss_end
    add     x1, x1, :lo12:__bss_end
1:  cmp     x0, x1
    b.hs    2f
    stp     xzr, xzr, [x0], #16
    b       1b

2:  msr     daifclr, #4             /* report SErrors; IRQs stay masked */
    mov     x0, x19
    mov     x1, x20
    mov     x2, x21
    bl      kernel_start
3:  wfi
    b       3b

    .section .pgtables, "aw", %nobits
    .balign 4096
    .globl  pgt_l1_low
pgt_l0_hi:      .space 4096
pgt_l1_low:     .space 4096
pgt_l1_high:    .space 4096
pgt_l1_kernel:  .space 4096
pgt_l2_kernel:  .space 4096
pgt_l0_id:      .space 4096
pgt_l1_id:      .space 4096
