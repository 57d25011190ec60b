#!/usr/bin/python3
"""Differential test driver: a server under test against redis-server.

Run by tests/integration/differential.sh, which starts the reference
redis-server and hands over the command line of the server under test, the
"subject" (kvd; for the self-check, a second redis-server). Python 3
standard library only.

The stream
    One pseudo-random stream of string and keyspace commands (seed
    DIFF_SEED, DIFF_COMMANDS commands) over a small keyspace, sent in
    lock-step batches: a batch to the subject and all its replies, the same
    batch to the reference and all its replies, then every reply compared
    byte for byte. Commands are RESP arrays built here and replies are
    parsed here, so the comparison sees the exact bytes.

The subject's process
    The driver owns it: between batches, never with replies outstanding,
    it restarts it cleanly (SHUTDOWN or SIGTERM, wait, start again on the
    same data dir and port), kills it with SIGKILL and starts it again, and
    starts a compaction (BGREWRITEAOF) that the following batches run
    alongside. The reference runs undisturbed, so every acknowledged write
    must survive all of this. At the end both servers are dumped (KEYS *,
    GET and PEXPIRETIME of each key) and compared, then the subject is
    killed and restarted once more and compared again.

Time
    TTL, PTTL, EXPIRETIME and PEXPIRETIME replies are compared with a
    tolerance of TOLERANCE_MS. Everything else must be identical, so a
    command must never race with an expiry: the two servers run it some
    milliseconds apart (and each computes relative expiries from its own
    clock). The generator keeps a conservative model instead of hoping:

    - Any command that may give key k an expiry that is near or past (less
      than NEAR_MS away: SET EX/PX/EXAT/PXAT, SETEX, PSETEX, GETEX, the
      EXPIRE family, and RENAME/RENAMENX/COPY onto k from a key carrying
      such deadlines) records a deadline interval [lo, hi] for k. For an
      absolute time X it is X +- CLOCK_SLACK; for a relative one P it is
      [generation time + P - CLOCK_SLACK, end of the batch + P + CLOCK_SLACK].
    - A command touching k is generated only if now < lo - BEFORE or
      now > hi + AFTER for every deadline of k (otherwise another key is
      picked). Whether the command ran before the expiry is then checked
      after the batch: if the batch ended after some lo the command relied
      on being before, its reply and every later reply involving the keys
      it touched are not compared, and those keys are deleted in both
      servers (counted as "timing skips"; this needs a batch stalled for
      BEFORE seconds). So a race can make the test compare less, never
      fail.
    - An expiry already past when the command runs (EXPIRE k -1, SET k v
      PXAT 1) cannot race, but the key may linger, expired, in one
      server's table and not yet in the other's, which DBSIZE would see.
      Such keys are noted as lingering and read (which deletes them in
      both) just before a DBSIZE. Likewise once a near deadline is well
      past (now > hi + AFTER) a read of k reclaims it and the deadline is
      dropped. DBSIZE is sent only when no deadline is active or
      unreclaimed.
    - GT and LT are used only with absolute times from bands kept hours
      away from any relative-derived expiry (relative far TTLs are 4 h to
      2 days, absolute ones 2-3 h or 5-30 days from the start, or past, or
      fixed huge values), so no comparison between expiries can flip.
      Near expiries are created only during the first NEAR_ON of every
      PHASE seconds, so DBSIZE gets its quiet moments.

    The stream is paced to DIFF_RATE commands a second (default 3500; 0:
    as fast as it goes), so that a run spans enough seconds for expiries,
    restarts and compactions to interleave with the commands. It depends
    on the seed and on timing (which keys are free of near expiries), so a
    seed reproduces a run closely, not exactly.

DIFF_SKIP (comma-separated) leaves parts out, to look past a known bug:
    setrange-huge   SETRANGE offsets of 512 MiB and more (refused ones)
    expire-huge     expiries at or past 2^53 ms (and near 2^63)
    bad-args        arguments wrong in two ways at once, where the error
                    depends on the order of the checks: non-integer times,
                    conflicting options, NX with GT, GETEX with a refused
                    time (Redis answers nil for a missing key first)
    near            expiries that pass during the run (past ones stay)
    restart, kill, compact   the clean restarts, kill -9s, compactions
    a generator's name (set, getex, expire, expireat, rename, copy, ...)
                    that command (family) altogether
"""

import argparse
import base64
import collections
import json
import math
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time

