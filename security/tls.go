package security

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// tlsSettings are the ssl.* keys of one listener, as written.
type tlsSettings struct {
	keystoreType, keystoreLocation, keystorePassword, keyPassword string
	keystoreChain, keystoreKey                                    string
	truststoreType, truststoreLocation, truststorePassword        string
	truststoreCerts                                               string
	clientAuth                                                    tls.ClientAuthType
	minVersion, maxVersion                                        uint16
	cipherSuites                                                  []uint16
}

// reloadCheckInterval bounds how often the keystore and truststore files
// are looked at for changes: at most once per interval, on a handshake.
const reloadCheckInterval = time.Second

// tlsReloader holds a listener's current *tls.Config and rebuilds it when
// the keystore or truststore file changes (size or modification time), so
// renewed certificates are served without a restart; Kafka reloads them
// through a dynamic config change of the same keys. A file that no longer
// loads keeps the previous config and logs one error per change.
type tlsReloader struct {
	settings tlsSettings
	log      *slog.Logger
	listener string

	mu        sync.Mutex // guards the fields below
	cfg       *tls.Config
	stamps    map[string]fileStamp
	lastCheck time.Time
}

type fileStamp struct {
	size int64
	mod  time.Time
}

func newTLSReloader(listener string, s tlsSettings, log *slog.Logger) (*tlsReloader, error) {
	r := &tlsReloader{settings: s, log: log, listener: listener}
	cfg, err := s.build()
	if err != nil {
		return nil, err
	}
	r.cfg = cfg
	r.stamps = r.stampFiles()
	r.lastCheck = time.Now()
	return r, nil
}

func (r *tlsReloader) files() []string {
	var out []string
	for _, f := range []string{r.settings.keystoreLocation, r.settings.truststoreLocation} {
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

func (r *tlsReloader) stampFiles() map[string]fileStamp {
	m := map[string]fileStamp{}
	for _, f := range r.files() {
		if st, err := os.Stat(f); err == nil {
			m[f] = fileStamp{st.Size(), st.ModTime()}
		}
	}
	return m
}

// config returns the current config, reloading first if a file changed.
func (r *tlsReloader) config() *tls.Config {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.lastCheck) < reloadCheckInterval {
		return r.cfg
	}
	r.lastCheck = time.Now()
	stamps := r.stampFiles()
	changed := len(stamps) != len(r.stamps)
	for f, s := range stamps {
		if r.stamps[f] != s {
			changed = true
		}
	}
	if !changed {
		return r.cfg
	}
	r.stamps = stamps
	cfg, err := r.settings.build()
	if err != nil {
		r.log.Error("keeping the previous TLS certificates: reloading the keystore or truststore failed", "listener", r.listener, "err", err)
		return r.cfg
	}
	r.log.Info("reloaded TLS keystore and truststore", "listener", r.listener)
	r.cfg = cfg
	return cfg
}

// serverConfig is the *tls.Config a listener hands to tls.Server: it asks
// the reloader for the current one on every handshake.
func (r *tlsReloader) serverConfig() *tls.Config {
	return &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return r.config(), nil }}
}

func (s tlsSettings) build() (*tls.Config, error) {
	cert, err := s.keyPair()
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   s.clientAuth,
		MinVersion:   s.minVersion,
		MaxVersion:   s.maxVersion,
		CipherSuites: s.cipherSuites,
	}
	if s.clientAuth != tls.NoClientCert {
		pool, err := s.trustPool()
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
	}
	return cfg, nil
}

// jksMagic starts every JKS keystore.
var jksMagic = []byte{0xFE, 0xED, 0xFE, 0xED}

var errJKS = errors.New("JKS keystores are not supported: convert it to PKCS12 (keytool -importkeystore -srckeystore ks.jks -destkeystore ks.p12 -deststoretype PKCS12) and set ssl.keystore.type=PKCS12, or use PEM")

