package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/netip"
	neturl "net/url"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"keyden/format"
	"keyden/model"
	"keyden/server"
	"keyden/storage"
)

func (a *app) serveCommand() *cobra.Command {
	var listen string
	var trusted []string
	var maxConns int
	var maxStale, alertEvery time.Duration
	var opt server.Options
	var max int
	var hookURL, secretFile, leakKeys string
	var hook *server.Webhook
	cmd := &cobra.Command{
		Use:   "serve --listen ADDR [--trusted-proxy CIDR]...",
		Short: "Verify keys over HTTP for gateways (nginx auth_request, Traefik, Caddy)",
		Long: `Serve GET /verify (any method) for forward-auth. The key comes from
Authorization: Bearer <key> or x-api-key: <key>; the environment from
X-Environment or /verify/{env}; a required scope from X-Required-Scope or
?scope=; the client IP from X-Forwarded-For / X-Real-IP when the peer is a
--trusted-proxy, else the peer. 200 with X-Key-Id, X-Key-Name, X-Key-Channel,
X-Key-Environment, X-Key-Scopes; 401 for missing, malformed, unknown, expired
or disabled keys; 403 for a wrong environment, scope or IP; a refusal's
reason in X-Keyden-Reason. No body, so a gateway keeps its connection alive;
/verify.json and /verify.json/{env} answer the same check in JSON. Also
GET /healthz and GET /metrics (Prometheus); with --leak-report-keys, POST
/leaks takes signed leak reports (GitHub's secret scanning format); with
--alert-webhook, every alert is posted there, signed. A decoy used again
and again from one address raises one alert per --alert-every (1m), and one
more event with how many uses followed.

/healthz says how far behind the verifier is (lag_seconds, the revision it
applied) and answers 503 when it has not confirmed it holds every change for
longer than --max-staleness (the store unreachable, etcd without quorum): a
gateway may then fail closed or open, as its operator decides.

Keys are checked from memory; changes made by the TUI or a shell are taken in
within a second. Last used is written at most once a second and on SIGINT or
SIGTERM, after the last request in flight is answered.

Connections are bounded (see the README): at the --max-connections cap, kept
below the open-file limit, the connection idle longest is closed to admit a
new one, and when all are busy the new one gets 503 at once.`,
		Example: `  keyden serve --listen 127.0.0.1:8080 --trusted-proxy 127.0.0.1/32`,
		Args:    noArgs,
		PreRunE: func(cmd *cobra.Command, args []string) error {
			if maxStale < time.Second {
				return usagef("--max-staleness %v is too short: give 1s or more (a healthy verifier confirms four times a second)", maxStale)
			}
			if alertEvery < 0 {
				return usagef("--alert-every %v is negative: give how long a decoy's alerts from one address are gathered, or 0 for an alert at every use", alertEvery)
			}
			opt = server.Options{Log: log.New(safeLines{a.env.Stderr}, "keyden serve: ", log.LstdFlags), MaxStaleness: maxStale, AlertEvery: alertEvery}
			if alertEvery == 0 {
				opt.AlertEvery = -1 // server.Options' word for every use
			}
			for _, c := range trusted {
				p, err := model.ParseAllowedIP(c)
				if err != nil {
					return usagef("--trusted-proxy: %v", err)
				}
				opt.TrustedProxies = append(opt.TrustedProxies, p)
			}
			if err := checkListen(listen); err != nil {
				return err
			}
			if maxConns < 0 {
				return usagef("--max-connections %d is negative: give a number of connections, or 0 for the default", maxConns)
			}
			var err error
			if max, err = server.MaxConns(maxConns); err != nil {
				return &refusal{msg: err.Error()}
			}
			if cmd.Flags().Changed("leak-report-keys") {
				b, err := os.ReadFile(leakKeys)
				if err != nil {
					return usagef("could not read --leak-report-keys %s: %v", leakKeys, unwrapPath(err))
				}
				if opt.LeakReportKeys, err = server.ParseLeakReportKeys(b); err != nil {
					return usagef("--leak-report-keys %s: %v", leakKeys, err)
				}
			}
			hook, err = alertWebhook(hookURL, secretFile, cmd.Flags().Changed("alert-webhook"), cmd.Flags().Changed("alert-secret-file"))
			if hook != nil {
				hook.Log = opt.Log
			}
			return err
		},
		// Opening only reads the location (--db, KEYDEN_* settings); the
		// port is taken before the store is read, so a taken port is said
		// at once and connections made meanwhile wait for the first load.
		RunE: a.withStore(func(cmd *cobra.Command, args []string, st store) error {
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return &refusal{msg: fmt.Sprintf("cannot listen on %s: %v; choose another --listen address", listen, errors.Unwrap(err))}
			}
			defer ln.Close()
			if hook != nil {
				hook.Store, hook.Where = st, st.Location()
			}
			// The heap is mostly the key table, pointer-free arrays a
			// collection does not scan: collecting when the heap has grown
			// by a quarter instead of doubled costs about 2 % of CPU under
			// load (BENCHMARKS.md) and keeps resident memory near what the
			// keys need. GOGC set by the operator wins.
			if os.Getenv("GOGC") == "" { // the runtime reads the process's own environment
				debug.SetGCPercent(serveGCPercent)
			}
			host, _ := os.Hostname()
			opt.Verifier = storage.Verifier{Host: host, PID: os.Getpid(), Listen: ln.Addr().String(), Started: a.env.Now().UTC()}
			opt.Verifier.ID = fmt.Sprintf("%s/%d/%s", host, opt.Verifier.PID, opt.Verifier.Listen)
			return serve(cmd.Context(), st, ln, max, opt, hook)
		}),
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "address to listen on")
	cmd.Flags().DurationVar(&maxStale, "max-staleness", server.DefaultMaxStaleness, "answer 503 on /healthz after this long without confirming every change is taken in")
	cmd.Flags().StringArrayVar(&trusted, "trusted-proxy", nil, "a proxy (IP or CIDR) whose X-Forwarded-For / X-Real-IP is believed (repeatable)")
	cmd.Flags().DurationVar(&alertEvery, "alert-every", server.DefaultAlertEvery, "one alert per decoy and client address in this time, the uses between counted into one more event (0: every use)")
	cmd.Flags().StringVar(&hookURL, "alert-webhook", "", "post every alert (a decoy used, a leak found) as signed JSON to this http(s) URL")
	cmd.Flags().StringVar(&secretFile, "alert-secret-file", "", "a file holding the shared secret the alerts are signed with (HMAC-SHA256; required with --alert-webhook)")
	cmd.Flags().StringVar(&leakKeys, "leak-report-keys", "", "accept signed leak reports on POST /leaks (GitHub's secret scanning format) from the ECDSA public keys in this file")
	cmd.Flags().IntVar(&maxConns, "max-connections", 0, fmt.Sprintf("the most HTTP connections open at once (default %d, or fewer if the open-file limit is low)", server.DefaultMaxConns))
	return cmd
}

