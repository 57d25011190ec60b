/* glob: iterative glob matcher with single-star backtracking, so a pattern
 * like "*a*a*a*b" cannot take exponential time. */
#include "config.h"
#include "glob.h"

#include <ctype.h>

static inline unsigned char fold(unsigned char c, int nocase)
{
    return nocase ? (unsigned char)tolower(c) : c;
}

/* Match one class "[...]" starting at p[0] == '[' against c. Sets *used to
 * the pattern bytes consumed. */
static int match_class(const char *p, size_t plen, unsigned char c, int nocase, size_t *used)
{
    size_t i = 1;
    int negate = 0, match = 0;
    if (i < plen && p[i] == '^') {
        negate = 1;
        i++;
    }
    for (;;) {
        if (i >= plen) {
            /* Unterminated: Redis treats the rest as the class. */
            break;
        }
        if (p[i] == ']') {
            i++;
            break;
        }
        if (p[i] == '\\' && i + 1 < plen) {
            if (fold((unsigned char)p[i + 1], nocase) == fold(c, nocase))
                match = 1;
            i += 2;
        } else if (i + 2 < plen && p[i + 1] == '-' && p[i + 2] != ']') {
            unsigned char a = fold((unsigned char)p[i], nocase), b = fold((unsigned char)p[i + 2], nocase);
            unsigned char x = fold(c, nocase);
            if (a > b) {
                unsigned char t = a;
                a = b;
                b = t;
            }
            if (x >= a && x <= b)
                match = 1;
            i += 3;
        } else {
            if (fold((unsigned char)p[i], nocase) == fold(c, nocase))
                match = 1;
            i++;
        }
    }
    *used = i;
    return negate ? !match : match;
}

int glob_match(const char *p, size_t plen, const char *s, size_t slen, int nocase)
{
    /* Redis's matcher never enters its loop for an empty string, so only
     * the empty pattern matches one ("*" does not: PSUBSCRIBE * gets no
     * message on channel "", KEYS ** lists no key ""). Callers special-case
     * a lone "*" where Redis does (KEYS, SCAN, ACL's allkeys). */
    if (slen == 0)
        return plen == 0;
    size_t pi = 0, si = 0;
    size_t star_p = (size_t)-1, star_s = 0;
    while (si < slen) {
        if (pi < plen) {
            char pc = p[pi];
            if (pc == '*') {
                while (pi < plen && p[pi] == '*')
                    pi++;
                if (pi == plen)
                    return 1;
                star_p = pi;
                star_s = si;
                continue;
            }
            if (pc == '?') {
                pi++;
                si++;
                continue;
            }
            if (pc == '[') {
                size_t used;
                if (match_class(p + pi, plen - pi, (unsigned char)s[si], nocase, &used)) {
                    pi += used;
                    si++;
                    continue;
                }
            } else {
                if (pc == '\\' && pi + 1 < plen) {
                    if (fold((unsigned char)p[pi + 1], nocase) == fold((unsigned char)s[si], nocase)) {
                        pi += 2;
                        si++;
                        continue;
                    }
                } else if (fold((unsigned char)pc, nocase) == fold((unsigned char)s[si], nocase)) {
                    pi++;
                    si++;
                    continue;
                }
            }
        }
        /* Mismatch: let the last star swallow one more byte. */
        if (star_p == (size_t)-1)
            return 0;
        pi = star_p;
        si = ++star_s;
    }
    while (pi < plen && p[pi] == '*')
        pi++;
    return pi == plen;
}
