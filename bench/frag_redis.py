#!/usr/bin/env python3
"""redis-server workload of the fragmentation suite (run_bench.py --suite frag).

Starts redis-server (no persistence, a Unix socket, no TCP port) with the allocator being
measured preloaded into the server only (--preload PATH; this driver runs without it), and
drives it over the socket with a minimal pipelined RESP client (Python standard library):

  fill     --keys keys key:N, values of 16-512 random bytes
  delete   half of them, picked at random (DEL)
  refill   as many new keys new:N, values of 64-1024 bytes (other sizes)

After each phase it reads INFO memory (used_memory: redis's own count of the bytes it holds,
measured with malloc_usable_size of the allocator in use) and the server's VmRSS; at the end
the server's VmHWM (rss_peak_kb). Every 97th key's value is read back at the end and compared
(wrong values, a DBSIZE other than --keys, or a server that dies fail the run). Prints one
RESULT line like the C++ workloads; --trace FILE writes "ms,rss_kb,live_bytes" (live =
used_memory) sampled between pipelined batches.

The Debian redis-server is linked against libjemalloc.so.2. Preloading another library moves
malloc, calloc, realloc, free and malloc_usable_size to it; redis's other jemalloc calls
(mallctl for the allocator_* fields of INFO and MEMORY commands, nallocx) stay in jemalloc,
take no pointers from malloc and only see jemalloc's own empty heap: the allocator_* figures
mean nothing then and are not used. glibc's malloc is reached by preloading libc.so.6 itself
(it then comes before libjemalloc.so.2 in the symbol search order); the runner does that.
"""

import argparse
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

PAGE_KB = os.sysconf("SC_PAGESIZE") // 1024


def proc_status(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def proc_rss_kb(pid):
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * PAGE_KB
    except OSError:
        return 0


class ServerGone(Exception):
    pass


class Resp:
    """Minimal RESP2 client: pipelined commands, replies parsed and counted."""

    def __init__(self, path, timeout):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(path)
        except OSError:
            self.sock.close()
            raise
        self.buf = bytearray()
        self.pos = 0

    @staticmethod
    def encode(*args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if isinstance(a, str):
                a = a.encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ServerGone("connection closed by the server")
        if self.pos > (1 << 20):
            del self.buf[:self.pos]
            self.pos = 0
        self.buf += chunk

    def _line(self):
        while True:
            end = self.buf.find(b"\r\n", self.pos)
            if end >= 0:
                line = bytes(self.buf[self.pos:end])
                self.pos = end + 2
                return line
            self._fill()

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b":"):
            return rest
        if kind == b"-":
            raise RuntimeError(f"redis error: {rest.decode(errors='replace')}")
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) - self.pos < n + 2:
                self._fill()
            data = bytes(self.buf[self.pos:self.pos + n])
            self.pos += n + 2
            return data
        if kind == b"*":
            return [self.reply() for _ in range(int(rest))]
        raise RuntimeError(f"unexpected reply {line[:40]!r}")

    def pipeline(self, payload, count):
        self.sock.sendall(payload)
        for _ in range(count):
            self.reply()

    def call(self, *args):
        self.sock.sendall(self.encode(*args))
        return self.reply()


