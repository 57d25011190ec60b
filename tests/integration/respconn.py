"""A minimal RESP2 connection for the black-box tests that compare kvd's
replies with redis-server's byte for byte: send a command as an array of
bulk strings, read one reply back as a plain Python value that prints the
same for both servers ("+OK", "-ERR ...", ":1", "$value", "(nil)",
nested lists; RESP3 pushes, maps and sets as tagged tuples)."""
import socket


class Conn:
    def __init__(self, port, timeout=20):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def write(self, *cmds):
        """Send several commands (each a list of arguments) in one go,
        reading nothing."""
        out = b""
        for args in cmds:
            out += b"*%d\r\n" % len(args)
            for a in args:
                a = a if isinstance(a, bytes) else str(a).encode()
                out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(out)

    def send(self, *args):
        """Send one command and read its reply."""
        self.write(args)
        return self.read()

    def line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError
            self.buf += d
        l, self.buf = self.buf.split(b"\r\n", 1)
        return l

    def read(self):
        l = self.line()
        t = l[:1]
        if t in (b"+", b"-", b":"):
            return l.decode()
        if t == b"$":
            n = int(l[1:])
            if n < 0:
                return "(nil)"
            while len(self.buf) < n + 2:
                d = self.s.recv(65536)
                if not d:
                    raise EOFError
                self.buf += d
            v, self.buf = self.buf[:n], self.buf[n + 2:]
            return "$" + v.decode(errors="replace")
        if t == b"*":
            n = int(l[1:])
            if n < 0:
                return "(nil array)"
            return [self.read() for _ in range(n)]
        # RESP3 (after HELLO 3): pushes are tagged, maps become lists of pairs.
        if t == b">":
            return ("push", [self.read() for _ in range(int(l[1:]))])
        if t in (b"%", b"~"):
            n = int(l[1:])
            if t == b"%":
                return ("map", [(self.read(), self.read()) for _ in range(n)])
            return ("set", [self.read() for _ in range(n)])
        if t == b"_":
            return "(null)"
        if t in (b",", b"#", b"("):
            return l.decode()
        if t in (b"=", b"!"):
            n = int(l[1:])
            while len(self.buf) < n + 2:
                self.buf += self.s.recv(65536)
            v, self.buf = self.buf[:n], self.buf[n + 2:]
            return t.decode() + v.decode(errors="replace")
        raise ValueError(l)

    def pending(self, wait=0.2):
        """Whether more bytes arrive within wait seconds (a message that
        should not come)."""
        if self.buf:
            return True
        old = self.s.gettimeout()
        self.s.settimeout(wait)
        try:
            d = self.s.recv(65536)
        except socket.timeout:
            return False
        finally:
            self.s.settimeout(old)
        self.buf += d
        return True  # bytes, or the end of the connection

    def close(self):
        self.s.close()
