/* Reading constants from flash: PROGMEM and pgm_read_* on AVR (far reads where flash passes 64 KB, as on
 * the ATmega2560), plain memory on a host. TD_U8(array, index) etc. name the array itself, since far
 * addresses are taken from the symbol. */
#ifndef TINYDETECT_FLASH_H
#define TINYDETECT_FLASH_H

#ifdef __AVR__
#include <avr/pgmspace.h>
#if defined(RAMPZ)
#define TD_ADDRESS(array, index) (pgm_get_far_address(array) + (uint32_t)(index) * sizeof((array)[0]))
#define TD_U8(array, index) pgm_read_byte_far(TD_ADDRESS(array, index))
#define TD_U16(array, index) pgm_read_word_far(TD_ADDRESS(array, index))
#define TD_U32(array, index) pgm_read_dword_far(TD_ADDRESS(array, index))
#define TD_F32(array, index) pgm_read_float_far(TD_ADDRESS(array, index))
#else
#define TD_U8(array, index) pgm_read_byte(&(array)[index])
#define TD_U16(array, index) pgm_read_word(&(array)[index])
#define TD_U32(array, index) pgm_read_dword(&(array)[index])
#define TD_F32(array, index) pgm_read_float(&(array)[index])
#endif
#else
#define PROGMEM
#define TD_U8(array, index) ((array)[index])
#define TD_U16(array, index) ((array)[index])
#define TD_U32(array, index) ((array)[index])
#define TD_F32(array, index) ((array)[index])
#endif

#endif
