package format

import (
	"fmt"
	"time"
)

// Ago writes how long ago t was, short: "just now", "2m ago", "3d ago",
// "never" for the zero time, "in 5m" for a future time.
func Ago(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	if d < 0 {
		return "in " + ahead(-d)
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
	return "in " + ahead(d)
}

// span is d in its largest fitting unit, floored: what is past never reads
// as more than it was ("3mo ago" is at least what used:>90d means).
func span(d time.Duration) string { return spanIn(d, false) }

// ahead is span for a time to come, rounded to the nearest unit: floored,
// a key made to last 90 days read "in 2mo" a second after it was made (a
// 30-day one "in 29d", a 24-hour grace "in 23h").
func ahead(d time.Duration) string { return spanIn(d, true) }

func spanIn(d time.Duration, round bool) string {
	n := func(unit time.Duration) int {
		if round {
			return int((d + unit/2) / unit)
		}
		return int(d / unit)
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", n(time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", n(time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", n(time.Hour))
	case d < 60*24*time.Hour:
		return fmt.Sprintf("%dd", n(24*time.Hour))
	case d < 2*365*24*time.Hour:
		return fmt.Sprintf("%dmo", n(30*24*time.Hour))
	}
	return fmt.Sprintf("%dy", n(365*24*time.Hour))
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
