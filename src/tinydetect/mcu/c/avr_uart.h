/* printf over the ATmega's UART 0 (the UNO's USB serial), for the firmware and the simulator harness. */
#ifndef TINYDETECT_AVR_UART_H
#define TINYDETECT_AVR_UART_H

#include <avr/io.h>
#include <stdio.h>

static int uart_put(char character, FILE *stream) {
  (void)stream;
  loop_until_bit_is_set(UCSR0A, UDRE0);
  UDR0 = character;
  return 0;
}

static FILE uart = FDEV_SETUP_STREAM(uart_put, NULL, _FDEV_SETUP_WRITE);

#endif