// serveGCPercent is serve's GOGC unless the environment sets one.
const serveGCPercent = 25

// checkListen finds a malformed --listen before any work: a host that is
// empty, an IP or a host name, and a port from 0 to 65535.
func checkListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return usagef("--listen %s is not an address: give one such as 127.0.0.1:8080", model.Quote(addr))
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || port != strconv.FormatUint(n, 10) {
		return usagef("--listen %s has no valid port: give a number from 0 to 65535, such as 127.0.0.1:8080", model.Quote(addr))
	}
	if _, err := netip.ParseAddr(host); err != nil && host != "" && !hostName(host) {
		return usagef("--listen %s has no valid host: give an IP address or a host name, such as 127.0.0.1:8080", model.Quote(addr))
	}
	return nil
}

// hostName reports whether s is a DNS host name (a last label that is all
// digits is a mistyped IP address).
func hostName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	_, err := strconv.ParseUint(labels[len(labels)-1], 10, 64)
	return err != nil
}

// serve runs the verifier until ctx ends, then drains, flushes and returns.
func serve(ctx context.Context, st store, ln net.Listener, maxConns int, opt server.Options, hook *server.Webhook) error {
	srv := server.New(st, opt)
	if err := srv.Load(ctx); err != nil {
		return err
	}
	hs, limited := srv.HTTPServer(ln, maxConns)
	followCtx, stopFollow := context.WithCancel(context.Background())
	followDone := make(chan struct{})
	go func() { srv.Follow(followCtx); close(followDone) }()
	if hook != nil {
		if err := hook.Begin(ctx); err != nil {
			opt.Log.Printf("alerts: could not read where the audit log stands (%v); alerts are posted from when it can be read", err)
		}
		go hook.Run(followCtx)
		where := hook.URL
		if u, err := neturl.Parse(where); err == nil {
			where = u.Redacted()
		}
		opt.Log.Printf("posting alerts to %s", where)
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(limited) }()
	opt.Log.Printf("listening on http://%s with %s from %s (at most %s)", ln.Addr(), format.Count(srv.Keys(), "key"), st.Location(), format.Count(maxConns, "connection"))

	select {
	case <-ctx.Done():
	case err := <-served:
		stopFollow()
		return err
	}
	opt.Log.Printf("stopping: answering the requests in flight")
	drain, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := hs.ShutdownWithContext(drain); err != nil {
		opt.Log.Printf("some requests were cut off: %v", err)
	}
	stopFollow()
	<-followDone
	// Every answered check is in memory now; write them, retrying while the store is busy.
	for attempt := 0; ; attempt++ {
		err := srv.Flush(context.Background())
		if err == nil {
			break
		}
		if attempt == 20 {
			return fmt.Errorf("could not write the last uses before exiting: %w", err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	opt.Log.Printf("last uses written; stopped")
	return nil
}

// alertWebhook checks --alert-webhook and --alert-secret-file and reads
// the secret; nil when no webhook is asked for.
func alertWebhook(url, secretFile string, urlSet, fileSet bool) (*server.Webhook, error) {
	if !urlSet && !fileSet {
		return nil, nil
	}
	if !urlSet {
		return nil, usagef("--alert-secret-file needs --alert-webhook URL: give both, or neither")
	}
	if !fileSet {
		return nil, usagef("--alert-webhook needs --alert-secret-file FILE: alerts are always signed, so a receiver can tell them from forgeries")
	}
	u, err := neturl.Parse(url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usagef("--alert-webhook %s is not an http or https URL: give one such as https://alerts.example.com/keyden", model.Quote(url))
	}
	b, err := os.ReadFile(secretFile)
	if err != nil {
		return nil, usagef("could not read --alert-secret-file %s: %v", secretFile, unwrapPath(err))
	}
	secret := bytes.TrimRight(b, "\r\n")
	if len(secret) < 16 {
		return nil, usagef("the secret in --alert-secret-file %s is shorter than 16 bytes: put a long random one there, such as the output of openssl rand -hex 32", secretFile)
	}
	return &server.Webhook{URL: url, Secret: secret}, nil
}

// safeLines passes each log line through format.Safe: serve's log lines
// quote store errors, paths and URLs that may hold escapes.
type safeLines struct{ w io.Writer }

func (s safeLines) Write(p []byte) (int, error) {
	line := strings.TrimSuffix(string(p), "\n")
	if _, err := io.WriteString(s.w, format.Safe(line)+"\n"); err != nil {
		return 0, err
	}
	return len(p), nil
}
