/* num: strict decimal integer parsing and formatting, as the Redis
 * protocol and commands need them. Shared by the daemon and the client
 * library, so it allocates nothing. */
#include "config.h"
#include "num.h"

#include <limits.h>

int kvd_str_to_ll(const char *s, size_t len, long long *out)
{
    if (len == 0 || len > 20)
        return -1;
    size_t i = 0;
    int neg = 0;
    if (s[0] == '-') {
        neg = 1;
        i = 1;
        if (len == 1)
            return -1;
    }
    if (s[i] == '0' && len > i + 1)
        return -1;
    if (neg && s[i] == '0')
        return -1; /* "-0" is not canonical */
    unsigned long long v = 0;
    for (; i < len; i++) {
        unsigned d = (unsigned char)s[i] - '0';
        if (d > 9)
            return -1;
        if (v > (ULLONG_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1)
            return -1;
        *out = (long long)(0 - v);
    } else {
        if (v > (unsigned long long)LLONG_MAX)
            return -1;
        *out = (long long)v;
    }
    return 0;
}

size_t kvd_ull_to_str(char *dst, unsigned long long v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        dst[i] = tmp[n - 1 - i];
    dst[n] = '\0';
    return n;
}

size_t kvd_ll_to_str(char *dst, long long v)
{
    if (v < 0) {
        dst[0] = '-';
        return 1 + kvd_ull_to_str(dst + 1, 0ULL - (unsigned long long)v);
    }
    return kvd_ull_to_str(dst, (unsigned long long)v);
}

