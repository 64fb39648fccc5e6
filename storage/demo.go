package storage

import (
	"context"
	"net/netip"
	"time"

	"keyden/model"
)

// FillDemo makes a small, realistic store for screenshots and demos: keys
// made and last used at various times (through an injected clock), so every
// state a reviewer should notice appears once.
// operator, the OS user making it, is added as a super admin so the demo
// can be changed from the TUI.
func FillDemo(ctx context.Context, path, operator string) error {
	now := time.Now().UTC()
	at := now
	st, err := OpenBolt(path, Options{Actor: "alice", Now: func() time.Time { return at }})
	if err != nil {
		return err
	}
	day := 24 * time.Hour
	if operator != "" && operator != "alice" {
		if _, err := st.AddMember(ctx, operator, model.RoleSuperAdmin); err != nil {
			return err
		}
	}
	for _, ch := range []model.Channel{{Name: "mobile-app", Description: "iOS and Android"}, {Name: "partner-acme", Description: "Acme Corp. integration"}} {
		if _, err := st.AddChannel(ctx, ch); err != nil {
			return err
		}
	}
	type demoKey struct {
		name, channel, env string
		scopes             []string
		age, usedAgo       time.Duration // usedAgo 0: never used
		expiresIn          time.Duration // 0: never
		ip                 string
	}
	keys := []demoKey{
		{"web checkout", "default", "prod", []string{"orders:*", "payments:read"}, 120 * day, 2 * time.Minute, 0, "203.0.113.7"},
		{"billing sync", "default", "prod", []string{"billing:read"}, 300 * day, 3 * day, 5 * day, "10.0.4.12"},
		{"ios release", "mobile-app", "prod", []string{"feed:read"}, 60 * day, 40 * time.Minute, 365 * day, "198.51.100.23"},
		{"android beta", "mobile-app", "staging", []string{"feed:read", "feed:write"}, 45 * day, 6 * time.Hour, 0, ""},
		{"acme orders feed", "partner-acme", "prod", []string{"orders:read"}, 400 * day, 130 * day, 0, "192.0.2.44"},
		{"acme sandbox", "partner-acme", "dev", []string{"*"}, 20 * day, 0, 0, ""},
		{"ci deploy", "default", "dev", []string{"deploy:*"}, 200 * day, 1 * day, -3 * day, "10.0.0.5"},
		{"load test", "default", "staging", nil, 2 * day, 0, 30 * day, ""},
	}
	for _, k := range keys {
		at = now.Add(-k.age)
		req := CreateRequest{Name: k.name, Channel: k.channel, Environment: k.env, Type: model.TypeBearer, Scopes: k.scopes}
		if k.expiresIn != 0 {
			req.ExpiresAt = now.Add(k.expiresIn)
			if k.expiresIn < 0 {
				req.ExpiresAt = at.Add(k.age / 2)
			}
		}
		c, err := st.CreateKey(ctx, req)
		if err != nil {
			return err
		}
		if k.usedAgo > 0 {
			at = now.Add(-k.usedAgo)
			if !req.ExpiresAt.IsZero() && !at.Before(req.ExpiresAt) {
				at = req.ExpiresAt.Add(-day)
			}
			vr := VerifyRequest{Secret: c.Secret}
			if k.ip != "" {
				vr.ClientIP = mustAddr(k.ip)
			}
			if _, err := st.Verify(ctx, vr); err != nil {
				return err
			}
		}
	}
	return nil
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
