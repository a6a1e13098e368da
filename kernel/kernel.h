/*
 * The test kernel's services, for kmain() and for the library's HAL.
 *
 * Single CPU, no scheduler: everything here is called from one thread of
 * execution; interrupt handlers (irq.h) only acknowledge devices and record
 * what they said; they call nothing declared here. Memory layout: see arch/<arch>/layout.h. The
 * kernel runs high (virtual != physical), so a physical address used as a
 * pointer, or a virtual address given to a device, fails at once.
 */
#ifndef KERNEL_KERNEL_H
#define KERNEL_KERNEL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "layout.h" /* the architecture's: arch/<arch>/layout.h */

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- entry points ------------------------------------------------------ */

/* The architecture's kernel_start (arch/<arch>/start.c, called by its
 * boot.S at the high address with what the loader passed) sets everything
 * below up, then calls kmain. */

/* The test or demo itself (kernel/main.c). May return: kernel_start then
 * powers off if the bootarg "poweroff" is present, else idles. */
void kmain(void);

/* ---- console and formatting (printf.c, console.c; the UART is the
 * arch's: aarch64 pl011.c, riscv64 and x86_64 uart.c, an NS16550) ------- */

/*
 * Formats: %d %i %u %x %X %p %s %c %%, with flags '-' and '0', a width
 * (number or *), a precision for %s (.N or .*), and length modifiers
 * h hh l ll z t j. %p prints 0x and 16 hex digits. A NULL %s prints "(null)".
 * ksnprintf/kvsnprintf always NUL-terminate (when size > 0) and return the
 * length the full output would have had, like C's snprintf.
 */
int kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int kvprintf(const char *fmt, va_list ap);
int ksnprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap);

/* Raw console output, to the boot log and the UART; '\n' becomes "\r\n". */
void console_putc(char c);
void console_write(const char *s, size_t len);
/* The next character received on the serial line, -1 when none waits. */
int console_getc(void);
/* A newline unless the console is at the start of a line. */
void console_fresh_line(void);
/* Use the architecture's UART at this physical address (x86_64: I/O port)
 * (called by kernel_start); kept as it was if that one cannot be reached. */
void console_init(uint64_t uart_phys);
uint64_t console_phys(void);
/* What the console has cost so far, in counter ticks (make bench): the UART
 * (every character an exit to the emulator) and the boot log with its
 * mirror (the screen's console: drawing and presenting each line). */
struct console_cost {
    uint64_t chars, uart_cycles, mirror_cycles;
};
struct console_cost console_cost(void);

/* Warnings a self-test provokes on purpose: while warnings_muted is set,
 * the address helpers count them in warnings_suppressed instead of
 * printing them (printf.c). */
extern bool warnings_muted;
extern unsigned warnings_suppressed;

/* ---- power (arch/<arch>/: aarch64 psci.c, riscv64 sbi.c, x86_64 power.c) */

/* Firmware power-off (aarch64 PSCI SYSTEM_OFF, riscv64 SBI system reset,
 * x86_64 isa-debug-exit or ACPI S5): QEMU exits. Never returns (spins if
 * that fails). */
void power_off(void) __attribute__((noreturn));

