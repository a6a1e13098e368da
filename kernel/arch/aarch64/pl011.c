/*
 * PL011 UART output, polled. The firmware (QEMU) has already configured the
 * line; we only wait for FIFO space and write. Registers are reached through
 * the Device part of the linear map.
 */
#include "gfx.h"
#include "kernel.h"

#define PL011_DR 0x00
#define PL011_FR 0x18
#define PL011_FR_TXFF (1u << 5) /* transmit FIFO full */

/* Bounded so a broken UART cannot hang a panic report. */
#define TX_SPIN_LIMIT 1000000

static volatile uint32_t *uart;
static uint64_t uart_phys;

void console_init(uint64_t pl011_phys)
{
    volatile void *regs = ioremap(pl011_phys, 0x1000);

    if (regs) {
        uart = regs;
        uart_phys = pl011_phys;
    }
}

uint64_t console_phys(void)
{
    return uart_phys;
}

static void tx(char c)
{
    for (int i = 0; i < TX_SPIN_LIMIT; i++) {
        if (!(uart[PL011_FR / 4] & PL011_FR_TXFF))
            break;
    }
    uart[PL011_DR / 4] = (uint8_t)c;
}

void console_putc(char c)
{
    logbuf_putc(c); /* the boot log, and the screen's console once it exists */
    if (!uart)
        return;
    if (c == '\n')
        tx('\r');
    tx(c);
}

void console_write(const char *s, size_t len)
{
    while (len--)
        console_putc(*s++);
}
