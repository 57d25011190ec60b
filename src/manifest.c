/* manifest: the list of WAL files, stored atomically with a checksum. */
#include "config.h"
#include "manifest.h"
#include "codec.h"
#include "crc32c.h"
#include "num.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HEADER MANIFEST_MAGIC "1\n"

void manifest_init(manifest *m)
{
    memset(m, 0, sizeof(*m));
}

void manifest_free(manifest *m)
{
    free(m->incr);
    manifest_init(m);
}

int manifest_add_incr(manifest *m, uint64_t n)
{
    if (m->nincr == m->capincr) {
        size_t cap = m->capincr ? m->capincr * 2 : 8;
        uint64_t *p = realloc(m->incr, cap * sizeof(*p));
        if (!p)
            return -1;
        m->incr = p;
        m->capincr = cap;
    }
    m->incr[m->nincr++] = n;
    return 0;
}

uint64_t manifest_max_number(const manifest *m)
{
    uint64_t max = m->base;
    for (size_t i = 0; i < m->nincr; i++)
        if (m->incr[i] > max)
            max = m->incr[i];
    return max;
}

void manifest_base_name(char *dst, size_t n, uint64_t num)
{
    snprintf(dst, n, "kvd.base.%llu.jsonl", (unsigned long long)num);
}

void manifest_incr_name(char *dst, size_t n, uint64_t num)
{
    snprintf(dst, n, "kvd.incr.%llu.jsonl", (unsigned long long)num);
}

static int parse_u64(const char *s, size_t n, uint64_t *out)
{
    long long v;
    if (kvd_str_to_ll(s, n, &v) < 0 || v < 0)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

#define BAD(...)                                                                                   \
    do {                                                                                           \
        snprintf(err, errlen, __VA_ARGS__);                                                        \
        manifest_free(m);                                                                          \
        return -1;                                                                                 \
    } while (0)

int manifest_parse(const char *text, size_t len, manifest *m, char *err, size_t errlen)
{
    manifest_init(m);
    if (len < sizeof HEADER - 1 || memcmp(text, HEADER, sizeof HEADER - 1) != 0)
        BAD("it does not start with \"kvd-manifest 1\"");
    const char *p = text, *end = text + len;
    int lineno = 0, have_crc = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            BAD("line %d is not terminated", lineno + 1);
        lineno++;
        size_t n = (size_t)(nl - p);
        if (lineno == 1) {
            p = nl + 1;
            continue;
        }
        if (have_crc)
            BAD("line %d comes after the checksum", lineno);
        if (n > 5 && memcmp(p, "base ", 5) == 0) {
            /* base NUM UPTO [BYTES] (manifests from before sizes lack BYTES) */
            const char *sp = memchr(p + 5, ' ', n - 5);
            const char *sp2 = sp ? memchr(sp + 1, ' ', (size_t)(nl - sp - 1)) : NULL;
            const char *upto_end = sp2 ? sp2 : nl;
            if (m->base || !sp || parse_u64(p + 5, (size_t)(sp - p - 5), &m->base) < 0 || m->base == 0 ||
                parse_u64(sp + 1, (size_t)(upto_end - sp - 1), &m->base_upto) < 0 ||
                (sp2 && (parse_u64(sp2 + 1, (size_t)(nl - sp2 - 1), &m->base_bytes) < 0 || m->base_bytes == 0)))
                BAD("line %d: bad base entry", lineno);
        } else if (n > 5 && memcmp(p, "incr ", 5) == 0) {
            uint64_t v;
            if (parse_u64(p + 5, n - 5, &v) < 0 || v == 0)
                BAD("line %d: bad segment entry", lineno);
            if (m->nincr && v <= m->incr[m->nincr - 1])
                BAD("line %d: segment numbers must increase", lineno);
            if (manifest_add_incr(m, v) < 0)
                BAD("out of memory");
        } else if (n == 12 && memcmp(p, "crc ", 4) == 0) {
            uint32_t want;
            if (codec_parse_hex32(p + 4, &want) < 0)
                BAD("line %d: bad checksum", lineno);
            uint32_t got = crc32c(0, text, (size_t)(p - text));
            if (got != want)
                BAD("checksum mismatch (file says %08x, contents give %08x)", want, got);
            have_crc = 1;
        } else {
            BAD("line %d is not understood", lineno);
        }
        p = nl + 1;
    }
    if (!have_crc)
        BAD("the checksum line is missing (truncated?)");
    if (m->nincr == 0)
        BAD("no incremental segment is listed");
    return 0;
}

int manifest_load(const char *dir, manifest *m, char *err, size_t errlen)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, MANIFEST_NAME);
    manifest_init(m);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 1;
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    /* A manifest grows by one short line per segment: read all of it. */
    size_t cap = 4096, n = 0;
    char *buf = xmalloc(cap);
    for (;;) {
        if (n == cap)
            buf = xrealloc(buf, cap *= 2);
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
            free(buf);
            close(fd);
            return -1;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    char why[200];
    int rc = manifest_parse(buf, n, m, why, sizeof why);
    free(buf);
    if (rc < 0) {
        snprintf(err, errlen, "manifest %s is not a valid kvd manifest: %s. kvd will not guess which WAL files "
                 "to load: restore the manifest from a backup, or rewrite it from the kvd.base.*/kvd.incr.* files "
                 "present (the format is in docs/WAL.md; kvd-check-wal DIR checks the result)",
                 path, why);
        return -1;
    }
    return 0;
}

int manifest_store(const char *dir, const manifest *m, int *renamed, char *err, size_t errlen)
{
    if (renamed)
        *renamed = 0;
    /* Each line is at most 6 + 2 * 20 + 2 bytes. */
    size_t cap = sizeof HEADER + 64 + (m->nincr + 2) * 48, len = 0;
    char *text = xmalloc(cap);
    len += (size_t)snprintf(text + len, cap - len, HEADER);
    if (m->base)
        len += (size_t)snprintf(text + len, cap - len, m->base_bytes ? "base %llu %llu %llu\n" : "base %llu %llu\n",
                                (unsigned long long)m->base, (unsigned long long)m->base_upto,
                                (unsigned long long)m->base_bytes);
    for (size_t i = 0; i < m->nincr; i++)
        len += (size_t)snprintf(text + len, cap - len, "incr %llu\n", (unsigned long long)m->incr[i]);
    char hex[9];
    codec_hex32(hex, crc32c(0, text, len));
    hex[8] = '\0';
    len += (size_t)snprintf(text + len, cap - len, "crc %s\n", hex);

    char tmp[4200], final[4200];
    snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, MANIFEST_NAME);
    snprintf(final, sizeof final, "%s/%s", dir, MANIFEST_NAME);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = -errno;
        snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        free(text);
        return e;
    }
    int rc = kvd_write_all(fd, text, len);
    free(text);
    if (rc == 0 && fsync(fd) < 0)
        rc = -errno;
    close(fd);
    if (rc == 0 && rename(tmp, final) < 0)
        rc = -errno;
    if (rc == 0) {
        if (renamed)
            *renamed = 1;
        rc = kvd_fsync_dir(dir);
    }
    if (rc < 0) {
        snprintf(err, errlen, "cannot write the manifest %s: %s", final, strerror(-rc));
        unlink(tmp);
    }
    return rc;
}
