/* num: strict decimal integer parsing and formatting, as the Redis
 * protocol and commands need them. Allocates nothing. */
#ifndef KVD_NUM_H
#define KVD_NUM_H

#include <stddef.h>

/* Parse a whole string as a signed 64-bit decimal integer exactly as Redis
 * does (no spaces, no '+', no leading zeros except "0"). Returns 0 or -1. */
int kvd_str_to_ll(const char *s, size_t len, long long *out);

/* Format v in decimal into dst (at least 21 bytes). Returns the length. */
size_t kvd_ll_to_str(char *dst, long long v);
size_t kvd_ull_to_str(char *dst, unsigned long long v);

#endif
