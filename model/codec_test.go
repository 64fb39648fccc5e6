package model

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func sampleKey() Key {
	return Key{
		ID: "k3x9aa7q", Name: "web checkout", Channel: "default", Environment: "prod",
		Type: TypeBearer, Scopes: []string{"posts:read", "posts:write"},
		AllowedIPs: []string{"10.0.0.0/8", "2001:db8::1"},
		CreatedAt:  time.Date(2026, 11, 1, 9, 30, 0, 123, time.UTC), CreatedBy: "alice",
		ExpiresAt:  time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC),
		LastUsedAt: time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC), LastUsedFrom: "10.1.2.3",
		UseCount: 42, Hint: "kd_prod_3sV9…Xy7Q", Hash: [32]byte{1, 2, 3, 255},
		Disabled: true, ExpiryLogged: true, RotatedFrom: "k0000001", RotatedTo: "",
	}
}

func TestCodecRoundTrip(t *testing.T) {
	used := sampleKey()
	used.AddUses(used.LastUsedAt, 7)
	used.AddUses(used.LastUsedAt.Add(-72*time.Hour), 3)
	tests := []Key{sampleKey(), used, {ID: "a", Name: "b", Channel: "c", Environment: "d", Type: TypeXAPIKey}, {ID: "z"}}
	for _, k := range tests {
		var got Key
		if err := DecodeKey(k.ID, EncodeKey(nil, &k), &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, k) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, k)
		}
	}
}

// Records written by keyden before version 2 of the record (made by
// EncodeKey at 242a55a) still decode, to the same key.
func TestDecodeVersion1(t *testing.T) {
	for _, c := range []struct {
		hex  string
		want Key
	}{
		{"01086b337839616137710c77656220636865636b6f75740764656661756c740470726f640662656172657202020a706f7374733a726561640b706f7374733a77726974650a31302e302e302e302f380b323030313a6462383a3a31f6c19faaa9f6f0e33105616c6963658080f0c2d6888080328080e0a6d9fdd8e9310831302e312e322e332a136b645f70726f645f33735639e280a658793751010203ff0000000000000000000000000000000000000000000000000000000003086b3030303030303100", sampleKey()},
		{"01016101620163016409782d6170692d6b65790000000000000000000000000000000000000000000000000000000000000000000000000000000000000000", Key{ID: "a", Name: "b", Channel: "c", Environment: "d", Type: TypeXAPIKey}},
	} {
		rec, _ := hex.DecodeString(c.hex)
		var got Key
		if err := DecodeKey(c.want.ID, rec, &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Fatalf("version 1:\n got %+v\nwant %+v", got, c.want)
		}
		// Written again, it is a version 2 record of the same key, and shorter.
		again := EncodeKey(nil, &got)
		var k2 Key
		if again[0] != 2 || len(again) >= len(rec) || DecodeKey(c.want.ID, again, &k2) != nil || !reflect.DeepEqual(k2, c.want) {
			t.Fatalf("rewritten: %x (%d bytes, was %d) gives %+v", again, len(again), len(rec), k2)
		}
	}
}

func TestDecodeRefusesDamage(t *testing.T) {
	k := sampleKey()
	rec := EncodeKey(nil, &k)
	var got Key
	for i := 0; i < len(rec); i++ {
		if DecodeKey(k.ID, rec[:i], &got) == nil {
			t.Fatalf("truncated record of %d bytes decoded", i)
		}
	}
	if DecodeKey(k.ID, append(rec, 0), &got) == nil {
		t.Fatal("trailing byte accepted")
	}
	bad := append([]byte{}, rec...)
	bad[0] = 3
	if DecodeKey(k.ID, bad, &got) == nil {
		t.Fatal("newer version accepted")
	}
}

