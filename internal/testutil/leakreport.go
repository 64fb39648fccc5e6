package testutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"testing"
)

// Reporter is a leak reporter with its own ECDSA P-256 key pair, as
// GitHub's secret scanning signs its reports.
type Reporter struct {
	ID   string
	priv *ecdsa.PrivateKey
}

// NewReporter makes a reporter whose key is named id.
func NewReporter(t testing.TB, id string) *Reporter {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &Reporter{ID: id, priv: priv}
}

// KeysJSON is the reporters' public keys in GitHub's published form.
func KeysJSON(t testing.TB, rs ...*Reporter) []byte {
	type key struct {
		ID      string `json:"key_identifier"`
		Key     string `json:"key"`
		Current bool   `json:"is_current"`
	}
	var doc struct {
		PublicKeys []key `json:"public_keys"`
	}
	for _, r := range rs {
		der, err := x509.MarshalPKIXPublicKey(&r.priv.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		doc.PublicKeys = append(doc.PublicKeys, key{r.ID, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), true})
	}
	b, _ := json.Marshal(doc)
	return b
}

// Sign is the base64 ASN.1 ECDSA signature of body's SHA-256.
func (r *Reporter) Sign(t testing.TB, body []byte) string {
	sum := sha256.Sum256(body)
	sig, err := ecdsa.SignASN1(rand.Reader, r.priv, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}
