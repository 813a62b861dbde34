/* Host build: texts on stdin as a 4-byte little-endian length then that many UTF-8 bytes; one line per
 * text on stdout: the logit (integer models: in 256ths; float models: its IEEE-754 bits in hex). */
#include <stdio.h>
#include <string.h>

#include "tinydetect_mcu.h"

static int read_length(uint32_t *length) {
  uint8_t bytes[4];
  if (fread(bytes, 1, 4, stdin) != 4) return 0;
  *length = bytes[0] | (uint32_t)bytes[1] << 8 | (uint32_t)bytes[2] << 16 | (uint32_t)bytes[3] << 24;
  return 1;
}

int main(void) {
  static td_state state;
  uint32_t length;
  while (read_length(&length)) {
    td_begin(&state);
    for (uint32_t index = 0; index < length; index++) {
      int byte = getchar();
      if (byte == EOF) {
        fprintf(stderr, "tinydetect_host: input ends inside a text\n");
        return 2;
      }
      td_feed(&state, (uint8_t)byte);
    }
    td_output logit = td_finish(&state);
#if TD_WEIGHT_BITS == 0
    uint32_t bits;
    memcpy(&bits, &logit, sizeof(bits));
    printf("%08lx\n", (unsigned long)bits);
#else
    printf("%ld\n", (long)logit);
#endif
  }
  return 0;
}
