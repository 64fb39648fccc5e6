package storage

import (
	"strings"

	"keyden/model"
)

// EtcdConfig says where an etcd key set lives and how to reach it.
type EtcdConfig struct {
	Endpoints []string
	Prefix    string // every key of the store lives under it
	Username  string
	Password  string
	// TLS: a CA to trust, and a client certificate and key, as etcd's own
	// clients take them (--cacert, --cert, --key).
	CACert, Cert, Key string
	TLS               bool
}

// IsEtcdURL says whether a store location names etcd rather than a file.
func IsEtcdURL(s string) bool {
	return strings.HasPrefix(s, "etcd://") || strings.HasPrefix(s, "etcds://")
}

// ParseEtcdURL reads etcd://host:2379[,host:2379…]/prefix (etcds:// for
// TLS; user@ before the hosts for a user name). Secrets never come from
// the URL: the password is in KEYDEN_ETCD_PASSWORD, certificates in
// KEYDEN_ETCD_CACERT, KEYDEN_ETCD_CERT and KEYDEN_ETCD_KEY.
func ParseEtcdURL(s string, getenv func(string) string) (EtcdConfig, error) {
	bad := func(why string) (EtcdConfig, error) {
		return EtcdConfig{}, fail(ErrInvalid, "%s is not an etcd location (%s): write etcd://host:2379[,host:2379]/prefix", model.Quote(withoutPassword(s)), why)
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || (scheme != "etcd" && scheme != "etcds") {
		return bad("it does not start etcd:// or etcds://")
	}
	hosts, path, _ := strings.Cut(rest, "/")
	cfg := EtcdConfig{TLS: scheme == "etcds", Prefix: "/" + strings.Trim(path, "/")}
	if cfg.Prefix == "/" {
		cfg.Prefix = "/keyden"
	}
	if user, h, has := strings.Cut(hosts, "@"); has {
		if strings.Contains(user, ":") {
			return bad("a password in the URL would show in process lists; set KEYDEN_ETCD_PASSWORD")
		}
		cfg.Username, hosts = user, h
	}
	if hosts == "" {
		return bad("no host")
	}
	for _, h := range strings.Split(hosts, ",") {
		if h == "" || strings.ContainsAny(h, " ?#") {
			return bad("an empty or odd host")
		}
		if !strings.Contains(h, ":") {
			h += ":2379"
		}
		if cfg.TLS {
			cfg.Endpoints = append(cfg.Endpoints, "https://"+h)
		} else {
			cfg.Endpoints = append(cfg.Endpoints, "http://"+h)
		}
	}
	if getenv != nil {
		if v := getenv("KEYDEN_ETCD_USER"); v != "" && cfg.Username == "" {
			cfg.Username = v
		}
		cfg.Password = getenv("KEYDEN_ETCD_PASSWORD")
		cfg.CACert, cfg.Cert, cfg.Key = getenv("KEYDEN_ETCD_CACERT"), getenv("KEYDEN_ETCD_CERT"), getenv("KEYDEN_ETCD_KEY")
		if cfg.CACert != "" || cfg.Cert != "" {
			cfg.TLS = true
		}
	}
	return cfg, nil
}

// withoutPassword hides a password someone put in a location (user:pw@).
func withoutPassword(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	hosts, path, slash := strings.Cut(rest, "/")
	at := strings.LastIndex(hosts, "@")
	user, pw, hasPw := strings.Cut(hosts[:max(at, 0)], ":")
	if !ok || at < 0 || !hasPw || pw == "" {
		return s
	}
	s = scheme + "://" + user + ":…@" + hosts[at+1:]
	if slash {
		s += "/" + path
	}
	return s
}
