/* kvd-cli: a command-line client for kvd built on libkvdclient.
 * One-shot (kvd-cli -p 7379 set k v), interactive with line editing and
 * history (libedit), commands read from a pipe, and --pipe for bulk
 * loading. Replies print like redis-cli: formatted when stdout is a
 * terminal, raw otherwise (--raw / --no-raw force either). */
#include "config.h"
#include "args.h"
#include "resp.h"

#include <kvd/client.h>

#include <editline/readline.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "version.h"

typedef struct cli {
    const char *host;
    int port;
    const char *sock;
    const char *password;
    const char *user;
    int db;
    int tty;          /* format replies for a human */
    int from_stdin_x; /* -x: last argument from stdin */
    int tls;          /* --tls */
    kvd_tls_options tls_opt; /* --cacert, --cacertdir, --cert, --key, --sni, --insecure */
    int resp;         /* -3: RESP3 */
    int timeout_ms;   /* connect and command timeout (0: the defaults: 5 s to connect, none for commands) */
    kvd_context *c;
} cli;

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: kvd-cli [OPTIONS] [command [arg ...]]\n"
            "  -h <host>      server host (default 127.0.0.1)\n"
            "  -p <port>      server port (default 7379)\n"
            "  -s <socket>    unix socket (instead of host and port)\n"
            "  -a <password>  AUTH with this password\n"
            "  --user <name>  AUTH as this user (with -a)\n"
            "  -n <db>        database number (default 0)\n"
            "  -3             speak RESP3 (HELLO 3): maps, sets, doubles, ... as such\n"
            "  -x             read the last argument from standard input\n"
            "  --raw          print replies raw, even on a terminal\n"
            "  --no-raw       format replies, even when not on a terminal\n"
            "  --pipe         send standard input (RESP or inline commands) to the server\n"
            "                 as fast as possible and count the replies (not with --tls)\n"
            "  --replica      follow the server's WAL stream as a replica does, from its\n"
            "                 current end on, printing each JSON line as it arrives (a\n"
            "                 change feed); --replica-all first prints the whole data\n"
            "                 (a full sync's base). Not with --tls\n"
            "  --wait-ready <seconds>  first wait, up to that long, until the server\n"
            "                 accepts connections and has loaded its data (PING gets no\n"
            "                 -LOADING); exit 1 if it does not in time\n"
            "  --tls          connect with TLS (to kvd's tls-port)\n"
            "  --cacert <file>     CA certificates to check the server's against (PEM;\n"
            "                      default: the system's)\n"
            "  --cacertdir <dir>   the same, as a directory of hashed certificates\n"
            "  --cert <file>       client certificate (PEM), for tls-auth-clients\n"
            "  --key <file>        its private key (PEM)\n"
            "  --sni <host>        server name to send and to check the certificate for\n"
            "                      (default: the -h host)\n"
            "  --insecure          do not check the server's certificate\n"
            "  --help         this help\n"
            "  --version      print the version\n"
            "\n"
            "Without a command, kvd-cli reads commands interactively (with line editing\n"
            "and history in ~/.kvdcli_history) or, when standard input is not a\n"
            "terminal, one per line from it. Arguments use Redis's quoting:\n"
            "  set greeting \"hello world\"\n"
            "Exit status: 0, or 1 when the server cannot be reached (or --pipe saw\n"
            "error replies, or --wait-ready ran out of time).\n");
}

/* ------------------------------------------------------------ formatting */

/* For n numbered elements: the digits of n in *width, and the prefix of
 * their continuation lines (prefix, then spaces under "N) "); malloc'd. */
static char *nested_prefix(const char *prefix, size_t n, int *width)
{
    *width = 0;
    for (; n; n /= 10)
        (*width)++;
    size_t plen = strlen(prefix);
    char *sub = malloc(plen + (size_t)*width + 3);
    if (!sub)
        return NULL;
    memcpy(sub, prefix, plen);
    memset(sub + plen, ' ', (size_t)*width + 2);
    sub[plen + (size_t)*width + 2] = '\0';
    return sub;
}

/* The human form: nested arrays numbered and indented. prefix is what a
 * continuation line starts with (spaces under the enclosing indexes). */
