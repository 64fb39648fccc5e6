package model

import (
	"net/netip"
	"time"
)

// Reason is why a key was refused, stable for scripts, JSON and HTTP.
type Reason string

const (
	ReasonMissing      Reason = "missing" // no key was presented (HTTP only)
	ReasonMalformed    Reason = "malformed"
	ReasonUnknown      Reason = "unknown"
	ReasonWrongEnv     Reason = "wrong_environment"
	ReasonExpired      Reason = "expired"
	ReasonDisabled     Reason = "disabled"
	ReasonScopeMissing Reason = "scope_missing"
	ReasonIPNotAllowed Reason = "ip_not_allowed"
)

// Rules are a key's verification rules with its allowlist parsed once, so
// an in-memory verifier checks a key without parsing anything.
type Rules struct {
	Key     *Key
	Allowed []netip.Prefix
}

// NewRules parses k's allowlist (entries that no longer parse are dropped:
// they were validated when stored).
func NewRules(k *Key) Rules {
	r := Rules{Key: k}
	for _, s := range k.AllowedIPs {
		if p, err := ParseAllowedIP(s); err == nil {
			r.Allowed = append(r.Allowed, p)
		}
	}
	return r
}

// Check applies the rules to one request, in the design's order: disabled,
// expiry, environment, client IP, scope. envName "" accepts any
// environment, scope "" needs none. It returns "" when the key is accepted.
// It builds no text, so a verifier's hot path does not allocate; Explain
// says why in a sentence.
func (r *Rules) Check(envName, scope string, ip netip.Addr, now time.Time) Reason {
	k := r.Key
	switch {
	case k.Disabled:
		return ReasonDisabled
	case k.Expired(now):
		return ReasonExpired
	case envName != "" && k.Environment != envName:
		return ReasonWrongEnv
	case !r.ipAllowed(ip):
		return ReasonIPNotAllowed
	case scope != "" && !ScopeCovers(k.Scopes, scope):
		return ReasonScopeMissing
	}
	return ""
}

// Explain is the sentence for a refusal Check gave.
func (r *Rules) Explain(reason Reason, envName, scope string, ip netip.Addr) string {
	k := r.Key
	name := "the key " + Quote(k.Name)
	switch reason {
	case ReasonDisabled:
		return name + " is disabled"
	case ReasonExpired:
		return name + " expired at " + k.ExpiresAt.UTC().Format(time.RFC3339)
	case ReasonWrongEnv:
		return name + " belongs to " + k.Environment + ", not " + envName
	case ReasonIPNotAllowed:
		if !ip.IsValid() {
			return name + " has an IP allowlist and no client IP was given"
		}
		return name + " is not allowed from " + ip.Unmap().String()
	case ReasonScopeMissing:
		return name + " lacks the scope " + scope
	}
	return ""
}

func (r *Rules) ipAllowed(ip netip.Addr) bool {
	if len(r.Key.AllowedIPs) == 0 {
		return true
	}
	if !ip.IsValid() {
		return false
	}
	ip = ip.Unmap()
	for _, p := range r.Allowed {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
