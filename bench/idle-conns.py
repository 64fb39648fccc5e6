#!/usr/bin/env python3
"""Hold N idle keep-alive connections to a running `keyden serve` and report
its resident size: before, with them open, and for 90 s after they close.

    keyden serve --db X --listen 127.0.0.1:18480 & 
    bench/idle-conns.py 127.0.0.1:18480 $! KEYFILE 10000

KEYFILE holds a key of the store on its first line (keyden-fill --secrets).
Each connection makes one check, then stays open and idle."""
import resource, socket, sys, time

addr, pid, keyfile, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
host, port = addr.rsplit(":", 1)
key = open(keyfile).readline().strip().encode()
check = b"GET /verify HTTP/1.1\r\nHost: keyden\r\nx-api-key: " + key + b"\r\n\r\n"
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def rss():
    for line in open("/proc/%s/status" % pid):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) // 1024
    return -1


def one(req):
    s = socket.create_connection((host, int(port)))
    s.sendall(req)
    s.settimeout(5)
    return s


print("before: %d MiB" % rss(), flush=True)
conns = [one(check) for _ in range(n)]
for s in conns:
    s.recv(4096)
time.sleep(1)
print("%d idle connections: %d MiB" % (n, rss()), flush=True)
t = time.time()
s = one(check[:-2] + b"Connection: close\r\n\r\n")
status = s.recv(4096).split(b"\r\n")[0].decode()
print("a new check: %s in %.1f ms" % (status, (time.time() - t) * 1000), flush=True)
s.close()
for s in conns:
    s.close()
start = time.time()
for _ in range(9):
    time.sleep(10)
    print("closed %d s ago: %d MiB" % (time.time() - start, rss()), flush=True)
