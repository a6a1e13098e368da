/*
 * Memory layout and page-table bits of the x86_64 test kernel, shared by
 * boot.S and C (so only #defines here).
 *
 * 4-level paging, 2 MiB pages except in the vmap window. One PML4, built
 * by boot.S before long mode is entered:
 *
 *   0xffff800000000000 + PA   linear map of physical memory (PML4 entry
 *                             256), 2 MiB pages, PA [0, LINEAR_END):
 *       PA [0, 2 GiB)             RAM, the BIOS area and firmware tables
 *                                 (write-back)
 *       PA [2 GiB, 64 GiB)        devices: q35's ECAM (0xb0000000), the PCI
 *                                 holes, IOAPIC, HPET, local APIC,
 *                                 microvm's virtio-mmio (0xfeb00000), the
 *                                 64-bit PCI window (uncached: PCD|PWT)
 *   0xffffc00000000000        the vmap window (VMAP_BASE, VMAP_SIZE), 4 KiB
 *                             pages: arch/x86_64/vmap.c (PML4 entry 384)
 *   0xffffffff80000000 + PA   the kernel image (PML4 511, PDPT 510): the
 *                             2 MiB pages from PA 0 up to the image's end.
 *                             The ELF is linked there and loaded (PVH) at
 *                             its physical addresses, from 1 MiB.
 *
 * The lower half holds an identity map of the first 4 GiB only while long
 * mode is being entered; boot.S removes it, so a physical address used as
 * a pointer faults.
 */
#ifndef KERNEL_X86_64_LAYOUT_H
#define KERNEL_X86_64_LAYOUT_H

#include "layout_common.h" /* pages, tables, stacks: the same everywhere */

#define KERNEL_VBASE U64(0xffffffff80000000)
#define KERNEL_LOAD_PHYS U64(0x100000)
#define LINEAR_BASE U64(0xffff800000000000)

/* PML4 entries of the high regions. */
#define PML4_LINEAR 256
#define PML4_VMAP 384
#define PML4_KERNEL 511
#define PDPT_KERNEL 510

/* vmap: PML4 entry 384 -> one PDPT -> one PD -> VMAP_SIZE / 2 MiB page tables. */
#define VMAP_BASE U64(0xffffc00000000000)

/* The physical ranges the linear map covers, by kind. */
#define RAM_WINDOW_START KERNEL_LOAD_PHYS /* RAM the kernel uses: [1 MiB, 2 GiB) */
#define RAM_WINDOW_END (U64(2) << 30)
#define RAM_FALLBACK_START KERNEL_LOAD_PHYS /* if the loader gives no memory map */
#define DEVICE_START (U64(2) << 30)
#define LINEAR_END (U64(64) << 30)

/* Page-table entry bits. */
#define PTE_P (U64(1) << 0)
#define PTE_W (U64(1) << 1)
#define PTE_PWT (U64(1) << 3)
#define PTE_PCD (U64(1) << 4)
#define PTE_PS (U64(1) << 7)  /* a 2 MiB page in a PD */
#define PTE_G (U64(1) << 8)
#define PTE_ADDR_MASK U64(0x000ffffffffff000)
#define PTE_TABLE (PTE_P | PTE_W)
#define PTE_DATA (PTE_P | PTE_W)
#define PTE_UNCACHED (PTE_PCD | PTE_PWT)

/* GDT selectors (boot.S's gdt; the TSS is filled in by start.c). */
#define SEL_CODE 0x08
#define SEL_DATA 0x10
#define SEL_TSS 0x18
#define GDT_ENTRIES 5

/* IDT vectors: 0-31 exceptions; 0x20 + n the kernel's interrupt line n
 * (IOAPIC GSI n for n < MSI_FIRST_LINE, then message-signalled lines); the
 * local APIC's own timer and spurious vectors at the top. */
#define VEC_LINE0 0x20
#define MSI_FIRST_LINE 64
#define VEC_LAST_LINE 0xef
#define VEC_TIMER 0xf0
#define VEC_SPURIOUS 0xff

#endif
