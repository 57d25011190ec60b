/* Unit tests for cmd_docs: the generated table holds together (sorted,
 * every command of kvd's table found, key arguments pointing at specs) and
 * the keys of a call are found as Redis finds them, including the kinds of
 * spec no kvd command uses yet (keyword, keynum). */
#include "config.h"
#include "testutil.h"

#include "cmd.h"
#include "cmd_docs.h"
#include "util.h"

/* Split a call at spaces into argv (at most 32 words, each < 32 bytes). */
typedef struct call {
    char words[32][32];
    char *argv[32];
    size_t len[32];
    int argc;
} call;

static void split(call *c, const char *line)
{
    c->argc = 0;
    while (*line) {
        while (*line == ' ')
            line++;
        size_t n = strcspn(line, " ");
        if (!n)
            break;
        ck_assert_uint_lt(n, sizeof c->words[0]);
        memcpy(c->words[c->argc], line, n);
        c->words[c->argc][n] = '\0';
        c->argv[c->argc] = c->words[c->argc];
        c->len[c->argc] = n;
        c->argc++;
        line += n;
    }
}

/* The keys doc finds in line, as "pos:flags pos:flags" (or "-1"). */
static const char *keys_of(const cmd_doc *doc, const char *line)
{
    static char out[256];
    call c;
    split(&c, line);
    cmd_key_ref keys[16];
    int n = cmd_docs_keys(doc, c.argc, c.argv, c.len, keys, 16);
    if (n < 0) {
        snprintf(out, sizeof out, "%d", n);
        return out;
    }
    out[0] = '\0';
    for (int i = 0; i < n && i < 16; i++)
        snprintf(out + strlen(out), sizeof out - strlen(out), "%s%d:%x", i ? " " : "", keys[i].pos, keys[i].flags);
    return out;
}

static void check_args(const cmd_doc *doc, const cmd_doc_arg *args, int nargs)
{
    for (int i = 0; i < nargs; i++) {
        ck_assert_ptr_nonnull(args[i].name);
        ck_assert_ptr_nonnull(args[i].type);
        if (strcmp(args[i].type, "key") == 0) {
            ck_assert_int_ge(args[i].key_spec_index, 0);
            ck_assert_int_lt(args[i].key_spec_index, doc->nspecs);
        }
        if (strcmp(args[i].type, "oneof") == 0 || strcmp(args[i].type, "block") == 0)
            ck_assert_int_gt(args[i].nargs, 0);
        else
            ck_assert_int_eq(args[i].nargs, 0);
        check_args(doc, args[i].args, args[i].nargs);
    }
}

START_TEST(test_table)
{
    size_t n;
    const cmd_doc *all = cmd_docs_all(&n);
    ck_assert_uint_gt(n, 100);
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            ck_assert_int_lt(strcmp(all[i - 1].name, all[i].name), 0);
        ck_assert_ptr_eq(cmd_docs_find(all[i].name), &all[i]);
        ck_assert_ptr_nonnull(all[i].summary);
        ck_assert_ptr_nonnull(all[i].since);
        ck_assert_ptr_nonnull(all[i].group);
        check_args(&all[i], all[i].args, all[i].nargs);
    }
    ck_assert_ptr_eq(cmd_docs_find("GET"), cmd_docs_find("get"));
    ck_assert_ptr_eq(cmd_docs_find("Client|Kill"), cmd_docs_find("client|kill"));
    ck_assert_ptr_null(cmd_docs_find("nosuch"));
    ck_assert_ptr_null(cmd_docs_find("get|x"));
    ck_assert_ptr_null(cmd_docs_find("compact")); /* kvd's own: the table alone */
    ck_assert_ptr_null(cmd_docs_find(""));
}
END_TEST

/* Every command kvd has, but its own COMPACT, is documented; and a command
 * whose table says it has keys has key specs. */
static void documented(kvd_cmd *cmd, void *ctx)
{
    KVD_UNUSED(ctx);
    if (strcmp(cmd->name, "compact") == 0 || strcmp(cmd->name, "syncwal") == 0)
        return;
    const cmd_doc *doc = cmd_docs_find(cmd->name);
    ck_assert_msg(doc != NULL, "%s has no documentation", cmd->name);
    if (cmd->firstkey > 0)
        ck_assert_msg(doc->nspecs > 0, "%s has keys but no key specs", cmd->name);
}

START_TEST(test_every_command)
{
    cmd_init();
    cmd_each(documented, NULL);
}
END_TEST

