package format

import (
	"testing"
	"time"
)

func TestAgoAndUntil(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		fn   func(time.Time, time.Time) string
		at   time.Time
		want string
	}{
		{Ago, time.Time{}, "never"},
		{Ago, now.Add(-3 * time.Second), "just now"},
		{Ago, now.Add(-45 * time.Second), "45s ago"},
		{Ago, now.Add(-2 * time.Minute), "2m ago"},
		{Ago, now.Add(-5 * time.Hour), "5h ago"},
		{Ago, now.Add(-3 * 24 * time.Hour), "3d ago"},
		{Ago, now.Add(-100 * 24 * time.Hour), "3mo ago"},
		{Ago, now.Add(-800 * 24 * time.Hour), "2y ago"},
		{Ago, now.Add(5 * time.Minute), "in 5m"},
		{Until, time.Time{}, "never"},
		{Until, now.Add(7 * 24 * time.Hour), "in 7d"},
		{Until, now.Add(-2 * 24 * time.Hour), "expired 2d ago"},
		// A time to come is rounded, a past one floored: a key made a
		// moment ago to last 90d, 30d or 24h reads so.
		{Until, now.Add(90*24*time.Hour - 5*time.Second), "in 3mo"},
		{Until, now.Add(30*24*time.Hour - 5*time.Second), "in 30d"},
		{Until, now.Add(24*time.Hour - 5*time.Second), "in 24h"},
		{Until, now.Add(365*24*time.Hour - 5*time.Second), "in 12mo"},
		{Ago, now.Add(-90*24*time.Hour + 5*time.Second), "2mo ago"},
		{Ago, now.Add(24*time.Hour - 5*time.Second), "in 24h"},
	}
	for _, tt := range tests {
		if got := tt.fn(tt.at, now); got != tt.want {
			t.Errorf("%v: got %q, want %q", tt.at, got, tt.want)
		}
	}
	if Date(time.Time{}) != "never" || Date(now) != "2026-11-26" {
		t.Error("Date")
	}
}

func TestSentence(t *testing.T) {
	for in, want := range map[string]string{"ann is not a member": "ann is not a member.", "did you mean x?": "did you mean x?", " done. ": "done.", "": ""} {
		if got := Sentence(in); got != want {
			t.Errorf("Sentence(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int]string{0: "0 keys", 1: "1 key", 2: "2 keys", -1: "-1 keys"} {
		if got := Count(n, "key"); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
}
