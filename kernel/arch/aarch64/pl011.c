/*
 * The console's UART on aarch64 (the console itself: kernel/console.c): a
 * PL011, polled. The firmware (QEMU) has already configured the line; we
 * only wait for FIFO space and write, and take what was received (the
 * shell's input). Registers are reached through the
 * Device part of the linear map.
 */
#include "internal.h"

#define PL011_DR 0x00
#define PL011_FR 0x18
#define PL011_FR_RXFE (1u << 4) /* receive FIFO empty */
#define PL011_FR_TXFF (1u << 5) /* transmit FIFO full */

/* Bounded so a broken UART cannot hang a panic report. */
#define TX_SPIN_LIMIT 1000000

static volatile uint32_t *uart;

bool arch_uart_init(uint64_t phys)
{
    volatile void *regs = ioremap(phys, 0x1000);

    if (!regs)
        return false;
    uart = regs;
    return true;
}

void arch_uart_tx(char c)
{
    for (int i = 0; i < TX_SPIN_LIMIT; i++) {
        if (!(uart[PL011_FR / 4] & PL011_FR_TXFF))
            break;
    }
    uart[PL011_DR / 4] = (uint8_t)c;
}

int arch_uart_rx(void)
{
    if (!uart || (uart[PL011_FR / 4] & PL011_FR_RXFE))
        return -1;
    return (int)(uart[PL011_DR / 4] & 0xff); /* the top bits are the receive errors */
}
