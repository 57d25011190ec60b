/* check_acl: ACL users: rules as Redis words them, the permission check
 * on commands, subcommands, categories and keys, passwords, atomic
 * SETUSER, the aclfile text, and the property that a user described and
 * parsed again has exactly the same permissions, over thousands of random
 * rule sequences. */
#include "config.h"
#include "acl.h"
#include "args.h"
#include "cmd.h"
#include "server.h"
#include "util.h"

#include "testutil.h"
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>



static void setup(void)
{
    pool_init(&srv.pool, 64, 1 << 20);
    cmd_init();
    acl_init();
}

static void teardown(void)
{
    acl_free_all();
    pool_destroy(&srv.pool);
}

/* Split s in place at spaces (the aclfile's rule: no quoting). */
static int split_words(char *s, char **argv, size_t *lens, int max)
{
    int n = 0;
    for (char *t = strtok(s, " "); t && n < max; t = strtok(NULL, " ")) {
        argv[n] = t;
        lens[n++] = strlen(t);
    }
    return n;
}

/* Apply a space-separated rule string to name. */
static int set(const char *name, const char *rules, char *err, size_t errlen)
{
    char *copy = xstrdup(rules);
    char *argv[64];
    size_t lens[64];
    int n = split_words(copy, argv, lens, 64);
    char dummy[512];
    int rc = acl_setuser(name, strlen(name), n, argv, lens, err ? err : dummy, err ? errlen : sizeof dummy);
    free(copy);
    return rc;
}

static char *describe(const char *name)
{
    static char out[4096];
    acl_user *u = acl_find(name, strlen(name));
    if (!u)
        return NULL;
    buf_t b = BUF_INIT(&srv.pool);
    acl_describe_user(u, &b);
    snprintf(out, sizeof out, "%.*s", (int)b.len, b.data);
    buf_release(&b);
    return out;
}

/* May name run the command line words (split on spaces)? */
static int can(const char *name, const char *line, int *keypos)
{
    char *copy = xstrdup(line);
    char *argv[32];
    size_t lens[32];
    int argc = split_words(copy, argv, lens, 32);
    kvd_cmd *cmd = cmd_lookup(argv[0], lens[0]);
    ck_assert_ptr_nonnull(cmd);
    if (cmd->subs && argc > 1)
        cmd = cmd_lookup_sub(cmd, argv[1], lens[1]);
    ck_assert_ptr_nonnull(cmd);
    int kp = -1;
    int rc = acl_check(acl_find(name, strlen(name)), cmd, argc, argv, lens, &kp);
    if (keypos)
        *keypos = kp;
    free(copy);
    return rc;
}

START_TEST(test_default_user)
{
    ck_assert_str_eq(describe("default"), "user default on nopass ~* &* +@all");
    ck_assert_int_eq(can("default", "config set x y", NULL), ACL_OK);
    ck_assert_int_eq(acl_password_ok(acl_default_user(), "anything", 8), 1);
    acl_set_requirepass("s3cr3t", 6);
    ck_assert_str_eq(describe("default"),
                     "user default on #4e738ca5563c06cfd0018299933d58db1dd8bf97f6973dc99bf6cdc64b5550bd ~* &* +@all");
    ck_assert_int_eq(acl_password_ok(acl_default_user(), "s3cr3t", 6), 1);
    ck_assert_int_eq(acl_password_ok(acl_default_user(), "s3cr3", 5), 0);
    acl_set_requirepass("", 0);
    ck_assert_str_eq(describe("default"), "user default on nopass ~* &* +@all");
}
END_TEST

