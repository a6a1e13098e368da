/*
 * Exception vectors. This kernel takes IRQs (at EL1, on the stack it runs
 * on: irq_entry) and nothing else: no system calls, so every other
 * exception is a bug. Each such entry saves the registers on a dedicated
 * panic stack (the faulting stack may be the problem) and calls
 * exception_panic(kind, frame), which reports and powers off.
 *
 * Frame layout (struct exception_frame in exceptions.c):
 *   x0..x30 [0, 248), sp 248, elr 256, spsr 264, esr 272, far 280.
 */
#include "layout.h"

#define FRAME_SIZE 288

    /* TPIDR_EL1 and TPIDRRO_EL0 are unused by this kernel: scratch here. */
    .macro ventry kind
    .balign 0x80
    msr     tpidr_el1, x0
    mov     x0, sp
    msr     tpidrro_el0, x0
    adrp    x0, panic_stack_top
    add     x0, x0, :lo12:panic_stack_top
    mov     sp, x0
    mov     x0, #\kind
    b       exception_entry
    .endm

    /* An IRQ: handled on the interrupted stack, then back. */
    .macro virq
    .balign 0x80
    b       irq_entry
    .endm

    .section .text.vectors, "ax"
    .balign 2048
    .globl  vectors
vectors:
    ventry  0       /* current EL, SP_EL0: sync */
    virq            /* IRQ */
    ventry  2       /* FIQ */
    ventry  3       /* SError */
    ventry  4       /* current EL, SP_ELx: sync */
    virq
    ventry  6
    ventry  7
    ventry  8       /* lower EL, AArch64 */
    ventry  9
    ventry  10
    ventry  11
    ventry  12      /* lower EL, AArch32 */
    ventry  13
    ventry  14
    ventry  15

/*
 * The registers a C function may change (x0..x18, x29, x30) and the return
 * state, saved on the current stack in 192 bytes (x0..x18 at 0, x29 152,
 * x30 160, elr 168, spsr 176); then the architecture's dispatch (gic.c),
 * with IRQs still masked.
 */
irq_entry:
    sub     sp, sp, #192
    stp     x0, x1, [sp, #0]
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x29, [sp, #144]
    mrs     x0, elr_el1
    mrs     x1, spsr_el1
    stp     x30, x0, [sp, #160]
    str     x1, [sp, #176]
    bl      irq_dispatch
    ldr     x1, [sp, #176]
    ldp     x30, x0, [sp, #160]
    msr     elr_el1, x0
    msr     spsr_el1, x1
    ldp     x18, x29, [sp, #144]
    ldp     x16, x17, [sp, #128]
    ldp     x14, x15, [sp, #112]
    ldp     x12, x13, [sp, #96]
    ldp     x10, x11, [sp, #80]
    ldp     x8, x9, [sp, #64]
    ldp     x6, x7, [sp, #48]
    ldp     x4, x5, [sp, #32]
    ldp     x2, x3, [sp, #16]
    ldp     x0, x1, [sp, #0]
    add     sp, sp, #192
    eret

exception_entry:
    sub     sp, sp, #FRAME_SIZE
    stp     x1, x2, [sp, #(1 * 8)]
    stp     x3, x4, [sp, #(3 * 8)]
    stp     x5, x6, [sp, #(5 * 8)]
    stp     x7, x8, [sp, #(7 * 8)]
    stp     x9, x10, [sp, #(9 * 8)]
    stp     x11, x12, [sp, #(11 * 8)]
    stp     x13, x14, [sp, #(13 * 8)]
    stp     x15, x16, [sp, #(15 * 8)]
    stp     x17, x18, [sp, #(17 * 8)]
    stp     x19, x20, [sp, #(19 * 8)]
    stp     x21, x22, [sp, #(21 * 8)]
    stp     x23, x24, [sp, #(23 * 8)]
    stp     x25, x26, [sp, #(25 * 8)]
    stp     x27, x28, [sp, #(27 * 8)]
    stp     x29, x30, [sp, #(29 * 8)]
    mrs     x1, tpidr_el1           /* the interrupted x0 */
    str     x1, [sp, #0]
    mrs     x1, tpidrro_el0         /* the interrupted sp */
    str     x1, [sp, #(31 * 8)]
    mrs     x1, elr_el1
    mrs     x2, spsr_el1
    stp     x1, x2, [sp, #(32 * 8)]
    mrs     x1, esr_el1
    mrs     x2, far_el1
    stp     x1, x2, [sp, #(34 * 8)]
    mov     x1, sp
    mov     x29, #0                 /* end of the frame-pointer chain */
    bl      exception_panic
1:  wfi
    b       1b
