"""The client side of tests/integration/sentinel.sh, through redis-py's
Sentinel support (Debian's python3-redis), as an application would use it.

    sentinel_writer.py write SENTINEL_PORTS OUT STOPFILE
        SET w:<i> <i> for i = 1, 2, ... on the primary Sentinel names
        ('kvd'), each followed by WAIT 1 1000. A write that fails (the
        primary died, Sentinel killed the connection, the old primary is
        read-only now) is retried with the same i until it succeeds, so
        i only grows. Appends i to OUT.confirmed when WAIT answered >= 1,
        to OUT.written otherwise, one line each, flushed; errors go to
        OUT.errors. Stops when STOPFILE exists.
    sentinel_writer.py check PORT CONFIRMED
        Every i in CONFIRMED is on the kvd at PORT as w:<i> = <i>; prints
        the ones missing and exits 1 if any is.
"""
import os
import sys
import time

import redis
from redis.sentinel import Sentinel


def write(ports, out, stop):
    sentinel = Sentinel([("127.0.0.1", int(p)) for p in ports.split(",")], socket_timeout=1)
    primary = sentinel.master_for("kvd", socket_timeout=2, socket_connect_timeout=1)
    confirmed = open(out + ".confirmed", "a")
    written = open(out + ".written", "a")
    errors = open(out + ".errors", "a")
    i = 1
    while not os.path.exists(stop):
        try:
            primary.set("w:%06d" % i, i)
            n = primary.execute_command("WAIT", 1, 1000)
        except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError) as e:
            errors.write("%d %s: %s\n" % (i, type(e).__name__, e))
            errors.flush()
            time.sleep(0.05)
            continue
        f = confirmed if n >= 1 else written
        f.write("%d\n" % i)
        f.flush()
        i += 1
        time.sleep(0.005)


def check(port, path):
    r = redis.Redis(host="127.0.0.1", port=int(port), socket_timeout=30)
    want = [int(line) for line in open(path) if line.strip()]
    missing = []
    for k in range(0, len(want), 1000):
        chunk = want[k:k + 1000]
        got = r.mget(["w:%06d" % i for i in chunk])
        missing += [i for i, v in zip(chunk, got) if v != str(i).encode()]
    if missing:
        print("%d of %d confirmed writes missing, first ones: %s" % (len(missing), len(want), missing[:10]))
        sys.exit(1)
    print("all %d confirmed writes present" % len(want))


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "write":
        write(sys.argv[2], sys.argv[3], sys.argv[4])
    elif len(sys.argv) == 4 and sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3])
    else:
        sys.exit("usage: sentinel_writer.py write PORTS OUT STOP | check PORT CONFIRMED")