START_TEST(test_describe_as_redis)
{
    /* The same words give the same line as Redis 7.0 prints for them. */
    ck_assert_int_eq(set("bob", "", NULL, 0), 0);
    ck_assert_str_eq(describe("bob"), "user bob off resetchannels -@all");
    ck_assert_int_eq(set("t", "on >pw ~foo* %R~bar* -@all +@read +config|get", NULL, 0), 0);
    ck_assert_str_eq(describe("t"), "user t on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 "
                                    "~foo* %R~bar* resetchannels -@all +@read +config|get");
    ck_assert_int_eq(set("t2", "~a allkeys", NULL, 0), 0);
    ck_assert_str_eq(describe("t2"), "user t2 off ~* resetchannels -@all");
    ck_assert_int_eq(set("t3", "reset", NULL, 0), 0);
    ck_assert_str_eq(describe("t3"), "user t3 off sanitize-payload resetchannels -@all");
    ck_assert_int_eq(set("t4", "&a allchannels +@all -get +GET -set", NULL, 0), 0);
    ck_assert_str_eq(describe("t4"), "user t4 off &* +@all +get -set");
    ck_assert_int_eq(set("t5", "-@all +config|get +config", NULL, 0), 0);
    ck_assert_str_eq(describe("t5"), "user t5 off resetchannels -@all +config");
    ck_assert_int_eq(set("t6", "> nopass", NULL, 0), 0);
    ck_assert_str_eq(describe("t6"), "user t6 off nopass resetchannels -@all");
}
END_TEST

START_TEST(test_errors_as_redis)
{
    char err[512];
    static const struct {
        const char *rule, *why;
    } cases[] = {
        {"+foo", "Unknown command or category name in ACL"},
        {"+@foo", "Unknown command or category name in ACL"},
        {"+config|nosuch", "Unknown command or category name in ACL"},
        {"#abc", "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"},
        {"!abcd", "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"},
        {"<nope", "The password you are trying to remove from the user does not exist"},
        {"%X~a", "Syntax error"},
        {"bogus", "Syntax error"},
    };
    for (size_t i = 0; i < KVD_ARRAY_SIZE(cases); i++) {
        ck_assert_int_eq(set("t", cases[i].rule, err, sizeof err), -1);
        char want[512];
        snprintf(want, sizeof want, "Error in ACL SETUSER modifier '%s': %s", cases[i].rule, cases[i].why);
        ck_assert_str_eq(err, want);
        ck_assert_ptr_null(acl_find("t", 1)); /* a failed SETUSER creates nothing */
    }
    ck_assert_int_eq(set("t", "allkeys ~a", err, sizeof err), -1);
    ck_assert_str_eq(err, "Error in ACL SETUSER modifier '~a': Adding a pattern after the * pattern (or the "
                          "'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start "
                          "with an empty list of patterns");
    ck_assert_int_eq(set("a b", "on", err, sizeof err), -1);
    ck_assert_str_eq(err, "Usernames can't contain spaces or null characters");
    /* All or nothing on an existing user too. */
    ck_assert_int_eq(set("u", "on >one ~k* +get", NULL, 0), 0);
    char before[4096];
    snprintf(before, sizeof before, "%s", describe("u"));
    ck_assert_int_eq(set("u", "off resetpass -get ~other +nosuchcommand", err, sizeof err), -1);
    ck_assert_str_eq(describe("u"), before);
}
END_TEST

START_TEST(test_commands_and_categories)
{
    ck_assert_int_eq(set("r", "on nopass allkeys -@all +@read +config|get", NULL, 0), 0);
    ck_assert_int_eq(can("r", "get k", NULL), ACL_OK);
    ck_assert_int_eq(can("r", "mget a b", NULL), ACL_OK);
    ck_assert_int_eq(can("r", "set k v", NULL), ACL_DENIED_CMD);
    ck_assert_int_eq(can("r", "config get port", NULL), ACL_OK);
    ck_assert_int_eq(can("r", "config set port 1", NULL), ACL_DENIED_CMD);
    ck_assert_int_eq(can("r", "auth x", NULL), ACL_OK); /* no-auth commands are always allowed */
    ck_assert_int_eq(set("w", "on nopass allkeys +@all -@dangerous -config|get", NULL, 0), 0);
    ck_assert_int_eq(can("w", "set k v", NULL), ACL_OK);
    ck_assert_int_eq(can("w", "keys *", NULL), ACL_DENIED_CMD);
    ck_assert_int_eq(can("w", "flushall", NULL), ACL_DENIED_CMD);
    ck_assert_int_eq(can("w", "config get port", NULL), ACL_DENIED_CMD);
    ck_assert_int_eq(can("w", "client setname x", NULL), ACL_OK);
    ck_assert_int_eq(can("w", "client list", NULL), ACL_DENIED_CMD); /* client|list is @dangerous */
    ck_assert_int_eq(set("w", "+config", NULL, 0), 0);
    ck_assert_int_eq(can("w", "config get port", NULL), ACL_OK);
    ck_assert_int_eq(can("w", "config set port 1", NULL), ACL_OK);
}
END_TEST