func TestKeyJSONHasNoHash(t *testing.T) {
	k := sampleKey()
	b, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, field := range []string{`"id":"k3x9aa7q"`, `"name":"web checkout"`, `"channel":"default"`, `"environment":"prod"`,
		`"type":"bearer"`, `"scopes":["posts:read","posts:write"]`, `"allowed_ips":["10.0.0.0/8","2001:db8::1"]`,
		`"created_at":"2026-11-01T09:30:00.000000123Z"`, `"created_by":"alice"`, `"expires_at":"2027-02-01T00:00:00Z"`,
		`"hint":"kd_prod_3sV9…Xy7Q"`, `"use_count":42`} {
		if !strings.Contains(s, field) {
			t.Errorf("JSON lacks %s: %s", field, s)
		}
	}
	if strings.Contains(strings.ToLower(s), "hash") {
		t.Fatalf("JSON mentions a hash: %s", s)
	}
	empty, _ := json.Marshal(Key{})
	if !strings.Contains(string(empty), `"expires_at":null`) || !strings.Contains(string(empty), `"scopes":[]`) {
		t.Fatalf("absent values not null/empty: %s", empty)
	}
}

func FuzzDecodeKey(f *testing.F) {
	k := sampleKey()
	f.Add(EncodeKey(nil, &k))
	f.Add([]byte{1})
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	k.AddUses(k.LastUsedAt, 5)
	f.Add(EncodeKey(nil, &k))
	f.Fuzz(func(t *testing.T, b []byte) {
		var got Key
		if DecodeKey("k1", b, &got) != nil {
			return
		}
		got.ID = "k1" // a version 1 record names itself
		// Whatever decodes must encode back to the same bytes.
		if again := EncodeKey(nil, &got); string(again) != string(b) {
			// Times normalise (e.g. zero vs 0 ns) only when varints are non-minimal.
			var k2 Key
			if DecodeKey("k1", again, &k2) != nil || !reflect.DeepEqual(k2, got) {
				t.Fatalf("unstable record %x", b)
			}
		}
	})
}

// The two encodings the issue asks to choose between, measured on the same record.
func BenchmarkDecodeKeyCompact(b *testing.B) {
	k := sampleKey()
	rec := EncodeKey(nil, &k)
	b.ReportAllocs()
	var got Key
	for b.Loop() {
		if err := DecodeKey(k.ID, rec, &got); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeKeyJSON(b *testing.B) {
	// The same fields as JSON, decoded into the documented JSON shape plus the hash.
	type rec struct {
		KeyView
		Hash [32]byte `json:"hash"`
	}
	k := sampleKey()
	raw, err := json.Marshal(rec{KeyView{ID: k.ID, Name: k.Name, Channel: k.Channel, Environment: k.Environment,
		Type: k.Type, Scopes: k.Scopes, AllowedIPs: k.AllowedIPs, CreatedAt: k.CreatedAt, CreatedBy: k.CreatedBy,
		ExpiresAt: optTime(k.ExpiresAt), LastUsedAt: optTime(k.LastUsedAt), LastUsedFrom: k.LastUsedFrom,
		UseCount: k.UseCount, Hint: k.Hint}, k.Hash})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		var got rec
		if err := json.Unmarshal(raw, &got); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeKey(b *testing.B) {
	k := sampleKey()
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = EncodeKey(buf[:0], &k)
	}
}

// The hand-written JSON must be exactly what encoding/json makes of KeyView.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	odd := sampleKey()
	odd.Name = "quote\" back\\ <html> & \u2028 tab\t nl\n \x01 bad\xff é 鍵"
	odd.LastUsedFrom, odd.RotatedTo = "", "k9"
	odd.CreatedAt = time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 3600))
	for _, k := range []Key{sampleKey(), odd, {}} {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(k.View()); err != nil {
			t.Fatal(err)
		}
		if got := string(k.AppendJSON(nil)); got != strings.TrimSuffix(want.String(), "\n") {
			t.Errorf("\n got %s\nwant %s", got, want.String())
		}
	}
}

func FuzzAppendJSON(f *testing.F) {
	f.Add("web checkout", "10.0.0.1")
	f.Add("\x00\"\\\u2029\xfe", "")
	f.Fuzz(func(t *testing.T, name, from string) {
		k := sampleKey()
		k.Name, k.LastUsedFrom = name, from
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		enc.Encode(k.View())
		if got := string(k.AppendJSON(nil)); got != strings.TrimSuffix(want.String(), "\n") {
			t.Fatalf("\n got %s\nwant %s", got, want.String())
		}
	})
}

func BenchmarkAppendJSON(b *testing.B) {
	k := sampleKey()
	buf := make([]byte, 0, 1024)
	for b.Loop() {
		buf = k.AppendJSON(buf[:0])
	}
}
