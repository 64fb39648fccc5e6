package server

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"keyden/model"
)

// Handler serves /verify, /verify/{env} (forward-auth: the answer is in
// the status and headers, with no body), /verify.json and
// /verify.json/{env} (the same check answered in JSON), /healthz and
// /metrics, and POST /leaks when leak report keys are set.
//
// It runs on fasthttp rather than net/http: a gateway asks once per
// request it lets through, and net/http's work around each check (a
// goroutine started and stopped per request to watch for the client going
// away, a map of headers, a context) cost more CPU than the check itself.
func (s *Server) Handler() fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		path := ctx.Path()
		if rest, ok := strings.CutPrefix(string(path), "/verify"); ok { // no copy: the compiler converts in place
			json := strings.HasPrefix(rest, ".json")
			if json {
				rest = rest[len(".json"):]
			}
			if rest == "" {
				s.serveVerify(ctx, "", json)
				return
			}
			if env, ok := strings.CutPrefix(rest, "/"); ok && env != "" && !strings.Contains(env, "/") {
				s.serveVerify(ctx, strings.Clone(env), json)
				return
			}
		}
		switch string(path) {
		case "/healthz":
			h := s.Health()
			ctx.SetContentType("application/json")
			ctx.Response.Header.Set("Cache-Control", "no-store")
			if !h.Current {
				ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
			}
			json.NewEncoder(ctx).Encode(struct {
				OK bool `json:"ok"`
				Health
			}{h.Current, h})
			return
		case "/metrics":
			ctx.SetContentType("text/plain; version=0.0.4")
			s.m.write(ctx)
			fmt.Fprintf(ctx, "# HELP keyden_follow_lag_seconds Time since the verifier last confirmed it had every change.\n# TYPE keyden_follow_lag_seconds gauge\nkeyden_follow_lag_seconds %g\n", s.Health().LagSeconds)
			return
		case "/leaks":
			if s.opt.LeakReportKeys == nil {
				break
			}
			if !ctx.IsPost() {
				ctx.Response.Header.Set("Allow", "POST")
				textError(ctx, "Method Not Allowed", fasthttp.StatusMethodNotAllowed)
				return
			}
			s.serveLeaks(ctx)
			return
		}
		textError(ctx, "404 page not found", fasthttp.StatusNotFound)
	}
}

// textError answers a plain-text error, as net/http's http.Error does.
func textError(ctx *fasthttp.RequestCtx, msg string, code int) {
	ctx.Response.Header.Set("X-Content-Type-Options", "nosniff")
	ctx.Error(msg+"\n", code)
}

// statusFor maps a refusal to HTTP: who you are is 401, what you may do 403.
func statusFor(r model.Reason) int {
	switch r {
	case "":
		return fasthttp.StatusOK
	case model.ReasonWrongEnv, model.ReasonScopeMissing, model.ReasonIPNotAllowed:
		return fasthttp.StatusForbidden
	}
	return fasthttp.StatusUnauthorized
}

func (s *Server) serveVerify(ctx *fasthttp.RequestCtx, env string, asJSON bool) {
	start := time.Now()
	in := &ctx.Request.Header
	req := Request{
		Secret:   presentedKey(in),
		Env:      env,
		Scopes:   requiredScopes(ctx),
		ClientIP: s.clientIP(peerAddr(ctx), in),
		// A gateway's subrequest passes the client's User-Agent on.
		UserAgent: string(in.UserAgent()),
	}
	if req.Env == "" {
		req.Env = string(in.Peek("X-Environment"))
	}
	res := s.Verify(req)
	out := &ctx.Response.Header
	out.Set("Cache-Control", "no-store")
	if res.OK {
		setKeyHeaders(out, &res.Key)
	} else {
		out.Set("X-Keyden-Reason", string(res.Reason))
		if statusFor(res.Reason) == fasthttp.StatusUnauthorized {
			out.Set("WWW-Authenticate", `Bearer realm="keyden"`)
		}
	}
	ctx.SetStatusCode(statusFor(res.Reason))
	// A forward-auth answer has no body: nginx's auth subrequest never
	// reads one, so a body would cost a new connection per request. JSON
	// has a path of its own rather than following Accept, which a gateway
	// passes on from its client.
	if asJSON {
		body := struct {
			OK     bool   `json:"ok"`
			Reason string `json:"reason,omitempty"`
			ID     string `json:"key_id,omitempty"`
			Name   string `json:"key_name,omitempty"`
		}{OK: res.OK, Reason: string(res.Reason)}
		if res.OK {
			body.ID, body.Name = res.Key.ID, res.Key.Name
		}
		ctx.SetContentType("application/json")
		json.NewEncoder(ctx).Encode(body)
	}
	s.m.observe(res.Reason, time.Since(start))
}

