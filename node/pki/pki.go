// Package pki is the district's certificate authority and the mutual-TLS
// rules nodes use to recognise each other. Nodes of a district talk over the
// network (Raft between district members, towns pulling from villages), and
// each side must know which organisation is on the other end before it
// accepts a single byte: a village must never be able to join the district's
// Raft cluster, and a town must only hear from its own villages. So the
// district runs a small CA whose certificates name an org code and a role,
// and every connection checks both against a rule (Allow) after the chain has
// been verified. Keys are Ed25519 throughout, the same kind a node signs its
// ledger chain with, and files are PEM so an operator can inspect and back
// them up with ordinary tools.
package pki

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sanzi/sanzi/node/idcode"
	"github.com/sanzi/sanzi/node/keys"
)

// Role is the tier a certificate's organisation acts as on the network.
type Role string

// Roles a certificate can carry; each matches one level of org code.
const (
	RoleVillage  Role = "village"
	RoleTown     Role = "town"
	RoleDistrict Role = "district"
)

// ParseRole turns a role name (as typed on a command line or found in a
// certificate) into a Role, refusing anything else.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleVillage, RoleTown, RoleDistrict:
		return r, nil
	}
	return "", fmt.Errorf("role %q is not one of village, town, district", s)
}

const (
	caCertFile, caKeyFile = "ca.crt", "ca.key"
	caPrefix, caSuffix    = "Sanzi district ", " CA"
	uriScheme             = "sanzi"
	pemCert, pemPrivate   = "CERTIFICATE", "PRIVATE KEY"
	// clockSkew backdates every certificate so that a peer whose clock lags
	// a little still accepts one issued moments ago.
	clockSkew = 5 * time.Minute
)

// CA is a district's certificate authority. Ed25519 keys throughout (Go's
// crypto/tls supports Ed25519 certificates in TLS 1.3).
type CA struct {
	Cert     *x509.Certificate
	Key      ed25519.PrivateKey
	District string // 6-digit district code, e.g. 350505
}

// checkDistrict refuses anything but a 6-digit code that names a real
// district, using the same rules as every other org code in the system.
func checkDistrict(district string) error {
	if len(district) != 6 {
		return fmt.Errorf("district code %q: must be 6 digits", district)
	}
	lvl, err := idcode.OrgCode(district + "000000")
	if err != nil {
		return fmt.Errorf("district code %q: %w", district, err)
	}
	if lvl != idcode.LevelDistrict {
		return fmt.Errorf("district code %q is not a district", district)
	}
	return nil
}

// NewCA makes a self-signed CA for district valid for 10 years from now.
func NewCA(district string, now time.Time) (*CA, error) {
	if err := checkDistrict(district); err != nil {
		return nil, err
	}
	cert, key, err := sign(&x509.Certificate{
		Subject:               pkix.Name{CommonName: caPrefix + district + caSuffix, Organization: []string{"Sanzi"}},
		NotAfter:              now.AddDate(10, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true, // the CA signs nodes only, never another CA
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}, nil, nil, now)
	if err != nil {
		return nil, fmt.Errorf("make CA for district %s: %w", district, err)
	}
	return &CA{Cert: cert, Key: key, District: district}, nil
}

// sign generates a fresh key for tmpl, completes tmpl with a random 128-bit
// serial and a start time of now (backdated by clockSkew), and signs it with
// parent and signer; a nil parent makes it self-signed.
func sign(tmpl, parent *x509.Certificate, signer ed25519.PrivateKey, now time.Time) (*x509.Certificate, ed25519.PrivateKey, error) {
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	if tmpl.SerialNumber, err = rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128)); err != nil {
		return nil, nil, fmt.Errorf("make serial: %w", err)
	}
	tmpl.SerialNumber.Add(tmpl.SerialNumber, big.NewInt(1)) // serials must be positive
	tmpl.NotBefore = now.Add(-clockSkew)
	if parent == nil {
		parent, signer = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, nil, fmt.Errorf("sign certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("parse new certificate: %w", err)
	}
	return cert, key, nil
}

