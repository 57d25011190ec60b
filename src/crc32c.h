/* crc32c: CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the
 * checksum on every WAL line. Uses the SSE4.2 crc32 instruction when the
 * CPU has it and a slicing-by-8 table otherwise; both give the same value. */
#ifndef KVD_CRC32C_H
#define KVD_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extend crc (0 to start) over n bytes. crc32c(0, "123456789", 9) is
 * 0xE3069283, the standard check value. */
uint32_t crc32c(uint32_t crc, const void *p, size_t n);

/* The portable implementation, exposed so tests can compare the two. */
uint32_t crc32c_sw(uint32_t crc, const void *p, size_t n);

#endif