func (s tlsSettings) keyPair() (tls.Certificate, error) {
	typ := strings.ToUpper(s.keystoreType)
	if s.keystoreChain != "" || s.keystoreKey != "" {
		if typ != "PEM" {
			return tls.Certificate{}, &keyError{"ssl.keystore.type", "ssl.keystore.certificate.chain and ssl.keystore.key need ssl.keystore.type=PEM"}
		}
		if s.keystoreLocation != "" {
			return tls.Certificate{}, &keyError{"ssl.keystore.location", "set either ssl.keystore.location or ssl.keystore.certificate.chain and ssl.keystore.key, not both"}
		}
		return pemKeyPair([]byte(s.keystoreChain), []byte(s.keystoreKey), s.keyPassword)
	}
	if s.keystoreLocation == "" {
		return tls.Certificate{}, &keyError{"ssl.keystore.location", "an SSL or SASL_SSL listener needs a keystore"}
	}
	data, err := os.ReadFile(s.keystoreLocation)
	if err != nil {
		return tls.Certificate{}, &keyError{"ssl.keystore.location", err.Error()}
	}
	switch typ {
	case "PEM":
		return pemKeyPair(data, data, s.keyPassword)
	case "PKCS12", "JKS", "":
		// Java reads a PKCS12 file whatever the declared type
		// (keystore.type.compat), so Kafka's default JKS works with one.
		if bytes.HasPrefix(data, jksMagic) {
			return tls.Certificate{}, &keyError{"ssl.keystore.location", errJKS.Error()}
		}
		key, leaf, chain, err := pkcs12.DecodeChain(data, s.keystorePassword)
		if err != nil && s.keyPassword != "" && s.keyPassword != s.keystorePassword {
			key, leaf, chain, err = pkcs12.DecodeChain(data, s.keyPassword)
		}
		if err != nil {
			return tls.Certificate{}, &keyError{"ssl.keystore.location", "PKCS12 keystore: " + err.Error() + " (check ssl.keystore.password)"}
		}
		c := tls.Certificate{PrivateKey: key, Leaf: leaf, Certificate: [][]byte{leaf.Raw}}
		for _, ca := range chain {
			c.Certificate = append(c.Certificate, ca.Raw)
		}
		return c, nil
	default:
		return tls.Certificate{}, &keyError{"ssl.keystore.type", "must be PKCS12, PEM or JKS"}
	}
}

// pemKeyPair builds a certificate from PEM certificates and a PEM private
// key (PKCS#8, PKCS#1 or SEC 1). Encrypted PKCS#8 keys (Kafka decrypts
// them with ssl.key.password) are refused with a clear error: Go's
// standard library cannot decrypt them.
func pemKeyPair(certPEM, keyPEM []byte, keyPassword string) (tls.Certificate, error) {
	var c tls.Certificate
	var key crypto.PrivateKey
	for rest := certPEM; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			c.Certificate = append(c.Certificate, b.Bytes)
		}
	}
	for rest := keyPEM; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch b.Type {
		case "ENCRYPTED PRIVATE KEY":
			return c, &keyError{"ssl.keystore.key", "encrypted PEM private keys are not supported; decrypt it (openssl pkcs8 -topk8 -nocrypt) or use a PKCS12 keystore"}
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				return c, &keyError{"ssl.keystore.key", "PKCS#8 private key: " + err.Error()}
			}
			key = k
		case "RSA PRIVATE KEY":
			k, err := x509.ParsePKCS1PrivateKey(b.Bytes)
			if err != nil {
				return c, &keyError{"ssl.keystore.key", "PKCS#1 private key: " + err.Error()}
			}
			key = k
		case "EC PRIVATE KEY":
			k, err := x509.ParseECPrivateKey(b.Bytes)
			if err != nil {
				return c, &keyError{"ssl.keystore.key", "EC private key: " + err.Error()}
			}
			key = k
		}
	}
	_ = keyPassword
	if len(c.Certificate) == 0 {
		return c, &keyError{"ssl.keystore.certificate.chain", "no PEM certificate found"}
	}
	if key == nil {
		return c, &keyError{"ssl.keystore.key", "no PEM private key found"}
	}
	c.PrivateKey = key
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return c, &keyError{"ssl.keystore.certificate.chain", err.Error()}
	}
	c.Leaf = leaf
	// Checks that the key belongs to the certificate.
	if _, err := tls.X509KeyPair(pemEncode(c.Certificate), pemKey(key)); err != nil {
		return c, &keyError{"ssl.keystore.key", "private key does not match the certificate: " + err.Error()}
	}
	return c, nil
}

