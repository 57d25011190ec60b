"""Load, write and dump helpers for tests/integration/replication.sh
(Python 3 standard library only, pipelined RESP2 over a socket).

    repl_load.py load PORT NKEYS SEED     keys across several databases (0-3)
    repl_load.py writes PORT NCMDS SEED   a random write stream
    repl_load.py dump PORT                every database: key, value, PEXPIRETIME

The write stream: SET (with and without TTLs), INCR, APPEND, EXPIRE,
PEXPIRE, PERSIST, DEL, MULTI/EXEC groups, MSET, RENAME, SWAPDB, MOVE and,
rarely, FLUSHDB, over databases 0-3. TTLs are either tiny (the keys are
gone long before any dump) or long (they outlive the test), so a dump
taken once the stream is quiet means the same on both servers.
"""
import random
import socket
import sys

DBS = 4


class Pipe:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.buf = b""
        self.out = []
        self.pending = 0

    def cmd(self, *args):
        parts = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.out.append(b"".join(parts))
        self.pending += 1

    def _line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(1 << 20)
            if not d:
                raise EOFError
            self.buf += d
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _read(self):
        line = self._line()
        t = line[:1]
        if t in (b"+", b":"):
            return line[1:].decode()
        if t == b"-":
            return ("ERR", line[1:].decode())
        if t == b"$":
            n = int(line[1:])
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                d = self.s.recv(1 << 20)
                if not d:
                    raise EOFError
                self.buf += d
            v, self.buf = self.buf[:n], self.buf[n + 2:]
            return v
        if t == b"*":
            n = int(line[1:])
            return None if n < 0 else [self._read() for _ in range(n)]
        raise ValueError("bad reply %r" % line)

    def flush(self):
        self.s.sendall(b"".join(self.out))
        self.out = []
        replies = [self._read() for _ in range(self.pending)]
        self.pending = 0
        return replies


def load(port, n, seed):
    rnd = random.Random(seed)
    p = Pipe(port)
    for db in range(DBS):
        p.cmd("SELECT", db)
        for i in range(db, n, DBS):
            v = "v%d-%s" % (i, "x" * rnd.randrange(0, 40))
            if i % 10 == 0:
                p.cmd("SET", "k%d" % i, v, "EX", rnd.randrange(10000, 100000))
            else:
                p.cmd("SET", "k%d" % i, v)
            if p.pending >= 2000:
                p.flush()
        p.flush()


def writes(port, n, seed):
    rnd = random.Random(seed)
    p = Pipe(port)
    errors = 0
    done = 0
    while done < n:
        db = rnd.randrange(DBS)
        p.cmd("SELECT", db)
        for _ in range(200):
            key = "k%d" % rnd.randrange(2000)
            r = rnd.random()
            if r < 0.25:
                p.cmd("SET", key, "s%d" % rnd.randrange(10 ** 6))
            elif r < 0.35:
                p.cmd("SET", key, "t", "PX", rnd.choice([1, 5, 20]))
            elif r < 0.45:
                p.cmd("SET", "n%d" % rnd.randrange(50), rnd.randrange(100))
                p.cmd("INCR", "n%d" % rnd.randrange(50))
            elif r < 0.55:
                p.cmd("APPEND", key, "+%d" % rnd.randrange(100))
            elif r < 0.62:
                p.cmd("EXPIRE", key, rnd.randrange(10000, 100000))
            elif r < 0.66:
                p.cmd("PEXPIRE", key, rnd.choice([1, 3, 10]))
            elif r < 0.69:
                p.cmd("PERSIST", key)
            elif r < 0.78:
                p.cmd("DEL", key, "k%d" % rnd.randrange(2000))
            elif r < 0.86:
                p.cmd("MULTI")
                for _ in range(rnd.randrange(1, 6)):
                    p.cmd("INCR", "m%d" % rnd.randrange(20))
                    p.cmd("SET", "k%d" % rnd.randrange(2000), "mx")
                p.cmd("EXEC")
            elif r < 0.90:
                p.cmd("MSET", key, "a", "k%d" % rnd.randrange(2000), "b")
            elif r < 0.93:
                p.cmd("RENAME", key, "k%d" % rnd.randrange(2000))
            elif r < 0.96:
                p.cmd("MOVE", key, rnd.randrange(DBS))
            elif r < 0.999:
                p.cmd("SWAPDB", rnd.randrange(DBS), rnd.randrange(DBS))
            else:
                p.cmd("FLUSHDB")
            done += 1
        for rep in p.flush():
            if isinstance(rep, tuple) and "no such key" not in rep[1] and "are the same" not in rep[1]:
                errors += 1
                if errors < 5:
                    print("error:", rep[1], file=sys.stderr)
    if errors:
        sys.exit("%d unexpected errors" % errors)


def dump(port):
    p = Pipe(port)
    lines = []
    for db in range(16):
        p.cmd("SELECT", db)
        p.flush()
        cursor = "0"
        keys = []
        while True:
            p.cmd("SCAN", cursor, "COUNT", 1000)
            cursor, batch = p.flush()[0]
            cursor = cursor.decode()
            keys.extend(batch)
            if cursor == "0":
                break
        keys = sorted(set(keys))
        for i in range(0, len(keys), 1000):
            chunk = keys[i:i + 1000]
            for k in chunk:
                p.cmd("GET", k)
                p.cmd("PEXPIRETIME", k)
            reps = p.flush()
            for j, k in enumerate(chunk):
                v, t = reps[2 * j], reps[2 * j + 1]
                if v is None:
                    continue  # expired: missing on both
                lines.append(b"%d %s %s %s" % (db, k, v, t.encode()))
    sys.stdout.buffer.write(b"\n".join(lines) + b"\n")


if __name__ == "__main__":
    what, port = sys.argv[1], int(sys.argv[2])
    if what == "load":
        load(port, int(sys.argv[3]), int(sys.argv[4]))
    elif what == "writes":
        writes(port, int(sys.argv[3]), int(sys.argv[4]))
    elif what == "dump":
        dump(port)
    else:
        sys.exit("usage: repl_load.py load|writes|dump PORT ...")