// requiredScopes are every scope a check names, in X-Required-Scope headers
// and scope query values: each must be held. A gateway that puts the scope
// in its URI passes its client's headers on (nginx, Caddy), so a header the
// client sent must not stand in for the gateway's scope; and Caddy adds the
// client's query to its URI, so the query must not stand in for the header.
func requiredScopes(ctx *fasthttp.RequestCtx) []string {
	var out []string
	for _, v := range ctx.Request.Header.PeekAll("X-Required-Scope") {
		if len(v) > 0 {
			out = append(out, string(v))
		}
	}
	for _, v := range ctx.QueryArgs().PeekMulti("scope") {
		if len(v) > 0 {
			out = append(out, string(v))
		}
	}
	return out
}

// presentedKey reads the key from Authorization: Bearer or x-api-key.
func presentedKey(h *fasthttp.RequestHeader) string {
	if a := h.Peek("Authorization"); len(a) > 0 {
		if scheme, token, ok := strings.Cut(string(a), " "); ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(token)
		}
	}
	return strings.TrimSpace(string(h.Peek("X-Api-Key")))
}

// setKeyHeaders tells the gateway which key passed. Every value comes from
// the store, which anyone who can write it may fill with control bytes (a
// shared file, an etcd writer, a restored backup), so each goes through
// headerSafe here, in the one place X-Key-* headers are set.
func setKeyHeaders(h *fasthttp.ResponseHeader, k *Key) {
	h.Set("X-Key-Id", headerSafe(k.ID))
	h.Set("X-Key-Name", headerSafe(k.Name))
	h.Set("X-Key-Channel", headerSafe(k.Channel))
	h.Set("X-Key-Environment", headerSafe(k.Environment))
	h.Set("X-Key-Scopes", headerSafe(k.scopesHeader)) // made safe once, with its rule set: no copy
}

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

// peerAddr is the address the request came from.
func peerAddr(ctx *fasthttp.RequestCtx) netip.Addr {
	if a, ok := ctx.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// clientIP is the peer, unless the peer is a trusted proxy: then the
// nearest address in X-Forwarded-For that is not a trusted proxy (the
// farthest one when all are), or X-Real-IP when there is no
// X-Forwarded-For. A gateway sets X-Forwarded-For and passes its client's
// X-Real-IP on as sent, so with a chain X-Real-IP is the client's word.
func (s *Server) clientIP(peer netip.Addr, h *fasthttp.RequestHeader) netip.Addr {
	if !peer.IsValid() || !s.trusted(peer) {
		return peer
	}
	// The chain is read from its nearest hop back, without splitting it.
	xff := h.PeekAll("X-Forwarded-For")
	farthest := peer
	for v := len(xff) - 1; v >= 0; v-- {
		for rest := string(xff[v]); ; {
			i := strings.LastIndexByte(rest, ',')
			a, ok := forwardedAddr(rest[i+1:])
			if !ok {
				return peer // a malformed chain is not to be trusted past this point
			}
			if !s.trusted(a) {
				return a
			}
			farthest = a
			if i < 0 {
				break
			}
			rest = rest[:i]
		}
	}
	if len(xff) > 0 {
		return farthest
	}
	if a, ok := forwardedAddr(string(h.Peek("X-Real-IP"))); ok {
		return a
	}
	return peer
}

// forwardedAddr reads one address a proxy forwarded. An IPv6 zone
// (fe80::1%eth0) is refused: it names an interface of the sender's
// machine, is any text the sender chose, and would be kept as the key's
// last-used address.
func forwardedAddr(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.opt.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