func pemEncode(ders [][]byte) []byte {
	var b bytes.Buffer
	for _, d := range ders {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: d})
	}
	return b.Bytes()
}

func pemKey(k crypto.PrivateKey) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func (s tlsSettings) trustPool() (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	typ := strings.ToUpper(s.truststoreType)
	switch {
	case s.truststoreCerts != "":
		if typ != "PEM" {
			return nil, &keyError{"ssl.truststore.type", "ssl.truststore.certificates needs ssl.truststore.type=PEM"}
		}
		if !pool.AppendCertsFromPEM([]byte(s.truststoreCerts)) {
			return nil, &keyError{"ssl.truststore.certificates", "no PEM certificate found"}
		}
		return pool, nil
	case s.truststoreLocation == "":
		return nil, &keyError{"ssl.truststore.location", "ssl.client.auth needs a truststore to verify client certificates"}
	}
	data, err := os.ReadFile(s.truststoreLocation)
	if err != nil {
		return nil, &keyError{"ssl.truststore.location", err.Error()}
	}
	switch typ {
	case "PEM":
		if !pool.AppendCertsFromPEM(data) {
			return nil, &keyError{"ssl.truststore.location", "no PEM certificate found"}
		}
	case "PKCS12", "JKS", "":
		if bytes.HasPrefix(data, jksMagic) {
			return nil, &keyError{"ssl.truststore.location", strings.Replace(errJKS.Error(), "keystore", "truststore", 2)}
		}
		certs, err := pkcs12.DecodeTrustStore(data, s.truststorePassword)
		if err != nil {
			return nil, &keyError{"ssl.truststore.location", "PKCS12 truststore: " + err.Error() + " (check ssl.truststore.password)"}
		}
		for _, c := range certs {
			pool.AddCert(c)
		}
	default:
		return nil, &keyError{"ssl.truststore.type", "must be PKCS12, PEM or JKS"}
	}
	return pool, nil
}

// parseProtocols turns ssl.enabled.protocols into a version range. Go
// takes a range, not a set, so a list with a gap (TLSv1.1,TLSv1.3) enables
// the versions between too.
func parseProtocols(list string) (min, max uint16, err error) {
	names := map[string]uint16{"TLSv1": tls.VersionTLS10, "TLSv1.1": tls.VersionTLS11, "TLSv1.2": tls.VersionTLS12, "TLSv1.3": tls.VersionTLS13}
	for _, p := range splitList(list) {
		v, ok := names[p]
		if !ok {
			return 0, 0, fmt.Errorf("unsupported protocol %q (supported: TLSv1.2, TLSv1.3, TLSv1.1, TLSv1)", p)
		}
		if min == 0 || v < min {
			min = v
		}
		if v > max {
			max = v
		}
	}
	if min == 0 {
		return 0, 0, errors.New("no protocol enabled")
	}
	return min, max, nil
}

// parseCipherSuites maps ssl.cipher.suites (Java's names, which are the
// IANA names Go uses too) to Go's suite ids. TLS 1.3 suites (TLS_AES_*,
// TLS_CHACHA20_*) are accepted but not configurable in Go: all three are
// always on under TLS 1.3. An empty list means Go's defaults.
func parseCipherSuites(list string) ([]uint16, error) {
	known := map[string]uint16{}
	for _, cs := range tls.CipherSuites() {
		known[cs.Name] = cs.ID
	}
	for _, cs := range tls.InsecureCipherSuites() {
		known[cs.Name] = cs.ID
	}
	var out []uint16
	for _, n := range splitList(list) {
		if strings.HasPrefix(n, "TLS_AES_") || strings.HasPrefix(n, "TLS_CHACHA20_") {
			continue
		}
		// Java also names TLS 1.2 suites with the SSL_ prefix.
		id, ok := known[n]
		if !ok {
			id, ok = known["TLS_"+strings.TrimPrefix(n, "SSL_")]
		}
		if !ok {
			return nil, fmt.Errorf("unsupported cipher suite %q", n)
		}
		out = append(out, id)
	}
	return out, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// keyError is a bad security setting; Build turns it into a
// *config.ValueError for the listener's key.
type keyError struct {
	key, reason string
}

func (e *keyError) Error() string { return e.key + ": " + e.reason }
