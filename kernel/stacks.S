/*
 * The boot stack, which kernel_start and everything it calls run on (a
 * canary at its bottom: boot.c), and above it the panic stack that an
 * exception switches to (aarch64 vectors.S, riscv64 boot.S's trap entry,
 * x86_64 the TSS's IST 1), so that a fault with a bad stack is still
 * reported. Sizes: layout.h. Both are in .bss, which boot.S clears before
 * it calls kernel_start.
 */
#include "layout.h"

    .section .bss.stack, "aw", %nobits
    .balign 16
    .globl  boot_stack_bottom
boot_stack_bottom:
    .space  BOOT_STACK_SIZE
    .globl  boot_stack_top
boot_stack_top:
    .space  PANIC_STACK_SIZE
    .globl  panic_stack_top
panic_stack_top:
