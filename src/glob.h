/* glob: Redis-compatible glob matching for KEYS, SCAN MATCH and CONFIG GET:
 * '*', '?', '[abc]', '[^a-z]', and '\' to escape, over arbitrary bytes. */
#ifndef KVD_GLOB_H
#define KVD_GLOB_H

#include <stddef.h>

/* 1 when s[0..slen) matches pattern p[0..plen). nocase folds ASCII case. */
int glob_match(const char *p, size_t plen, const char *s, size_t slen, int nocase);

#endif