START_TEST(test_keys)
{
    int kp;
    ck_assert_int_eq(set("k", "on nopass +@all ~app:* %R~ro:* %W~wo:*", NULL, 0), 0);
    ck_assert_int_eq(can("k", "get app:1", NULL), ACL_OK);
    ck_assert_int_eq(can("k", "get other", &kp), ACL_DENIED_KEY);
    ck_assert_int_eq(kp, 1);
    ck_assert_int_eq(can("k", "get ro:1", NULL), ACL_OK);
    ck_assert_int_eq(can("k", "set ro:1 v", NULL), ACL_DENIED_KEY);
    ck_assert_int_eq(can("k", "set wo:1 v", NULL), ACL_OK);
    ck_assert_int_eq(can("k", "set wo:1 v get", NULL), ACL_DENIED_KEY); /* SET ... GET reads */
    ck_assert_int_eq(can("k", "get wo:1", NULL), ACL_DENIED_KEY);
    ck_assert_int_eq(can("k", "incr wo:1", NULL), ACL_DENIED_KEY);       /* reads and writes */
    ck_assert_int_eq(can("k", "exists ro:1 wo:1", NULL), ACL_OK);         /* neither */
    ck_assert_int_eq(can("k", "copy ro:1 wo:1", NULL), ACL_OK);           /* reads one, writes the other */
    ck_assert_int_eq(can("k", "copy wo:1 ro:1", &kp), ACL_DENIED_KEY);
    ck_assert_int_eq(kp, 1);
    ck_assert_int_eq(can("k", "mset app:1 v wo:2 v ro:3 v", &kp), ACL_DENIED_KEY);
    ck_assert_int_eq(kp, 5);
    ck_assert_int_eq(can("k", "del app:1 app:2 x", &kp), ACL_DENIED_KEY);
    ck_assert_int_eq(kp, 3);
    ck_assert_int_eq(can("k", "object encoding ro:1", NULL), ACL_OK);
    ck_assert_int_eq(can("k", "object encoding nope", NULL), ACL_DENIED_KEY);
    ck_assert_int_eq(can("k", "keys *", NULL), ACL_OK); /* no key arguments */
    ck_assert_int_eq(set("k", "resetkeys", NULL, 0), 0);
    ck_assert_int_eq(can("k", "get app:1", NULL), ACL_DENIED_KEY);
    ck_assert_int_eq(can("k", "ping", NULL), ACL_OK);
}
END_TEST

START_TEST(test_passwords)
{
    char pw[] = "a\0b";
    char rule[] = ">a\0b";
    char *rules[] = {"on", rule};
    size_t lens[] = {2, 4};
    char err[256];
    ck_assert_int_eq(acl_setuser("p", 1, 2, rules, lens, err, sizeof err), 0);
    acl_user *u = acl_find("p", 1);
    ck_assert_int_eq(acl_password_ok(u, pw, 3), 1);
    ck_assert_int_eq(acl_password_ok(u, "a", 1), 0); /* never cut at the NUL */
    ck_assert_int_eq(set("p", ">second", NULL, 0), 0);
    ck_assert_int_eq(u->npass, 2);
    ck_assert_int_eq(acl_password_ok(u, "second", 6), 1);
    ck_assert_int_eq(set("p", "<second", NULL, 0), 0);
    ck_assert_int_eq(acl_password_ok(u, "second", 6), 0);
    ck_assert_int_eq(set("p", "#5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8", NULL, 0), 0);
    ck_assert_int_eq(acl_password_ok(u, "password", 8), 1); /* that is SHA-256("password") */
    ck_assert_int_eq(set("p", "!5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8", NULL, 0), 0);
    ck_assert_int_eq(acl_password_ok(u, "password", 8), 0);
    ck_assert_int_eq(set("p", "nopass", NULL, 0), 0);
    ck_assert_int_eq(acl_password_ok(u, "whatever", 8), 1);
    ck_assert_int_eq(set("p", "resetpass", NULL, 0), 0);
    ck_assert_int_eq(acl_password_ok(u, "whatever", 8), 0);
    ck_assert_int_eq(acl_password_ok(u, "", 0), 0);
}
END_TEST