// Save writes dir/ca.crt (0644) and dir/ca.key (0600). It refuses to replace
// an existing ca.key: losing the old key would orphan every certificate the
// district has issued, so replacing it must be a deliberate manual act.
func (ca *CA) Save(dir string) error {
	keyPath := filepath.Join(dir, caKeyFile)
	if _, err := os.Lstat(keyPath); err == nil {
		return fmt.Errorf("save CA: %s already exists; refusing to overwrite a CA key", keyPath)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("save CA: check %s: %w", keyPath, err)
	}
	keyPEM, err := encodeKey(ca.Key)
	if err != nil {
		return fmt.Errorf("save CA: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create CA folder %s: %w", dir, err)
	}
	// Certificate first: if writing the key fails, Save can simply be re-run.
	if err := keys.WriteFile(filepath.Join(dir, caCertFile), encodeCert(ca.Cert), 0o644); err != nil {
		return err
	}
	return keys.WriteFile(keyPath, keyPEM, 0o600)
}

// LoadCA reads the CA that Save wrote in dir and checks the key belongs to
// the certificate.
func LoadCA(dir string) (*CA, error) {
	cert, err := readCert(filepath.Join(dir, caCertFile))
	if err != nil {
		return nil, err
	}
	key, err := keys.ReadPrivate(filepath.Join(dir, caKeyFile))
	if err != nil {
		return nil, err
	}
	if err := matches(cert, key); err != nil {
		return nil, fmt.Errorf("load CA from %s: %w", dir, err)
	}
	cn := cert.Subject.CommonName
	district := strings.TrimSuffix(strings.TrimPrefix(cn, caPrefix), caSuffix)
	if !cert.IsCA || district == cn {
		return nil, fmt.Errorf("load CA from %s: %q is not a Sanzi district CA", dir, cn)
	}
	if err := checkDistrict(district); err != nil {
		return nil, fmt.Errorf("load CA from %s: %w", dir, err)
	}
	return &CA{Cert: cert, Key: key, District: district}, nil
}

// Pool returns a pool holding only this CA, for ServerConfig and ClientConfig.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// LoadPool reads dir/ca.crt alone into a pool. Nodes other than the CA host
// have the certificate but not the key, and need nothing more to verify peers.
func LoadPool(dir string) (*x509.CertPool, error) {
	cert, err := readCert(filepath.Join(dir, caCertFile))
	if err != nil {
		return nil, err
	}
	p := x509.NewCertPool()
	p.AddCert(cert)
	return p, nil
}

// Issued is a node's certificate and its Ed25519 key (the same key signs the
// node's ledger chain).
type Issued struct {
	Cert            *x509.Certificate
	Key             ed25519.PrivateKey
	CertPEM, KeyPEM []byte
}

// checkOrg refuses org codes that are malformed, outside the CA's district,
// or of the wrong level for role.
func (ca *CA) checkOrg(org string, role Role) error {
	lvl, err := idcode.OrgCode(org)
	if err != nil {
		return err
	}
	if org[:6] != ca.District {
		return fmt.Errorf("org %s is outside district %s", org, ca.District)
	}
	switch {
	case role == RoleDistrict && org != ca.District+"000000":
		return fmt.Errorf("a district certificate must name the district's own code %s000000, not %s", ca.District, org)
	case string(lvl) != string(role):
		return fmt.Errorf("a %s certificate needs a %s-level code, but %s is %s-level", role, role, org, lvl)
	}
	return nil
}

// Issue makes a leaf certificate for org (12 digits, under the CA's district)
// acting as role. hosts are DNS names or IPs the node serves on (default
// localhost, 127.0.0.1, ::1). The identity is in the URI SAN
// sanzi://<role>/<org>, repeated as CommonName=org and OrganizationalUnit=role
// for people reading the certificate. Valid for 2 years (never past the CA).
func (ca *CA) Issue(org string, role Role, hosts []string, now time.Time) (*Issued, error) {
	if _, err := ParseRole(string(role)); err != nil {
		return nil, fmt.Errorf("issue certificate for %s: %w", org, err)
	}
	if err := ca.checkOrg(org, role); err != nil {
		return nil, fmt.Errorf("issue %s certificate: %w", role, err)
	}
	if now.After(ca.Cert.NotAfter) {
		return nil, fmt.Errorf("issue certificate for %s: CA expired on %s", org, ca.Cert.NotAfter.Format(time.DateOnly))
	}
	if hosts == nil {
		hosts = []string{"localhost", "127.0.0.1", "::1"}
	}
	notAfter := now.AddDate(2, 0, 0)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: org, OrganizationalUnit: []string{string(role)}, Organization: []string{"Sanzi"}},
		NotAfter:    notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:        []*url.URL{identityURI(org, role)},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		} else {
			return nil, fmt.Errorf("issue certificate for %s: empty host name", org)
		}
	}
	cert, key, err := sign(tmpl, ca.Cert, ca.Key, now)
	if err != nil {
		return nil, fmt.Errorf("issue certificate for %s: %w", org, err)
	}
	return newIssued(cert, key)
}