static void print_tty(FILE *o, const kvd_reply *r, const char *prefix)
{
    switch (r->type) {
    case KVD_REPLY_STATUS:
        fwrite(r->str, 1, r->len, o);
        fputc('\n', o);
        break;
    case KVD_REPLY_ERROR:
        fputs("(error) ", o);
        fwrite(r->str, 1, r->len, o);
        fputc('\n', o);
        break;
    case KVD_REPLY_INTEGER:
        fprintf(o, "(integer) %lld\n", r->integer);
        break;
    case KVD_REPLY_NIL:
        fputs("(nil)\n", o);
        break;
    case KVD_REPLY_BULK:
        args_print_quoted(o, r->str, r->len);
        fputc('\n', o);
        break;
    case KVD_REPLY_DOUBLE:
        fprintf(o, "(double) %.*s\n", (int)r->len, r->str);
        break;
    case KVD_REPLY_BOOL:
        fputs(r->integer ? "(true)\n" : "(false)\n", o);
        break;
    case KVD_REPLY_BIGNUM:
        fprintf(o, "(big number) %.*s\n", (int)r->len, r->str);
        break;
    case KVD_REPLY_VERB:
        fwrite(r->str, 1, r->len, o);
        if (!r->len || r->str[r->len - 1] != '\n')
            fputc('\n', o);
        break;
    case KVD_REPLY_MAP: {
        /* As redis-cli -3: 1# "key" => value */
        size_t pairs = r->elements / 2;
        if (pairs == 0) {
            fputs("(empty hash)\n", o);
            break;
        }
        int width;
        char *sub = nested_prefix(prefix, pairs, &width);
        if (!sub)
            return;
        for (size_t i = 0; i < pairs; i++) {
            fprintf(o, "%s%*zu# ", i == 0 ? "" : prefix, width, i + 1);
            const kvd_reply *key = r->element[2 * i];
            if (key->type == KVD_REPLY_BULK || key->type == KVD_REPLY_STATUS)
                args_print_quoted(o, key->str, key->len);
            else if (key->type == KVD_REPLY_INTEGER)
                fprintf(o, "%lld", key->integer);
            fputs(" => ", o);
            /* As redis-cli: a value that takes more than one line
             * starts on its own line, under the key. */
            char *text = NULL;
            size_t len = 0;
            FILE *m = open_memstream(&text, &len);
            if (!m) {
                free(sub);
                return;
            }
            print_tty(m, r->element[2 * i + 1], sub);
            fclose(m);
            const char *nl = memchr(text, '\n', len);
            if (nl && nl + 1 < text + len)
                fprintf(o, "\n%s", sub);
            fwrite(text, 1, len, o);
            free(text);
        }
        free(sub);
        break;
    }
    case KVD_REPLY_SET:
    case KVD_REPLY_PUSH:
    case KVD_REPLY_ARRAY: {
        if (r->elements == 0) {
            fputs(r->type == KVD_REPLY_SET ? "(empty set)\n" : "(empty array)\n", o);
            break;
        }
        int width;
        char *sub = nested_prefix(prefix, r->elements, &width);
        if (!sub)
            return;
        for (size_t i = 0; i < r->elements; i++) {
            /* The first index follows whatever the caller already printed. */
            fprintf(o, "%s%*zu%c ", i == 0 ? "" : prefix, width, i + 1, r->type == KVD_REPLY_SET ? '~' : ')');
            print_tty(o, r->element[i], sub);
        }
        free(sub);
        break;
    }
    }
}

/* The raw form: bytes as they are, array elements one per line. */
static void print_raw_inner(FILE *o, const kvd_reply *r)
{
    switch (r->type) {
    case KVD_REPLY_STATUS:
    case KVD_REPLY_ERROR:
    case KVD_REPLY_BULK:
    case KVD_REPLY_DOUBLE:
    case KVD_REPLY_BIGNUM:
    case KVD_REPLY_VERB:
        fwrite(r->str, 1, r->len, o);
        break;
    case KVD_REPLY_INTEGER:
    case KVD_REPLY_BOOL:
        fprintf(o, "%lld", r->integer);
        break;
    case KVD_REPLY_NIL:
        break;
    case KVD_REPLY_MAP:
        /* As redis-cli: a pair per line, the key and the value apart by a space. */
        for (size_t i = 0; i + 1 < r->elements; i += 2) {
            if (i)
                fputc('\n', o);
            print_raw_inner(o, r->element[i]);
            fputc(' ', o);
            print_raw_inner(o, r->element[i + 1]);
        }
        break;
    case KVD_REPLY_SET:
    case KVD_REPLY_PUSH:
    case KVD_REPLY_ARRAY:
        for (size_t i = 0; i < r->elements; i++) {
            if (i)
                fputc('\n', o);
            print_raw_inner(o, r->element[i]);
        }
        break;
    }
}

