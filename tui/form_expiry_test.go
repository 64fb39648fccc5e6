package tui

import (
	"strings"
	"testing"
	"time"

	"keyden/model"
)

// The form's expiry takes the command line's minimum: a key that would be
// expired at its first use (1ns, 500ms) is refused with the same sentence.
func TestFormRefusesAnExpiryUnderAMinute(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC) }
	f := newFormView(&shared{st: &Styles{}, now: now}, []model.Environment{{Name: "prod", Tag: "prod"}}, []model.Channel{{Name: "default"}}, "prod", "default")
	exp := f.fields[fExpiry]
	for _, in := range []string{"1ns", "500ms", "59s"} {
		exp.input.SetValue(in)
		exp.validate()
		if exp.err == nil || !strings.Contains(exp.err.Error(), "less than a minute") {
			t.Errorf("expiry %q: %v", in, exp.err)
		}
	}
	exp.input.SetValue("1m")
	if exp.validate(); exp.err != nil {
		t.Errorf("expiry 1m: %v", exp.err)
	}
}