// newIssued fills in the PEM forms of cert and key.
func newIssued(cert *x509.Certificate, key ed25519.PrivateKey) (*Issued, error) {
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, fmt.Errorf("certificate %s: %w", cert.Subject.CommonName, err)
	}
	return &Issued{Cert: cert, Key: key, CertPEM: encodeCert(cert), KeyPEM: keyPEM}, nil
}

// Save writes dir/<name>.crt (0644) and dir/<name>.key (0600).
func (i *Issued) Save(dir, name string) error {
	if name == "" || strings.ContainsAny(name, `/\`) {
		return fmt.Errorf("save certificate: bad file name %q", name)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create certificate folder %s: %w", dir, err)
	}
	if err := keys.WriteFile(filepath.Join(dir, name+".crt"), i.CertPEM, 0o644); err != nil {
		return err
	}
	return keys.WriteFile(filepath.Join(dir, name+".key"), i.KeyPEM, 0o600)
}

// LoadIssued reads what Save wrote, checking that the key belongs to the
// certificate and that the certificate carries a Sanzi identity.
func LoadIssued(dir, name string) (*Issued, error) {
	certPath, keyPath := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	cert, err := readCert(certPath)
	if err != nil {
		return nil, err
	}
	key, err := keys.ReadPrivate(keyPath)
	if err != nil {
		return nil, err
	}
	if err := matches(cert, key); err != nil {
		return nil, fmt.Errorf("load %s: %w", certPath, err)
	}
	if _, _, err := Identity(cert); err != nil {
		return nil, fmt.Errorf("load %s: %w", certPath, err)
	}
	return newIssued(cert, key)
}

// TLSCertificate returns the certificate and key in the form crypto/tls uses.
func (i *Issued) TLSCertificate() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{i.Cert.Raw}, PrivateKey: i.Key, Leaf: i.Cert}
}

func identityURI(org string, role Role) *url.URL {
	return &url.URL{Scheme: uriScheme, Host: string(role), Path: "/" + org}
}

// Identity reads org and role from a peer certificate's sanzi:// URI SAN. It
// does not verify the chain: call it only on certificates already verified
// against the district CA. The URI must be the only sanzi:// one, well formed,
// of a level matching its role, and agree with the CommonName and OU.
func Identity(cert *x509.Certificate) (org string, role Role, err error) {
	var found *url.URL
	for _, u := range cert.URIs {
		if u.Scheme != uriScheme {
			continue
		}
		if found != nil {
			return "", "", fmt.Errorf("certificate %q has more than one %s:// identity", cert.Subject.CommonName, uriScheme)
		}
		found = u
	}
	if found == nil {
		return "", "", fmt.Errorf("certificate %q has no %s:// identity", cert.Subject.CommonName, uriScheme)
	}
	bad := func(why string) (string, Role, error) {
		return "", "", fmt.Errorf("certificate identity %q: %s", found.String(), why)
	}
	if role, err = ParseRole(found.Host); err != nil {
		return bad(err.Error())
	}
	org = strings.TrimPrefix(found.Path, "/")
	if found.String() != identityURI(org, role).String() {
		return bad("not of the form sanzi://<role>/<org>")
	}
	lvl, err := idcode.OrgCode(org)
	if err != nil {
		return bad(err.Error())
	}
	if string(lvl) != string(role) {
		return bad(fmt.Sprintf("org is %s-level but role is %s", lvl, role))
	}
	if cn := cert.Subject.CommonName; cn != org {
		return bad(fmt.Sprintf("common name %q disagrees", cn))
	}
	if ou := cert.Subject.OrganizationalUnit; len(ou) > 0 && (len(ou) != 1 || ou[0] != string(role)) {
		return bad(fmt.Sprintf("organizational unit %q disagrees", ou))
	}
	return org, role, nil
}

// Allow decides whether a verified peer may talk to us; it returns an error
// with a human reason to refuse.
type Allow func(org string, role Role) error

// AllowRoles admits peers acting as any of roles, e.g. only districts for the
// district's Raft cluster.
func AllowRoles(roles ...Role) Allow {
	return func(_ string, role Role) error {
		for _, r := range roles {
			if r == role {
				return nil
			}
		}
		return fmt.Errorf("role %s is not allowed here (allowed: %v)", role, roles)
	}
}

// checkPeer applies Identity and allow to the peer's leaf certificate.
func checkPeer(certs []*x509.Certificate, allow Allow) error {
	if len(certs) == 0 {
		return errors.New("peer sent no certificate")
	}
	org, role, err := Identity(certs[0])
	if err != nil {
		return fmt.Errorf("refuse peer: %w", err)
	}
	if allow != nil {
		if err := allow(org, role); err != nil {
			return fmt.Errorf("refuse peer %s (%s): %w", org, role, err)
		}
	}
	return nil
}

// ServerConfig is the TLS side that accepts connections: TLS 1.3, a client
// certificate signed by pool is required, and the client's identity must pass
// allow. A nil allow admits any peer the pool vouches for.
func ServerConfig(pool *x509.CertPool, cert tls.Certificate, allow Allow) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return checkPeer(cs.PeerCertificates, allow)
		},
	}
}

// ClientConfig is the TLS side that dials. Nodes dial each other by IP:port
// and what matters is the org code in the certificate, not a host name, so
// crypto/tls's hostname check is switched off (InsecureSkipVerify) and
// VerifyConnection instead verifies the full chain against pool for server
// use, then applies Identity and allow. A nil allow admits any peer the pool
// vouches for.
func ClientConfig(pool *x509.CertPool, cert tls.Certificate, allow Allow) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		Certificates:       []tls.Certificate{cert},
		RootCAs:            pool,
		InsecureSkipVerify: true, // replaced by the verification below, never skipped
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("server sent no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			leaf := cs.PeerCertificates[0]
			if _, err := leaf.Verify(x509.VerifyOptions{
				Roots:         pool,
				Intermediates: inter,
				KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			}); err != nil {
				return fmt.Errorf("verify server certificate %q: %w", leaf.Subject.CommonName, err)
			}
			return checkPeer(cs.PeerCertificates, allow)
		},
	}
}

// PeerFromConn returns the identity of c's peer after the handshake. It is
// only trustworthy for connections made with ServerConfig or ClientConfig,
// whose handshakes fail unless the peer's chain was verified.
func PeerFromConn(c *tls.Conn) (org string, role Role, err error) {
	cs := c.ConnectionState()
	if !cs.HandshakeComplete {
		return "", "", errors.New("peer identity: TLS handshake not complete")
	}
	if len(cs.PeerCertificates) == 0 {
		return "", "", errors.New("peer identity: peer sent no certificate")
	}
	return Identity(cs.PeerCertificates[0])
}

func encodeCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: pemCert, Bytes: c.Raw})
}

func encodeKey(k ed25519.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPrivate, Bytes: der}), nil
}

// matches refuses a key that is not the private half of cert's public key.
func matches(cert *x509.Certificate, key ed25519.PrivateKey) error {
	pub, ok := cert.PublicKey.(ed25519.PublicKey)
	if !ok || !pub.Equal(key.Public()) {
		return errors.New("key does not belong to certificate")
	}
	return nil
}

func readCert(path string) (*x509.Certificate, error) {
	der, err := keys.ReadPEM(path, pemCert)
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse certificate %s: %w", path, err)
	}
	return c, nil
}

// Rotation checks the certificate of a key rotation against the CA in pool
// as of at (the rotation's recorded time, so an audit years later still
// passes): it must chain to the CA, carry a Sanzi identity naming origin,
// and hold pub. It returns the certificate's NotAfter; it has the shape of
// ledger.CertCheck.
func Rotation(pool *x509.CertPool) func(origin string, pub ed25519.PublicKey, der []byte, at time.Time) (time.Time, error) {
	return func(origin string, pub ed25519.PublicKey, der []byte, at time.Time) (time.Time, error) {
		if len(der) == 0 {
			return time.Time{}, errors.New("no certificate")
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return time.Time{}, fmt.Errorf("parse: %w", err)
		}
		if _, err := c.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			return time.Time{}, fmt.Errorf("%q not valid under this district's CA at %s: %w", c.Subject.CommonName, at.UTC().Format(time.RFC3339), err)
		}
		org, _, err := Identity(c)
		if err != nil {
			return time.Time{}, err
		}
		if org != origin {
			return time.Time{}, fmt.Errorf("certificate names %s, not %s", org, origin)
		}
		if k, ok := c.PublicKey.(ed25519.PublicKey); !ok || !k.Equal(pub) {
			return time.Time{}, errors.New("certificate's key is not the rotation's new key")
		}
		return c.NotAfter, nil
	}
}
