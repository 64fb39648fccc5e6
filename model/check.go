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
func (r *Rules) Check(envName, scope string, ip netip.Addr, now time.Time) (Reason, string) {
	k := r.Key
	switch {
	case k.Disabled:
		return ReasonDisabled, "the key " + Quote(k.Name) + " is disabled"
	case k.Expired(now):
		return ReasonExpired, "the key " + Quote(k.Name) + " expired at " + k.ExpiresAt.UTC().Format(time.RFC3339)
	case envName != "" && k.Environment != envName:
		return ReasonWrongEnv, "the key " + Quote(k.Name) + " belongs to " + k.Environment + ", not " + envName
	case !r.ipAllowed(ip):
		if !ip.IsValid() {
			return ReasonIPNotAllowed, "the key " + Quote(k.Name) + " has an IP allowlist and no client IP was given"
		}
		return ReasonIPNotAllowed, "the key " + Quote(k.Name) + " is not allowed from " + ip.Unmap().String()
	case scope != "" && !ScopeCovers(k.Scopes, scope):
		return ReasonScopeMissing, "the key " + Quote(k.Name) + " lacks the scope " + scope
	}
	return "", ""
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
