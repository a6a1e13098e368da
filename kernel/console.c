/*
 * The serial console: every character goes to the boot log (logbuf.c, and
 * from there to the screen's console once it exists) and, once
 * console_init found the UART, to the architecture's UART driver
 * (arch_uart_*: aarch64 pl011.c; riscv64 and x86_64 an NS16550, ns16550.c).
 */
#include "gfx.h"
#include "internal.h"

static bool ready;
static uint64_t uart_phys;
static struct console_cost cost;
static bool mid_line; /* the last character written was not a newline */

void console_init(uint64_t phys)
{
    if (arch_uart_init(phys)) {
        uart_phys = phys;
        ready = true;
    }
}

uint64_t console_phys(void)
{
    return uart_phys;
}

void console_putc(char c)
{
    uint64_t t0 = cycles(), t1;

    logbuf_putc(c);
    t1 = cycles();
    cost.mirror_cycles += t1 - t0;
    mid_line = c != '\n';
    if (!ready)
        return;
    if (c == '\n')
        arch_uart_tx('\r');
    arch_uart_tx(c);
    cost.chars++;
    cost.uart_cycles += cycles() - t1;
}

void console_fresh_line(void)
{
    if (mid_line)
        console_putc('\n');
}

int console_getc(void)
{
    return ready ? arch_uart_rx() : -1;
}

struct console_cost console_cost(void)
{
    return cost;
}

void console_write(const char *s, size_t len)
{
    while (len--)
        console_putc(*s++);
}
