/*
 * Entry of the x86_64 test kernel, by PVH: QEMU's -kernel loads this ELF at
 * its physical addresses (from 1 MiB) and, seeing the Xen ELF note below
 * (XEN_ELFNOTE_PHYS32_ENTRY), enters pvh_entry in 32-bit protected mode
 * with flat segments, paging off and EBX = the physical address of the
 * hvm_start_info (magic, command line, RSDP, memory map).
 *
 * From there: build the page tables (layout.h), enter long mode with the
 * lower 4 GiB identity mapped, jump to the high link address, drop the
 * identity map and call kernel_start(start_info_phys) in C.
 *
 * Everything is linked at KERNEL_VBASE + physical address, so until the
 * jump the code names memory by PHYS(symbol); 32-bit immediates of such
 * differences are resolved by the linker modulo 2^64.
 */
#include "layout.h"

#define PHYS(x) ((x) - KERNEL_VBASE)

#define CR0_PE 0x1
#define CR0_PG 0x80000000
#define CR4_PAE 0x20
#define MSR_EFER 0xc0000080
#define EFER_LME 0x100
#define PDE_2M (PTE_P | PTE_W | PTE_PS)

    .section .note.Xen, "a", @note
    .balign 4
    .long   4                       /* name size: "Xen\0" */
    .long   8                       /* descriptor size */
    .long   18                      /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz  "Xen"
    .quad   PHYS(pvh_entry)         /* QEMU reads 8 bytes */

    .section .text.boot, "ax"
    .code32
    .globl  pvh_entry
pvh_entry:
    cli
    cld
    movl    %ebx, %esi              /* start_info, kept in esi */

    /* Zero the page tables (they are NOLOAD). */
    movl    $PHYS(__pgtables_start), %edi
    movl    $PHYS(__pgtables_end), %ecx
    subl    %edi, %ecx
    shrl    $2, %ecx
    xorl    %eax, %eax
    rep stosl

    /* pd_linear: PA i * 2 MiB for i < LINEAR_END / 2 MiB; devices uncached. */
    movl    $PHYS(pd_linear), %edi
    xorl    %ecx, %ecx
1:  movl    %ecx, %eax
    shll    $21, %eax
    orl     $PDE_2M, %eax
    cmpl    $(DEVICE_START >> 21), %ecx
    jb      2f
    orl     $PTE_UNCACHED, %eax
2:  movl    %eax, (%edi)
    movl    %ecx, %eax
    shrl    $11, %eax
    movl    %eax, 4(%edi)
    addl    $8, %edi
    incl    %ecx
    cmpl    $(LINEAR_END >> 21), %ecx
    jb      1b

    /* pdpt_linear[j] -> pd_linear + j pages; pdpt_low (identity) the first four. */
    movl    $PHYS(pdpt_linear), %edi
    movl    $PHYS(pd_linear), %eax
    orl     $PTE_TABLE, %eax
    xorl    %ecx, %ecx
3:  movl    %eax, (%edi)
    cmpl    $4, %ecx
    jae     4f
    movl    %eax, PHYS(pdpt_low)(,%ecx,8)
4:  addl    $4096, %eax
    addl    $8, %edi
    incl    %ecx
    cmpl    $(LINEAR_END >> 30), %ecx
    jb      3b

    /* pd_kernel: the 2 MiB pages from PA 0 to the image's end. */
    movl    $PHYS(_end), %edx
    addl    $(BLOCK_2M - 1), %edx
    shrl    $21, %edx
    movl    $PHYS(pd_kernel), %edi
    xorl    %ecx, %ecx
5:  movl    %ecx, %eax
    shll    $21, %eax
    orl     $PDE_2M, %eax
    movl    %eax, (%edi,%ecx,8)
    incl    %ecx
    cmpl    %edx, %ecx
    jb      5b
    movl    $PHYS(pd_kernel), %eax
    orl     $PTE_TABLE, %eax
    movl    %eax, PHYS(pdpt_kernel) + 8 * PDPT_KERNEL

    movl    $PHYS(pdpt_low), %eax
    orl     $PTE_TABLE, %eax
    movl    %eax, PHYS(pml4)
    movl    $PHYS(pdpt_linear), %eax
    orl     $PTE_TABLE, %eax
    movl    %eax, PHYS(pml4) + 8 * PML4_LINEAR
    movl    $PHYS(pdpt_kernel), %eax
    orl     $PTE_TABLE, %eax
    movl    %eax, PHYS(pml4) + 8 * PML4_KERNEL

    /* Long mode: PAE, the tables, EFER.LME, paging; then a 64-bit code segment. */
    movl    %cr4, %eax
    orl     $CR4_PAE, %eax
    movl    %eax, %cr4
    movl    $PHYS(pml4), %eax
    movl    %eax, %cr3
    movl    $MSR_EFER, %ecx
    rdmsr
    orl     $EFER_LME, %eax
    wrmsr
    lgdt    PHYS(gdt_ptr32)
    movl    %cr0, %eax
    orl     $(CR0_PE | CR0_PG), %eax
    movl    %eax, %cr0
    ljmp    $SEL_CODE, $PHYS(long_low)

    .code64
long_low:
    movabsq $high_entry, %rax
    jmp     *%rax

/* From here on we run at the link address. */
    .text
high_entry:
    lgdt    gdt_ptr64(%rip)
    movl    $SEL_DATA, %eax
    movl    %eax, %ds
    movl    %eax, %es
    movl    %eax, %ss
    movl    %eax, %fs
    movl    %eax, %gs
    leaq    boot_stack_top(%rip), %rsp
    pushq   $SEL_CODE               /* reload CS from the high GDT */
    leaq    1f(%rip), %rax
    pushq   %rax
    lretq
1:
    /* No lower-half mapping from now on: a physical pointer must fault. */
    movq    $0, pml4(%rip)
    movq    %cr3, %rax
    movq    %rax, %cr3

    leaq    __bss_start(%rip), %rdi
    leaq    __bss_end(%rip), %rcx
    subq    %rdi, %rcx
    shrq    $3, %rcx
    xorl    %eax, %eax
    rep stosq

    movl    %esi, %edi              /* start_info (physical) */
    xorl    %ebp, %ebp              /* end of the frame chain */
    call    kernel_start
2:  cli
    hlt
    jmp     2b

/*
 * GDT: null, 64-bit code, data, and a 16-byte TSS descriptor that start.c
 * fills in (SEL_TSS).
 */
    .data
    .balign 16
    .globl  gdt
gdt:
    .quad   0
    .quad   0x00af9a000000ffff      /* SEL_CODE: 64-bit, present, ring 0 */
    .quad   0x00cf92000000ffff      /* SEL_DATA */
    .quad   0, 0                    /* SEL_TSS */
gdt_end:

gdt_ptr32:
    .word   gdt_end - gdt - 1
    .long   PHYS(gdt)

    .balign 8
    .word   0, 0, 0
gdt_ptr64:
    .word   gdt_end - gdt - 1
    .quad   gdt

    .section .pgtables, "aw", @nobits
    .balign 4096
    .globl  pml4
pml4:           .space 4096
pdpt_low:       .space 4096
pdpt_linear:    .space 4096
pdpt_kernel:    .space 4096
pd_kernel:      .space 4096
pd_linear:      .space 4096 * (LINEAR_END >> 30)
