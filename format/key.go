package format

import (
	"fmt"
	"strings"
	"time"

	"keyden/model"
)

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
	// The word the keys table shows and status: in the query takes.
	status := string(k.Health(now))
	if status == "" {
		status = "ok"
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
