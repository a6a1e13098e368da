/* An NS16550's transmitter (ns16550.h). */
#include "ns16550.h"

#define UART_THR 0
#define UART_LSR 5
#define UART_LSR_THRE 0x20 /* transmit holding register empty */

void ns16550_tx(const struct ns16550 *uart, char c)
{
    for (unsigned i = 0; i < uart->spin_limit; i++) {
        if (uart->read(UART_LSR) & UART_LSR_THRE)
            break;
    }
    uart->write(UART_THR, (uint8_t)c);
}