/* Print "levitate: PANIC <msg>" and power off (panic.c). */
void panic(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* ---- time (time.c; the counter is arch/<arch>/timer.c's: aarch64 the
 * generic timer, riscv64 the time CSR, x86_64 the TSC) ------------------ */

/* Monotonic nanoseconds since boot. */
uint64_t time_ns(void);
/* The raw counter (aarch64 CNTVCT_EL0, riscv64 time, x86_64 the TSC) and
 * its frequency in Hz. */
uint64_t cycles(void);
uint64_t cycles_per_second(void);
uint64_t boot_entry_cycles(void); /* the counter when the kernel's C code began */
/* Nanoseconds in `ticks` of a counter at `hz` (> 0) Hz; nothing overflows
 * on the way while hz < 18 GHz. */
uint64_t ticks_to_ns(uint64_t ticks, uint64_t hz);
/* Busy-wait at least ns nanoseconds. */
void delay_ns(uint64_t ns);

/* ---- addresses (mmu.c; the map: arch/<arch>/layout.h, mmu.c) ---------- */

/* What virt_to_phys returns for a pointer that is not mapped by the kernel. */
#define PHYS_INVALID (~0ULL)

/*
 * Physical address of a kernel pointer: the image (static data, the stack),
 * the linear map (DMA pages) or a vmap range (the exact page's address plus
 * the offset in it). PHYS_INVALID, with a warning, otherwise (an unmapped
 * address in the vmap window included).
 */
uint64_t virt_to_phys(const void *virt);
/* Linear-map pointer to physical RAM or devices; NULL if not mapped. */
void *phys_to_virt(uint64_t phys);
/*
 * Uncached pointer to device registers [phys, phys+len) (aarch64:
 * Device-nGnRE; riscv64: the platform's device ranges). NULL if the range
 * is not entirely in a device part of the linear map (RAM is refused: it is
 * mapped cacheable).
 */
volatile void *ioremap(uint64_t phys, size_t len);

/*
 * vmap (vmap.c; its page tables: arch/<arch>/vmap.c): scattered RAM pages
 * at contiguous virtual addresses in the window [VMAP_BASE, VMAP_BASE +
 * VMAP_SIZE) (layout.h). The pages must be RAM ([ram_phys_start(),
 * ram_phys_end())). Each mapping is followed by an unmapped guard page, so
 * an overrun faults. The pages stay reachable through the linear map, with
 * the same attributes, so the two views need no cache maintenance between
 * them.
 */
/* Map `n` pages whose physical addresses are phys[0..n-1] (each 4 KiB aligned, any order, not
 * necessarily contiguous) at one contiguous, cacheable (Normal WB) kernel virtual range; returns it, or
 * NULL when the vmap window is full or an argument is bad. */
void *vmap(const uint64_t *phys, size_t n);
/* Undo vmap (the pages themselves are not freed). A virt/n that does not
 * match a vmap exactly is reported and ignored; NULL is ignored silently. */
void vunmap(void *virt, size_t n);
/* Called once by kernel_start, with the MMU on: hooks the window's tables
 * into the kernel's page tables (vmap returns NULL before). */
void vmap_init(void);
/* For virt_to_phys: false if virt is outside the vmap window; else true,
 * with *phys the mapped address (page + offset) or PHYS_INVALID. Silent. */
bool vmap_lookup(const void *virt, uint64_t *phys);
/* Window pages currently mapped (guard pages not counted). */
size_t vmap_pages_in_use(void);

/* Physical load address of the image, and [start, end) of its footprint. */
uint64_t kernel_load_phys(void);
uint64_t kernel_phys_end(void);

/* ---- port I/O (arch/x86_64/platform.c: in and out; platform.c's weak
 * ones: there is no port space on aarch64 and riscv64, where PCI I/O space
 * is memory-mapped) ----------------------------------------------------- */

/* The CPU has a separate I/O port space. */
bool arch_has_ports(void);
/* A 1, 2 or 4-byte access to I/O port `port` (only when arch_has_ports). */
uint32_t port_read(uint64_t port, unsigned width);
void port_write(uint64_t port, unsigned width, uint32_t value);

/* ---- DMA pages (dma.c) ------------------------------------------------- */

/*
 * n physically contiguous, zeroed, 4 KiB-aligned pages from the free RAM
 * pool; returns the linear-map pointer and stores the physical (device)
 * address in *phys_out (may be NULL). NULL when n == 0 or out of memory.
 */
void *dma_alloc_pages(size_t n, uint64_t *phys_out);
/* The same without zeroing, for memory the caller fills entirely at once (a
 * framebuffer: 4 MiB of stores saved, under an emulator milliseconds). */
void *dma_alloc_pages_unzeroed(size_t n, uint64_t *phys_out);
/* Give back exactly what dma_alloc_pages returned; a bad free is reported
 * and ignored. */
void dma_free_pages(void *virt, size_t n);
size_t dma_pages_in_use(void);
size_t dma_pages_total(void);
/* Physical [start, end) of the pool. */
uint64_t dma_pool_phys(void);
uint64_t dma_pool_phys_end(void);

/* ---- self-tests -------------------------------------------------------- */

/* vmap/vunmap/virt_to_phys over scattered DMA pages (selftest_vmap.c).
 * Returns the number of failed checks, each printed as
 * "levitate: vmap check failed: ...". Prints one expected warning. */
unsigned vmap_selftest(void);

/* ---- boot information (boot.c, arch/<arch>/start.c) ------------------ */

/* Linear-map pointer to the DTB, NULL if the loader gave none we could use. */
const void *kernel_dtb(void);
/* The same DTB, already validated by fdt_init (see fdt.h); NULL if none. */
struct fdt;
const struct fdt *kernel_fdt(void);
uint64_t kernel_dtb_phys(void);
/* /chosen bootargs, "" if none. */
const char *kernel_bootargs(void);
/* True if `word` is one of the space-separated bootargs. */
bool kernel_bootarg(const char *word);
/* For a bootarg "key=value": copy value into buf (NUL-terminated, truncated
 * to size) and return true; false if there is no such key. */
bool kernel_bootarg_value(const char *key, char *buf, size_t size);
/* Physical RAM: the first /memory bank. */
uint64_t ram_phys_start(void);
uint64_t ram_phys_end(void);

/* ---- the library's HAL (hal.c) ---------------------------------------- */

/* The one struct lvio_hal every device in this kernel uses (see
 * docs/porting.md). Its log_level may be changed before devices are probed
 * (bootarg lvio.debug). */
struct lvio_hal;
struct lvio_hal *kernel_hal(void);
/* From now on the HAL's now_ns() returns one value (bootarg hal.clock_stopped). */
void kernel_hal_stop_clock(void);

/* ---- string.c ---------------------------------------------------------- */

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strstr(const char *haystack, const char *needle);
/* A decimal number, or hexadecimal after 0x; *end is set to the first
 * character not taken. Saturates at UINT64_MAX. */
uint64_t parse_u64(const char *s, char **end);

#endif