LLONG_MAX = 2**63 - 1
LLONG_MIN = -2**63
TWO53 = 2**53
S_MIN = -(2**63 // 1000)  # LLONG_MIN / 1000 in C: the lowest accepted seconds

NEAR_MS = 60_000     # an expiry closer than this, or past, is modelled
BEFORE = 0.5         # s: a command runs this long before a near expiry...
AFTER = 1.0          # ...or this long after it
CLOCK_SLACK = 0.05   # s: a server's cached clock may lag the real one
TOLERANCE_MS = 3000  # TTL/PTTL/EXPIRETIME/PEXPIRETIME comparison
PHASE, NEAR_ON = 12.0, 6.0
BATCH_MIN, BATCH_MAX = 50, 200
RESTART_EVERY = (0.8, 3.5)   # s between restarts of the subject (clean or kill -9)
COMPACT_EVERY = (1.5, 6.0)   # s between compactions
IO_TIMEOUT = 60      # s: a reply that takes longer is a hang
START_TIMEOUT = 120  # s: a restart that takes longer is a failure
HISTORY = 24         # commands remembered per key for reports
SKIPS = {'setrange-huge', 'expire-huge', 'bad-args', 'near', 'restart', 'kill', 'compact'}


# ---------------------------------------------------------------- RESP

def encode(args):
    """A command as a RESP array of bulk strings."""
    out = [b'*%d\r\n' % len(args)]
    for a in args:
        out.append(b'$%d\r\n%s\r\n' % (len(a), a))
    return b''.join(out)


class Status(bytes):
    """A +simple string reply."""


class Error(bytes):
    """A -error reply."""


class Incomplete(Exception):
    """The buffer does not hold a whole reply yet."""


class ConnectionLost(Exception):
    """The server closed the connection; .replies were read before."""

    def __init__(self, replies):
        super().__init__('connection closed')
        self.replies = replies


def parse(buf, pos):
    """Parse one RESP2 reply at buf[pos:]; return (value, end)."""
    nl = buf.find(b'\r\n', pos)
    if nl < 0:
        raise Incomplete
    kind, line = buf[pos], bytes(buf[pos + 1:nl])
    if kind == 43:  # +
        return Status(line), nl + 2
    if kind == 45:  # -
        return Error(line), nl + 2
    if kind == 58:  # :
        return int(line), nl + 2
    if kind == 36:  # $
        n = int(line)
        if n < 0:
            return None, nl + 2
        end = nl + 2 + n
        if len(buf) < end + 2:
            raise Incomplete
        return bytes(buf[nl + 2:end]), end + 2
    if kind == 42:  # *
        n = int(line)
        if n < 0:
            return None, nl + 2
        items, p = [], nl + 2
        for _ in range(n):
            v, p = parse(buf, p)
            items.append(v)
        return items, p
    raise ValueError('not a RESP reply: %r' % bytes(buf[pos:pos + 40]))


class Conn:
    """One client connection; send pipelines, read back (raw, value) pairs."""

    def __init__(self, port, timeout=IO_TIMEOUT):
        self.sock = socket.create_connection(('127.0.0.1', port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.pos = 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def pipeline(self, payload, n):
        """Send payload (n commands) and return their n replies."""
        out = []
        try:
            self.sock.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            raise ConnectionLost(out)
        while len(out) < n:
            try:
                value, end = parse(self.buf, self.pos)
            except Incomplete:
                try:
                    chunk = self.sock.recv(1 << 20)
                except ConnectionResetError:
                    chunk = b''
                if not chunk:
                    raise ConnectionLost(out)
                if self.pos:
                    del self.buf[:self.pos]
                    self.pos = 0
                self.buf += chunk
                continue
            out.append((bytes(self.buf[self.pos:end]), value))
            self.pos = end
        return out

    def call(self, *args):
        """One command; its parsed reply."""
        return self.pipeline(encode([a if isinstance(a, bytes) else str(a).encode() for a in args]), 1)[0][1]


# ---------------------------------------------------------------- display

def q(b, limit=80):
    """bytes as redis-cli quotes them (bare when plain), cut at limit."""
    if isinstance(b, str):
        return b
    cut = b[:limit]
    if cut and all(33 <= c < 127 and c not in b'"\'\\' for c in cut):
        s = cut.decode()
    else:
        esc = {0x5c: '\\\\', 0x22: '\\"', 0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t'}
        s = '"' + ''.join(esc.get(c) or (chr(c) if 32 <= c < 127 else '\\x%02x' % c) for c in cut) + '"'
    return s if len(b) <= limit else '%s...(%d bytes)' % (s, len(b))


class Cut(bytes):
    """The start of a long bulk reply, kept for reports; .n is its length."""


def keep(v):
    """A reply as the history keeps it: long values cut."""
    if type(v) is bytes and len(v) > 160:
        c = Cut(v[:120])
        c.n = len(v)
        return c
    if type(v) is list:
        return [keep(x) for x in v]
    return v


def show_cmd(args):
    return ' '.join(q(a, 60) for a in args)


def show_reply(v):
    if isinstance(v, Status):
        return '+' + v.decode('latin-1')
    if isinstance(v, Error):
        return '-' + q(bytes(v), 200).strip('"')
    if v is None:
        return '(nil)'
    if isinstance(v, int):
        return ':%d' % v
    if isinstance(v, list):
        return '[' + ', '.join(show_reply(x) for x in v[:10]) + (', ...' if len(v) > 10 else '') + ']'
    if isinstance(v, Cut):
        return '%s...(%d bytes)' % (q(bytes(v), 120), v.n)
    return q(v, 120)


# ---------------------------------------------------------------- subject

class StartFailed(Exception):
    pass


class Subject:
    """The server under test, as a process the driver starts and stops."""

    def __init__(self, name, argv, port, log, stderr_path, pidfile):
        self.name, self.argv, self.port = name, argv, port
        self.log, self.stderr_path, self.pidfile = log, stderr_path, pidfile
        self.proc = None
        self.conn = None

    def start(self):
        """Start it and connect; StartFailed if it does not answer PING."""
        with open(self.stderr_path, 'ab') as err:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                         start_new_session=True)
        with open(self.pidfile, 'w') as f:
            f.write('%d\n' % self.proc.pid)
        deadline = time.time() + START_TIMEOUT
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise StartFailed('%s exited with status %s during startup' % (self.name, self.status()))
            try:
                c = Conn(self.port, timeout=5)
                # Our process's answer, not another test's server that took
                # the port while ours was down.
                if c.call('PING') == b'PONG' and b'process_id:%d\r\n' % self.proc.pid in c.call('INFO', 'server'):
                    c.sock.settimeout(IO_TIMEOUT)
                    self.conn = c
                    return
                c.close()  # -LOADING: not yet
            except (OSError, ConnectionLost):
                pass
            time.sleep(0.02)
        raise StartFailed('%s did not answer PING within %d s' % (self.name, START_TIMEOUT))

    def status(self):
        rc = self.proc.returncode
        if rc is None:
            return 'running'
        return 'signal %s' % signal.Signals(-rc).name if rc < 0 else str(rc)

    def reaped(self):
        """The process is gone: remove the pidfile, end leftovers (a compaction child)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            os.unlink(self.pidfile)
        except OSError:
            pass
        if self.conn:
            self.conn.close()
            self.conn = None

    def stop(self, how):
        """how: 'SHUTDOWN', 'SIGTERM' or 'SIGKILL'. Returns an error text or None."""
        if how == 'SHUTDOWN':
            try:
                c = Conn(self.port, timeout=30)
                c.sock.sendall(encode([b'SHUTDOWN']))
                got = c.sock.recv(4096)  # nothing until the close, or an error
                c.close()
                if got:
                    return 'SHUTDOWN answered %r' % got
            except OSError as e:
                return 'SHUTDOWN failed: %s' % e
        else:
            self.proc.send_signal(signal.SIGTERM if how == 'SIGTERM' else signal.SIGKILL)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.reaped()
            return '%s did not exit within 60 s after %s' % (self.name, how)
        self.reaped()
        if how != 'SIGKILL' and self.proc.returncode != 0:
            return '%s exited with status %s after %s (expected 0)' % (self.name, self.status(), how)
        return None

    def kill(self):
        """End it for good (at exit)."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc:
            self.reaped()

    def tail(self, n=12):
        """The end of its log and stderr, for reports."""
        out = []
        for path in (self.log, self.stderr_path):
            try:
                with open(path, 'rb') as f:
                    lines = f.read().decode('utf-8', 'replace').splitlines()[-n:]
            except OSError:
                continue
            if lines:
                out.append('  --- end of %s:' % path)
                out += ['  | ' + line[:400] for line in lines]
        return out


# ---------------------------------------------------------------- the model

class Deadline:
    """When a key may expire: within [lo, hi] (unix seconds)."""
    __slots__ = ('lo', 'hi', 'rel')

    def __init__(self, lo, hi, rel=None):
        self.lo, self.hi, self.rel = lo, hi, rel


NOREPLY = object()  # a command the subject did not answer


class Cmd:
    """One generated command and what the model knows about it."""
    __slots__ = ('idx', 'args', 'keys', 'ttl', 'before', 'skip', 'ref', 'sub', 'at', 'agree', 'sets_ttl')

    def __init__(self, args, keys, ttl=False):
        self.args, self.keys, self.ttl = args, keys, ttl
        self.before = math.inf  # must have run by then (a near expiry of its keys)
        self.skip = False       # raced: not compared
        self.agree = True       # the replies agreed (exactly, or TTLs within the tolerance)
        self.sets_ttl = False   # it has an expiry argument
        self.idx = 0
        self.at = 0.0           # when its batch was generated (s since the start)
        self.ref = self.sub = NOREPLY


class NoKey(Exception):
    """No key is free of near expiries right now; generate something else."""


def make_keys():
    """A few hundred keys, so commands collide; some binary or odd ones."""
    keys = [b'k:%d' % i for i in range(230)]
    keys += [b'', b'\x00', b'\xff', b'\x00\xff\r\n', b'sp ace', b'q"uote\'', b'back\\slash',
             b'\xe2\x82\xac', b'tab\tnl\n', b'{tag}', b'*', b'?', b'[a', b'k:1\x00', b'\x7f',
             b'\xc3\x28', b'\xed\xa0\x80', b'\xf4\x90\x80\x80', b'\xc0\x80', b'\xef\xbb\xbfbom',
             b'"key":1,"crc":"0"', b'\xe2\x80\xa8', b'L' * 300, b'-', b'0', b'1.5']
    return keys


WORDS = [b'alpha', b'beta', b'gamma', b'x', b'hello world', b'\xc3\xa9t\xc3\xa9', b'\xe2\x82\xac5',
         b'a\r\nb', b'"q"', b'\\', b'{"seq":1}', b'\t', b'\xf0\x9f\x98\x80', b'\xe2\x80\xa8']
INTS = [b'0', b'1', b'-1', b'7', b'42', b'-100', b'9223372036854775807', b'9223372036854775806',
        b'-9223372036854775808', b'-9223372036854775807', b'4611686018427387904', b'1000000']
ODD_INTS = [b' 1', b'1 ', b'01', b'+1', b'0x10', b'1e3', b'-0', b'18446744073709551616', b'1.0',
            b'9223372036854775808', b'-9223372036854775809', b'--1', b'']
FLOATS = [b'1.5', b'-2.25', b'3e5', b'1e-5', b'0.1', b'1e308', b'1e400', b'-1e400', b'5.0e3',
          b'inf', b'-inf', b'nan', b'1.7976931348623157e308', b'0x1p3', b'.5', b'5.', b'1e4931',
          b'3.0000000000000000001', b' 1.5', b'1.5 ', b'1,5', b'-0.0']
NUL_NUMS = [b'12\x00', b'1.5\x00ab', b'-3\x00\xff', b'0\x00', b'7\x001', b'2.5e1\x00']
INCRS = [b'1', b'-1', b'2', b'100', b'-100', b'9223372036854775807', b'-9223372036854775808',
         b'9223372036854775808', b'abc', b'1.5', b'', b' 1', b'01', b'0']
FINCRS = [b'0.1', b'1', b'-1.5', b'1e3', b'2.5e-3', b'1e400', b'-1e400', b'inf', b'abc', b'',
          b'0x10', b'-0', b'3', b'1.7976931348623157e308', b'5e-324', b'1\x00', b'0.5\x00x']
RANGE_IDX = [0, 1, 2, 5, -1, -2, -5, 100, -100, 2**31, LLONG_MAX, LLONG_MIN, LLONG_MAX - 1, LLONG_MIN + 1]
BAD_NUMS = [b'abc', b'', b'1.5', b'010', b'+5', b' 5', b'99999999999999999999', b'-', b'5x']


class Generator:
    """The command stream and the expiry model (see the module docstring)."""

    def __init__(self, seed, skip, t0):
        self.rng = random.Random(seed)
        self.skip = skip
        self.t0 = t0
        self.keys = make_keys()
        self.deadlines = {}   # key -> [Deadline]
        self.pending = []     # relative deadlines whose hi is set when the batch ends
        self.lingering = set()  # keys given a past expiry, not read since
        self.n_near = self.n_reclaim = 0  # for the summary
        self.now = t0
        self.before = math.inf  # the command being generated must run by then
        self.sets_ttl = False   # it has an expiry argument
        self.near_ok = True
        self.huge_ok = 'expire-huge' not in skip
        self.bad_ok = 'bad-args' not in skip
        table = [
            (14, self.g_set), (2, self.g_setnx), (2, self.g_setex), (2, self.g_psetex),
            (2, self.g_getset), (2, self.g_getdel), (4, self.g_getex), (3, self.g_mset),
            (2, self.g_msetnx), (3, self.g_incr), (1, self.g_decr), (2, self.g_incrby),
            (1, self.g_decrby), (3, self.g_incrbyfloat), (4, self.g_append), (4, self.g_setrange),
            (3, self.g_del), (6, self.g_expire), (6, self.g_expireat), (3, self.g_persist),
            (3, self.g_rename), (2, self.g_copy), (10, self.g_get), (3, self.g_mget),
            (2, self.g_strlen), (3, self.g_getrange), (3, self.g_exists), (1, self.g_type),
            (8, self.g_ttl), (1, self.g_dbsize), (0.6, self.g_error), (0.006, self.g_flush),
        ]
        table = [(w, f) for w, f in table if f.__name__[2:] not in skip]
        total = sum(w for w, _ in table)
        acc, self.table = 0.0, []
        for w, f in table:
            acc += w / total
            self.table.append((acc, f))

    # -- helpers

    def word(self, w):
        """An option or command name in a random case (servers ignore case)."""
        r = self.rng.random()
        if r < 0.85:
            return w
        if r < 0.95:
            return w.lower()
        return bytes(c ^ 0x20 if 65 <= c <= 90 and self.rng.random() < 0.5 else c for c in w)

    def free(self, k):
        """k may be touched now: no near expiry of it is close."""
        for d in self.deadlines.get(k, ()):
            if d.lo - BEFORE <= self.now <= d.hi + AFTER:
                return False
        return True

    def key(self):
        """A random key that is free now; notes the earliest near expiry
        the command then relies on running before."""
        for _ in range(12):
            k = self.rng.choice(self.keys)
            if self.free(k):
                for d in self.deadlines.get(k, ()):
                    if d.lo > self.now:  # not one long past
                        self.before = min(self.before, d.lo)
                return k
        raise NoKey

    def value(self):
        """A value: text, integers (odd ones too), floats, binary, empty, long."""
        rng, r = self.rng, self.rng.random()
        if r < 0.25:
            return rng.choice(WORDS) + (b'%d' % rng.randrange(1000) if rng.random() < 0.5 else b'')
        if r < 0.45:
            return rng.choice(INTS) if rng.random() < 0.5 else b'%d' % rng.randint(-1000, 1000)
        if r < 0.55:
            return rng.choice(FLOATS)
        if r < 0.62:
            return rng.choice(ODD_INTS)
        if r < 0.74:
            return self.binary(rng.randint(1, 40))
        if r < 0.78:
            return rng.choice(NUL_NUMS)
        if r < 0.83:
            return b''
        if r < 0.86:
            return bytes(rng.choice(b'abcdefgh ') for _ in range(rng.randint(100, 5000)))
        return b'v%d' % rng.randrange(100000)

    def binary(self, n):
        """n random bytes, rich in NUL, 0xff and bytes that look numeric."""
        return bytes(self.rng.choice(b'\x00\xff\x01\x80\r\n"\\1.5-e') if self.rng.random() < 0.5
                     else self.rng.randrange(256) for _ in range(n))

    # -- expiry arguments: (argument, effect); effect is ('rel', ms), ('abs', ms) or None

    def rel(self, unit):
        """A relative time in seconds (unit 1000) or milliseconds (unit 1)."""
        self.sets_ttl = True
        rng, r = self.rng, self.rng.random()
        now_ms = int(self.now * 1000)
        if r < 0.12 and self.near_ok:   # near: really expires during the run
            v = rng.randint(1, 2) if unit == 1000 else rng.randint(300, 3000)
        elif r < 0.55:                  # far: hours to days
            v = rng.randint(4 * 3600, 2 * 86400) * (1000 // unit) + (rng.randrange(1000) if unit == 1 else 0)
        elif r < 0.66:                  # past: deletes (EXPIRE) or refused (SET)
            v = rng.choice([0, -1, -5, rng.randint(-5000, 0) // unit] +
                           ([S_MIN, S_MIN - 1] if unit == 1000 else [LLONG_MIN, LLONG_MIN + 1]))
        elif r < 0.76 and self.huge_ok:  # at or past 2^53 ms once the clock is added
            v = rng.choice([9007199254740, 9007199254741, 10**13, 10**15] if unit == 1000 else
                           [9007199254740993, TWO53 - now_ms + 5_000_000, 10**16, 10**17])
        elif r < 0.84 and self.huge_ok:  # either side of the 2^63 overflow, far from it
            edge = (LLONG_MAX - now_ms) // unit
            m = rng.randint(3600, 10**7) * (1000 // unit)
            v = rng.choice([edge - m, edge - m, edge + m, LLONG_MAX // unit, LLONG_MAX])
        elif r < 0.88:                   # just under 2^53 ms: must work
            v = (TWO53 - now_ms - 5_000_000) // unit
        elif self.bad_ok:
            return rng.choice(BAD_NUMS), None
        else:
            v = rng.randint(4 * 3600, 2 * 86400) * (1000 // unit)
        return b'%d' % v, ('rel', v * unit)

    def abs(self, unit, near=True):
        """An absolute unix time in seconds (unit 1000) or milliseconds (unit 1)."""
        self.sets_ttl = True
        rng, r = self.rng, self.rng.random()
        now_ms = int(self.now * 1000)
        start_ms = int(self.t0 * 1000)
        if r < 0.12 and near and self.near_ok:
            v = (math.ceil(self.now) + rng.randint(1, 2)) if unit == 1000 else now_ms + rng.randint(300, 3000)
        elif r < 0.32:   # 2-3 hours from the start
            v = (start_ms + rng.randint(2 * 3600_000, 3 * 3600_000)) // unit
        elif r < 0.52:   # 5-30 days from the start
            v = (start_ms + rng.randint(5 * 86400_000, 30 * 86400_000)) // unit
        elif r < 0.66:   # past
            v = rng.choice([0, 1, -1, (now_ms - rng.randint(86400_000, 10**12)) // unit,
                            S_MIN if unit == 1000 else LLONG_MIN])
        elif r < 0.84 and self.huge_ok:   # at or past 2^53 ms; the largest accepted
            v = rng.choice([9999999999999, 9007199254741, LLONG_MAX // 1000, LLONG_MAX // 1000 + 1]
                           if unit == 1000 else
                           [9007199254740993, TWO53, 9999999999999999, LLONG_MAX, 10**18])
        elif r < 0.9:    # the largest exact below 2^53
            v = (TWO53 - 1) // unit
        elif self.bad_ok:
            return rng.choice(BAD_NUMS), None
        else:
            v = (start_ms + rng.randint(5 * 86400_000, 30 * 86400_000)) // unit
        return b'%d' % v, ('abs', v * unit)

    def accepted(self, effect):
        """The time is one GETEX accepts (> 0, no overflow)."""
        if effect is None:
            return False
        kind, ms = effect
        return 0 < ms <= LLONG_MAX - (self.now * 1000 + 60_000 if kind == 'rel' else 0)

    def record(self, k, effect):
        """Note a possibly near or past expiry of k (see the docstring)."""
        if effect is None:
            return
        kind, ms = effect
        if ms >= NEAR_MS + (0 if kind == 'rel' else self.now * 1000):
            return  # far: never passes during the run
        self.n_near += 1
        if ms <= 0 if kind == 'rel' else ms / 1000 + CLOCK_SLACK < self.now:
            # Past when the command runs, in both servers: nothing can race
            # with it, but the key may linger in one server's table.
            self.lingering.add(k)
            return
        if kind == 'rel':
            d = Deadline(self.now + ms / 1000 - CLOCK_SLACK, math.inf, ms / 1000)
            self.pending.append(d)
        else:
            d = Deadline(ms / 1000 - CLOCK_SLACK, ms / 1000 + CLOCK_SLACK)
        self.deadlines.setdefault(k, []).append(d)

    def inherit(self, src, dst):
        """dst may take src's expiry (RENAME, COPY)."""
        if src != dst and self.deadlines.get(src):
            self.deadlines.setdefault(dst, []).extend(self.deadlines[src])

    # -- the batch

    def batch(self, n, now):
        """n commands (or a few more), generated at time now."""
        self.now = now
        self.near_ok = (now - self.t0) % PHASE < NEAR_ON and 'near' not in self.skip
        out = self.reclaim()
        for _ in range(50 * n):  # (NoKey can repeat only while most keys are near an expiry)
            if len(out) >= n:
                break
            r = self.rng.random()
            f = next(f for acc, f in self.table if r <= acc)
            self.before, self.sets_ttl = math.inf, False
            try:
                c = f()
            except NoKey:
                continue
            if isinstance(c, list):
                out += c
            elif c is not None:
                c.before = min(c.before, self.before)
                c.sets_ttl = self.sets_ttl
                out.append(c)
        return out

    def reclaim(self):
        """Reads of keys whose near expiries are well past; drop those."""
        out = []
        for k in list(self.deadlines):
            ds = self.deadlines[k]
            if any(d.hi + AFTER < self.now for d in ds) and self.free(k):
                rest = [d for d in ds if d.hi + AFTER >= self.now]
                if rest:
                    self.deadlines[k] = rest
                else:
                    del self.deadlines[k]
                name = self.rng.choice([b'EXISTS', b'GET', b'TTL', b'PTTL', b'TYPE', b'STRLEN'])
                c = Cmd([name, k], (k,), ttl=name in (b'TTL', b'PTTL'))
                c.before = min((d.lo for d in rest), default=math.inf)
                out.append(c)
                self.n_reclaim += 1
        return out

    def settle(self, t_end):
        """The batch has ended at t_end: bound the relative deadlines it set."""
        for d in self.pending:
            d.hi = t_end + d.rel + CLOCK_SLACK
        self.pending = []

    def forget(self, keys):
        """keys were deleted in both servers."""
        for k in keys:
            self.deadlines.pop(k, None)
            self.lingering.discard(k)

    def quiet_at(self):
        """When every recorded expiry will be well past."""
        return max((d.hi + AFTER for ds in self.deadlines.values() for d in ds), default=0.0)

    # -- the commands

    def g_set(self):
        rng, k = self.rng, self.key()
        args = [self.word(b'SET'), k, self.value()]
        opts, effect = [], None
        r = rng.random()
        if r < 0.15:
            opts.append([self.word(b'NX')])
        elif r < 0.3:
            opts.append([self.word(b'XX')])
        if rng.random() < 0.2:
            opts.append([self.word(b'GET')])
        r = rng.random()
        if r < 0.14:
            a, effect = self.rel(1000)
            opts.append([self.word(b'EX'), a])
        elif r < 0.28:
            a, effect = self.rel(1)
            opts.append([self.word(b'PX'), a])
        elif r < 0.36:
            a, effect = self.abs(1000)
            opts.append([self.word(b'EXAT'), a])
        elif r < 0.44:
            a, effect = self.abs(1)
            opts.append([self.word(b'PXAT'), a])
        elif r < 0.52:
            opts.append([self.word(b'KEEPTTL')])
        if rng.random() < 0.02 and self.bad_ok:
            # One more option: a syntax error if it conflicts (its expiry is
            # far, so the model can ignore it when it does not).
            opts.append(rng.choice([[b'NX'], [b'XX'], [b'GET'], [b'KEEPTTL'], [b'EX', b'100000'], [b'FOO'],
                                    [b'PXAT', b'%d' % (self.t0 * 1000 + 9000_000)]]))
        rng.shuffle(opts)
        for o in opts:
            args += o
        self.record(k, effect)
        return Cmd(args, (k,))

    def g_setnx(self):
        k = self.key()
        return Cmd([self.word(b'SETNX'), k, self.value()], (k,))

    def g_setex(self):
        k = self.key()
        a, effect = self.rel(1000)
        self.record(k, effect)
        return Cmd([self.word(b'SETEX'), k, a, self.value()], (k,))

    def g_psetex(self):
        k = self.key()
        a, effect = self.rel(1)
        self.record(k, effect)
        return Cmd([self.word(b'PSETEX'), k, a, self.value()], (k,))

    def g_getset(self):
        k = self.key()
        return Cmd([self.word(b'GETSET'), k, self.value()], (k,))

    def g_getdel(self):
        k = self.key()
        return Cmd([self.word(b'GETDEL'), k], (k,))

    def g_getex(self):
        rng, k = self.rng, self.key()
        args, effect = [self.word(b'GETEX'), k], None
        r = rng.random()
        if r < 0.7:
            opt, unit, form = rng.choice([(b'EX', 1000, self.rel), (b'PX', 1, self.rel), (b'EXAT', 1000, self.abs),
                                          (b'PXAT', 1, self.abs)])
            for _ in range(20):
                a, effect = form(unit)
                if self.bad_ok or self.accepted(effect):
                    break
            args += [self.word(opt), a]
        elif r < 0.85:
            args.append(self.word(b'PERSIST'))
        if rng.random() < 0.03 and self.bad_ok:  # one more option, as in SET
            args += rng.choice([[b'PERSIST'], [b'EX', b'100000'], [b'FOO']])
        self.record(k, effect)
        return Cmd(args, (k,))

    def g_mset(self, name=b'MSET'):
        ks = [self.key() for _ in range(self.rng.randint(1, 6))]
        args = [self.word(name)]
        for k in ks:
            args += [k, self.value()]
        if self.rng.random() < 0.03:
            args.pop()  # odd argument count
        return Cmd(args, tuple(ks))

    def g_msetnx(self):
        return self.g_mset(b'MSETNX')

    def g_incr(self):
        k = self.key()
        return Cmd([self.word(b'INCR'), k], (k,))

    def g_decr(self):
        k = self.key()
        return Cmd([self.word(b'DECR'), k], (k,))

    def g_incrby(self, name=b'INCRBY'):
        k = self.key()
        inc = self.rng.choice(INCRS) if self.rng.random() < 0.5 else b'%d' % self.rng.randint(-50, 50)
        return Cmd([self.word(name), k, inc], (k,))

    def g_decrby(self):
        return self.g_incrby(b'DECRBY')

    def g_incrbyfloat(self):
        k = self.key()
        inc = self.rng.choice(FINCRS) if self.rng.random() < 0.6 else b'%d.%d' % (self.rng.randint(-9, 9),
                                                                                self.rng.randrange(100))
        return Cmd([self.word(b'INCRBYFLOAT'), k, inc], (k,))

    def g_append(self):
        k = self.key()
        v = self.value() if self.rng.random() < 0.5 else self.binary(self.rng.randint(0, 8))
        return Cmd([self.word(b'APPEND'), k, v[:64]], (k,))

    def g_setrange(self):
        rng, k = self.rng, self.key()
        v = rng.choice([b'x', b'', b'hello', self.binary(rng.randint(1, 6)), b'123'])
        r = rng.random()
        if r < 0.6:
            off = b'%d' % rng.randint(0, 40)
        elif r < 0.85:
            off = b'%d' % rng.randint(0, 300)
        elif r < 0.92:
            off = b'%d' % rng.randint(1000, 70000)
        elif r < 0.95:
            off = rng.choice([b'-1', b'-9223372036854775808', b'abc', b'', b'9223372036854775808'])
        elif 'setrange-huge' in self.skip:
            off = b'%d' % rng.randint(0, 10)
        else:
            # Offsets refused as over 512 MiB (or accepted, with an empty value).
            off = rng.choice([b'536870912', b'9223372036854775807', b'9223372036854775806', b'4611686018427387904',
                              b'4294967296', b'2147483648', b'536870911', b'18446744073709551615'])
            if off == b'536870911' and len(v) < 2:
                v = b'xy'  # 536870911 + 1 would be accepted: 512 MiB of memory
        return Cmd([self.word(b'SETRANGE'), k, off, v], (k,))

    def g_del(self):
        ks = tuple(self.key() for _ in range(self.rng.randint(1, 5)))
        return Cmd([self.word(self.rng.choice([b'DEL', b'UNLINK']))] + list(ks), ks)

    def expire_flags(self, absolute):
        """NX/XX (any form); GT/LT only with absolute times; or an invalid combination."""
        rng, r = self.rng, self.rng.random()
        if r < 0.5:
            return []
        if r < 0.75:
            return [self.word(rng.choice([b'NX', b'XX']))]
        if r < 0.93 and absolute:
            return [self.word(f) for f in rng.choice([[b'GT'], [b'LT'], [b'XX', b'GT'], [b'LT', b'XX'],
                                                      [b'GT', b'GT']])]
        if not self.bad_ok:
            return []
        # Refused before anything is compared, whatever the time form.
        return [self.word(f) for f in rng.choice([[b'NX', b'XX'], [b'GT', b'LT'], [b'NX', b'GT'], [b'LT', b'NX'],
                                                  [b'FOO']])]

    def g_expire(self):
        k = self.key()
        unit = self.rng.choice([1000, 1])
        a, effect = self.rel(unit)
        self.record(k, effect)
        return Cmd([self.word(b'EXPIRE' if unit == 1000 else b'PEXPIRE'), k, a] + self.expire_flags(False), (k,))

    def g_expireat(self):
        k = self.key()
        unit = self.rng.choice([1000, 1])
        flags = self.expire_flags(True)
        compares = any(f.upper() in (b'GT', b'LT') for f in flags)
        a, effect = self.abs(unit, near=not compares)
        self.record(k, effect)
        return Cmd([self.word(b'EXPIREAT' if unit == 1000 else b'PEXPIREAT'), k, a] + flags, (k,))

    def g_persist(self):
        k = self.key()
        return Cmd([self.word(b'PERSIST'), k], (k,))

    def g_rename(self):
        src = self.key()
        dst = src if self.rng.random() < 0.05 else self.key()
        self.inherit(src, dst)
        return Cmd([self.word(self.rng.choice([b'RENAME', b'RENAME', b'RENAMENX'])), src, dst], (src, dst))

    def g_copy(self):
        rng, src = self.rng, self.key()
        dst = src if rng.random() < 0.05 else self.key()
        opts = [o for o in ([b'DB', b'0'], [self.word(b'REPLACE')]) if rng.random() < 0.4]
        rng.shuffle(opts)
        self.inherit(src, dst)
        return Cmd([self.word(b'COPY'), src, dst] + [a for o in opts for a in o], (src, dst))

    def g_get(self):
        k = self.key()
        return Cmd([self.word(b'GET'), k], (k,))

    def g_mget(self):
        ks = tuple(self.key() for _ in range(self.rng.randint(1, 6)))
        return Cmd([self.word(b'MGET')] + list(ks), ks)

    def g_strlen(self):
        k = self.key()
        return Cmd([self.word(b'STRLEN'), k], (k,))

    def g_getrange(self):
        rng, k = self.rng, self.key()
        ends = [b'%d' % (rng.choice(RANGE_IDX) if rng.random() < 0.5 else rng.randint(-50, 50)) for _ in range(2)]
        if rng.random() < 0.03:
            ends[rng.randrange(2)] = rng.choice(BAD_NUMS)
        return Cmd([self.word(rng.choice([b'GETRANGE', b'GETRANGE', b'GETRANGE', b'SUBSTR'])), k] + ends, (k,))

    def g_exists(self):
        ks = tuple(self.key() for _ in range(self.rng.randint(1, 4)))
        return Cmd([self.word(self.rng.choice([b'EXISTS', b'EXISTS', b'TOUCH']))] + list(ks), ks)

    def g_type(self):
        k = self.key()
        return Cmd([self.word(b'TYPE'), k], (k,))

    def g_ttl(self):
        k = self.key()
        return Cmd([self.word(self.rng.choice([b'TTL', b'PTTL', b'EXPIRETIME', b'PEXPIRETIME'])), k], (k,), ttl=True)

    def g_dbsize(self):
        """DBSIZE counts every key, expired ones a server has not deleted yet
        included: only when no expiry is near or unreclaimed, after reading
        the keys given past expiries (which deletes them in both)."""
        los = [d.lo for ds in self.deadlines.values() for d in ds]
        if any(lo - BEFORE <= self.now for lo in los):
            return None
        out = [Cmd([b'EXISTS', k], (k,)) for k in sorted(self.lingering)]
        self.lingering.clear()
        out.append(Cmd([self.word(b'DBSIZE')], ()))
        for c in out:
            c.before = min(los, default=math.inf)
        self.n_reclaim += len(out) - 1
        return out

    def g_flush(self):
        """FLUSHALL/FLUSHDB: no key left, so no expiry left to model."""
        self.deadlines.clear()
        self.lingering.clear()
        args = [self.word(self.rng.choice([b'FLUSHALL', b'FLUSHDB']))]
        if self.rng.random() < 0.5:
            args.append(self.word(self.rng.choice([b'ASYNC', b'SYNC'])))
        return Cmd(args, ())

    def g_error(self):
        """Wrong argument counts, an unknown command: the same error texts."""
        rng, k = self.rng, self.key()
        args = rng.choice([[b'GET'], [b'GET', k, k], [b'SET', k], [b'SETEX', k, b'10'], [b'GETRANGE', k, b'0'],
                           [b'EXPIRE', k], [b'RENAME', k], [b'COPY', k], [b'MSET'], [b'INCRBY', k],
                           [b'APPEND', k], [b'PERSIST', k, k], [b'DBSIZE', k], [b'NOSUCHCMD', k, b'x']])
        return Cmd([self.word(args[0])] + args[1:], (k,))


# ---------------------------------------------------------------- the run

class Mismatch(Exception):
    """The test failed; the message says how."""


class Run:
    """One differential run: the batches, the events between them, the
    comparisons, the final dumps, and the reports."""

    def __init__(self, opts, subject, ref):
        self.o = opts
        self.sub, self.ref = subject, ref
        self.name = opts.subject_name
        self.t0 = time.time()
        self.gen = Generator(opts.seed, opts.skip, self.t0)
        self.rng = random.Random(opts.seed ^ 0x5eed)  # events: their own stream
        self.idx = 0
        self.history = collections.defaultdict(lambda: collections.deque(maxlen=HISTORY))
        self.ttl_history = collections.defaultdict(lambda: collections.deque(maxlen=6))  # older ones too
        self.events = []  # (index of the last command before it, time, text)
        self.last = []    # the last batch
        self.clean = self.kills = self.compactions = self.skipped = self.dbsizes = 0
        self.next_restart = self.t0 + self.rng.uniform(*RESTART_EVERY)
        self.next_compact = self.t0 + self.rng.uniform(*COMPACT_EVERY)

    def t(self, at=None):
        """Seconds since the start (of at, or now)."""
        return (at if at is not None else time.time()) - self.t0

    def event(self, text):
        self.events.append((self.idx, time.time(), text))

    # -- reports

    def key_history(self, keys):
        """The recent commands on keys, with the restarts and compactions
        between them; also on the keys they were renamed or copied from."""
        keys = list(dict.fromkeys(keys))
        for k in list(keys):
            for c in self.history.get(k, ()):
                if len(c.args) > 2 and c.args[0].upper() in (b'RENAME', b'RENAMENX', b'COPY') and c.args[2] == k \
                        and len(keys) < 4:
                    keys.append(c.args[1])
        out = []
        for k in dict.fromkeys(keys):
            h = self.history.get(k)
            out.append('  history of key %s (oldest first):' % q(k))
            first = h[0].idx if h else self.idx
            early = [c for c in self.ttl_history.get(k, ()) if c.idx < first]
            if early:
                out.append('    (earlier commands with an expiry argument:)')
                for c in early:
                    out.append('    #%-7d t+%8.3fs  %s' % (c.idx, c.at, show_cmd(c.args)))
                    out.append('               -> %s' % self.both(c))
                out.append('    (then the last %d commands on it:)' % len(h))
            evs = [e for e in self.events if e[0] >= first]
            for c in (h or ()):
                while evs and evs[0][0] < c.idx:
                    out.append('           t+%8.3fs  [%s]' % (self.t(evs[0][1]), evs.pop(0)[2]))
                out.append('    #%-7d t+%8.3fs  %s' % (c.idx, c.at, show_cmd(c.args)))
                out.append('               -> %s' % self.both(c))
            for e in evs:
                out.append('           t+%8.3fs  [%s]' % (self.t(e[1]), e[2]))
            ds = [d for d in self.gen.deadlines.get(k, ()) if d.hi > self.t0]
            if ds:
                out.append('    the model now holds near expiries of this key at %s' %
                           ', '.join('t+%.3f..%s' % (self.t(d.lo), 't+%.3f' % self.t(d.hi) if d.hi < math.inf else '?')
                                     for d in ds))
        return out

    def both(self, c):
        if c.sub is NOREPLY:
            return '(no reply from %s)' % self.name
        a, b = show_reply(c.sub), show_reply(c.ref)
        if a == b:
            return a
        note = ' (not compared: ran too close to an expiry)' if c.skip else ' (within the tolerance)' if c.agree else ''
        return '%s: %s | redis: %s%s' % (self.name, a, b, note)

    def fail(self, what, lines):
        head = ['', 'differential: FAILED (seed %d): %s' % (self.o.seed, what)]
        tail = ['  rerun: DIFF_SEED=%d DIFF_COMMANDS=%d%s tests/integration/differential.sh'
                % (self.o.seed, self.o.commands, ' DIFF_SKIP=' + ','.join(sorted(self.o.skip)) if self.o.skip else ''),
                '  (the stream also depends on timing, so a rerun repeats it closely, not exactly)']
        raise Mismatch('\n'.join(head + lines + tail))

    # -- events between batches

    def restart(self, how):
        """Stop the subject (how) and start it again on the same dir and port."""
        err = self.sub.stop(how)
        if err:
            self.fail('%s at command #%d' % (err, self.idx), self.sub.tail() + self.recent())
        try:
            self.sub.start()
        except StartFailed as e:
            self.fail('%s did not come back after %s at command #%d: %s' % (self.name, how, self.idx, e),
                      self.sub.tail() + (self.wal_hint() or self.recent()))
        if how == 'SIGKILL':
            self.kills += 1
        else:
            self.clean += 1
        self.event('%s: %s, then started again' % (self.name, 'kill -9' if how == 'SIGKILL' else how))

    def between_batches(self):
        o = self.o
        now = time.time()
        if now >= self.next_restart:
            self.next_restart = now + self.rng.uniform(*RESTART_EVERY)
            hows = [h for h, s in (('SIGTERM', 'restart'), ('SHUTDOWN', 'restart'), ('SIGKILL', 'kill'),
                                   ('SIGKILL', 'kill')) if s not in o.skip]
            if hows:
                self.restart(self.rng.choice(hows))
        if now >= self.next_compact:
            self.next_compact = now + self.rng.uniform(*COMPACT_EVERY)
            if 'compact' not in o.skip:
                try:
                    r = self.sub.conn.call('BGREWRITEAOF')
                except (ConnectionLost, OSError) as e:
                    self.fail('%s: BGREWRITEAOF got no reply (%s) after command #%d' % (self.name, e, self.idx),
                              self.sub.tail())
                if isinstance(r, Status) and b'started' in r:
                    self.compactions += 1
                    self.event('%s: BGREWRITEAOF started' % self.name)
                else:
                    self.event('%s: BGREWRITEAOF answered %s' % (self.name, show_reply(r)))

    def recent(self, n=8):
        return ['  the last commands sent:'] + ['    #%-7d %s' % (c.idx, show_cmd(c.args)) for c in self.last[-n:]]

    def wal_hint(self):
        """kvd names the WAL line it refuses in its log: show that line and
        the history of its key."""
        try:
            with open(self.sub.log, 'rb') as f:
                found = re.findall(r'WAL (\S+) is corrupt at line (\d+)', f.read().decode('utf-8', 'replace'))
            with open(found[-1][0], 'rb') as f:
                line = f.read().split(b'\n')[int(found[-1][1]) - 1]
        except (OSError, IndexError):
            return []
        out = ['  that WAL line: %s' % line.decode('utf-8', 'replace')[:300]]
        try:
            entry = json.loads(line)
            key = entry['key'].encode() if 'key' in entry else base64.b64decode(entry['key64'])
        except (ValueError, KeyError):
            return out
        return out + self.key_history([key])

    # -- batches

    def run_batch(self, n):
        now = time.time()
        cmds = self.gen.batch(n, now)
        if not cmds:
            time.sleep(0.05)
            return
        for c in cmds:
            self.idx += 1
            c.idx = self.idx
        self.last = cmds
        payload = b''.join(encode(c.args) for c in cmds)
        try:
            sub = self.sub.conn.pipeline(payload, len(cmds))
        except ConnectionLost as e:
            self.crashed(cmds, e.replies)
        except socket.timeout:
            self.fail('%s sent no reply within %d s (commands #%d..#%d)' % (self.name, IO_TIMEOUT, cmds[0].idx,
                                                                             cmds[-1].idx),
                      self.sub.tail() + self.recent(len(cmds)))
        ref = self.ref.pipeline(payload, len(cmds))
        t_end = time.time()
        self.gen.settle(t_end)
        # A command that relied on running before a near expiry and whose
        # batch ended after it: not compared, nor anything after it on the
        # keys it touched; those keys are then deleted in both servers.
        tainted = set()
        for c, (sraw, sval), (rraw, rval) in zip(cmds, sub, ref):
            c.sub, c.ref = keep(sval), keep(rval)
            c.at = self.t(now)
            if c.before <= t_end or tainted.intersection(c.keys) or (tainted and c.args[0].upper() == b'DBSIZE'):
                c.skip = True
                tainted.update(c.keys)
                self.skipped += 1
            for k in dict.fromkeys(c.keys):
                self.history[k].append(c)
                if c.sets_ttl:
                    self.ttl_history[k].append(c)
            if not c.keys and not c.skip and c.args[0].upper() == b'DBSIZE':
                self.dbsizes += 1
            if c.skip or sraw == rraw:
                continue
            c.agree = c.ttl and isinstance(sval, int) and isinstance(rval, int) and sval >= 0 and rval >= 0 and \
                abs(sval - rval) <= (TOLERANCE_MS // 1000 if c.args[0].upper() in (b'TTL', b'EXPIRETIME')
                                     else TOLERANCE_MS)
            if c.agree:
                continue
            self.fail('command #%d differs' % c.idx,
                      ['  command: %s' % show_cmd(c.args),
                       '  %-7s  %s   raw %s' % (self.name + ':', show_reply(sval), q(sraw, 200)),
                       '  %-7s  %s   raw %s' % ('redis:', show_reply(rval), q(rraw, 200))] +
                      (self.keyset_diff() if c.args[0].upper() == b'DBSIZE' else self.key_history(c.keys)))
        if tainted:
            ks = sorted(tainted)
            self.sub.conn.call(b'DEL', *ks)
            self.ref.call(b'DEL', *ks)
            self.gen.forget(ks)
            self.event('timing skip (the batch took %.3f s): deleted %s in both'
                       % (t_end - now, ' '.join(q(k) for k in ks)))
            print('differential: the batch #%d..#%d took %.3f s, into a near expiry: %d replies not compared, '
                  '%d keys deleted in both' % (cmds[0].idx, cmds[-1].idx, t_end - now,
                                               sum(c.skip for c in cmds), len(ks)), flush=True)

    def keyset_diff(self):
        """For a DBSIZE that differs: the keys only one server lists."""
        a, b = set(self.sub.conn.call('KEYS', '*')), set(self.ref.call('KEYS', '*'))
        if a == b:
            return ['  KEYS * lists the same %d keys in both: one server counts a key that has expired' % len(a)]
        return (['  keys only %s lists: %s' % (self.name, ' '.join(q(k) for k in sorted(a - b))),
                 '  keys only redis lists: %s' % ' '.join(q(k) for k in sorted(b - a))] +
                self.key_history(sorted(a ^ b)[:3]))

    def crashed(self, cmds, replies):
        """The subject closed the connection in the middle of a batch."""
        try:
            self.sub.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        unanswered = cmds[len(replies):]
        lines = ['  %s %s; replies came for %d of the batch #%d..#%d, so it went down running one of #%d..#%d'
                 % (self.name, 'exited with ' + self.sub.status() if self.sub.proc.poll() is not None
                    else 'is still running', len(replies), cmds[0].idx, cmds[-1].idx, unanswered[0].idx,
                    cmds[-1].idx)]
        lines += self.sub.tail()
        killer = self.find_killer(unanswered, lines)
        if killer:
            lines += ['  the command that takes it down: #%d %s' % (killer.idx, show_cmd(killer.args))]
            lines += self.key_history(killer.keys)
        else:
            lines += ['  the %d unanswered commands, from the first:' % len(unanswered)]
            lines += ['    #%-7d %s' % (c.idx, show_cmd(c.args)) for c in unanswered[:30]]
            if len(unanswered) > 30:
                lines += ['    ...']
        self.fail('%s closed the connection at command #%d' % (self.name, unanswered[0].idx), lines)

    def find_killer(self, unanswered, lines):
        """Restart the subject and send the unanswered commands one at a time
        to see which one takes it down (diagnosis only: writes that were not
        acknowledged may or may not have been kept). Notes go to lines."""
        if self.sub.proc.poll() is None:
            return None
        self.sub.reaped()
        try:
            self.sub.start()
        except StartFailed as e:
            lines.append('  to find the command that took it down, started it again, but: %s' % e)
            lines += self.sub.tail(3)[-2:] + self.wal_hint()
            return None
        for c in unanswered:
            try:
                self.sub.conn.pipeline(encode(c.args), 1)
            except (ConnectionLost, OSError):
                try:
                    self.sub.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
                lines.append('  started it again and sent the unanswered commands one at a time: #%d took it '
                             'down again (%s)' % (c.idx, self.sub.status()))
                lines += self.sub.tail(3)
                return c
        lines.append('  started it again and sent the unanswered commands one at a time: none took it down')
        return None

    # -- the end

    def dump(self, conn):
        keys = conn.call('KEYS', '*')
        out = {}
        for i in range(0, len(keys), 200):
            part = keys[i:i + 200]
            payload = b''.join(encode([b'GET', k]) + encode([b'PEXPIRETIME', k]) for k in part)
            got = conn.pipeline(payload, 2 * len(part))
            for j, k in enumerate(part):
                out[k] = (got[2 * j][1], got[2 * j + 1][1])
        return out

    def compare_dumps(self, when):
        a, b = self.dump(self.sub.conn), self.dump(self.ref)
        bad = []
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                bad.append((k, '%s %s it, redis %s' % (self.name, 'has' if k in a else 'lacks',
                                                          'has' if k in b else 'lacks')))
                continue
            (va, ea), (vb, eb) = a[k], b[k]
            if va != vb:
                bad.append((k, 'value %s: %s, redis: %s' % (self.name, show_reply(va), show_reply(vb))))
            elif not (ea == eb or (ea >= 0 and eb >= 0 and abs(ea - eb) <= TOLERANCE_MS)):
                bad.append((k, 'PEXPIRETIME %s: %s, redis: %s' % (self.name, ea, eb)))
        if bad:
            lines = ['  %s: %s' % (q(k), why) for k, why in bad[:10]]
            if len(bad) > 10:
                lines.append('  ... %d keys in all' % len(bad))
            self.fail('the final dump %s differs in %d key(s)' % (when, len(bad)),
                      lines + self.key_history([k for k, _ in bad[:3]]))
        return len(b)

    def main(self):
        o = self.o
        print('differential: seed %d, %d commands, subject %s (port %d), reference redis-server (port %d)%s'
              % (o.seed, o.commands, self.name, self.sub.port, o.ref_port,
                 ', skipping ' + ','.join(sorted(o.skip)) if o.skip else ''), flush=True)
        self.sub.start()
        report = max(o.commands // 5, 1)
        shown = 0
        while self.idx < o.commands:
            self.between_batches()
            self.run_batch(min(self.rng.randint(BATCH_MIN, BATCH_MAX), o.commands - self.idx))
            if o.rate:  # paced, so that expiries, restarts and compactions interleave with more commands
                time.sleep(max(0.0, self.t0 + self.idx / o.rate - time.time()))
            if self.idx // report > shown:
                shown = self.idx // report
                print('differential: %d commands, %.1f s, %d restarts, %d compactions'
                      % (self.idx, self.t(), self.clean + self.kills, self.compactions), flush=True)
        # Every near expiry past in both servers, then compare everything.
        wait = self.gen.quiet_at() - time.time()
        if wait > 0:
            time.sleep(wait)
        keys = self.compare_dumps('(live)')
        last = 'SIGKILL' if 'kill' not in o.skip else 'SIGTERM' if 'restart' not in o.skip else None
        if last:
            self.restart(last)
            self.compare_dumps('after a last %s and restart' % ('kill -9' if last == 'SIGKILL' else last))
        print('differential: seed %d, %d commands, %d %s restarts (%d clean, %d kill -9), %d compactions, '
              '%d keys compared, 0 mismatches' % (o.seed, self.idx, self.clean + self.kills, self.name, self.clean,
                                                   self.kills, self.compactions, keys))
        print('differential: %d near or past expiries modelled, %d reclaiming reads, %d DBSIZE compared, '
              '%d replies not compared (their batch ran into a near expiry), %.1f s'
              % (self.gen.n_near, self.gen.n_reclaim, self.dbsizes, self.skipped, self.t()))


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--ref-port', type=int, required=True, help='the reference redis-server')
    p.add_argument('--subject-name', default='kvd')
    p.add_argument('--port', type=int, required=True, help="the subject's port (its command line uses it)")
    p.add_argument('--log', required=True, help="the subject's log file")
    p.add_argument('--stderr', required=True, help="where the subject's stdout and stderr go")
    p.add_argument('--pidfile', required=True, help="the subject's pid while it runs")
    p.add_argument('argv', nargs='+', help="the subject's command line")
    o = p.parse_args()
    o.seed = int(os.environ.get('DIFF_SEED') or 7379)
    o.commands = int(os.environ.get('DIFF_COMMANDS') or 100000)
    o.rate = float(os.environ.get('DIFF_RATE') or 3500)
    o.skip = {s for s in os.environ.get('DIFF_SKIP', '').split(',') if s}
    known = SKIPS | {n[2:] for n in dir(Generator) if n.startswith('g_')}
    if o.skip - known:
        p.error('DIFF_SKIP: unknown %s (known: %s)' % (','.join(sorted(o.skip - known)), ','.join(sorted(known))))
    subject = Subject(o.subject_name, o.argv, o.port, o.log, o.stderr, o.pidfile)
    ref = Conn(o.ref_port)
    run = Run(o, subject, ref)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(2))
    try:
        run.main()
    except Mismatch as e:
        print(e, flush=True)
        return 1
    except (StartFailed, ConnectionLost, OSError) as e:  # the first start, the reference, a timeout
        print('differential: FAILED (seed %d) after command #%d: %s: %s' % (o.seed, run.idx, type(e).__name__, e))
        print('\n'.join(subject.tail()), flush=True)
        return 1
    finally:
        subject.kill()
    return 0


if __name__ == '__main__':
    sys.exit(main())
