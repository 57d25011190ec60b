/* args: split a line into arguments with Redis's quoting rules (the rules
 * of redis-cli, inline commands and redis.conf): words separated by
 * whitespace; "..." with \n \r \t \b \a \\ \" and \xHH escapes; '...' where
 * only \' is an escape. A closing quote must be followed by whitespace or
 * the end of the line. Splitting happens in place: unescaped bytes are
 * written back over the line, so no memory is allocated. */
#ifndef KVD_ARGS_H
#define KVD_ARGS_H

#include <stddef.h>
#include <stdio.h>

#define ARGS_ERR_QUOTES (-1) /* unbalanced or misplaced quotes */
#define ARGS_ERR_TOOMANY (-2) /* more than max arguments */

/* Split line[0..len) in place. argv[i]/argvlen[i] point into line.
 * Returns the number of arguments (0 for a blank line) or ARGS_ERR_*. */
int args_split(char *line, size_t len, char **argv, size_t *argvlen, int max);

/* The inverse: p[0..n) in double quotes with \\ \" \n \r \t \a \b and
 * \xHH escapes (as redis-cli shows a bulk string and MONITOR an
 * argument), written to dst, which must hold 4 * n + 2 bytes. Returns the
 * bytes written (no NUL). */
size_t args_quote(char *dst, const void *p, size_t n);

/* The same, as redis-cli shows a bulk string: p[0..n) in double quotes
 * with \\ \" \n \r \t \a \b and \xHH escapes, written to o. */
void args_print_quoted(FILE *o, const void *p, size_t n);

#endif
