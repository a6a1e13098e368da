/*
 * Entry of the riscv64 test kernel. OpenSBI loads the flat image at
 * 0x80200000 and enters it at offset 0 in S-mode with a0 = hart id and
 * a1 = the DTB's physical address, translation off and interrupts off.
 * From there: build the Sv39 tables, switch translation on, jump to the
 * high link address, install the trap vector and call
 * kernel_start(dtb_phys, load_phys, hart) in C.
 *
 * The image is linked at KERNEL_VBASE but runs from wherever it was loaded
 * until the jump, so everything before high_entry is PC-relative (lla,
 * call), which also holds for C compiled -mcmodel=medany; nothing in C runs
 * before the jump.
 *
 * Traps (trap_entry): an interrupt is handled on the stack it arrived on
 * (trap_interrupt in trap.c, with interrupts masked by the hardware); any
 * exception is a bug in this kernel, saved whole to a static frame and
 * reported from a panic stack by exception_panic.
 */
#include "layout.h"

    .section .text.head, "ax"
    .globl _start
_start:
    csrw    sie, zero
    csrci   sstatus, 2              /* SIE: masked until irq_init */
    mv      s0, a0                  /* hart id */
    mv      s1, a1                  /* DTB physical address */
    lla     s2, _start              /* physical load address */
    call    clear_page_tables
    call    build_page_tables
    call    enable_mmu
    lla     t0, .Lhigh_entry_va
    ld      t0, 0(t0)
    jr      t0

    .balign 8
.Lhigh_entry_va:
    .dword  high_entry              /* the link (virtual) address */

clear_page_tables:
    lla     t0, __pgtables_start
    lla     t1, __pgtables_end
1:  sd      zero, 0(t0)
    addi    t0, t0, 8
    bltu    t0, t1, 1b
    ret

/* t0 = PTE of physical address t1 with flags t2 (PTE_OF(t1) | t2). */
.macro pte_of dst, pa, flags
    srli    \dst, \pa, PAGE_SHIFT
    slli    \dst, \dst, PTE_PPN_SHIFT
    or      \dst, \dst, \flags
.endm

/*
 * s2 = physical load address. Tables (in .pgtables, page aligned):
 *   pgt_root         root[256 + i]: PA i GiB, for PA < LINEAR_END (1 GiB pages)
 *                    root[510] -> pgt_kernel (the image, 2 MiB pages)
 *                    root[load >> 30]: the GiB around the load address mapped
 *                    to itself, only until high_entry removes it
 *   pgt_kernel       the image from its load address
 */
build_page_tables:
    lla     a0, pgt_root
    li      a2, PTE_DATA
    li      t3, 0                   /* linear map: i GiB */
    li      t4, (LINEAR_END >> 30)
    li      t5, (ROOT_LINEAR * 8)
    add     t5, a0, t5
1:  slli    t1, t3, 30
    pte_of  t0, t1, a2
    sd      t0, 0(t5)
    addi    t5, t5, 8
    addi    t3, t3, 1
    bltu    t3, t4, 1b

    lla     a1, pgt_kernel          /* root[510] -> pgt_kernel */
    li      a3, PTE_TABLE
    pte_of  t0, a1, a3
    li      t1, (ROOT_KERNEL * 8)
    add     t1, a0, t1
    sd      t0, 0(t1)

    lla     t3, _end                /* image size in 2 MiB pages, rounded up */
    sub     t3, t3, s2
    li      t1, (BLOCK_2M - 1)
    add     t3, t3, t1
    srli    t3, t3, 21
    li      a3, PTE_KERNEL
    mv      t5, a1
    mv      t1, s2
2:  pte_of  t0, t1, a3
    sd      t0, 0(t5)
    addi    t5, t5, 8
    li      t2, BLOCK_2M
    add     t1, t1, t2
    addi    t3, t3, -1
    bnez    t3, 2b

    srli    t1, s2, 30              /* identity: the GiB holding the image */
    slli    t2, t1, 3
    add     t2, a0, t2
    slli    t1, t1, 30
    pte_of  t0, t1, a3
    sd      t0, 0(t2)
    ret

enable_mmu:
    lla     t0, pgt_root
    srli    t0, t0, PAGE_SHIFT
    li      t1, SATP_SV39
    or      t0, t0, t1
    sfence.vma
    csrw    satp, t0
    sfence.vma
    ret

/* From here on we run at the link address. */
    .text
high_entry:
    lla     sp, boot_stack_top
    lla     t0, trap_entry
    csrw    stvec, t0
    csrw    sscratch, zero

    /* No lower-half mapping from now on: a physical pointer must fault. */
    lla     t0, pgt_root
    srli    t1, s2, 30
    slli    t1, t1, 3
    add     t0, t0, t1
    sd      zero, 0(t0)
    sfence.vma

    lla     t0, __bss_start
    lla     t1, __bss_end
