/*
 * COM1, a 16550 at I/O port 0x3f8, polled. The firmware (SeaBIOS, qboot)
 * has set the line up; we wait for the transmit holding register to empty
 * and write.
 */
#include "gfx.h"
#include "kernel.h"
#include "x86.h"

#define UART_THR 0
#define UART_LSR 5
#define UART_LSR_THRE 0x20 /* transmit holding register empty */

/* Bounded so a broken UART cannot hang a panic report. */
#define TX_SPIN_LIMIT 100000

static uint16_t uart_port;

void console_init(uint64_t port)
{
    uart_port = (uint16_t)port;
}

uint64_t console_phys(void)
{
    return uart_port;
}

static void tx(char c)
{
    for (int i = 0; i < TX_SPIN_LIMIT; i++) {
        if (inb((uint16_t)(uart_port + UART_LSR)) & UART_LSR_THRE)
            break;
    }
    outb((uint16_t)(uart_port + UART_THR), (uint8_t)c);
}

void console_putc(char c)
{
    logbuf_putc(c); /* the boot log, and the screen's console once it exists */
    if (!uart_port)
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
