package testutil

import (
	"testing"
	"time"
)

// WaitFor polls cond until it holds, failing the test after 30 s: a wait
// on the condition, not on a time, with room for a loaded machine.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30 s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