def info_memory(client):
    text = client.call("INFO", "memory").decode()
    return {k: v for k, v in (line.split(":", 1) for line in text.split("\r\n") if ":" in line)}


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--keys", type=int, default=1000000, help="keys stored by the fill")
    p.add_argument("--preload", metavar="PATH", default="",
                   help="library to preload into redis-server (default: none, its own jemalloc)")
    p.add_argument("--redis", default="/usr/bin/redis-server", help="the server binary")
    p.add_argument("--batch", type=int, default=2000, help="commands per pipelined batch")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--trace", metavar="FILE", help="write RSS and used_memory over time")
    p.add_argument("--timeout", type=float, default=120, help="seconds to wait for a reply")
    args = p.parse_args(argv)

    tmp = tempfile.mkdtemp(prefix="mallocim-redis-")
    try:
        return drive(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def drive(args, tmp):
    """Runs the server in directory tmp and prints the RESULT line; returns the exit status."""
    sock_path = os.path.join(tmp, "redis.sock")
    cmd = [args.redis, "--port", "0", "--unixsocket", sock_path, "--save", "",
           "--appendonly", "no", "--daemonize", "no", "--databases", "1",
           "--loglevel", "warning", "--dir", tmp]
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    if args.preload:
        env["LD_PRELOAD"] = args.preload
    repro = (f"LD_PRELOAD={args.preload} " if args.preload else "") + " ".join(
        "''" if a == "" else a for a in cmd)
    driver = " ".join([sys.executable, os.path.abspath(__file__), "--keys", str(args.keys),
                       "--seed", str(args.seed)] + (["--preload", args.preload]
                                                    if args.preload else []))
    log_path = os.path.join(tmp, "server.log")
    log = open(log_path, "w+")
    server = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)

    def fail(why):
        log.seek(0)
        tail = log.read()[-3000:]
        code = server.poll()
        if code is not None and code < 0:
            why += f" (server killed by {signal.Signals(-code).name})"
        elif code is not None:
            why += f" (server exit status {code})"
        print(f"frag_redis: {why}\nreproduce: {driver}\nserver command: {repro}\n"
              f"server log tail:\n{tail}", file=sys.stderr)
        if server.poll() is None:
            server.kill()
        server.wait()
        return 1

    try:
        # The socket file appears at bind(), before the server listens: a connect in between is
        # refused. Wait until one is accepted.
        deadline = time.monotonic() + 20
        client = None
        while client is None:
            try:
                client = Resp(sock_path, args.timeout)
            except (FileNotFoundError, ConnectionRefusedError):
                if server.poll() is not None or time.monotonic() > deadline:
                    return fail("the server did not start")
                time.sleep(0.01)
        client.call("PING")
        pid = server.pid
        if args.preload:  # the loader only warns when a preload fails
            log.seek(0)
            if "cannot be preloaded" in log.read():
                return fail(f"preload failed: {args.preload}")
            with open(f"/proc/{pid}/maps") as f:
                if os.path.realpath(args.preload) not in f.read():
                    return fail(f"{args.preload} is not mapped in the server")

        rng = random.Random(args.seed)
        pool = rng.randbytes(1 << 20) * 2  # values are slices of 1-2 MiB of random bytes
        samples = []
        t0 = time.monotonic()
        next_sample = 0.0
        live_peak = 0
        ops = 0

        def sample(force=False):
            nonlocal next_sample, live_peak
            t = time.monotonic() - t0
            if not force and t < next_sample:
                return
            used = int(info_memory(client)["used_memory"])
            live_peak = max(live_peak, used)
            samples.append((t * 1000, proc_rss_kb(pid), used))
            next_sample = t + 0.01

        def run(commands):
            nonlocal ops
            for i in range(0, len(commands), args.batch):
                part = commands[i:i + args.batch]
                client.pipeline(b"".join(part), len(part))
                ops += len(part)
                sample()

        expected = {}  # every 97th key set: (offset, length) of its value in pool

        def sets(prefix, ids, lo, hi):
            out = []
            enc = Resp.encode
            for i in ids:
                n = rng.randint(lo, hi)
                off = rng.randrange(1 << 20)
                key = b"%s:%d" % (prefix, i)
                out.append(enc(b"SET", key, pool[off:off + n]))
                if i % 97 == 0:
                    expected[key] = (off, n)
                if len(out) == args.batch * 10:
                    run(out)
                    out = []
            run(out)

        phases = {}

        def phase_end(name):
            sample(force=True)
            mem = info_memory(client)
            phases[f"used_{name}_kb"] = int(mem["used_memory"]) // 1024
            phases[f"rss_{name}_kb"] = proc_rss_kb(pid)

        sample(force=True)
        sets(b"key", range(args.keys), 16, 512)
        phase_end("fill")
        gone = rng.sample(range(args.keys), args.keys // 2)
        dels = [Resp.encode(b"DEL", b"key:%d" % i) for i in gone]
        run(dels)
        del dels
        for i in gone:
            expected.pop(b"key:%d" % i, None)
        phase_end("delete")
        sets(b"new", range(len(gone)), 64, 1024)
        phase_end("refill")
        seconds = time.monotonic() - t0
        dbsize = int(client.call("DBSIZE"))
        # The values kept must read back as they were written.
        keys = list(expected)
        client.sock.sendall(b"".join(Resp.encode(b"GET", k) for k in keys))
        for k in keys:
            off, n = expected[k]
            if client.reply() != pool[off:off + n]:
                return fail(f"GET {k.decode()} returned a wrong value")
        peak = proc_status(pid, "VmHWM")
        rss_end = proc_rss_kb(pid)
        mem = info_memory(client)
        try:
            client.call("SHUTDOWN", "NOSAVE")
        except (ServerGone, OSError):
            pass
        code = server.wait(timeout=30)
        if code != 0:
            return fail(f"the server ended with status {code} at shutdown")
        if dbsize != args.keys:
            return fail(f"DBSIZE is {dbsize}, expected {args.keys}")
    except (ServerGone, OSError, RuntimeError, subprocess.TimeoutExpired) as e:
        return fail(f"{type(e).__name__}: {e}")
    finally:
        log.close()

    fields = " ".join(f"{k}={v}" for k, v in phases.items())
    print(f"RESULT name=redis threads=1 ops={ops} seconds={seconds:.6f} "
          f"live_peak_bytes={live_peak} rss_peak_kb={peak} rss_end_kb={rss_end} {fields} "
          f"frag_ratio={peak * 1024 / max(1, live_peak):.6f} "
          f"mem_allocator={mem.get('mem_allocator', '?')} "
          f"preload={os.path.basename(args.preload) or 'none'}", flush=True)
    if args.trace:
        with open(args.trace, "w") as f:
            f.write("ms,rss_kb,live_bytes\n")
            for ms, rss, used in samples:
                f.write(f"{ms:.1f},{rss},{used}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