1:  bgeu    t0, t1, 2f
    sd      zero, 0(t0)
    addi    t0, t0, 8
    j       1b

2:  mv      a0, s1
    mv      a1, s2
    mv      a2, s0
    call    kernel_start
3:  wfi
    j       3b

/*
 * The trap vector (direct mode: every trap comes here). sscratch holds
 * nothing between traps; it lends one register while scause is looked at.
 * Interrupt frame, 144 bytes on the interrupted stack: ra 0, t0-t2 8..24,
 * a0-a7 32..88, t3-t6 96..120, sepc 128, sstatus 136.
 */
    .balign 4
    .globl  trap_entry
trap_entry:
    csrrw   t0, sscratch, t0
    csrr    t0, scause
    bgez    t0, fatal               /* bit 63 clear: an exception */
    csrrw   t0, sscratch, t0        /* t0 back, sscratch empty again */
    addi    sp, sp, -144
    sd      ra, 0(sp)
    sd      t0, 8(sp)
    sd      t1, 16(sp)
    sd      t2, 24(sp)
    sd      a0, 32(sp)
    sd      a1, 40(sp)
    sd      a2, 48(sp)
    sd      a3, 56(sp)
    sd      a4, 64(sp)
    sd      a5, 72(sp)
    sd      a6, 80(sp)
    sd      a7, 88(sp)
    sd      t3, 96(sp)
    sd      t4, 104(sp)
    sd      t5, 112(sp)
    sd      t6, 120(sp)
    csrr    t0, sepc
    sd      t0, 128(sp)
    csrr    t0, sstatus
    sd      t0, 136(sp)
    csrr    a0, scause
    call    trap_interrupt
    ld      t0, 136(sp)
    csrw    sstatus, t0
    ld      t0, 128(sp)
    csrw    sepc, t0
    ld      ra, 0(sp)
    ld      t0, 8(sp)
    ld      t1, 16(sp)
    ld      t2, 24(sp)
    ld      a0, 32(sp)
    ld      a1, 40(sp)
    ld      a2, 48(sp)
    ld      a3, 56(sp)
    ld      a4, 64(sp)
    ld      a5, 72(sp)
    ld      a6, 80(sp)
    ld      a7, 88(sp)
    ld      t3, 96(sp)
    ld      t4, 104(sp)
    ld      t5, 112(sp)
    ld      t6, 120(sp)
    addi    sp, sp, 144
    sret

/*
 * An exception: the interrupted t0 is in sscratch. Every register goes to
 * trap_frame (x0..x31 at 8 * n, then sepc, sstatus, scause, stval: struct
 * trap_frame in trap.c), then exception_panic(frame) on the panic stack.
 */
fatal:
    lla     t0, trap_frame
    sd      x1, 8(t0)
    sd      x2, 16(t0)
    sd      x3, 24(t0)
    sd      x4, 32(t0)
    sd      x6, 48(t0)
    sd      x7, 56(t0)
    sd      x8, 64(t0)
    sd      x9, 72(t0)
    sd      x10, 80(t0)
    sd      x11, 88(t0)
    sd      x12, 96(t0)
    sd      x13, 104(t0)
    sd      x14, 112(t0)
    sd      x15, 120(t0)
    sd      x16, 128(t0)
    sd      x17, 136(t0)
    sd      x18, 144(t0)
    sd      x19, 152(t0)
    sd      x20, 160(t0)
    sd      x21, 168(t0)
    sd      x22, 176(t0)
    sd      x23, 184(t0)
    sd      x24, 192(t0)
    sd      x25, 200(t0)
    sd      x26, 208(t0)
    sd      x27, 216(t0)
    sd      x28, 224(t0)
    sd      x29, 232(t0)
    sd      x30, 240(t0)
    sd      x31, 248(t0)
    csrrw   t1, sscratch, zero      /* the interrupted t0 */
    sd      t1, 40(t0)
    csrr    t1, sepc
    sd      t1, 256(t0)
    csrr    t1, sstatus
    sd      t1, 264(t0)
    csrr    t1, scause
    sd      t1, 272(t0)
    csrr    t1, stval
    sd      t1, 280(t0)
    lla     sp, panic_stack_top
    mv      a0, t0
    li      ra, 0                   /* end of the return-address chain */
    call    exception_panic
4:  wfi
    j       4b

    .section .pgtables, "aw", %nobits
    .balign 4096
    .globl  pgt_root
pgt_root:       .space 4096
pgt_kernel:     .space 4096
