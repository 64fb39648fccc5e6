#!/usr/bin/env python3
"""One client fills `keyden serve --max-connections 200` with connections
each in the middle of a request (a byte sent each second, reopened when
closed) while nginx, configured as the README shows (upstream keep-alive,
16 kept), passes checks to serve; wrk sends them with more connections than
nginx keeps, so nginx opens new ones to serve as a loaded gateway does.
Another client makes checks on a new connection each. For each keyden
binary given, one after the other on the same store:

    go build -o /tmp/new . && bench/slow-clients.py /tmp/old /tmp/new

prints the checks through nginx answered 2xx and not (nginx answers 500
when serve refuses its auth request or closes the connection it was sent
on), with the slow client started before the gateway's first check, then
without it and with it started after; the other client's answers; serve's
connection counters after, and nginx's errors.
Needs nginx and wrk; runs from the repository's root (keyden-fill, the wrk
script). Uses ports 18291-18293 and 127.0.0.2, 127.0.0.3 as the clients."""
import os, re, selectors, socket, subprocess, sys, tempfile, threading, time, urllib.request

SERVE, GATEWAY, BACKEND = 18291, 18292, 18293
CAP, SLOW, OTHER = 200, "127.0.0.2", "127.0.0.3"


def wait_for(what, ok, limit=60):
    deadline = time.monotonic() + limit
    while not ok():
        if time.monotonic() > deadline:
            sys.exit(what + " did not come within %d s" % limit)
        time.sleep(0.05)


def answers(url):
    try:
        urllib.request.urlopen(url, timeout=2).read()
        return True
    except Exception:
        return False


def slow_client(stop, seen):
    """Keeps CAP+20 connections from SLOW, each mid-request; counts the 503s
    it gets (the cap is full) and the connections serve closed otherwise."""
    sel, conns, opened = selectors.DefaultSelector(), {}, 0.0
    while not stop.is_set():
        now = time.monotonic()
        if len(conns) < CAP + 20 and now - opened >= 0.005:  # at most 200 a second
            s = socket.socket()
            s.bind((SLOW, 0))
            s.connect(("127.0.0.1", SERVE))
            s.setblocking(False)
            s.send(b"G")
            conns[s], opened = now + 1, now
            sel.register(s, selectors.EVENT_READ)
        for key, _ in sel.select(timeout=0.005):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            seen["refused" if data.startswith(b"HTTP/1.1 503") else "closed"] += 1
            sel.unregister(s)
            s.close()
            del conns[s]
        for s, t in conns.items():
            if now >= t:
                try:
                    s.send(b"a")
                except OSError:
                    pass
                conns[s] = now + 1
    for s in conns:
        s.close()


def other_client(key, n=50):
    got = {}
    for _ in range(n):
        s = socket.socket()
        s.bind((OTHER, 0))
        s.settimeout(10)
        try:
            s.connect(("127.0.0.1", SERVE))
            s.sendall(b"GET /verify HTTP/1.1\r\nHost: keyden\r\nAuthorization: Bearer " + key + b"\r\n\r\n")
            status = s.recv(4096).split(b" ")[1].decode()
        except (OSError, IndexError) as e:
            status = type(e).__name__
        s.close()
        got[status] = got.get(status, 0) + 1
    return got


def wrk(work, seconds=10):
    out = subprocess.run(["wrk", "-t1", "-c64", "-d%ds" % seconds, "-s", "bench/wrk-verify.lua", "http://127.0.0.1:%d/orders" % GATEWAY],
                         env=dict(os.environ, KEYS_FILE=work + "/keys"), capture_output=True, text=True).stdout
    total = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    bad = int(bad.group(1)) if bad else 0
    return "%d checks, %d answered 2xx, %d not" % (total, total - bad, bad)


