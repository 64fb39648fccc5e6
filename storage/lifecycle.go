package storage

import (
	"context"
	"fmt"
	"time"

	"keyden/model"
)

// MaxGrace bounds a rotation's grace period.
const MaxGrace = 365 * 24 * time.Hour

// RotateKey replaces a key: the new one has the old one's name, channel,
// environment, type, scopes and allowlist; the old one expires after the
// grace (or keeps an earlier expiry). One transaction: the new key, its
// hash, the link both ways, the old key's expiry and the audit events.
func (b *core) RotateKey(ctx context.Context, req RotateRequest) (Rotated, error) {
	if req.Grace < 0 || req.Grace > MaxGrace {
		return Rotated{}, fail(ErrInvalid, "a grace of %v is out of range: use now, or up to 365d, such as 24h", req.Grace)
	}
	var out Rotated
	err := b.update(ctx, func(tx kv) (err error) {
		out, err = b.rotate(tx, req, "")
		return err
	})
	return out, err
}

// rotate is RotateKey inside the caller's transaction; why, when set, is
// added to the rotation's audit event. Every refusal comes before a write.
func (b *core) rotate(tx kv, req RotateRequest, why string) (Rotated, error) {
	var out Rotated
	err := func() error {
		old, err := b.getKey(tx, req.ID)
		if err != nil {
			return err
		}
		if err := b.mayChange(tx, model.KeyRotate, &old); err != nil {
			return err
		}
		if old.RotatedTo != "" {
			return fail(ErrExists, "the key %s was already replaced by %s: rotate that one instead", model.Quote(old.Name), old.RotatedTo)
		}
		if old.Disabled {
			return fail(ErrConflict, "the key %s is disabled: enable it first, or create a new key", model.Quote(old.Name))
		}
		if old.Decoy {
			return fail(ErrConflict, "the key %s is a decoy, which is never valid: create another decoy rather than rotate it", model.Quote(old.Name))
		}
		now := b.now()
		env, err := resolveEnv(tx, old.Environment)
		if err != nil {
			return err
		}
		expires := req.ExpiresAt
		if expires.IsZero() && !old.ExpiresAt.IsZero() {
			// The same lifetime as the key it replaces, from now, and at least
			// a minute, so a key made before that minimum (--expires 1ns) does
			// not rotate into one dead on arrival.
			expires = now.Add(max(old.ExpiresAt.Sub(old.CreatedAt), model.MinLifetime))
		}
		c, err := b.insertKey(tx, b.info(tx), env, KeySeed{CreateRequest: CreateRequest{
			Name: old.Name, Channel: old.Channel, Environment: old.Environment, Type: old.Type,
			Scopes: old.Scopes, AllowedIPs: old.AllowedIPs, ExpiresAt: expires,
		}}, "rotation of "+old.ID)
		if err != nil {
			return err
		}
		c.Key.RotatedFrom = old.ID
		if err := b.putKey(tx, &c.Key); err != nil {
			return err
		}
		old.RotatedTo = c.Key.ID
		if end := now.Add(req.Grace); old.ExpiresAt.IsZero() || end.Before(old.ExpiresAt) {
			old.ExpiresAt = end
		}
		if err := b.putKey(tx, &old); err != nil {
			return err
		}
		ev := keyEvent(model.ActionRotate, &old)
		ev.Detail = fmt.Sprintf("replaced by %s; old key works until %s", c.Key.ID, old.ExpiresAt.UTC().Format(time.RFC3339))
		if why != "" {
			ev.Detail += "; " + why
		}
		if err := b.appendEvent(tx, ev); err != nil {
			return err
		}
		out = Rotated{New: c, Old: old}
		return nil
	}()
	return out, err
}

// SetDisabled disables or enables a key.
func (b *core) SetDisabled(ctx context.Context, id string, disabled bool) (model.Key, error) {
	var k model.Key
	err := b.update(ctx, func(tx kv) error {
		var err error
		if k, err = b.getKey(tx, id); err != nil {
			return err
		}
		return b.setDisabledIn(tx, &k, disabled)
	})
	return k, err
}

// setDisabledIn disables or enables k, read in tx, if the actor may.
func (b *core) setDisabledIn(tx kv, k *model.Key, disabled bool) error {
	action, verb := model.KeyEnable, model.ActionEnable
	if disabled {
		action, verb = model.KeyDisable, model.ActionDisable
	}
	if err := b.mayChange(tx, action, k); err != nil {
		return err
	}
	if k.Disabled == disabled {
		return fail(ErrExists, "the key %s is already %sd", model.Quote(k.Name), action)
	}
	k.Disabled = disabled
	if err := b.putKey(tx, k); err != nil {
		return err
	}
	return b.appendEvent(tx, keyEvent(verb, k))
}
