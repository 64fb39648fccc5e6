package model

import (
	"errors"
	"reflect"
	"testing"
)

// A record of version 3 names its channel, environment, creator and hint
// prefix by table number: it decodes to the same key through the table,
// is at least 25 bytes shorter than version 2 for the sample key, and a
// number the table lacks, or no table, is a damaged record.
func TestCodecVersion3(t *testing.T) {
	table := map[uint64]string{0: "default", 1: "prod", 2: "alice", 3: "kd_prod_"}
	lookup := func(n uint64) (string, bool) { s, ok := table[n]; return s, ok }
	refs := Refs{Channel: 1, Environment: 2, CreatedBy: 3, HintPrefix: 4}
	odd := sampleKey()
	odd.Hint = "not a hint"
	for _, c := range []struct {
		k    Key
		refs Refs
	}{{sampleKey(), refs}, {sampleKey(), Refs{}}, {odd, refs}, {Key{ID: "a", Name: "b", Channel: "c", Environment: "d", Type: TypeXAPIKey}, Refs{}}} {
		rec := EncodeKeyRefs(nil, &c.k, c.refs)
		if rec[0] != codecV3 {
			t.Fatalf("version %d", rec[0])
		}
		var got Key
		if err := DecodeKeyWith(c.k.ID, string(rec), &got, lookup); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, c.k) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, c.k)
		}
	}
	k := sampleKey()
	rec := EncodeKeyRefs(nil, &k, refs)
	if v2 := EncodeKey(nil, &k); len(v2)-len(rec) < 25 {
		t.Fatalf("version 3 is %d bytes, version 2 %d", len(rec), len(v2))
	}
	var got Key
	if err := DecodeKeyWith(k.ID, string(rec), &got, func(uint64) (string, bool) { return "", false }); !errors.Is(err, ErrBadRecord) {
		t.Fatalf("a number not in the table: %v", err)
	}
	if err := DecodeKey(k.ID, rec, &got); !errors.Is(err, ErrBadRecord) {
		t.Fatalf("no table: %v", err)
	}
	for i := range rec {
		if err := DecodeKeyWith(k.ID, string(rec[:i]), &got, lookup); !errors.Is(err, ErrBadRecord) {
			t.Fatalf("cut at %d: %v", i, err)
		}
	}
}

func TestHintParts(t *testing.T) {
	for _, c := range []struct{ hint, prefix, body string }{
		{"kd_prod_3sV9…Xy7Q", "kd_prod_", "3sV9Xy7Q"}, {"x_y_abcd…wxyz", "x_y_", "abcdwxyz"},
		{"abcd…wxyz", "", ""}, {"kd_prod_3sV9Xy7Q", "", ""}, {"", "", ""},
	} {
		p, b, ok := HintParts(c.hint)
		if p != c.prefix || b != c.body || ok != (c.prefix != "") {
			t.Errorf("%q: %q %q %v", c.hint, p, b, ok)
		}
	}
}
