package storage

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"

	"keyden/internal/etcdtest"
)

// writeCert makes a certificate signed by parent (self-signed when nil)
// and writes it and its key as PEM files named name.pem and name-key.pem.
func writeCert(t *testing.T, dir, name string, isCA, server bool, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		IsCA:        isCA, BasicConstraintsValid: true,
	}
	if server {
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent, parentKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	kb, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(filepath.Join(dir, name+".pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(filepath.Join(dir, name+"-key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return cert, key
}

// etcd that takes only TLS clients with a certificate from its CA:
// keyden connects with KEYDEN_ETCD_CACERT/CERT/KEY, and without a client
// certificate it gets one sentence.
func TestEtcdWithTLSClientCertificates(t *testing.T) {
	if testing.Short() {
		t.Skip("embedded etcd in -short")
	}
	dir := t.TempDir()
	ca, caKey := writeCert(t, dir, "ca", true, false, nil, nil)
	writeCert(t, dir, "server", false, true, ca, caKey)
	writeCert(t, dir, "client", false, false, ca, caKey)
	ms := etcdtest.StartWith(t, 1, filepath.Join(dir, "data"), false, func(c *embed.Config) {
		u := c.ListenClientUrls[0]
		u.Scheme = "https"
		c.ListenClientUrls, c.AdvertiseClientUrls = []url.URL{u}, []url.URL{u}
		c.ClientTLSInfo.CertFile = filepath.Join(dir, "server.pem")
		c.ClientTLSInfo.KeyFile = filepath.Join(dir, "server-key.pem")
		c.ClientTLSInfo.TrustedCAFile = filepath.Join(dir, "ca.pem")
		c.ClientTLSInfo.ClientCertAuth = true
	})
	defer ms[0].Stop()
	loc := strings.Replace(etcdtest.URL(ms, "/tls"), "etcd://", "etcds://", 1)
	cfg := createAndVerifyWithEnv(t, loc, map[string]string{"KEYDEN_ETCD_CACERT": filepath.Join(dir, "ca.pem"),
		"KEYDEN_ETCD_CERT": filepath.Join(dir, "client.pem"), "KEYDEN_ETCD_KEY": filepath.Join(dir, "client-key.pem")})
	// With a client certificate and no user name, the actor is the
	// certificate's common name (etcd's own user for it), not the local one.
	st, err := OpenEtcd(cfg, Options{Actor: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if st.Actor() != "client" {
		t.Fatalf("the actor with a client certificate is %q, want its common name", st.Actor())
	}
	writeCert(t, dir, "other-ca", true, false, nil, nil)
	plain := *ms[0]
	for _, c := range []struct {
		name string
		cfg  EtcdConfig
		want string
	}{
		{"no client certificate", EtcdConfig{Endpoints: cfg.Endpoints, TLS: true, CACert: cfg.CACert}, "client certificate"},
		{"another CA", EtcdConfig{Endpoints: cfg.Endpoints, TLS: true, CACert: filepath.Join(dir, "other-ca.pem"), Cert: cfg.Cert, Key: cfg.Key}, "not signed by the CA"},
		{"no CA (the system's)", EtcdConfig{Endpoints: cfg.Endpoints, TLS: true, Cert: cfg.Cert, Key: cfg.Key}, "not signed by the CA"},
		{"etcd:// on a TLS port", EtcdConfig{Endpoints: []string{"http://" + plain.Endpoint()}}, "etcds://"},
		{"etcds:// on a plain port", EtcdConfig{Endpoints: []string{"https://" + sharedEtcd(t)}, TLS: true, CACert: cfg.CACert}, "does not speak TLS, write etcd://"},
	} {
		c.cfg.Prefix = "/tls"
		start := time.Now()
		err := firstOpError(c.cfg)
		took := time.Since(start)
		t.Logf("%s: %v (%v)", c.name, err, took.Round(time.Millisecond))
		if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "rpc error") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want a sentence about %q", c.name, err, c.want)
		}
		if took > 2*time.Second {
			t.Errorf("%s: the sentence took %v; a TLS mistake is known at once", c.name, took)
		}
	}
	if _, err := OpenEtcd(EtcdConfig{Endpoints: cfg.Endpoints, TLS: true, CACert: filepath.Join(dir, "nope.pem")}, Options{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a missing CA file: %v", err)
	}
}
