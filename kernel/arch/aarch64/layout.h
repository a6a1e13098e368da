/*
 * Memory layout and page-table bits of the aarch64 test kernel, shared by
 * boot.S and C (so only #defines here).
 *
 * Virtual layout (TTBR1, 48-bit VA, 4 KiB granule):
 *
 *   0xffff000000000000 + PA   linear map of physical memory:
 *       PA [0, 1 GiB)             Device-nGnRE (UART, GIC, virtio-mmio, PCIe)
 *       PA [1 GiB, 256 GiB)       Normal write-back, 1 GiB blocks; blocks that
 *                                 hold no RAM are unmapped once the DTB is read
 *       PA [256 GiB, 257 GiB)     Device (PCIe high ECAM at 0x4010000000)
 *       PA [512 GiB, 1 TiB)       Device (PCIe high MMIO window 0x8000000000)
 *   0xffff800000000000        the vmap window (VMAP_BASE, VMAP_SIZE): scattered
 *                             RAM pages at contiguous addresses, 4 KiB pages,
 *                             Normal write-back; see arch/aarch64/vmap.c
 *   0xffffffffc0000000        the kernel image, 2 MiB blocks, at whatever
 *                             physical address QEMU loaded it
 *
 * TTBR0 (the lower half) only exists while the MMU is being switched on; after
 * that its walks are disabled, so a physical address used as a pointer faults.
 */
#ifndef KERNEL_AARCH64_LAYOUT_H
#define KERNEL_AARCH64_LAYOUT_H

#include "layout_common.h" /* pages, tables, stacks: the same everywhere */

#define KERNEL_VBASE U64(0xffffffffc0000000)
#define LINEAR_BASE U64(0xffff000000000000)

/*
 * The vmap window: L0 entry 256 of TTBR1 (the linear map uses entries 0 and
 * 1, i.e. PA < 1 TiB; the image entry 511), so it collides with nothing.
 * vmap_init hooks one L1, one L2 and VMAP_SIZE / 2 MiB L3 tables (static,
 * in .bss) in there; only the L3 entries change afterwards.
 */
#define VMAP_BASE U64(0xffff800000000000)

/* The physical ranges the linear map covers, by attribute. */
#define DEVICE_LOW_END (U64(1) << 30)       /* [0, 1 GiB) */
#define RAM_WINDOW_START (U64(1) << 30)     /* RAM may be in [1, 256 GiB) */
#define RAM_WINDOW_END (U64(256) << 30)
#define RAM_FALLBACK_START (U64(1) << 30)   /* virt's RAM, if no DTB says */
#define DEVICE_ECAM_START (U64(256) << 30)  /* [256 GiB, 257 GiB) */
#define DEVICE_ECAM_END (U64(257) << 30)
#define DEVICE_HIGH_START (U64(512) << 30)  /* [512 GiB, 1 TiB) */
#define DEVICE_HIGH_END (U64(1024) << 30)
#define LINEAR_END DEVICE_HIGH_END

/* MAIR_EL1 attribute indexes and their encodings. */
#define MT_DEVICE_nGnRE 0 /* 0x04 */
#define MT_NORMAL 1       /* 0xff: inner/outer write-back, RW-allocate */
#define MT_NORMAL_NC 2    /* 0x44: inner/outer non-cacheable */
#define MAIR_VALUE U64(0x44ff04)

/* Descriptor bits (VMSAv8-64, stage 1). */
#define PTE_BLOCK U64(1)
#define PTE_TABLE U64(3)
#define PTE_PAGE U64(3) /* a 4 KiB page, at level 3 */
#define PTE_ATTR(i) (U64(i) << 2)
#define PTE_SH_INNER (U64(3) << 8)
#define PTE_AF (U64(1) << 10)
#define PTE_PXN (U64(1) << 53)
#define PTE_UXN (U64(1) << 54)

#define PTE_DEVICE (PTE_BLOCK | PTE_AF | PTE_ATTR(MT_DEVICE_nGnRE) | PTE_PXN | PTE_UXN)
#define PTE_RAM (PTE_BLOCK | PTE_AF | PTE_SH_INNER | PTE_ATTR(MT_NORMAL) | PTE_PXN | PTE_UXN)
#define PTE_VMAP (PTE_PAGE | PTE_AF | PTE_SH_INNER | PTE_ATTR(MT_NORMAL) | PTE_PXN | PTE_UXN)
/* The output address of a block, page or table descriptor (48-bit PA). */
#define PTE_ADDR_MASK U64(0x0000fffffffff000)
#define PTE_KERNEL (PTE_BLOCK | PTE_AF | PTE_SH_INNER | PTE_ATTR(MT_NORMAL) | PTE_UXN)

/*
 * TCR_EL1: 48-bit VA in both halves, 4 KiB granules, walks cacheable
 * write-back and inner shareable. IPS is filled in at boot from
 * ID_AA64MMFR0_EL1.PARange.
 */
#define TCR_T0SZ(n) (U64(n) << 0)
#define TCR_EPD0 (U64(1) << 7)
#define TCR_IRGN0_WBWA (U64(1) << 8)
#define TCR_ORGN0_WBWA (U64(1) << 10)
#define TCR_SH0_INNER (U64(3) << 12)
#define TCR_TG0_4K (U64(0) << 14)
#define TCR_T1SZ(n) (U64(n) << 16)
#define TCR_IRGN1_WBWA (U64(1) << 24)
#define TCR_ORGN1_WBWA (U64(1) << 26)
#define TCR_SH1_INNER (U64(3) << 28)
#define TCR_TG1_4K (U64(2) << 30)
#define TCR_IPS_SHIFT 32
#define TCR_VALUE                                                          \
    (TCR_T0SZ(16) | TCR_IRGN0_WBWA | TCR_ORGN0_WBWA | TCR_SH0_INNER |      \
     TCR_TG0_4K | TCR_T1SZ(16) | TCR_IRGN1_WBWA | TCR_ORGN1_WBWA |         \
     TCR_SH1_INNER | TCR_TG1_4K)

/* SCTLR_EL1: RES1 bits, then MMU + caches + SP alignment check. */
#define SCTLR_RES1 U64(0x30d00800)
#define SCTLR_M (U64(1) << 0)
#define SCTLR_C (U64(1) << 2)
#define SCTLR_SA (U64(1) << 3)
#define SCTLR_I (U64(1) << 12)
#define SCTLR_VALUE (SCTLR_RES1 | SCTLR_M | SCTLR_C | SCTLR_SA | SCTLR_I)

#endif
