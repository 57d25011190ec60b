/* walgen: write a WAL file for the black-box tests and benchmarks.
 *   walgen FILE N [VALUE_BYTES] [binary]
 * appends N SETs of key:<i> (values of VALUE_BYTES, default 100; "binary"
 * makes keys and values non-UTF-8 so they go as base64). */
#include "config.h"
#include "pool.h"
#include "table.h"
#include "wal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: walgen FILE N [VALUE_BYTES] [binary]\n");
        return 2;
    }
    long n = atol(argv[2]);
    size_t vbytes = argc > 3 ? (size_t)atol(argv[3]) : 100;
    int binary = argc > 4 && strcmp(argv[4], "binary") == 0;
    pool_t pool;
    pool_init(&pool, 0, 0);
    table_t *t = table_new();
    wal_open_result res;
    char err[1024];
    wal_t *w = wal_open(argv[1], &pool, t, &res, err, sizeof err);
    if (!w) {
        fprintf(stderr, "walgen: %s\n", err);
        return 1;
    }
    char *val = malloc(vbytes + 1);
    char key[64];
    for (long i = 0; i < n; i++) {
        int kl = snprintf(key, sizeof key, "%skey:%ld", binary ? "\xff" : "", i);
        for (size_t j = 0; j < vbytes; j++)
            val[j] = binary ? (char)(i + (long)j) : (char)('a' + (i + (long)j) % 26);
        wal_append_set(w, key, (size_t)kl, val, vbytes, TABLE_NO_EXPIRE);
        if (wal_pending(w) > (1 << 20) && wal_flush(w) < 0) {
            fprintf(stderr, "walgen: write failed\n");
            return 1;
        }
    }
    int rc = wal_close(w);
    free(val);
    table_free(t);
    pool_destroy(&pool);
    return rc < 0;
}
