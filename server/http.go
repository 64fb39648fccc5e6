package server

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"keyden/model"
)

// Handler serves /verify, /verify/{env} (forward-auth: the answer is in
// the status and headers, with no body), /verify.json and
// /verify.json/{env} (the same check answered in JSON), /healthz and
// /metrics.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/verify", s.serveVerify)
	mux.HandleFunc("/verify/{env}", s.serveVerify)
	mux.HandleFunc("/verify.json", s.serveVerify)
	mux.HandleFunc("/verify.json/{env}", s.serveVerify)
	if s.opt.LeakReportKeys != nil {
		mux.HandleFunc("POST /leaks", s.serveLeaks)
	}
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		h := s.Health()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if !h.Current {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		json.NewEncoder(w).Encode(struct {
			OK bool `json:"ok"`
			Health
		}{h.Current, h})
	})
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		s.m.write(w)
		fmt.Fprintf(w, "# HELP keyden_follow_lag_seconds Time since the verifier last confirmed it had every change.\n# TYPE keyden_follow_lag_seconds gauge\nkeyden_follow_lag_seconds %g\n", s.Health().LagSeconds)
	})
	return mux
}

// statusFor maps a refusal to HTTP: who you are is 401, what you may do 403.
func statusFor(r model.Reason) int {
	switch r {
	case "":
		return http.StatusOK
	case model.ReasonWrongEnv, model.ReasonScopeMissing, model.ReasonIPNotAllowed:
		return http.StatusForbidden
	}
	return http.StatusUnauthorized
}

func (s *Server) serveVerify(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	req := Request{
		Secret:   presentedKey(r),
		Env:      r.Header.Get("X-Environment"),
		Scope:    r.Header.Get("X-Required-Scope"),
		ClientIP: s.clientIP(r),
		// A gateway's subrequest passes the client's User-Agent on.
		UserAgent: r.Header.Get("User-Agent"),
	}
	if env := r.PathValue("env"); env != "" {
		req.Env = env
	}
	if req.Scope == "" && r.URL.RawQuery != "" { // parsing a query makes a map
		req.Scope = r.URL.Query().Get("scope")
	}
	res := s.Verify(req)
	h := w.Header()
	h["Cache-Control"] = noStore
	if res.OK {
		setKeyHeaders(h, &res.Key)
	} else {
		h.Set("X-Keyden-Reason", string(res.Reason))
		if statusFor(res.Reason) == http.StatusUnauthorized {
			h.Set("WWW-Authenticate", `Bearer realm="keyden"`)
		}
	}
	// A forward-auth answer has no body: nginx's auth subrequest never
	// reads one, so a body would cost a new connection per request. JSON
	// has a path of its own rather than following Accept, which a gateway
	// passes on from its client.
	if !strings.HasPrefix(r.URL.Path, "/verify.json") {
		h["Content-Length"] = zeroLength
		w.WriteHeader(statusFor(res.Reason))
		s.m.observe(res.Reason, time.Since(start))
		return
	}
	body := struct {
		OK     bool   `json:"ok"`
		Reason string `json:"reason,omitempty"`
		ID     string `json:"key_id,omitempty"`
		Name   string `json:"key_name,omitempty"`
	}{OK: res.OK, Reason: string(res.Reason)}
	if res.OK {
		body.ID, body.Name = res.Key.ID, res.Key.Name
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(statusFor(res.Reason))
	json.NewEncoder(w).Encode(body)
	s.m.observe(res.Reason, time.Since(start))
}

// presentedKey reads the key from Authorization: Bearer or x-api-key.
func presentedKey(r *http.Request) string {
	if a := r.Header.Get("Authorization"); a != "" {
		if scheme, token, ok := strings.Cut(a, " "); ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(token)
		}
	}
	return strings.TrimSpace(r.Header.Get("X-Api-Key"))
}

// setKeyHeaders tells the gateway which key passed. Every value comes from
// the store, which anyone who can write it may fill with control bytes (a
// shared file, an etcd writer, a restored backup), so each goes through
// headerSafe here, in the one place X-Key-* headers are set.
func setKeyHeaders(h http.Header, k *Key) {
	vals := []string{k.ID, k.Name, k.Channel, k.Environment, k.scopesHeader} // one allocation for all five
	for i, name := range [...]string{"X-Key-Id", "X-Key-Name", "X-Key-Channel", "X-Key-Environment", "X-Key-Scopes"} {
		vals[i] = headerSafe(vals[i]) // X-Key-Scopes was made safe once, with its rule set: no copy
		h[name] = vals[i : i+1 : i+1] // the names are canonical already
	}
}

// Values every forward-auth answer carries, shared: net/http only reads a
// response's header values.
var (
	noStore    = []string{"no-store"}
	zeroLength = []string{"0"}
)

// headerSafe keeps a value within what an HTTP header may carry: printable
// ASCII, anything else shown as '?'.
func headerSafe(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return strings.Map(func(r rune) rune {
				if r < 0x20 || r >= 0x7f {
					return '?'
				}
				return r
			}, s)
		}
	}
	return s
}

// clientIP is the peer, unless the peer is a trusted proxy: then the
// nearest address in X-Forwarded-For that is not a trusted proxy, or
// X-Real-IP.
func (s *Server) clientIP(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	peer = peer.Unmap()
	if !s.trusted(peer) {
		return peer
	}
	// The chain is read from its nearest hop back, without splitting it.
	xff := r.Header.Values("X-Forwarded-For")
	for v := len(xff) - 1; v >= 0; v-- {
		for rest := xff[v]; ; {
			i := strings.LastIndexByte(rest, ',')
			a, err := netip.ParseAddr(strings.TrimSpace(rest[i+1:]))
			if err != nil {
				return peer // a malformed chain is not to be trusted past this point
			}
			if a = a.Unmap(); !s.trusted(a) {
				return a
			}
			if i < 0 {
				break
			}
			rest = rest[:i]
		}
	}
	if xr := strings.TrimSpace(r.Header.Get("X-Real-IP")); xr != "" {
		if a, err := netip.ParseAddr(xr); err == nil {
			return a.Unmap()
		}
	}
	return peer
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.opt.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
