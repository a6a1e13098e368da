/*
 * What every architecture's layout.h (arch/<arch>/layout.h, which
 * includes this) has in common: 4 KiB pages, tables of 512 8-byte
 * entries, 2 MiB and 1 GiB blocks, the size of the vmap window and of the
 * stacks. Shared by assembly and C (so only #defines here).
 */
#ifndef KERNEL_LAYOUT_COMMON_H
#define KERNEL_LAYOUT_COMMON_H

#ifdef __ASSEMBLER__
#define U64(x) x
#else
#define U64(x) x##ULL
#endif

#define PAGE_SHIFT 12
#define PAGE_SIZE (U64(1) << PAGE_SHIFT)
#define BLOCK_2M (U64(1) << 21)
#define BLOCK_1G (U64(1) << 30)

/* Entries per translation table (4 KiB of 8-byte entries). */
#define PT_ENTRIES 512

/* The vmap window's size (its base is the architecture's: VMAP_BASE). */
#define VMAP_SIZE (U64(64) << 20)

/* Size of the boot stack and of the panic stack an exception switches to
 * (kernel/stacks.S). */
#define BOOT_STACK_SIZE (128 * 1024)
#define PANIC_STACK_SIZE (16 * 1024)

#endif