NGINX = """daemon off; master_process off; worker_processes 1; pid {w}/nginx.pid; error_log {w}/error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {w}/tmp; proxy_temp_path {w}/tmp; fastcgi_temp_path {w}/tmp; uwsgi_temp_path {w}/tmp; scgi_temp_path {w}/tmp;
  upstream keyden {{ server 127.0.0.1:{serve}; keepalive 16; }}
  server {{ listen 127.0.0.1:{backend}; location / {{ return 200 "hello\\n"; }} }}
  server {{
    listen 127.0.0.1:{gateway};
    location / {{ auth_request /_keyden; proxy_pass http://127.0.0.1:{backend}; }}
    location = /_keyden {{
      internal;
      proxy_pass http://keyden/verify;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Forwarded-For $remote_addr;
    }}
  }}
}}
"""


def with_slow_client(work, key, warm):
    """Runs the slow client, and the checks once it fills the cap; warm: the
    gateway made checks before (it keeps idle connections to serve)."""
    if warm:
        print("  without the slow client, through nginx: %s" % wrk(work, 5))
    stop, seen = threading.Event(), {"refused": 0, "closed": 0}
    t = threading.Thread(target=slow_client, args=(stop, seen))
    t.start()
    try:
        # The slow client's own new connections are refused: the cap is full.
        wait_for("the slow client's first 503s", lambda: seen["refused"] >= 50)
        print("  with the slow client, through nginx %s: %s" % ("kept warm" if warm else "started after it", wrk(work)))
        print("  the other client's checks, a new connection each (status: count): %s" % other_client(key))
    finally:
        stop.set()
        t.join()
    print("  the slow client: %(refused)d connections refused with 503, %(closed)d closed by serve" % seen)


def measure(binary, work, key):
    print(binary + ":")
    for warm in False, True:
        serve = subprocess.Popen([binary, "--db", work + "/k.db", "serve", "--listen", "127.0.0.1:%d" % SERVE,
                                  "--trusted-proxy", "127.0.0.1", "--max-connections", str(CAP)], stderr=open(work + "/serve.log", "a"))
        nginx = subprocess.Popen(["nginx", "-p", work, "-c", work + "/nginx.conf", "-e", work + "/error.log"])
        try:
            wait_for("keyden serve", lambda: answers("http://127.0.0.1:%d/healthz" % SERVE))
            wait_for("nginx", lambda: answers("http://127.0.0.1:%d/" % BACKEND))
            with_slow_client(work, key, warm)
            wait_for("serve after the slow client", lambda: answers("http://127.0.0.1:%d/healthz" % SERVE))
            metrics = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % SERVE).read().decode()
            print("  serve: " + ", ".join(l[len("keyden_connections_"):] for l in metrics.splitlines() if l.startswith("keyden_connections_")))
            errors = {}
            for line in open(work + "/error.log"):
                m = re.search(r"\[error\] \S+ \S+ (.*?)(?: while|, client)", line)
                if m:
                    errors[m.group(1)] = errors.get(m.group(1), 0) + 1
            open(work + "/error.log", "w").close()
            print("  nginx's errors: %s" % errors)
        finally:
            nginx.terminate()
            serve.terminate()
            nginx.wait()
            serve.wait()


def main():
    work = tempfile.mkdtemp(prefix="slow-clients.")
    os.mkdir(work + "/tmp")
    subprocess.run(["go", "run", "./cmd/keyden-fill", "--db", work + "/k.db", "--count", "1000", "--secrets", work + "/keys", "--keep", "100"],
                   check=True, capture_output=True)
    key = open(work + "/keys").readline().strip().encode()
    open(work + "/nginx.conf", "w").write(NGINX.format(w=work, serve=SERVE, gateway=GATEWAY, backend=BACKEND))
    print("load average %s" % open("/proc/loadavg").read().split()[:3])
    for binary in sys.argv[1:]:
        measure(os.path.abspath(binary), work, key)
    subprocess.run(["rm", "-rf", work])


main()
