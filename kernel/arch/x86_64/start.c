/*
 * C entry on x86_64, called by boot.S in long mode at the high address
 * with the PVH start_info's physical address: the neutral first steps
 * (kernel/boot.c, with COM1 as the console), the exception table, the
 * command line, RAM from the start_info's memory map, ACPI, the clock, then
 * the neutral last steps (vmap, the DMA pool) and kmain. There is no
 * device tree on x86: kernel_fdt() is NULL, and devices are found through
 * ACPI (arch/x86_64/acpi.c, platform.c).
 */
#include "internal.h"
#include "x86.h"

#define START_INFO_MAGIC 0x336ec578u
/* struct hvm_start_info (Xen's PVH ABI), the fields used here. */
#define SI_MAGIC 0
#define SI_CMDLINE 24
#define SI_RSDP 32
#define SI_MEMMAP 40
#define SI_MEMMAP_ENTRIES 48
/* A memory map entry: address, size, type (1: RAM), reserved. */
#define MEMMAP_ENTRY_SIZE 24
#define MEMMAP_RAM 1
#define MEMMAP_MAX 128

#define COM1 0x3f8
#define CMDLINE_MAX 1024

static char cmdline[CMDLINE_MAX];

static uint32_t rd32(const uint8_t *p, unsigned off)
{
    uint32_t v;
    memcpy(&v, p + off, sizeof v);
    return v;
}

static uint64_t rd64(const uint8_t *p, unsigned off)
{
    uint64_t v;
    memcpy(&v, p + off, sizeof v);
    return v;
}

/* The loader's command line, copied (its page is not ours to keep). */
static void read_cmdline(uint64_t phys)
{
    const char *s = phys ? phys_to_virt(phys) : NULL;
    size_t n = 0;

    if (!s)
        return;
    while (n < CMDLINE_MAX - 1 && s[n])
        n++;
    memcpy(cmdline, s, n);
    cmdline[n] = '\0';
    boot_set_bootargs(cmdline);
}

/* RAM: the memory map's RAM entry holding the image. */
static void read_memmap(uint64_t phys, uint32_t entries)
{
    const uint8_t *map = phys ? phys_to_virt(phys) : NULL;

    if (!map || entries == 0 || entries > MEMMAP_MAX) {
        kprintf("levitate: warning: no memory map from the loader (%u entries)\n", entries);
        return;
    }
    for (uint32_t i = 0; i < entries; i++) {
        const uint8_t *e = map + i * MEMMAP_ENTRY_SIZE;
        uint64_t addr = rd64(e, 0), size = rd64(e, 8);

        if (rd32(e, 16) == MEMMAP_RAM && addr <= KERNEL_LOAD_PHYS &&
            KERNEL_LOAD_PHYS - addr < size) {
            boot_set_memory(addr < KERNEL_LOAD_PHYS ? KERNEL_LOAD_PHYS : addr, addr + size);
            return;
        }
    }
    kprintf("levitate: warning: no RAM at the image in the memory map\n");
}

void kernel_start(uint32_t start_info_phys)
{
    boot_begin(KERNEL_LOAD_PHYS, COM1); /* the clock is uncalibrated until timer_init */
    trap_init();

    const uint8_t *si = phys_to_virt(start_info_phys);

    if (si && rd32(si, SI_MAGIC) == START_INFO_MAGIC) {
        read_cmdline(rd64(si, SI_CMDLINE));
        read_memmap(rd64(si, SI_MEMMAP), rd32(si, SI_MEMMAP_ENTRIES));
        acpi_init(rd64(si, SI_RSDP));
    } else {
        kprintf("levitate: warning: no PVH start_info at 0x%x\n", start_info_phys);
        acpi_init(0);
    }
    timer_init();
    boot_run();
    for (;;)
        hlt();
}
