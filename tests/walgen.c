/* walgen: write a WAL file for the black-box tests and benchmarks.
 *   walgen FILE N [VALUE_BYTES] [binary]
 * appends N SETs of key:<i> (values of VALUE_BYTES, default 100; "binary"
 * makes keys and values non-UTF-8 so they go as base64) to FILE, numbered
 * on from the entries already there (a new file starts at seq 1). */
#include "config.h"
#include "pool.h"
#include "table.h"
#include "wal.h"
#include "wal_scan.h"

#include <fcntl.h>
#include <unistd.h>

#include <errno.h>
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
    wal_scan_result r = {0};
    int rc = wal_scan(argv[1], &pool, NULL, NULL, NULL, &r);
    if (rc < 0 && rc != -ENOENT) {
        fprintf(stderr, "walgen: cannot read %s: %s\n", argv[1], strerror(-rc));
        return 1;
    }
    if (rc == 0 && r.status != WAL_SCAN_OK) {
        fprintf(stderr, "walgen: %s is damaged: %s\n", argv[1], r.bad_reason);
        return 1;
    }
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "walgen: cannot open %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    wal_t *w = wal_writer_new(argv[1], fd, &pool, r.last_seq, r.bytes);
    char *val = malloc(vbytes + 1);
    char key[64];
    for (long i = 0; i < n; i++) {
        int kl = snprintf(key, sizeof key, "%skey:%ld", binary ? "\xff" : "", i);
        for (size_t j = 0; j < vbytes; j++)
            val[j] = binary ? (char)(i + (long)j) : (char)('a' + (i + (long)j) % 26);
        wal_entry e = {.op = WAL_OP_SET, .key = key, .klen = (size_t)kl, .val = val, .vlen = vbytes,
                       .exp = WAL_NO_EXPIRE};
        wal_append(w, &e);
        if (wal_pending(w) > (1 << 20) && wal_flush(w) < 0) {
            fprintf(stderr, "walgen: write failed\n");
            return 1;
        }
    }
    rc = wal_close(w);
    free(val);
    pool_destroy(&pool);
    return rc < 0;
}