START_TEST(test_load_text)
{
    acl_user **old;
    int nold;
    char err[512];
    const char *good = "# users\n\nuser app on >pw ~app:* -@all +@read +@write -@dangerous\r\n"
                       "user admin on #5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8 ~* +@all\n";
    ck_assert_int_eq(set("gone", "on", NULL, 0), 0);
    ck_assert_int_eq(acl_load_text(good, strlen(good), 0, "users.acl", &old, &nold, err, sizeof err), 0);
    ck_assert_int_eq(nold, 2); /* default and gone */
    acl_free_users(old, nold);
    ck_assert_ptr_null(acl_find("gone", 4));
    ck_assert_str_eq(describe("default"), "user default on nopass ~* &* +@all"); /* made, as none was given */
    ck_assert_int_eq(can("app", "set app:1 v", NULL), ACL_OK);
    ck_assert_int_eq(can("app", "flushall", NULL), ACL_DENIED_CMD);
    const char *bad = "user a on\nuser b on +nosuch\n";
    ck_assert_int_eq(acl_load_text(bad, strlen(bad), 0, "users.acl", &old, &nold, err, sizeof err), -1);
    ck_assert_str_eq(err, "users.acl:2: Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL");
    ck_assert_ptr_nonnull(acl_find("app", 3)); /* nothing changed */
    ck_assert_ptr_null(acl_find("a", 1));
    const char *dup = "user a on\nuser a off\n";
    ck_assert_int_eq(acl_load_text(dup, strlen(dup), 0, "f", &old, &nold, err, sizeof err), -1);
    ck_assert_str_eq(err, "f:2: duplicate user 'a'");
    const char *nouser = "usr a on\n";
    ck_assert_int_eq(acl_load_text(nouser, strlen(nouser), 0, "f", &old, &nold, err, sizeof err), -1);
    ck_assert_str_eq(err, "f:1: line should start with user keyword");
}
END_TEST

START_TEST(test_save_file)
{
    char dir[] = "/tmp/check_acl_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/users.acl", dir);
    char *rules[] = {"on", ">pw", "~with space", "%R~r*", "-@all", "+get"};
    size_t lens[] = {2, 3, 11, 5, 5, 4};
    char e[256];
    ck_assert_int_eq(acl_setuser("app", 3, 6, rules, lens, e, sizeof e), -1);
    ck_assert_str_eq(e, "Error in ACL SETUSER modifier '~with space': Syntax error");
    rules[2] = "~q\"x'y";
    lens[2] = 6;
    ck_assert_int_eq(acl_setuser("app", 3, 6, rules, lens, e, sizeof e), 0);
    ck_assert_int_eq(set("bob'\"", "on nopass ~* +@all", NULL, 0), 0);
    ck_assert_int_eq(acl_save_file(path), 0);
    size_t len;
    char *text = kvd_read_file(path, &len);
    ck_assert_ptr_nonnull(text);
    ck_assert_ptr_nonnull(strstr(text, "user app on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4"));
    acl_user **old;
    int nold;
    char err[256];
    ck_assert_int_eq(acl_load_text(text, len, 0, path, &old, &nold, err, sizeof err), 0);
    acl_free_users(old, nold);
    ck_assert_str_eq(describe("app"), "user app on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 "
                                      "~q\"x'y %R~r* resetchannels -@all +get");
    ck_assert_ptr_nonnull(acl_find("bob'\"", 5));
    ck_assert_int_eq(can("app", "get r1", NULL), ACL_OK);
    acl_user *u = acl_find("app", 3);
    ck_assert_int_eq(u->nkeys, 2);
    ck_assert_str_eq(u->keys[0].pat, "q\"x'y");
    free(text);
    unlink(path);
    rmdir(dir);
}
END_TEST

/* ---- the property: describe, parse again, same permissions ---- */

static uint64_t rng = 88172645463325252ULL;
static uint64_t next_rand(void)
{
    return tu_rand(&rng);
}

static void add_name(kvd_cmd *cmd, void *ctx)
{
    char ***names = ctx;
    **names = (char *)cmd->name;
    (*names)++;
}