static void print_reply(const cli *k, const kvd_reply *r)
{
    if (k->tty)
        print_tty(stdout, r, "");
    else {
        print_raw_inner(stdout, r);
        fputc('\n', stdout);
    }
    fflush(stdout);
}

/* ------------------------------------------------------------ connection */

static int connect_cli(cli *k, int quiet)
{
    kvd_options o = {.connect_timeout_ms = k->timeout_ms ? k->timeout_ms : 5000,
                     .command_timeout_ms = k->timeout_ms,
                     .username = k->user,
                     .password = k->password,
                     .resp = k->resp};
    kvd_free(k->c);
    if (k->sock)
        k->c = kvd_connect_unix(k->sock, &o);
    else if (k->tls)
        k->c = kvd_connect_tls(k->host, k->port, &o, &k->tls_opt);
    else
        k->c = kvd_connect(k->host, k->port, &o);
    if (!k->c) {
        fprintf(stderr, "kvd-cli: out of memory\n");
        exit(1);
    }
    if (k->c->err) {
        if (!quiet) {
            if (k->sock)
                fprintf(stderr, "Could not connect to kvd at %s: %s\n", k->sock, k->c->errstr);
            else
                fprintf(stderr, "Could not connect to kvd at %s:%d: %s\n", k->host, k->port, k->c->errstr);
        }
        return -1;
    }
    if (k->db) {
        kvd_reply *r;
        if (kvd_command(k->c, &r, "SELECT %d", k->db) == KVD_OK) {
            if (r->type == KVD_REPLY_ERROR)
                fprintf(stderr, "SELECT %d failed: %s\n", k->db, r->str);
            kvd_reply_free(r);
        }
    }
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --wait-ready: connect and PING until the server answers PONG, for up
 * to secs seconds; refused connections, -LOADING (kvd, like Redis, answers
 * so while it loads its data) and a server that does not answer are tried
 * again until then, each attempt bounded by the time left. A -NOAUTH or
 * -NOPERM does not say whether the data is loaded (those checks come
 * first): give -a/--user. Returns 0 when it is ready (k->c connected), -1
 * (said on stderr) when time ran out. */
static int wait_ready(cli *k, double secs)
{
    double deadline = now_s() + secs;
    char why[200] = "no answer";
    for (;;) {
        double left = deadline - now_s();
        k->timeout_ms = left > 0.001 ? (int)(left * 1000) + 1 : 1;
        if (!k->c || k->c->err) {
            kvd_free(k->c);
            k->c = NULL;
            if (connect_cli(k, 1) < 0)
                snprintf(why, sizeof why, "%s", k->c->errstr);
        }
        if (!k->c->err) {
            kvd_reply *r;
            if (kvd_command(k->c, &r, "PING") == KVD_OK) {
                int ready = r->type != KVD_REPLY_ERROR;
                if (!ready)
                    snprintf(why, sizeof why, "%s", r->str);
                kvd_reply_free(r);
                if (ready) {
                    k->timeout_ms = 0;
                    kvd_free(k->c); /* again, without the attempt's timeouts */
                    k->c = NULL;
                    return connect_cli(k, 0);
                }
            } else {
                snprintf(why, sizeof why, "%s", k->c->errstr);
            }
        }
        if (now_s() >= deadline)
            break;
        usleep(100000);
    }
    if (k->sock)
        fprintf(stderr, "kvd-cli: kvd at %s is not ready after %g s: %s\n", k->sock, secs, why);
    else
        fprintf(stderr, "kvd-cli: kvd at %s:%d is not ready after %g s: %s\n", k->host, k->port, secs, why);
    return -1;
}

/* Send one command and print its reply. Reconnects once if the connection
 * was lost (the server restarted). Returns 0, or -1 when it cannot reach
 * the server. */
static int run_command(cli *k, int argc, char **argv, size_t *argvlen)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if ((k->c->err && kvd_fd(k->c) < 0) && connect_cli(k, attempt == 0) < 0)
            continue;
        kvd_reply *r;
        int rc = kvd_command_argv(k->c, &r, argc, (const char *const *)argv, argvlen);
        if (rc == KVD_OK) {
            print_reply(k, r);
            kvd_reply_free(r);
            return 0;
        }
        if (rc == KVD_ERR_OOM || rc == KVD_ERR_ARG) {
            fprintf(stderr, "kvd-cli: %s\n", k->c->errstr);
            return 0;
        }
        if (attempt == 1 || rc == KVD_ERR_TIMEOUT)
            break;
    }
    if (k->sock)
        fprintf(stderr, "Could not connect to kvd at %s: %s\n", k->sock, k->c->errstr);
    else
        fprintf(stderr, "Could not connect to kvd at %s:%d: %s\n", k->host, k->port, k->c->errstr);
    return -1;
}

