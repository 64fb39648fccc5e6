// Package format turns stored values into the short text both the command
// line and the TUI show, so the two always agree.
package format

import (
	"fmt"
	"strings"
	"time"

	"keyden/model"
)

// Ago writes how long ago t was, short: "just now", "2m ago", "3d ago",
// "never" for the zero time, "in 5m" for a future time.
func Ago(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	if d < 0 {
		return "in " + span(-d)
	}
	if d < 10*time.Second {
		return "just now"
	}
	return span(d) + " ago"
}

// Until writes how far away t is: "in 3d", "expired 2d ago", "never".
func Until(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := t.Sub(now)
	if d <= 0 {
		return "expired " + span(-d) + " ago"
	}
	return "in " + span(d)
}

func span(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	case d < 60*24*time.Hour:
		return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	case d < 2*365*24*time.Hour:
		return fmt.Sprintf("%dmo", int(d/(30*24*time.Hour)))
	}
	return fmt.Sprintf("%dy", int(d/(365*24*time.Hour)))
}

// Date is a day in UTC, or "never".
func Date(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02")
}

// Stamp is a full UTC time to the second, or "never".
func Stamp(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// KeyFields are a key's details as label/value pairs, shared by `show` and the
// TUI; the values have been through Safe.
func KeyFields(k *model.Key, now time.Time) [][2]string {
	list := func(l []string, none string) string {
		if len(l) == 0 {
			return none
		}
		return strings.Join(l, ", ")
	}
	used := Ago(k.LastUsedAt, now)
	if !k.LastUsedAt.IsZero() {
		used = Stamp(k.LastUsedAt) + " (" + used + ")"
		if k.LastUsedFrom != "" {
			used += " from " + k.LastUsedFrom
		}
	}
	expires := Stamp(k.ExpiresAt)
	if !k.ExpiresAt.IsZero() {
		expires += " (" + Until(k.ExpiresAt, now) + ")"
	}
	status := "active"
	switch {
	case k.Disabled:
		status = "disabled"
	case k.Expired(now):
		status = "expired"
	}
	f := [][2]string{
		{"ID", k.ID}, {"Name", k.Name}, {"Channel", k.Channel}, {"Environment", k.Environment},
		{"Status", status}, {"Type", string(k.Type)}, {"Hint", k.Hint},
		{"Scopes", list(k.Scopes, "none")}, {"Allowed IPs", list(k.AllowedIPs, "anywhere")},
		{"Created", Stamp(k.CreatedAt) + " by " + k.CreatedBy},
		{"Expires", expires}, {"Last used", used}, {"Uses", fmt.Sprint(k.UseCount)},
	}
	if k.RotatedFrom != "" {
		f = append(f, [2]string{"Replaces", k.RotatedFrom})
	}
	if k.RotatedTo != "" {
		f = append(f, [2]string{"Replaced by", k.RotatedTo})
	}
	for i := range f {
		f[i][1] = Safe(f[i][1])
	}
	return f
}

// Sentence ends a message with a full stop unless it has an end mark. It
// does not capitalise: many messages start with a user or key name.
func Sentence(s string) string {
	s = strings.TrimSpace(s)
	if s != "" && !strings.ContainsAny(s[len(s)-1:], ".?!") {
		s += "."
	}
	return s
}
