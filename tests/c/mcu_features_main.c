/* Test harness: the C feature bytes of each text on stdin (codegen.host_input framing), one line of
 * space-separated numbers per text. td_finish leaves the features in state.counts. */
#include <stdio.h>

#include "tinydetect_mcu.h"

int main(void) {
  static td_state state;
  uint8_t length_bytes[4];
  while (fread(length_bytes, 1, 4, stdin) == 4) {
    uint32_t length = length_bytes[0] | (uint32_t)length_bytes[1] << 8 | (uint32_t)length_bytes[2] << 16 |
                      (uint32_t)length_bytes[3] << 24;
    td_begin(&state);
    for (uint32_t index = 0; index < length; index++) td_feed(&state, (uint8_t)getchar());
    td_finish(&state);
    printf("%lu", (unsigned long)state.windows);
    for (uint16_t bucket = 0; bucket < TD_BUCKETS; bucket++) printf(" %u", state.counts[bucket]);
    printf("\n");
  }
  return 0;
}