static int is_word(const char *a, size_t n, const char *w)
{
    return strlen(w) == n && strncasecmp(a, w, n) == 0;
}

/* Split a line with Redis's quoting and run it. Returns 1 to quit. */
static int run_line(cli *k, char *line)
{
    size_t len = strlen(line);
    int max = (int)(len / 2 + 2);
    char **argv = malloc((size_t)max * sizeof(*argv));
    size_t *argvlen = malloc((size_t)max * sizeof(*argvlen));
    int quit = 0;
    int argc = argv && argvlen ? args_split(line, len, argv, argvlen, max) : -3;
    if (argc == ARGS_ERR_QUOTES) {
        fprintf(stderr, "Invalid argument(s)\n");
    } else if (argc > 0) {
        if (argc == 1 && (is_word(argv[0], argvlen[0], "quit") || is_word(argv[0], argvlen[0], "exit")))
            quit = 1;
        else if (is_word(argv[0], argvlen[0], "help")) {
            printf("kvd-cli %s: type commands as for redis-cli, e.g. SET key \"a value\".\n"
                   "\"COMMAND DOCS <name>\" describes a command; \"quit\" leaves.\n",
                   KVD_VERSION);
        } else if (run_command(k, argc, argv, argvlen) < 0 && !k->tty) {
            quit = 2;
        }
    }
    free(argv);
    free(argvlen);
    return quit;
}

static char *history_path(void)
{
    const char *env = getenv("KVDCLI_HISTFILE");
    if (env)
        return *env ? strdup(env) : NULL;
    const char *home = getenv("HOME");
    if (!home)
        return NULL;
    size_t n = strlen(home) + 32;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/.kvdcli_history", home);
    return p;
}

static int interactive(cli *k)
{
    char *hist = history_path();
    using_history();
    if (hist)
        read_history(hist);
    char prompt[300];
    if (k->sock)
        snprintf(prompt, sizeof prompt, "kvd %s> ", k->sock);
    else
        snprintf(prompt, sizeof prompt, "%s:%d> ", k->host, k->port);
    char *line;
    while ((line = readline(prompt)) != NULL) {
        if (*line)
            add_history(line);
        int q = run_line(k, line);
        free(line);
        if (q == 1)
            break;
    }
    if (hist) {
        write_history(hist);
        free(hist);
    }
    return 0;
}

/* Commands from a non-terminal stdin, one per line. */
static int from_stdin(cli *k)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        int q = run_line(k, line);
        if (q == 2) {
            rc = 1;
            break;
        }
        if (q == 1)
            break;
    }
    free(line);
    return rc;
}

/* ------------------------------------------------------------------ --pipe */

/* Write stdin to the server while reading replies, then an ECHO of a
 * random marker; every reply before the marker's is counted. Replies are
 * only framed (resp_scan_reply), never built. */
