package model

import (
	"encoding/json"
	"testing"
)

// A record written before confirm_by_name existed reads as before: prod
// confirmed by name, the others by yes or no; a record with the field
// keeps its value.
func TestEnvironmentConfirmByNameDefaultsForOldRecords(t *testing.T) {
	for _, c := range []struct {
		record string
		want   bool
	}{
		{`{"name":"prod","tag":"prod","order":3}`, true},
		{`{"name":"dev","tag":"dev","order":1}`, false},
		{`{"name":"prod","tag":"prod","order":3,"confirm_by_name":false}`, false},
		{`{"name":"dev","tag":"dev","order":1,"confirm_by_name":true}`, true},
	} {
		var e Environment
		if err := json.Unmarshal([]byte(c.record), &e); err != nil {
			t.Fatal(err)
		}
		if e.ConfirmByName != c.want || e.Tag == "" || e.Order == 0 {
			t.Errorf("%s: %+v, want confirm by name %v", c.record, e, c.want)
		}
	}
	for _, e := range DefaultEnvironments() {
		if e.ConfirmByName != (e.Name == "prod") {
			t.Errorf("new store: %+v", e)
		}
	}
}
