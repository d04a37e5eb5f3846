// Package testcerts makes throwaway X.509 certificates for tests of TLS
// listeners: a CA, a server certificate for 127.0.0.1 and localhost, and
// client certificates, written as PEM and PKCS12 files into a test's
// temporary directory. Nothing is checked in; every run makes new keys.
package testcerts

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// CA is a test certificate authority.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	// PEMFile holds the CA certificate (a PEM truststore).
	PEMFile string
	dir     string
}

// Pair is a certificate and its key.
type Pair struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	// KeystorePEM holds the private key (PKCS#8) followed by the
	// certificate chain, Kafka's PEM keystore file layout.
	KeystorePEM string
	// ChainPEM and KeyPEM are the same, apart.
	ChainPEM, KeyPEM string
}

var serial int64 = time.Now().UnixNano()

func next() *big.Int { serial++; return big.NewInt(serial) }

// NewCA makes a CA and writes its certificate to dir/ca.pem.
func NewCA(t testing.TB) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: next(), Subject: pkix.Name{CommonName: "samsa test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	dir := t.TempDir()
	ca := &CA{Cert: cert, Key: key, dir: dir, PEMFile: filepath.Join(dir, "ca.pem")}
	write(t, ca.PEMFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	return ca
}

// Issue makes a certificate with subject for server (SANs 127.0.0.1,
// localhost) and client use.
func (ca *CA) Issue(t testing.TB, subject pkix.Name) *Pair {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: next(), Subject: subject,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	p8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	p := &Pair{Cert: cert, Key: key}
	p.KeyPEM = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}))
	p.ChainPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})) +
		string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw}))
	p.KeystorePEM = p.KeyPEM + p.ChainPEM
	return p
}

// WritePEM writes p's PEM keystore (key and chain) to dir/name.
func (ca *CA) WritePEM(t testing.TB, p *Pair, name string) string {
	path := filepath.Join(ca.dir, name)
	write(t, path, []byte(p.KeystorePEM))
	return path
}

// WritePKCS12 writes p as a PKCS12 keystore protected by password.
func (ca *CA) WritePKCS12(t testing.TB, p *Pair, name, password string) string {
	t.Helper()
	data, err := pkcs12.Modern.Encode(p.Key, p.Cert, []*x509.Certificate{ca.Cert}, password)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(ca.dir, name)
	write(t, path, data)
	return path
}

// WriteTrustPKCS12 writes the CA certificate as a PKCS12 truststore.
func (ca *CA) WriteTrustPKCS12(t testing.TB, name, password string) string {
	t.Helper()
	data, err := pkcs12.Modern.EncodeTrustStore([]*x509.Certificate{ca.Cert}, password)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(ca.dir, name)
	write(t, path, data)
	return path
}

// ClientTLS is a client config trusting ca, presenting p when not nil.
func (ca *CA) ClientTLS(p *Pair) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	cfg := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	if p != nil {
		cfg.Certificates = []tls.Certificate{{Certificate: [][]byte{p.Cert.Raw}, PrivateKey: p.Key, Leaf: p.Cert}}
	}
	return cfg
}

func write(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