static int pipe_mode(cli *k)
{
    int fd = kvd_fd(k->c);
    char marker[41];
    FILE *ur = fopen("/dev/urandom", "rb");
    unsigned char rnd[20] = {0};
    if (ur) {
        if (fread(rnd, 1, sizeof rnd, ur) != sizeof rnd)
            memset(rnd, 7, sizeof rnd);
        fclose(ur);
    }
    for (int i = 0; i < 20; i++)
        snprintf(marker + 2 * i, 3, "%02x", rnd[i]);
    char echo[128];
    int echolen = snprintf(echo, sizeof echo, "*2\r\n$4\r\nECHO\r\n$40\r\n%s\r\n", marker);

    size_t icap = 1 << 20, ilen = 0;
    char *in = malloc(icap);
    char obuf[65536];
    size_t opos = 0, olen = 0;
    int stdin_done = 0, echo_sent = 0, done = 0;
    unsigned long long replies = 0, errors = 0;
    resp_scan scan;
    resp_scan_init(&scan, 0, 0);
    if (!in) {
        fprintf(stderr, "kvd-cli: out of memory\n");
        return 1;
    }
    while (!done) {
        if (opos == olen && !stdin_done) {
            ssize_t n = read(STDIN_FILENO, obuf, sizeof obuf);
            if (n > 0) {
                opos = 0;
                olen = (size_t)n;
            } else if (n == 0) {
                stdin_done = 1;
            } else if (errno != EINTR) {
                fprintf(stderr, "kvd-cli: reading stdin: %s\n", strerror(errno));
                return 1;
            }
        }
        if (opos == olen && stdin_done && !echo_sent) {
            memcpy(obuf, echo, (size_t)echolen);
            opos = 0;
            olen = (size_t)echolen;
            echo_sent = 1;
            fprintf(stderr, "All data transferred. Waiting for the last reply...\n");
        }
        struct pollfd p = {fd, (short)(POLLIN | (opos < olen ? POLLOUT : 0)), 0};
        if (poll(&p, 1, -1) < 0 && errno != EINTR)
            break;
        if ((p.revents & POLLOUT) && opos < olen) {
            ssize_t w = write(fd, obuf + opos, olen - opos);
            if (w > 0)
                opos += (size_t)w;
            else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                fprintf(stderr, "kvd-cli: write: %s\n", strerror(errno));
                return 1;
            }
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            if (icap - ilen < 65536) {
                char *n = realloc(in, icap * 2);
                if (!n) {
                    fprintf(stderr, "kvd-cli: out of memory\n");
                    return 1;
                }
                in = n;
                icap *= 2;
            }
            ssize_t r = read(fd, in + ilen, icap - ilen);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                fprintf(stderr, "kvd-cli: the server closed the connection\n");
                break;
            }
            if (r > 0)
                ilen += (size_t)r;
            size_t pos = 0;
            long long len;
            while ((len = resp_scan_reply(&scan, in + pos, ilen - pos)) > 0) {
                const char *rp = in + pos;
                if (echo_sent && len == 47 && memcmp(rp, "$40\r\n", 5) == 0 && memcmp(rp + 5, marker, 40) == 0) {
                    done = 1;
                    break;
                }
                replies++;
                if (rp[0] == '-') {
                    errors++;
                    const char *eol = memchr(rp, '\r', (size_t)len);
                    fprintf(stdout, "%.*s\n", (int)(eol - rp - 1), rp + 1);
                }
                pos += (size_t)len;
            }
            if (len < 0) {
                fprintf(stderr, "kvd-cli: protocol error in a reply: %s\n", scan.err);
                return 1;
            }
            memmove(in, in + pos, ilen - pos);
            ilen -= pos;
        }
    }
    free(in);
    if (!done)
        return 1;
    fprintf(stderr, "Last reply received from server.\n");
    fprintf(stderr, "errors: %llu, replies: %llu\n", errors, replies);
    return errors ? 1 : 0;
}

/* ---------------------------------------------------------------- replica */

/* The value of field in an INFO reply, into out ("" if missing). */
static void info_field(const char *info, const char *field, char *out, size_t n)
{
    out[0] = '\0';
    size_t fl = strlen(field);
    for (const char *p = info; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, field, fl) == 0 && p[fl] == ':') {
            const char *v = p + fl + 1;
            size_t len = strcspn(v, "\r\n");
            snprintf(out, n, "%.*s", (int)(len < n ? len : n - 1), v);
            return;
        }
}

/* --replica: SYNCWAL from the end (all: from nothing, a full sync), then
 * print the stream's lines. Runs until the server closes the link. */