static int same_user(const acl_user *a, const acl_user *b)
{
    if (a->flags != b->flags || a->npass != b->npass || a->nkeys != b->nkeys ||
        memcmp(a->allowed, b->allowed, sizeof a->allowed) != 0)
        return 0;
    for (int i = 0; i < a->npass; i++) {
        int found = 0;
        for (int j = 0; j < b->npass; j++)
            found |= memcmp(a->pass[i], b->pass[j], ACL_SHA256_LEN) == 0;
        if (!found)
            return 0;
    }
    for (int i = 0; i < a->nkeys; i++)
        if (a->keys[i].len != b->keys[i].len || memcmp(a->keys[i].pat, b->keys[i].pat, a->keys[i].len) ||
            a->keys[i].perms != b->keys[i].perms)
            return 0;
    return 1;
}

START_TEST(test_describe_parses_back_the_same)
{
    static char *names[CMD_MAX_IDS];
    char **np = names;
    cmd_each(add_name, &np);
    int ncmds = (int)(np - names);
    static const char *const words[] = {"on", "off", "nopass", "resetpass", "allkeys", "resetkeys", "allchannels",
                                        "resetchannels", "allcommands", "nocommands", "reset", "sanitize-payload",
                                        "skip-sanitize-payload", ">pw1", ">pw2", "<pw1", "~a*", "~b?", "%R~r*",
                                        "%W~w*", "%RW~x", "~q\"x'", "&ch*", "&*", "~*"};
    int checks = 0;
    for (int iter = 0; iter < 20000; iter++) {
        char *rules[24];
        size_t lens[24];
        char store[24][80];
        int n = 1 + (int)(next_rand() % 20);
        for (int i = 0; i < n; i++) {
            uint64_t r = next_rand();
            switch (r % 4) {
            case 0:
                snprintf(store[i], sizeof store[i], "%s", words[(r >> 8) % KVD_ARRAY_SIZE(words)]);
                break;
            case 1:
            case 2:
                snprintf(store[i], sizeof store[i], "%c%s", (r >> 8) & 1 ? '+' : '-', names[(r >> 9) % (uint64_t)ncmds]);
                break;
            default:
                snprintf(store[i], sizeof store[i], "%c@%s", (r >> 8) & 1 ? '+' : '-',
                         (r >> 9) % 8 == 0 ? "all" : acl_category_names[(r >> 12) % 21]);
            }
            rules[i] = store[i];
            lens[i] = strlen(store[i]);
        }
        char name[32], err[512];
        snprintf(name, sizeof name, "u%d", iter % 50);
        if (acl_setuser(name, strlen(name), n, rules, lens, err, sizeof err) < 0)
            continue; /* e.g. a pattern after allkeys: refused whole */
        acl_user *u = acl_find(name, strlen(name));
        buf_t b = BUF_INIT(&srv.pool);
        acl_describe_user(u, &b);
        char *line = xmalloc(b.len + 1);
        memcpy(line, b.data, b.len);
        line[b.len] = '\0';
        /* The line, parsed as a fresh user of another name. */
        char *copy = xstrdup(line);
        char *argv[256];
        size_t argvlen[256];
        int argc = split_words(copy, argv, argvlen, 256);
        ck_assert_int_ge(argc, 3);
        acl_detach("again", 5);
        ck_assert_msg(acl_setuser("again", 5, argc - 2, argv + 2, argvlen + 2, err, sizeof err) == 0, "%s: %s", line,
                      err);
        acl_user *v = acl_find("again", 5);
        ck_assert_msg(same_user(u, v), "described as [%s], which parses to other permissions", line);
        buf_reset(&b);
        acl_describe_user(v, &b);
        ck_assert_msg(b.len == strlen(line) - strlen(name) + 5, "[%s] described again differs", line);
        acl_user_free(acl_detach("again", 5));
        buf_release(&b);
        free(copy);
        free(line);
        checks++;
    }
    ck_assert_int_gt(checks, 10000);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("acl");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_default_user);
    tcase_add_test(tc, test_describe_as_redis);
    tcase_add_test(tc, test_errors_as_redis);
    tcase_add_test(tc, test_commands_and_categories);
    tcase_add_test(tc, test_keys);
    tcase_add_test(tc, test_passwords);
    tcase_add_test(tc, test_load_text);
    tcase_add_test(tc, test_save_file);
    tcase_add_test(tc, test_describe_parses_back_the_same);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
