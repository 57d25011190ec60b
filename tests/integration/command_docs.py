#!/usr/bin/python3
"""COMMAND INFO, COMMAND DOCS and COMMAND GETKEYS[ANDFLAGS] of kvd against
a redis-server 7.0, byte for byte, in RESP2 and RESP3.

    command_docs.py KVD_PORT REDIS_PORT

Every command and subcommand kvd lists (COMMAND LIST) that Redis has too
is asked for in both protocols; the replies must be the same bytes. For a
container (CLIENT, CONFIG, ...) Redis lists subcommands kvd lacks, in its
own hash order: those are dropped from Redis's reply and both lists put in
name order before the bytes are compared. Then a list of calls, covering
every kvd command with key arguments and the error cases, goes through
COMMAND GETKEYS and GETKEYSANDFLAGS, and 1000 random ones (seed
COMMAND_DOCS_SEED, default 7) made of the words that move keys or change
their flags. Last, python3-redis (when installed)
must parse what kvd sends. Prints one line per check; exits 1 on any
failure. Python 3 standard library only (python3-redis optional).
"""
import os
import random
import socket
import sys

# Calls for GETKEYS / GETKEYSANDFLAGS: every kvd command with keys, with the
# options that change its keys or their flags, and the errors.
CALLS = """
get k
set k v
set k v get
set k v NX GeT
set k get x
set k v ex 10 get
setnx k v
setex k 1 v
psetex k 1 v
getset k v
getdel k
getex k
getex k ex 1
mget a b c
mset a 1 b 2
mset a 1 b
msetnx a 1 b 2
incr k
decr k
incrby k 1
decrby k 1
incrbyfloat k 1.5
append k v
strlen k
getrange k 0 1
substr k 0 1
setrange k 0 v
setbit k 0 1
getbit k 0
bitcount k
bitcount k 0 1 bit
bitpos k 1
bitop and d a b c
bitop not d a
bitfield k
bitfield k get u8 0
bitfield k GET u8 0 overflow wrap
bitfield k overflow set u8 0 1
bitfield k set u8 0 1
bitfield k incrby u8 0 1
bitfield k get u8
bitfield k get u8 0 get
bitfield k foo
bitfield_ro k
bitfield_ro k get u8 0
lcs a b
lcs a b idx minmatchlen 2 withmatchlen
del a
del a b c
unlink a b
exists a b
type k
touch a b
expire k 1
expire k 1 nx
pexpire k 1
expireat k 1
pexpireat k 1
ttl k
pttl k
expiretime k
pexpiretime k
persist k
rename a b
renamenx a b
copy a b
copy a b db 0 replace
move k 1
watch a
watch a b c
object encoding k
object freq k
object idletime k
object refcount k
OBJECT ENCODING k
memory usage k
memory usage k samples 5
GET k
nosuch a
get a b
get
ping x
echo x
config get x
client kill x
client nosuch x
object nosuch k
object help
memory usage
memory doctor
swapdb 0 1
select 0
keys *
scan 0
flushall
""".strip().splitlines() + [
    "del " + " ".join("k%d" % i for i in range(300)),  # more keys than fit on GETKEYS's stack
    "mset " + " ".join("k%d v" % i for i in range(100)),
]