static int replica_mode(cli *k, int all)
{
    char id[64] = "", off[32] = "0";
    kvd_reply *r = NULL;
    if (kvd_command(k->c, &r, "INFO replication") != KVD_OK || r->type == KVD_REPLY_ERROR) {
        fprintf(stderr, "kvd-cli: INFO replication failed: %s\n", r ? r->str : k->c->errstr);
        kvd_reply_free(r);
        return 1;
    }
    info_field(r->str, "master_replid", id, sizeof id);
    info_field(r->str, "master_repl_offset", off, sizeof off);
    kvd_reply_free(r);
    char cmd[160];
    int n = all ? snprintf(cmd, sizeof cmd, "SYNCWAL none 1\r\n")
                : snprintf(cmd, sizeof cmd, "SYNCWAL %s %llu\r\n", id, strtoull(off, NULL, 10) + 1);
    int fd = kvd_fd(k->c);
    if (write(fd, cmd, (size_t)n) != n) {
        fprintf(stderr, "kvd-cli: write: %s\n", strerror(errno));
        return 1;
    }
    size_t cap = 1 << 20, len = 0;
    char *in = malloc(cap);
    int header = 1;               /* the status line is still to come */
    unsigned long long bulk = 0;  /* bytes of the base still to come */
    int want_bulk = 0;
    if (!in)
        return 1;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, -1) < 0 && errno != EINTR)
            break;
        if (len == cap) {
            char *m = realloc(in, cap * 2);
            if (!m)
                break;
            in = m;
            cap *= 2;
        }
        ssize_t got = read(fd, in + len, cap - len);
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
            fprintf(stderr, "kvd-cli: the server closed the connection\n");
            break;
        }
        if (got > 0)
            len += (size_t)got;
        size_t pos = 0;
        for (;;) {
            if (bulk) {
                size_t take = len - pos < bulk ? len - pos : (size_t)bulk;
                fwrite(in + pos, 1, take, stdout);
                pos += take;
                bulk -= take;
                if (bulk)
                    break;
                continue;
            }
            char *nl = memchr(in + pos, '\n', len - pos);
            if (!nl)
                break;
            size_t ll = (size_t)(nl - (in + pos));
            const char *line = in + pos;
            pos += ll + 1;
            if (ll && line[ll - 1] == '\r')
                ll--;
            if (ll == 0)
                continue; /* a keepalive */
            if (header) {
                header = 0;
                if (line[0] == '-') {
                    fprintf(stderr, "kvd-cli: %.*s\n", (int)ll, line);
                    free(in);
                    return 1;
                }
                fprintf(stderr, "%.*s\n", (int)ll, line);
                want_bulk = strncmp(line, "+FULLSYNC", 9) == 0;
                continue;
            }
            if (want_bulk && line[0] == '$') {
                want_bulk = 0;
                bulk = strtoull(line + 1, NULL, 10);
                continue;
            }
            fwrite(line, 1, ll, stdout);
            fputc('\n', stdout);
        }
        fflush(stdout);
        memmove(in, in + pos, len - pos);
        len -= pos;
    }
    free(in);
    return 1;
}

