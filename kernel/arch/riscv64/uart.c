/*
 * NS16550A output, polled. OpenSBI has set the line up; we wait for the
 * transmit holding register to empty and write. Registers are reached
 * through the device part of the linear map, `reg-shift` apart (0 on QEMU).
 */
#include "gfx.h"
#include "kernel.h"
#include "riscv.h"

#define UART_THR 0
#define UART_LSR 5
#define UART_LSR_THRE 0x20 /* transmit holding register empty */

/* Bounded so a broken UART cannot hang a panic report. */
#define TX_SPIN_LIMIT 1000000

static volatile uint8_t *uart;
static uint64_t uart_phys;
static unsigned uart_shift;

void uart_set_shift(unsigned shift)
{
    uart_shift = shift < 4 ? shift : 0;
}

void console_init(uint64_t phys)
{
    volatile void *regs = ioremap(phys, 8u << uart_shift);

    if (regs) {
        uart = regs;
        uart_phys = phys;
    }
}

uint64_t console_phys(void)
{
    return uart_phys;
}

static void tx(char c)
{
    for (int i = 0; i < TX_SPIN_LIMIT; i++) {
        if (uart[UART_LSR << uart_shift] & UART_LSR_THRE)
            break;
    }
    uart[UART_THR << uart_shift] = (uint8_t)c;
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
