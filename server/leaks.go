package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"keyden/keygen"
	"keyden/storage"
)

// LeakReportKeys are the public keys whose signatures POST /leaks accepts,
// by key identifier.
type LeakReportKeys map[string]*ecdsa.PublicKey

// ParseLeakReportKeys reads keys in the JSON GitHub serves for its secret
// scanning partners (api.github.com/meta/public_keys/secret_scanning):
// {"public_keys": [{"key_identifier": "…", "key": "<PEM>"}]}.
func ParseLeakReportKeys(b []byte) (LeakReportKeys, error) {
	var doc struct {
		PublicKeys []struct {
			ID  string `json:"key_identifier"`
			Key string `json:"key"`
		} `json:"public_keys"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, errors.New("it is not JSON shaped like GitHub's secret scanning keys ({\"public_keys\": [{\"key_identifier\", \"key\"}]})")
	}
	keys := LeakReportKeys{}
	for i, k := range doc.PublicKeys {
		block, _ := pem.Decode([]byte(k.Key))
		if block == nil || k.ID == "" {
			return nil, fmt.Errorf("key %d has no key_identifier or no PEM public key", i+1)
		}
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		ec, ok := pub.(*ecdsa.PublicKey)
		if err != nil || !ok {
			return nil, fmt.Errorf("key %d (%s) is not an ECDSA public key", i+1, k.ID)
		}
		keys[k.ID] = ec
	}
	if len(keys) == 0 {
		return nil, errors.New("it holds no public keys")
	}
	return keys, nil
}

// Report headers, as GitHub sends them.
const (
	HeaderKeyID     = "Github-Public-Key-Identifier"
	HeaderSignature = "Github-Public-Key-Signature"
)

// maxReport bounds a report's body and its tokens.
const (
	maxReport       = 1 << 20
	maxReportTokens = 1000
)

// LeakVerdict is the answer for one reported token: its SHA-256 (never
// the token) and whether it is a key of this store.
type LeakVerdict struct {
	TokenHash string `json:"token_hash"`
	TokenType string `json:"token_type"`
	Label     string `json:"label"` // true_positive, false_positive
}

// leakRecorder is a store that takes leaks (every Store does).
type leakRecorder interface {
	RecordLeak(ctx context.Context, l storage.Leak, resp storage.LeakResponse) (storage.LeakOutcome, error)
	AppliedLeakReport(ctx context.Context, sum [32]byte) (storage.LeakReport, bool, error)
	RememberLeakReport(ctx context.Context, sum [32]byte, labels string) error
}

// serveLeaks takes a signed report of tokens found in public: every live
// key among them is disabled, audited with the URL where it was found. A
// report whose signature does not verify changes nothing, nor does one
// applied before (the same body), which is answered as then.
func (s *Server) serveLeaks(ctx *fasthttp.RequestCtx) {
	ctx.Response.Header.Set("Cache-Control", "no-store")
	body := ctx.PostBody() // at most maxReport: see HTTPServer's HeaderReceived
	in := &ctx.Request.Header
	if !s.opt.LeakReportKeys.verify(string(in.Peek(HeaderKeyID)), string(in.Peek(HeaderSignature)), body) {
		s.opt.Log.Printf("a leak report from %s was refused: its signature does not verify", s.clientIP(peerAddr(ctx), in))
		textError(ctx, "the signature does not verify", fasthttp.StatusUnauthorized)
		return
	}
	var report []struct {
		Token  string `json:"token"`
		Type   string `json:"type"`
		URL    string `json:"url"`
		Source string `json:"source"`
	}
	if err := json.Unmarshal(body, &report); err != nil || len(report) > maxReportTokens {
		textError(ctx, "the report is not a JSON list of at most 1000 {token, type, url, source}", fasthttp.StatusBadRequest)
		return
	}
	rec, ok := s.store.(leakRecorder)
	if !ok {
		textError(ctx, "this verifier cannot record leaks", fasthttp.StatusServiceUnavailable)
		return
	}
	unavailable := func(err error) {
		s.opt.Log.Printf("a leak report could not be recorded (the reporter may send it again): %v", err)
		textError(ctx, "the store could not record the report: send it again", fasthttp.StatusServiceUnavailable)
	}
	// A report applied before is answered as then and changes nothing.
	digest := sha256.Sum256(body)
	before, applied, err := rec.AppliedLeakReport(ctx, digest)
	if err != nil {
		unavailable(err)
		return
	}
	if applied && len(before.Labels) != len(report) {
		applied = false
	}
	if applied {
		s.opt.Log.Printf("a leak report from %s was sent again (body SHA-256 %x…, applied %s): answered as then, nothing changed",
			s.clientIP(peerAddr(ctx), in), digest[:6], before.At.Format(time.RFC3339))
	}
	out := make([]LeakVerdict, 0, len(report))
	labels := make([]byte, 0, len(report))
	for i, t := range report {
		sum := sha256.Sum256([]byte(t.Token))
		v := LeakVerdict{TokenHash: hex.EncodeToString(sum[:]), TokenType: t.Type, Label: "false_positive"}
		if applied {
			if before.Labels[i] == 't' {
				v.Label = "true_positive"
			}
		} else if _, err := keygen.Parse(t.Token); err == nil {
			where := strings.TrimSpace(t.URL)
			if where == "" {
				where = "an unnamed place"
			}
			o, err := rec.RecordLeak(ctx, storage.Leak{Hash: keygen.HashKey(t.Token), Where: where, Source: "a signed leak report (" + t.Source + ")"},
				storage.LeakResponse{Disable: true, Authorized: true})
			if err != nil {
				unavailable(err)
				return
			}
			if o.Found {
				v.Label = "true_positive"
			}
		}
		out = append(out, v)
		labels = append(labels, v.Label[0])
	}
	if !applied {
		// Remembered only once every token is done: a report cut short
		// (503) is applied again in full when it is sent again.
		if err := rec.RememberLeakReport(ctx, digest, string(labels)); err != nil {
			unavailable(err)
			return
		}
	}
	ctx.SetContentType("application/json")
	json.NewEncoder(ctx).Encode(out)
}

// verify checks an ECDSA (ASN.1, base64) signature of body's SHA-256 by
// the key named id.
func (k LeakReportKeys) verify(id, sig string, body []byte) bool {
	pub, ok := k[id]
	if !ok || sig == "" {
		return false
	}
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return false
	}
	sum := sha256.Sum256(body)
	return ecdsa.VerifyASN1(pub, sum[:], raw)
}