/* ------------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    cli k = {.host = "127.0.0.1", .port = 7379, .tty = isatty(STDOUT_FILENO)};
    int pipe_flag = 0, replica_flag = 0;
    double wait_secs = -1;
    enum { OPT_RAW = 1000, OPT_NORAW, OPT_PIPE, OPT_HELP, OPT_VERSION, OPT_USER, OPT_TLS, OPT_CACERT,
           OPT_CACERTDIR, OPT_CERT, OPT_KEY, OPT_SNI, OPT_INSECURE, OPT_WAIT_READY, OPT_REPLICA,
           OPT_REPLICA_ALL };
    static const struct option opts[] = {{"raw", no_argument, NULL, OPT_RAW},
                                         {"no-raw", no_argument, NULL, OPT_NORAW},
                                         {"pipe", no_argument, NULL, OPT_PIPE},
                                         {"help", no_argument, NULL, OPT_HELP},
                                         {"version", no_argument, NULL, OPT_VERSION},
                                         {"user", required_argument, NULL, OPT_USER},
                                         {"tls", no_argument, NULL, OPT_TLS},
                                         {"cacert", required_argument, NULL, OPT_CACERT},
                                         {"cacertdir", required_argument, NULL, OPT_CACERTDIR},
                                         {"cert", required_argument, NULL, OPT_CERT},
                                         {"key", required_argument, NULL, OPT_KEY},
                                         {"sni", required_argument, NULL, OPT_SNI},
                                         {"insecure", no_argument, NULL, OPT_INSECURE},
                                         {"wait-ready", required_argument, NULL, OPT_WAIT_READY},
                                         {"replica", no_argument, NULL, OPT_REPLICA},
                                         {"replica-all", no_argument, NULL, OPT_REPLICA_ALL},
                                         {NULL, 0, NULL, 0}};
    int ch;
    /* '+' stops at the first non-option: the command and its arguments. */
    while ((ch = getopt_long(argc, argv, "+h:p:s:a:n:x3", opts, NULL)) != -1) {
        switch (ch) {
        case 'h': k.host = optarg; break;
        case 'p': k.port = atoi(optarg); break;
        case 's': k.sock = optarg; break;
        case 'a': k.password = optarg; break;
        case 'n': k.db = atoi(optarg); break;
        case 'x': k.from_stdin_x = 1; break;
        case '3': k.resp = 3; break;
        case OPT_USER: k.user = optarg; break;
        case OPT_TLS: k.tls = 1; break;
        case OPT_CACERT: k.tls_opt.cacert = optarg; break;
        case OPT_CACERTDIR: k.tls_opt.cacertdir = optarg; break;
        case OPT_CERT: k.tls_opt.cert = optarg; break;
        case OPT_KEY: k.tls_opt.key = optarg; break;
        case OPT_SNI: k.tls_opt.server_name = optarg; break;
        case OPT_INSECURE: k.tls_opt.insecure = 1; break;
        case OPT_RAW: k.tty = 0; break;
        case OPT_NORAW: k.tty = 1; break;
        case OPT_PIPE: pipe_flag = 1; break;
        case OPT_REPLICA: replica_flag = 1; break;
        case OPT_REPLICA_ALL: replica_flag = 2; break;
        case OPT_WAIT_READY: {
            char *end;
            wait_secs = strtod(optarg, &end);
            if (end == optarg || *end || !(wait_secs >= 0) || wait_secs > 1e9) {
                fprintf(stderr, "kvd-cli: --wait-ready wants a number of seconds, not '%s'\n", optarg);
                return 1;
            }
            break;
        }
        case OPT_HELP: usage(stdout); return 0;
        case OPT_VERSION: printf("kvd-cli %s\n", KVD_VERSION); return 0;
        default: usage(stderr); return 1;
        }
    }
    if ((pipe_flag || replica_flag) && k.tls) {
        fprintf(stderr, "kvd-cli: --pipe and --replica do not work over --tls\n");
        return 1;
    }
    if (wait_secs >= 0 ? wait_ready(&k, wait_secs) < 0 : connect_cli(&k, 0) < 0) {
        kvd_free(k.c);
        return 1;
    }
    int rc = 0;
    if (replica_flag) {
        rc = replica_mode(&k, replica_flag == 2);
    } else if (pipe_flag) {
        rc = pipe_mode(&k);
    } else if (optind < argc) {
        int n = argc - optind;
        char **av = calloc((size_t)n + 1, sizeof(*av));
        size_t *al = calloc((size_t)n + 1, sizeof(*al));
        char *extra = NULL;
        if (!av || !al) {
            fprintf(stderr, "kvd-cli: out of memory\n");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            av[i] = argv[optind + i];
            al[i] = strlen(av[i]);
        }
        if (k.from_stdin_x) {
            size_t cap = 65536, len = 0;
            extra = malloc(cap);
            size_t r;
            while (extra && (r = fread(extra + len, 1, cap - len, stdin)) > 0) {
                len += r;
                if (len == cap)
                    extra = realloc(extra, cap *= 2);
            }
            av[n] = extra ? extra : "";
            al[n] = extra ? len : 0;
            n++;
        }
        rc = run_command(&k, n, av, al) < 0 ? 1 : 0;
        free(extra);
        free(av);
        free(al);
    } else if (isatty(STDIN_FILENO)) {
        rc = interactive(&k);
    } else {
        rc = from_stdin(&k);
    }
    kvd_free(k.c);
    return rc;
}