def enc(args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


class Conn:
    def __init__(self, port, proto):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.f = self.sock.makefile("rb")
        if proto == 3:
            self.call("HELLO", "3")

    def call(self, *args):
        self.sock.sendall(enc(args))
        return self.read_raw()

    def read_raw(self):
        line = self.f.readline()
        if not line:
            raise RuntimeError("connection closed")
        t, rest = line[:1], line[1:-2]
        out = line
        if t in b"$=!":
            n = int(rest)
            if n >= 0:
                out += self.f.read(n + 2)
        elif t in b"*~%>":
            n = int(rest)
            for _ in range(max(n, 0) * (2 if t == b"%" else 1)):
                out += self.read_raw()
        return out


# ---- a typed tree of a reply, to take containers apart and put back ----

def parse(b, i=0):
    j = b.index(b"\r\n", i)
    t, rest, i = b[i:i + 1], b[i + 1:j], j + 2
    if t in b"$=!":
        n = int(rest)
        if n < 0:
            return (t, None, rest), i
        return (t, b[i:i + n], rest), i + n + 2
    if t in b"*~%>":
        n = int(rest)
        items = []
        for _ in range(max(n, 0) * (2 if t == b"%" else 1)):
            x, i = parse(b, i)
            items.append(x)
        return (t, items, rest), i
    return (t, rest, rest), i


def unparse(x):
    t, v, rest = x
    if isinstance(v, list):
        n = len(v) // 2 if t == b"%" else len(v)
        return t + b"%d\r\n" % n + b"".join(unparse(e) for e in v)
    if t in b"$=!" and v is not None:
        return t + b"%d\r\n" % len(v) + v + b"\r\n"
    return t + rest + b"\r\n"


def pairs(x):
    """The (key, value) pairs of a map: a RESP3 map or a RESP2 flat array."""
    v = x[1]
    return [(v[i], v[i + 1]) for i in range(0, len(v), 2)]


def with_pairs(x, kv):
    flat = [e for p in kv for e in p]
    return (x[0], flat, x[2])


def normalize_info(b, keep):
    """COMMAND INFO of one container: its subcommands only those in keep, by name."""
    top = parse(b)[0]
    entry = top[1][0]
    subs = entry[1][9]
    if not subs[1]:
        return b
    items = [s for s in subs[1] if s[1][0][1].decode() in keep]
    items.sort(key=lambda s: s[1][0][1])
    entry[1][9] = (subs[0], items, b"%d" % len(items))
    return unparse(top)


def normalize_docs(b, keep):
    """COMMAND DOCS of one container: its subcommands only those in keep, by name."""
    top = parse(b)[0]
    [(name, doc)] = pairs(top)
    kv = pairs(doc)
    for i, (k, v) in enumerate(kv):
        if k[1] == b"subcommands":
            subs = [p for p in pairs(v) if p[0][1].decode() in keep]
            subs.sort(key=lambda p: p[0][1])
            kv[i] = (k, with_pairs(v, subs))
    return unparse(with_pairs(top, [(name, with_pairs(doc, kv))]))


FAILS = 0


def fail(msg):
    global FAILS
    FAILS += 1
    print("FAIL %s" % msg)


def report(before, msg):
    """The ok line of a part, if it added no failures."""
    if FAILS == before:
        print("ok   " + msg)


def show(b):
    s = b.decode("latin-1").replace("\r\n", " ")
    return s if len(s) < 600 else s[:600] + "..."


def main():
    kport, rport = int(sys.argv[1]), int(sys.argv[2])
    k2, r2 = Conn(kport, 2), Conn(rport, 2)
    names = [x[1].decode() for x in parse(k2.call("COMMAND", "LIST"))[0][1]]
    kvd_only, compared, before = [], 0, FAILS
    for proto in (2, 3):
        k, r = Conn(kport, proto), Conn(rport, proto)
        for name in names:
            kinfo, rinfo = k.call("COMMAND", "INFO", name), r.call("COMMAND", "INFO", name)
            if parse(rinfo)[0][1][0][0] in (b"_", b"$"):  # nil
                if proto == 2:
                    kvd_only.append(name)
                continue
            kdocs, rdocs = k.call("COMMAND", "DOCS", name), r.call("COMMAND", "DOCS", name)
            subs = parse(kinfo)[0][1][0][1][9][1]
            if subs:
                rsubs = parse(rinfo)[0][1][0][1][9][1]
                keep = {s[1][0][1].decode() for s in subs} & {s[1][0][1].decode() for s in rsubs}
                kinfo, rinfo = normalize_info(kinfo, keep), normalize_info(rinfo, keep)
                kdocs, rdocs = normalize_docs(kdocs, keep), normalize_docs(rdocs, keep)
            for what, a, b in (("INFO", kinfo, rinfo), ("DOCS", kdocs, rdocs)):
                compared += 1
                if a != b:
                    fail("RESP%d COMMAND %s %s:\n  kvd:   %s\n  redis: %s" % (proto, what, name, show(a), show(b)))
        # Several names at once, unknown ones, any case, and no names.
        for args in (["INFO", "get", "nosuch", "CLIENT|KILL", "get|x", "client|kill|x", "SET"],
                     ["DOCS", "get", "nosuch", "CLIENT|KILL", "get|x", "Set"], ["DOCS", "nosuch"],
                     ["INFO", "nosuch"]):
            compared += 1
            a, b = k.call("COMMAND", *args), r.call("COMMAND", *args)
            if a != b:
                fail("RESP%d COMMAND %s:\n  kvd:   %s\n  redis: %s" % (proto, " ".join(args), show(a), show(b)))
        # COMMAND, COMMAND INFO and COMMAND DOCS with no names: every
        # command, each as it answers alone (the order is the table's).
        total = parse(k.call("COMMAND", "COUNT"))[0][1]
        for args in (["COMMAND"], ["COMMAND", "INFO"]):
            entries = parse(k.call(*args))[0][1]
            alone = [parse(k.call("COMMAND", "INFO", e[1][0][1]))[0][1][0] for e in entries]
            if len(entries) != int(total) or entries != alone:
                fail("RESP%d %s: not every command as COMMAND INFO gives it" % (proto, " ".join(args)))
        docs = pairs(parse(k.call("COMMAND", "DOCS"))[0])
        alone = [pairs(parse(k.call("COMMAND", "DOCS", n[1]))[0])[0] for n, _ in docs]
        if len(docs) != int(total) or docs != alone:
            fail("RESP%d COMMAND DOCS: not every command as COMMAND DOCS gives it" % proto)
    report(before, "COMMAND INFO and DOCS: %d replies compared in RESP2 and RESP3 (kvd only: %s)" %
           (compared, " ".join(kvd_only)))

    # GETKEYS and GETKEYSANDFLAGS; MOVE and SWAPDB only once kvd has them.
    have = set(names)
    keyed = set()
    n, before = 0, FAILS
    for proto in (2, 3):
        k, r = Conn(kport, proto), Conn(rport, proto)
        for line in CALLS:
            args = line.split()
            if args[0].lower() in ("move", "swapdb") and args[0].lower() not in have:
                continue
            for sub in ("GETKEYS", "GETKEYSANDFLAGS"):
                a, b = k.call("COMMAND", sub, *args), r.call("COMMAND", sub, *args)
                n += 1
                if a != b:
                    fail("RESP%d COMMAND %s %s:\n  kvd:   %s\n  redis: %s" % (proto, sub, line, show(a), show(b)))
                elif not a.startswith(b"-"):
                    keyed.add(args[0].lower() + ("|" + args[1].lower() if args[0].lower() in
                                                 ("object", "memory") else ""))
        for args in (["GETKEYS"], ["GETKEYS", "get"], ["GETKEYSANDFLAGS", "get"], ["GETKEYSANDFLAGS"]):
            a, b = k.call("COMMAND", *args), r.call("COMMAND", *args)
            n += 1
            if a != b:
                fail("RESP%d COMMAND %s:\n  kvd:   %s\n  redis: %s" % (proto, " ".join(args), show(a), show(b)))
    # Random calls (seeded): words that change keys or flags, in any order
    # and number, to every command in CALLS but MOVE and SWAPDB.
    rnd = random.Random(int(os.environ.get("COMMAND_DOCS_SEED", "7")))
    heads = sorted({" ".join(line.split()[:2 if line.split()[0].lower() in ("object", "memory", "client",
                                                                            "config") else 1]).lower()
                    for line in CALLS if line.split()[0].lower() not in ("move", "swapdb")})
    words = ["k", "get", "GET", "set", "overflow", "u8", "i5", "0", "1", "-1", "2", "x", "incrby", "nx", "db",
             "ex", "samples", "encoding", "", "a b"]
    k, r = Conn(kport, 2), Conn(rport, 2)
    for _ in range(1000):
        args = rnd.choice(heads).split() + [rnd.choice(words) for _ in range(rnd.randint(0, 7))]
        sub = rnd.choice(["GETKEYS", "GETKEYSANDFLAGS"])
        a, b = k.call("COMMAND", sub, *args), r.call("COMMAND", sub, *args)
        n += 1
        if a != b:
            fail("COMMAND %s %r:\n  kvd:   %s\n  redis: %s" % (sub, args, show(a), show(b)))
    # Every kvd command with key specs must have been asked about.
    k3 = Conn(kport, 3)
    for name in names:
        info = parse(k3.call("COMMAND", "INFO", name))[0][1][0][1]
        if info[8][1] and name not in keyed:
            fail("no GETKEYS call in command_docs.py's CALLS for %s" % name)
    report(before, "COMMAND GETKEYS and GETKEYSANDFLAGS: %d replies compared" % n)

    try:
        import redis
    except ImportError:
        print("skip python3-redis not installed")
        return
    before = FAILS
    kr, rr = redis.Redis(port=kport), redis.Redis(port=rport)
    kcmds, rcmds = kr.command(), rr.command()
    for name, entry in kcmds.items():
        if name in rcmds and not entry.get("subcommands") and entry != rcmds[name]:
            fail("python3-redis: command() differs for %s:\n  kvd:   %r\n  redis: %r" % (name, entry, rcmds[name]))
    for args in (("set", "k", "v", "get"), ("mset", "a", "1", "b", "2"), ("bitop", "and", "d", "a", "b")):
        if kr.command_getkeysandflags(*args) != rr.command_getkeysandflags(*args):
            fail("python3-redis: command_getkeysandflags%r" % (args,))
        if kr.command_getkeys(*args) != rr.command_getkeys(*args):
            fail("python3-redis: command_getkeys%r" % (args,))
    for name in ("set", "client|kill", "getset", "bitfield"):
        a = kr.execute_command("COMMAND DOCS", name)
        b = rr.execute_command("COMMAND DOCS", name)
        if a != b:
            fail("python3-redis: COMMAND DOCS %s:\n  kvd:   %r\n  redis: %r" % (name, a, b))
    # What redis-py's cluster client builds from COMMAND to route commands.
    from redis.commands.parser import CommandsParser
    parser = CommandsParser(kr)
    for args in (("SET", "k", "v"), ("MSET", "a", "1", "b", "2"), ("OBJECT", "ENCODING", "k"), ("LCS", "a", "b")):
        keys = parser.get_keys(kr, *args)
        want = CommandsParser(rr).get_keys(rr, *args)
        if keys != want:
            fail("python3-redis CommandsParser.get_keys%r: %r, Redis %r" % (args, keys, want))
    report(before, "python3-redis %s parses COMMAND, COMMAND DOCS and GETKEYSANDFLAGS as from Redis" %
           redis.__version__)


main()
sys.exit(1 if FAILS else 0)
