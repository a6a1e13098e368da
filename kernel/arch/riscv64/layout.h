/*
 * Memory layout and page-table bits of the riscv64 test kernel, shared by
 * boot.S and C (so only #defines here).
 *
 * Sv39 (three levels: 1 GiB, 2 MiB, 4 KiB; the upper half of the address
 * space is 0xffffffc000000000 up). One root table, built by boot.S:
 *
 *   0xffffffc000000000 + PA   linear map of physical memory, 1 GiB pages
 *                             (root entries 256..319):
 *       PA [0, 2 GiB)             devices (CLINT, PLIC, UART, virtio-mmio,
 *                                 PCIe ECAM, I/O and 32-bit windows)
 *       PA [2 GiB, 16 GiB)        possible RAM; pages that hold none are
 *                                 removed once the DTB is read
 *       PA [16 GiB, 64 GiB)       devices (the PCIe 64-bit window, 16 GiB up)
 *   0xffffffe000000000        the vmap window (VMAP_BASE, VMAP_SIZE), 4 KiB
 *                             pages: arch/riscv64/vmap.c (root entry 384)
 *   0xffffffff80000000        the kernel image in 2 MiB pages, at whatever
 *                             physical address it was loaded (root entry 510)
 *
 * The lower half holds one identity 1 GiB page only while the MMU is being
 * switched on; boot.S removes it, so a physical address used as a pointer
 * faults. Plain Sv39 has no memory types: QEMU's physical memory attributes
 * make device ranges uncached, so Device and RAM pages differ only in what
 * ioremap agrees to hand out.
 */
#ifndef KERNEL_RISCV64_LAYOUT_H
#define KERNEL_RISCV64_LAYOUT_H

#include "layout_common.h" /* pages, tables, stacks: the same everywhere */

#define KERNEL_VBASE U64(0xffffffff80000000)
#define LINEAR_BASE U64(0xffffffc000000000)

/* Root entries of the three high regions. */
#define ROOT_LINEAR 256
#define ROOT_VMAP 384
#define ROOT_KERNEL 510

/* vmap: root entry 384 -> one middle table -> VMAP_SIZE / 2 MiB leaf tables. */
#define VMAP_BASE U64(0xffffffe000000000)

/* The physical ranges the linear map covers, by kind. */
#define DEVICE_LOW_END (U64(2) << 30)       /* [0, 2 GiB) */
#define RAM_WINDOW_START (U64(2) << 30)     /* RAM may be in [2, 16 GiB) */
#define RAM_WINDOW_END (U64(16) << 30)
#define RAM_FALLBACK_START (U64(2) << 30)   /* virt's RAM, if no DTB says */
#define DEVICE_HIGH_START (U64(16) << 30)   /* [16, 64 GiB) */
#define DEVICE_HIGH_END (U64(64) << 30)
#define LINEAR_END DEVICE_HIGH_END

/* Page-table entry bits (privileged spec, Sv39). */
#define PTE_V (U64(1) << 0)
#define PTE_R (U64(1) << 1)
#define PTE_W (U64(1) << 2)
#define PTE_X (U64(1) << 3)
#define PTE_G (U64(1) << 5)
#define PTE_A (U64(1) << 6)
#define PTE_D (U64(1) << 7)
#define PTE_PPN_SHIFT 10
/* A table pointer is V alone; a leaf has R, W or X. A and D are set up
 * front: nothing here wants the hardware to track them. */
#define PTE_TABLE PTE_V
#define PTE_DATA (PTE_V | PTE_R | PTE_W | PTE_G | PTE_A | PTE_D)
#define PTE_KERNEL (PTE_DATA | PTE_X)
/* Physical address <-> the PPN field. */
#define PTE_OF(pa) (((pa) >> PAGE_SHIFT) << PTE_PPN_SHIFT)
#define PTE_PA(pte) (((pte) >> PTE_PPN_SHIFT) << PAGE_SHIFT)
#define PTE_PPN_MASK (((U64(1) << 44) - 1) << PTE_PPN_SHIFT)

/* satp: Sv39 mode and the root table's page number. */
#define SATP_SV39 (U64(8) << 60)

#endif
