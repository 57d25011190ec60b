/* cmd_docs: Redis 7's key specs, tips and documentation of kvd's commands,
 * looked up by name, and the keys of a call found from the specs. */
#include "config.h"
#include "cmd_docs.h"
#include "num.h"
#include "util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cmd_docs_data.h"

static int by_name(const void *key, const void *elem)
{
    return strcmp(key, ((const cmd_doc *)elem)->name);
}

const cmd_doc *cmd_docs_find(const char *name)
{
    char lower[64];
    size_t n = strlen(name);
    if (n >= sizeof lower)
        return NULL;
    for (size_t i = 0; i <= n; i++)
        lower[i] = (char)tolower((unsigned char)name[i]);
    return bsearch(lower, docs_table, KVD_ARRAY_SIZE(docs_table), sizeof docs_table[0], by_name);
}

const cmd_doc *cmd_docs_all(size_t *n)
{
    *n = KVD_ARRAY_SIZE(docs_table);
    return docs_table;
}

static int arg_eq(const char *arg, size_t len, const char *word)
{
    return strlen(word) == len && strncasecmp(arg, word, len) == 0;
}

/* The flags of a key whose spec says they depend on the arguments, as
 * Redis's own key extraction for the command decides them. */
static int variable_flags(const cmd_doc *doc, int argc, char **argv, size_t *argvlen, int flags)
{
    if (strcmp(doc->name, "set") == 0) {
        /* SET key value [... GET ...]: GET reads the old value. */
        for (int i = 3; i < argc; i++)
            if (arg_eq(argv[i], argvlen[i], "get"))
                return KS_RW | KS_ACCESS | KS_UPDATE;
        return KS_OW | KS_UPDATE;
    }
    if (strcmp(doc->name, "bitfield") == 0) {
        /* Only GET (type, offset) and OVERFLOW (behaviour) read; anything
         * else, or one of them cut short, may write. */
        for (int i = 2; i < argc; i++) {
            int left = argc - i - 1;
            if (arg_eq(argv[i], argvlen[i], "get") && left >= 2)
                i += 2;
            else if (arg_eq(argv[i], argvlen[i], "overflow") && left >= 1)
                i += 1;
            else
                return KS_RW | KS_ACCESS | KS_UPDATE;
        }
        return KS_RO | KS_ACCESS;
    }
    return flags & ~KS_VARIABLE_FLAGS;
}

int cmd_docs_keys(const cmd_doc *doc, int argc, char **argv, size_t *argvlen, cmd_key_ref *keys, int max)
{
    int n = 0;
    for (int s = 0; s < doc->nspecs; s++) {
        const cmd_key_spec *ks = &doc->specs[s];
        int first = 0, last, step;
        if (ks->bs == KS_BS_INDEX) {
            first = ks->index;
        } else if (ks->bs == KS_BS_KEYWORD) {
            /* From startfrom to the end, or (negative) from argc+startfrom
             * back to the start; no keyword, no keys from this spec. */
            int from = ks->startfrom > 0 ? ks->startfrom : argc + ks->startfrom;
            int dir = ks->startfrom > 0 ? 1 : -1;
            for (int i = from; i >= 1 && i < argc; i += dir) {
                if (arg_eq(argv[i], argvlen[i], ks->keyword)) {
                    first = i + 1;
                    break;
                }
            }
            if (!first)
                continue;
        } else {
            return -1;
        }
        if (ks->fk == KS_FK_RANGE) {
            step = ks->b;
            if (ks->a >= 0)
                last = first + ks->a;
            else if (ks->c == 0)
                last = argc + ks->a;
            else /* every c-th of what is left (lastkey -1 with a limit) */
                last = first + (argc - first) / ks->c + ks->a;
        } else if (ks->fk == KS_FK_KEYNUM) {
            long long numkeys;
            if (first + ks->a >= argc || kvd_str_to_ll(argv[first + ks->a], argvlen[first + ks->a], &numkeys) < 0 ||
                numkeys < 0 || numkeys > argc)
                return -1;
            first += ks->b;
            step = ks->c;
            last = first + ((int)numkeys - 1) * step;
        } else {
            return -1;
        }
        if (step <= 0)
            return -1;
        int flags = ks->flags;
        if (flags & KS_VARIABLE_FLAGS)
            flags = variable_flags(doc, argc, argv, argvlen, flags);
        for (int i = first; i <= last; i += step) {
            if (i >= argc)
                break; /* too few arguments: the command itself will say so */
            if (n < max) {
                keys[n].pos = i;
                keys[n].flags = flags;
            }
            n++;
        }
    }
    return n;
}
