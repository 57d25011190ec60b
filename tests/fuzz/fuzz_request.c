/* libFuzzer target: the request parser (inline and RESP2). The input is
 * parsed whole and again split in two at a point chosen by its first
 * byte, as bytes arrive over a socket; both must give the same commands. */
#include "config.h"
#include "resp.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Parse everything, feeding the first `split` bytes first. Returns a hash
 * of the commands seen, so the two runs can be compared. */
static uint64_t run(const uint8_t *data, size_t size, size_t split)
{
    char *buf = malloc(size + 1);
    resp_parser p;
    resp_limits lim = {1024, 4096, 64, 0};
    resp_parser_init(&p, &lim);
    uint64_t h = 1469598103934665603ULL;
    size_t have = split < size ? split : size, start = 0;
    memcpy(buf, data, have);
    for (;;) {
        int argc;
        int rc = resp_parse(&p, buf, have, &argc);
        if (rc == RESP_CMD) {
            for (int i = 0; i < argc; i++) {
                for (size_t k = 0; k < p.arglen[i]; k++)
                    h = (h ^ (uint8_t)p.argv[i][k]) * 1099511628211ULL;
                h = (h ^ 0x100) * 1099511628211ULL;
            }
            h = (h ^ 0x200) * 1099511628211ULL;
            continue;
        }
        if (rc == RESP_ERR) {
            h ^= 0xdead;
            break;
        }
        if (start + have == size)
            break;
        /* More bytes arrive: drop what was consumed, as the server does. */
        size_t used = p.cmd_start;
        memmove(buf, buf + used, have - used);
        have -= used;
        start += used;
        resp_parser_consume(&p, used);
        memcpy(buf + have, data + start + have, size - start - have);
        have = size - start;
    }
    resp_parser_free(&p);
    free(buf);
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t whole = run(data, size, size);
    size_t split = size ? data[0] % (size + 1) : 0;
    uint64_t parts = run(data, size, split);
    if (whole != parts)
        abort(); /* split input parsed differently */
    return 0;
}
