/*
 * The console's UART on riscv64 (the console itself: kernel/console.c): an
 * NS16550A (kernel/ns16550.c). OpenSBI has set the line up. Registers are
 * reached through the device part of the linear map, `reg-shift` apart (0
 * on QEMU).
 */
#include "internal.h"
#include "ns16550.h"
#include "riscv.h"

static volatile uint8_t *regs;
static unsigned uart_shift;

static uint8_t mmio_read(unsigned reg)
{
    return regs[reg << uart_shift];
}

static void mmio_write(unsigned reg, uint8_t value)
{
    regs[reg << uart_shift] = value;
}

static const struct ns16550 uart = {mmio_read, mmio_write, 1000000};

void uart_set_shift(unsigned shift)
{
    uart_shift = shift < 4 ? shift : 0;
}

bool arch_uart_init(uint64_t phys)
{
    volatile void *r = ioremap(phys, 8u << uart_shift);

    if (!r)
        return false;
    regs = r;
    return true;
}

void arch_uart_tx(char c)
{
    ns16550_tx(&uart, c);
}

int arch_uart_rx(void)
{
    return ns16550_rx(&uart);
}
