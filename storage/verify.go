package storage

import (
	"cmp"
	"context"
	"errors"
	"time"

	"keyden/keygen"
	"keyden/model"
)

// Verify checks a presented key: shape and checksum first (no lookup), then
// SHA-256 → hash index → record, then disabled, expiry, environment, client
// IP and scope. A success records last used in the same call.
func (b *core) Verify(ctx context.Context, req VerifyRequest) (VerifyResult, error) {
	if _, err := keygen.Parse(req.Secret); err != nil {
		detail := "the key is not a keyden key"
		if errors.Is(err, keygen.ErrChecksum) {
			detail = "the key's checksum does not match: it was mistyped, truncated or edited"
		}
		return VerifyResult{Reason: model.ReasonMalformed, Detail: detail}, nil
	}
	hash := keygen.HashKey(req.Secret)
	var res VerifyResult
	// A verify writes last used, or once an expiry event; neither changes a key's rules.
	err := b.usageUpdate(ctx, func(tx kv) error {
		var k model.Key
		var err error
		if res, k, err = b.judge(tx, req, hash); err != nil || res.Reason == model.ReasonUnknown {
			if err == nil && k.Decoy {
				return b.decoyUsed(tx, &k, DecoyUse{ClientIP: req.ClientIP, UserAgent: req.UserAgent, Via: cmp.Or(req.Via, "keyden verify")})
			}
			return cmp.Or(err, errNoWrite)
		}
		if res.Reason == model.ReasonExpired && !k.ExpiryLogged {
			if err := b.logExpiry(tx, &k); err != nil {
				return err
			}
			return b.putKey(tx, &k)
		}
		if !res.OK {
			return errNoWrite
		}
		k.LastUsedAt = b.now()
		k.LastUsedFrom = ""
		if req.ClientIP.IsValid() {
			k.LastUsedFrom = req.ClientIP.Unmap().String()
		}
		k.UseCount++
		k.AddUses(k.LastUsedAt, 1)
		res.Key = k
		if err := b.putKey(tx, &k); err != nil {
			return err
		}
		return journalUses(tx, []string{k.ID})
	})
	if errors.Is(err, errNoWrite) {
		err = nil
	}
	if errors.Is(err, ErrUnwritable) {
		// A valid key stays valid when its use cannot be written down:
		// judge it on a read, and say why last used was not recorded.
		why := err
		err = b.view(ctx, func(tx kv) error {
			var err error
			res, _, err = b.judge(tx, req, hash)
			return err
		})
		if res.OK {
			res.Unrecorded = why.Error()
		}
	}
	return res, err
}

// judge finds a presented key by its hash and applies its rules.
func (b *core) judge(tx kv, req VerifyRequest, hash keygen.Hash) (VerifyResult, model.Key, error) {
	var envName string
	if req.Environment != "" {
		env, err := resolveEnv(tx, req.Environment)
		if err != nil {
			return VerifyResult{}, model.Key{}, err
		}
		envName = env.Name
	}
	k, found, err := b.keyByHash(tx, hash)
	if err != nil {
		return VerifyResult{}, k, err
	}
	if !found {
		return unknownKey, model.Key{}, nil
	}
	if k.Decoy {
		return unknownKey, k, nil
	}
	return check(&k, envName, req, b.now()), k, nil
}

// unknownKey is the answer for a key that is not in the store, and for a
// decoy: nothing in it tells the two apart.
var unknownKey = VerifyResult{Reason: model.ReasonUnknown, Detail: "no such key: it was never issued or has been deleted"}

// logExpiry puts a key's expiry in the audit log at its first refusal,
// once: the key is marked, and the caller writes it in the same transaction.
func (b *core) logExpiry(tx kv, k *model.Key) error {
	if k.ExpiryLogged {
		return nil
	}
	k.ExpiryLogged = true
	ev := keyEvent(model.ActionExpire, k)
	ev.Detail = "expired at " + k.ExpiresAt.UTC().Format(time.RFC3339) + "; first refusal"
	return b.appendEvent(tx, ev)
}

// errNoWrite rolls back a verify that refused: a refusal changes nothing.
var errNoWrite = errors.New("refused; nothing to write")

// check applies a key's rules to one request.
func check(k *model.Key, envName string, req VerifyRequest, now time.Time) VerifyResult {
	rules := model.NewRules(k)
	if reason := rules.Check(envName, req.Scope, req.ClientIP, now); reason != "" {
		return VerifyResult{Reason: reason, Detail: rules.Explain(reason, envName, req.Scope, req.ClientIP), Key: *k}
	}
	return VerifyResult{OK: true, Key: *k}
}