START_TEST(test_keys_from_specs)
{
    const cmd_doc *d = cmd_docs_find("mset");
    ck_assert_str_eq(keys_of(d, "mset a 1 b 2"), "1:24 3:24"); /* OW|UPDATE */
    ck_assert_str_eq(keys_of(d, "mset a 1 b"), "1:24 3:24");
    d = cmd_docs_find("bitop");
    ck_assert_str_eq(keys_of(d, "bitop and d a b"), "2:24 3:11 4:11");
    d = cmd_docs_find("object|encoding");
    ck_assert_str_eq(keys_of(d, "object encoding k"), "2:1");
    d = cmd_docs_find("lcs");
    ck_assert_str_eq(keys_of(d, "lcs a b idx"), "1:11 2:11");
    /* Fewer arguments than the spec wants: the keys that are there. */
    ck_assert_str_eq(keys_of(cmd_docs_find("get"), "get"), "");
}
END_TEST

START_TEST(test_variable_flags)
{
    const cmd_doc *set = cmd_docs_find("set");
    ck_assert_str_eq(keys_of(set, "set k v"), "1:24");            /* OW update */
    ck_assert_str_eq(keys_of(set, "set k v nx GeT"), "1:32");     /* RW access update */
    ck_assert_str_eq(keys_of(set, "set k get"), "1:24");          /* get is the value */
    const cmd_doc *bf = cmd_docs_find("bitfield");
    ck_assert_str_eq(keys_of(bf, "bitfield k"), "1:11");          /* RO access */
    ck_assert_str_eq(keys_of(bf, "bitfield k get u8 0 overflow sat"), "1:11");
    ck_assert_str_eq(keys_of(bf, "bitfield k get u8 0 set u8 0 1"), "1:32");
    ck_assert_str_eq(keys_of(bf, "bitfield k get u8"), "1:32");   /* cut short: may write */
    ck_assert_str_eq(keys_of(bf, "bitfield k overflow set u8 0 1"), "1:32");
}
END_TEST

/* Spec kinds no kvd command uses yet, in made-up commands. */
static const cmd_key_spec keyword_specs[] = {
    {.flags = KS_RW, .bs = KS_BS_KEYWORD, .keyword = "KEYS", .startfrom = -2, .fk = KS_FK_RANGE, .a = -1, .b = 1},
};
static const cmd_doc keyword_doc = {.name = "kw", .specs = keyword_specs, .nspecs = 1};
static const cmd_key_spec forward_specs[] = {
    {.flags = KS_RO, .bs = KS_BS_KEYWORD, .keyword = "STREAMS", .startfrom = 1, .fk = KS_FK_RANGE, .a = -1, .b = 1, .c = 2},
};
static const cmd_doc forward_doc = {.name = "fw", .specs = forward_specs, .nspecs = 1};
static const cmd_key_spec keynum_specs[] = {
    {.flags = KS_OW, .bs = KS_BS_INDEX, .index = 1, .fk = KS_FK_RANGE, .a = 0, .b = 1},
    {.flags = KS_RO, .bs = KS_BS_INDEX, .index = 2, .fk = KS_FK_KEYNUM, .a = 0, .b = 1, .c = 1},
};
static const cmd_doc keynum_doc = {.name = "kn", .specs = keynum_specs, .nspecs = 2};
static const cmd_key_spec unknown_specs[] = {{.flags = KS_RW, .bs = KS_BS_UNKNOWN, .fk = KS_FK_UNKNOWN}};
static const cmd_doc unknown_doc = {.name = "un", .specs = unknown_specs, .nspecs = 1};

START_TEST(test_other_specs)
{
    /* Like MIGRATE's KEYS: searched backwards from the second to last. */
    ck_assert_str_eq(keys_of(&keyword_doc, "kw h p \"\" 0 5 KEYS a b"), "7:2 8:2");
    ck_assert_str_eq(keys_of(&keyword_doc, "kw h p k 0 5"), "");
    /* Like XREAD's STREAMS: half of what follows the keyword. */
    ck_assert_str_eq(keys_of(&forward_doc, "fw COUNT 2 streams a b 0 0"), "4:1 5:1");
    /* Like ZUNIONSTORE: a destination, then a count of keys. */
    ck_assert_str_eq(keys_of(&keynum_doc, "kn d 2 a b WEIGHTS 1 2"), "1:4 3:1 4:1");
    ck_assert_str_eq(keys_of(&keynum_doc, "kn d 0"), "1:4");
    ck_assert_str_eq(keys_of(&keynum_doc, "kn d x a"), "-1");
    ck_assert_str_eq(keys_of(&keynum_doc, "kn d -1 a"), "-1");
    ck_assert_str_eq(keys_of(&keynum_doc, "kn d"), "-1");
    ck_assert_str_eq(keys_of(&unknown_doc, "un a"), "-1");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cmd_docs");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_table);
    tcase_add_test(tc, test_every_command);
    tcase_add_test(tc, test_keys_from_specs);
    tcase_add_test(tc, test_variable_flags);
    tcase_add_test(tc, test_other_specs);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(suite)
