/*
 * The 256 IDT entry stubs, 16 bytes apart from idt_stubs (trap.c points
 * the IDT at idt_stubs + 16 * vector). Each pushes a zero where the CPU
 * pushed no error code, then its vector, and joins one of two paths:
 *
 * - an interrupt (vector >= 32), on the interrupted stack (IST 0): the
 *   caller-saved registers are saved, x86_interrupt(vector) runs with
 *   interrupts off (interrupt gates clear IF), and iretq returns;
 * - an exception (vector < 32), on the panic stack (IST 1, trap.c's TSS):
 *   always a bug in this kernel. Every register goes to a frame on that
 *   stack (struct trap_frame in trap.c) and exception_panic reports it.
 *
 * In 64-bit mode the CPU aligns the stack to 16 bytes before it pushes its
 * five words; with the error code, the vector and nine registers the stack
 * is 16-byte aligned again at the call.
 */
#include "layout.h"

/* Exceptions that push an error code. */
#define HAS_ERROR(v) ((v) == 8 || ((v) >= 10 && (v) <= 14) || (v) == 17 || \
                      (v) == 21 || (v) == 29 || (v) == 30)

    .text
    .balign 16
    .globl  idt_stubs
idt_stubs:
    .set    vec, 0
    .rept   256
    .balign 16
    .if     !HAS_ERROR(vec)
    pushq   $0
    .endif
    pushq   $vec
    jmp     stub_common
    .set    vec, vec + 1
    .endr

stub_common:
    cmpq    $32, (%rsp)
    jb      exception
    pushq   %rax
    pushq   %rcx
    pushq   %rdx
    pushq   %rsi
    pushq   %rdi
    pushq   %r8
    pushq   %r9
    pushq   %r10
    pushq   %r11
    movq    72(%rsp), %rdi          /* the vector */
    cld
    call    x86_interrupt
    popq    %r11
    popq    %r10
    popq    %r9
    popq    %r8
    popq    %rdi
    popq    %rsi
    popq    %rdx
    popq    %rcx
    popq    %rax
    addq    $16, %rsp               /* vector, error code */
    iretq

/*
 * Frame (struct trap_frame): r15 .. rax (15 registers), then what is
 * already on the stack: vector, error code, rip, cs, rflags, rsp, ss.
 */
exception:
    pushq   %rax
    pushq   %rcx
    pushq   %rdx
    pushq   %rbx
    pushq   %rbp
    pushq   %rsi
    pushq   %rdi
    pushq   %r8
    pushq   %r9
    pushq   %r10
    pushq   %r11
    pushq   %r12
    pushq   %r13
    pushq   %r14
    pushq   %r15
    movq    %rsp, %rdi
    andq    $-16, %rsp
    xorl    %ebp, %ebp
    cld
    call    exception_panic
1:  cli
    hlt
    jmp     1b
