/* libFuzzer target: the WAL line decoder. Any input must decode or fail
 * cleanly; when the canonical-form fast path accepts a line, cJSON must
 * accept it too and yield the same entry. The first byte is a flag: when
 * odd, the rest gets a valid checksum suffix appended, so mutations reach
 * the JSON; when even, the rest is the line as it is. */
#include "config.h"
#include "codec.h"
#include "crc32c.h"
#include "wal_codec.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static pool_t pool;
static int ready;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready) {
        pool_init(&pool, 0, 0);
        ready = 1;
    }
    if (size == 0)
        return 0;
    int add_crc = data[0] & 1;
    data++;
    size--;
    char *line = malloc(size + 32);
    memcpy(line, data, size);
    size_t len = size;
    if (add_crc) {
        char hex[9];
        codec_hex32(hex, crc32c(0, data, size));
        memcpy(line + len, ",\"crc\":\"", 8);
        memcpy(line + len + 8, hex, 8);
        memcpy(line + len + 16, "\"}", 2);
        len += 18;
    }
    wal_decoder fast, slow;
    wal_decoder_init(&fast, &pool);
    wal_decoder_init(&slow, &pool);
    slow.cjson_only = 1;
    wal_entry a, b;
    int ra = wal_decode_line(&fast, line, len, &a, NULL, 0);
    int rb = wal_decode_line(&slow, line, len, &b, NULL, 0);
    if (ra == 0) {
        /* The fast path may only accept what cJSON accepts, identically.
         * (cJSON's strings stop at an escaped NUL; the encoder never
         * writes one, so such lines are not compared.) */
        int has_nul_escape = memmem(line, len, "\\u0000", 6) != NULL;
        if (!has_nul_escape) {
            if (rb != 0 || a.seq != b.seq || a.op != b.op || a.grp != b.grp || a.exp != b.exp || a.off != b.off ||
                a.klen != b.klen || a.vlen != b.vlen || (a.klen && memcmp(a.key, b.key, a.klen)) ||
                (a.vlen && memcmp(a.val, b.val, a.vlen)))
                abort();
        }
    }
    wal_decoder_free(&fast);
    wal_decoder_free(&slow);
    free(line);
    return 0;
}
