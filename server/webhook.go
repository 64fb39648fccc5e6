package server

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"sync/atomic"
	"time"

	"keyden/model"
)

// AuditReader is what the alert webhook reads of a store: where the audit
// log stands, and the events after a point.
type AuditReader interface {
	FeedHead(ctx context.Context) (seq uint64, rev int64, err error)
	AuditAfter(ctx context.Context, seq uint64, limit int) ([]model.Event, error)
}

// Alert is the JSON body the webhook posts, one alert a request.
type Alert struct {
	// ID is the store's location and the event's sequence: the same alert
	// posted by two verifiers has the same ID.
	ID          string    `json:"id"`
	Type        string    `json:"type"` // decoy_used, leak_found
	Time        time.Time `json:"time"`
	Store       string    `json:"store"`
	KeyID       string    `json:"key_id"`
	KeyName     string    `json:"key_name"`
	Channel     string    `json:"channel"`
	Environment string    `json:"environment"`
	ClientIP    string    `json:"client_ip,omitempty"`
	UserAgent   string    `json:"user_agent,omitempty"`
	Actor       string    `json:"actor"`
	Detail      string    `json:"detail"`
}

// alertTypes are the audit actions that are alerts, and their webhook type.
var alertTypes = map[string]string{model.ActionDecoyUse: "decoy_used", model.ActionLeak: "leak_found"}

// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the body
// under the shared secret (the form GitHub's webhooks use).
const SignatureHeader = "X-Keyden-Signature-256"

// Sign is the SignatureHeader value for body under secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Webhook follows the audit log and posts every alert in it, signed, to a
// URL: each is retried with backoff until it is taken (any 2xx), in order,
// and none ever waits on a check or holds one up.
type Webhook struct {
	URL    string
	Secret []byte
	Store  AuditReader
	// Where names the store in each alert's id.
	Where  string
	Log    *log.Logger
	Client *http.Client
	// Poll is how often the audit log is read (500 ms if 0); Retry the
	// first wait after a failed post (1 s if 0), doubled up to MaxRetry (1
	// min if 0); Attempts how many posts an alert gets (10 if 0).
	Poll, Retry, MaxRetry time.Duration
	Attempts              int

	seq     uint64      // the audit sequence posted up to
	running atomic.Bool // the starting point is read
}

// started says where the audit log stood has been read.
func (w *Webhook) started() bool { return w.running.Load() }

// Begin reads where the audit log stands: Run posts the alerts written
// after it. serve calls it before answering any check, so an alert raised
// by the first checks cannot fall before the starting point (Run alone
// reads it from a goroutine, which on a loaded machine may run late).
func (w *Webhook) Begin(ctx context.Context) error {
	seq, _, err := w.Store.FeedHead(ctx)
	if err != nil {
		return err
	}
	w.seq = seq
	w.running.Store(true)
	return nil
}

func (w *Webhook) defaults() {
	if w.Poll <= 0 {
		w.Poll = 500 * time.Millisecond
	}
	if w.Retry <= 0 {
		w.Retry = time.Second
	}
	if w.MaxRetry <= 0 {
		w.MaxRetry = time.Minute
	}
	if w.Attempts <= 0 {
		w.Attempts = 10
	}
	if w.Client == nil {
		w.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if w.Log == nil {
		w.Log = log.New(io.Discard, "", 0)
	}
}

// Run posts the alerts written after Begin, or after Run starts when
// Begin was not called or failed, until ctx ends.
func (w *Webhook) Run(ctx context.Context) {
	w.defaults()
	for !w.started() {
		if err := w.Begin(ctx); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(w.Poll):
		}
	}
	seq := w.seq
	queue := make(chan Alert, alertQueue)
	go w.post(ctx, queue)
	tick := time.NewTicker(w.Poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		evs, err := w.Store.AuditAfter(ctx, seq, 1000)
		if err != nil {
			continue // the follower logs the store's trouble
		}
		for _, ev := range evs {
			seq = ev.Seq
			typ, ok := alertTypes[ev.Action]
			if !ok {
				continue
			}
			a := Alert{ID: fmt.Sprintf("%s#%d", w.Where, ev.Seq), Type: typ, Time: ev.Time.UTC(), Store: w.Where,
				KeyID: ev.KeyID, KeyName: ev.KeyName, Channel: ev.Channel, Environment: ev.Environment,
				ClientIP: ev.ClientIP, UserAgent: ev.UserAgent, Actor: ev.Actor, Detail: ev.Detail}
			select {
			case queue <- a:
			default:
				w.Log.Printf("alert %s not posted: %d alerts are waiting for the webhook", a.ID, alertQueue)
			}
		}
	}
}

// post sends the queued alerts one after another, each retried with backoff.
func (w *Webhook) post(ctx context.Context, queue <-chan Alert) {
	for {
		var a Alert
		select {
		case <-ctx.Done():
			return
		case a = <-queue:
		}
		body, _ := json.Marshal(a)
		pause := w.Retry
		for attempt := 1; ; attempt++ {
			err := w.send(ctx, a, body)
			if err == nil {
				break
			}
			if attempt == w.Attempts {
				w.Log.Printf("gave up posting alert %s after %d tries: %v", a.ID, attempt, err)
				break
			}
			w.Log.Printf("posting alert %s (trying again in %v): %v", a.ID, pause, err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(pause):
			}
			pause = min(2*pause, w.MaxRetry)
		}
	}
}

func (w *Webhook) send(ctx context.Context, a Alert, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "keyden-alerts")
	req.Header.Set("X-Keyden-Event", a.Type)
	req.Header.Set("X-Keyden-Delivery", a.ID)
	req.Header.Set(SignatureHeader, Sign(w.Secret, body))
	resp, err := w.Client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("the webhook answered %s", resp.Status)
	}
	return nil
}
