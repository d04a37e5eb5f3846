// Command mkcerts writes throwaway TLS material for the security scenarios
// of the compatibility suite into a directory: ca.pem (a PEM truststore),
// server.pem (a PEM keystore: PKCS#8 key and chain, SANs 127.0.0.1 and
// localhost) and client.p12 (a PKCS12 keystore for
// CN=alice,OU=eng,O=acme, password given). Keys are new on every run;
// nothing is checked in.
//
//	go run ./compat-tests/clients/tools/mkcerts <dir> <client-keystore-password>
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: mkcerts <dir> <client-keystore-password>")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "mkcerts:", err)
		os.Exit(1)
	}
}

func run(dir, pw string) error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "samsa compat CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, subject pkix.Name) (*x509.Certificate, *ecdsa.PrivateKey, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: subject,
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return nil, nil, err
		}
		c, err := x509.ParseCertificate(der)
		return c, key, err
	}
	pemCert := func(c *x509.Certificate) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), pemCert(ca), 0o600); err != nil {
		return err
	}
	srv, srvKey, err := issue(2, pkix.Name{CommonName: "samsa"})
	if err != nil {
		return err
	}
	p8, err := x509.MarshalPKCS8PrivateKey(srvKey)
	if err != nil {
		return err
	}
	ks := append(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}), pemCert(srv)...)
	ks = append(ks, pemCert(ca)...)
	if err := os.WriteFile(filepath.Join(dir, "server.pem"), ks, 0o600); err != nil {
		return err
	}
	cl, clKey, err := issue(3, pkix.Name{CommonName: "alice", OrganizationalUnit: []string{"eng"}, Organization: []string{"acme"}})
	if err != nil {
		return err
	}
	p12, err := pkcs12.Modern.Encode(clKey, cl, []*x509.Certificate{ca}, pw)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "client.p12"), p12, 0o600)
}
