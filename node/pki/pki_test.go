package pki

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// expect checks err is nil when want is empty, else that it contains every
// string in want.
func expect(t *testing.T, name string, err error, want ...string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Errorf("%s: unexpected error %v", name, err)
		}
		return
	}
	if err == nil {
		t.Errorf("%s: no error, want one mentioning %q", name, want)
		return
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: error %q does not mention %q", name, err, w)
		}
	}
}

func mustCA(t *testing.T, district string) *CA {
	t.Helper()
	ca, err := NewCA(district, time.Now())
	if err != nil {
		t.Fatalf("NewCA(%s): %v", district, err)
	}
	return ca
}

func mustIssue(t *testing.T, ca *CA, org string, role Role, hosts []string, now time.Time) *Issued {
	t.Helper()
	is, err := ca.Issue(org, role, hosts, now)
	if err != nil {
		t.Fatalf("Issue(%s, %s): %v", org, role, err)
	}
	return is
}

// craft signs a hand-made leaf with ca: a valid village identity that edit
// then spoils, to test what Identity and the TLS configs refuse.
func craft(t *testing.T, ca *CA, edit func(*x509.Certificate)) *Issued {
	t.Helper()
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()),
		Subject:      pkix.Name{CommonName: "350505100201", OrganizationalUnit: []string{"village"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:         []*url.URL{{Scheme: "sanzi", Host: "village", Path: "/350505100201"}},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	edit(tmpl)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &Issued{Cert: cert, Key: key}
}

func uris(t *testing.T, ss ...string) []*url.URL {
	var out []*url.URL
	for _, s := range ss {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, u)
	}
	return out
}

func TestParseRole(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Role
		err  string
	}{
		{"village", RoleVillage, ""}, {"town", RoleTown, ""}, {"district", RoleDistrict, ""},
		{"District", "", "not one of"}, {"", "", "not one of"}, {"province", "", "not one of"},
	} {
		got, err := ParseRole(tc.in)
		if tc.err == "" {
			expect(t, tc.in, err)
		} else {
			expect(t, tc.in, err, tc.err)
		}
		if got != tc.want {
			t.Errorf("ParseRole(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestNewCA(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct{ district, err string }{
		{"350505", ""}, {"110105", ""},
		{"35050", "must be 6 digits"}, {"3505050", "must be 6 digits"}, {"35050a", "not a digit"},
		{"990505", "province code 99"}, {"350000", "province-level"},
	} {
		ca, err := NewCA(tc.district, now)
		if tc.err != "" {
			expect(t, tc.district, err, tc.err)
			continue
		}
		expect(t, tc.district, err)
		if ca.District != tc.district || !ca.Cert.IsCA || ca.Cert.Subject.CommonName != "Sanzi district "+tc.district+" CA" {
			t.Errorf("%s: CA %q district %q IsCA %v", tc.district, ca.Cert.Subject.CommonName, ca.District, ca.Cert.IsCA)
		}
		if got := ca.Cert.NotAfter.Sub(now); got < 3650*24*time.Hour || got > 3654*24*time.Hour {
			t.Errorf("%s: CA valid for %v, want 10 years", tc.district, got)
		}
	}
}

func TestIssue(t *testing.T) {
	ca := mustCA(t, "350505")
	for _, tc := range []struct {
		org  string
		role Role
		err  string
	}{
		{"350505000000", RoleDistrict, ""},
		{"350505100000", RoleTown, ""},
		{"350505100201", RoleVillage, ""},
		{"350505100201", RoleTown, "needs a town-level code, but 350505100201 is village-level"},
		{"350505000000", RoleTown, "needs a town-level code"},
		{"350505100000", RoleVillage, "needs a village-level code, but 350505100000 is town-level"},
		{"350505100000", RoleDistrict, "district's own code 350505000000"},
		{"350505100201", RoleDistrict, "district's own code 350505000000"},
		{"350503000000", RoleDistrict, "outside district 350505"},
		{"350503100201", RoleVillage, "350503100201 is outside district 350505"},
		{"35050510020", RoleVillage, "length is 11, expected 12"},
		{"35050510020x", RoleVillage, "not a digit"},
		{"", RoleVillage, "length is 0"},
		{"350505100201", "mayor", `role "mayor" is not one of`},
	} {
		name := tc.org + "/" + string(tc.role)
		is, err := ca.Issue(tc.org, tc.role, nil, time.Now())
		if tc.err != "" {
			expect(t, name, err, tc.err)
			continue
		}
		expect(t, name, err)
		c := is.Cert
		org, role, err := Identity(c)
		if err != nil || org != tc.org || role != tc.role {
			t.Errorf("%s: Identity = %s, %s, %v", name, org, role, err)
		}
		if want := "sanzi://" + string(tc.role) + "/" + tc.org; len(c.URIs) != 1 || c.URIs[0].String() != want {
			t.Errorf("%s: URIs %v, want %s", name, c.URIs, want)
		}
		if c.Subject.CommonName != tc.org || len(c.Subject.OrganizationalUnit) != 1 || c.Subject.OrganizationalUnit[0] != string(tc.role) {
			t.Errorf("%s: subject %v", name, c.Subject)
		}
		if d := c.NotAfter.Sub(c.NotBefore); d < 730*24*time.Hour || d > 732*24*time.Hour {
			t.Errorf("%s: valid for %v, want 2 years", name, d)
		}
		if c.SerialNumber.BitLen() < 64 || c.SerialNumber.BitLen() > 129 {
			t.Errorf("%s: serial %v is not a random 128-bit number", name, c.SerialNumber)
		}
		if len(c.DNSNames) != 1 || c.DNSNames[0] != "localhost" || len(c.IPAddresses) != 2 {
			t.Errorf("%s: default hosts %v %v", name, c.DNSNames, c.IPAddresses)
		}
		for _, use := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
			if _, err := c.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{use}}); err != nil {
				t.Errorf("%s: verify for usage %v: %v", name, use, err)
			}
		}
		if !bytes.Contains(is.CertPEM, []byte("BEGIN CERTIFICATE")) || !bytes.Contains(is.KeyPEM, []byte("BEGIN PRIVATE KEY")) {
			t.Errorf("%s: PEM forms missing", name)
		}
	}

	is := mustIssue(t, ca, "350505100201", RoleVillage, []string{"node-a.example", "10.0.0.5"}, time.Now())
	if len(is.Cert.DNSNames) != 1 || is.Cert.DNSNames[0] != "node-a.example" ||
		len(is.Cert.IPAddresses) != 1 || !is.Cert.IPAddresses[0].Equal(net.ParseIP("10.0.0.5")) {
		t.Errorf("hosts: %v %v", is.Cert.DNSNames, is.Cert.IPAddresses)
	}
	_, err := ca.Issue("350505100201", RoleVillage, []string{""}, time.Now())
	expect(t, "empty host", err, "empty host name")
	_, err = ca.Issue("350505100201", RoleVillage, nil, time.Now().AddDate(11, 0, 0))
	expect(t, "expired CA", err, "CA expired")
	late := mustIssue(t, ca, "350505100201", RoleVillage, nil, time.Now().AddDate(9, 0, 0))
	if !late.Cert.NotAfter.Equal(ca.Cert.NotAfter) {
		t.Errorf("leaf outlives CA: %v > %v", late.Cert.NotAfter, ca.Cert.NotAfter)
	}
}

func TestIdentityMalformed(t *testing.T) {
	ca := mustCA(t, "350505")
	for _, tc := range []struct {
		name string
		edit func(*x509.Certificate)
		err  string
	}{
		{"good", func(*x509.Certificate) {}, ""},
		{"no OU is fine", func(c *x509.Certificate) { c.Subject.OrganizationalUnit = nil }, ""},
		{"no URI", func(c *x509.Certificate) { c.URIs = nil }, "no sanzi:// identity"},
		{"other scheme only", func(c *x509.Certificate) { c.URIs = uris(t, "https://350505100201.example/") }, "no sanzi:// identity"},
		{"two identities", func(c *x509.Certificate) {
			c.URIs = uris(t, "sanzi://village/350505100201", "sanzi://district/350505000000")
		}, "more than one"},
		{"bad role", func(c *x509.Certificate) { c.URIs = uris(t, "sanzi://mayor/350505100201") }, `role "mayor"`},
		{"query", func(c *x509.Certificate) { c.URIs = uris(t, "sanzi://village/350505100201?x=1") }, "not of the form"},
		{"user", func(c *x509.Certificate) { c.URIs = uris(t, "sanzi://u@village/350505100201") }, "not of the form"},
		{"extra path", func(c *x509.Certificate) { c.URIs = uris(t, "sanzi://village/350505/100201") }, "length is 13"},
		{"bad org", func(c *x509.Certificate) { c.URIs = uris(t, "sanzi://village/35050510020x") }, "not a digit"},
		{"level mismatch", func(c *x509.Certificate) {
			c.URIs = uris(t, "sanzi://village/350505100000")
			c.Subject.CommonName = "350505100000"
		}, "town-level but role is village"},
		{"CN disagrees", func(c *x509.Certificate) { c.Subject.CommonName = "350505100202" }, `common name "350505100202" disagrees`},
		{"OU disagrees", func(c *x509.Certificate) { c.Subject.OrganizationalUnit = []string{"district"} }, "organizational unit"},
	} {
		_, _, err := Identity(craft(t, ca, tc.edit).Cert)
		if tc.err == "" {
			expect(t, tc.name, err)
		} else {
			expect(t, tc.name, err, tc.err)
		}
	}
}

func TestSaveLoad(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	ca := mustCA(t, "350505")
	if err := ca.Save(dir); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "ca.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("ca.key: %v %v, want mode 0600", fi, err)
	}
	got, err := LoadCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Cert.Raw, ca.Cert.Raw) || !got.Key.Equal(ca.Key) || got.District != "350505" {
		t.Errorf("LoadCA round trip differs: district %q", got.District)
	}
	other := mustCA(t, "350505")
	expect(t, "second Save", other.Save(dir), "already exists", "refusing to overwrite")
	if again, err := LoadCA(dir); err != nil || !again.Key.Equal(ca.Key) {
		t.Errorf("ca.key changed after refused Save: %v", err)
	}
	if _, err := LoadPool(dir); err != nil {
		t.Errorf("LoadPool: %v", err)
	}
	_, err = LoadCA(t.TempDir())
	expect(t, "LoadCA empty", err, "ca.crt")

	nodes := t.TempDir()
	is := mustIssue(t, ca, "350505100000", RoleTown, nil, time.Now())
	if err := is.Save(nodes, "town"); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(nodes, "town.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("town.key: %v %v, want mode 0600", fi, err)
	}
	back, err := LoadIssued(nodes, "town")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back.Cert.Raw, is.Cert.Raw) || !back.Key.Equal(is.Key) ||
		!bytes.Equal(back.CertPEM, is.CertPEM) || !bytes.Equal(back.KeyPEM, is.KeyPEM) {
		t.Error("LoadIssued round trip differs")
	}
	expect(t, "bad name", is.Save(nodes, "../x"), "bad file name")

	// A key that is not the certificate's is refused.
	stranger := mustIssue(t, ca, "350505100000", RoleTown, nil, time.Now())
	if err := os.WriteFile(filepath.Join(nodes, "town.key"), stranger.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = LoadIssued(nodes, "town")
	expect(t, "mismatched key", err, "does not belong")
	if err := os.WriteFile(filepath.Join(nodes, "town.crt"), []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = LoadIssued(nodes, "town")
	expect(t, "junk cert", err, "not a PEM")
}

// side is what one end of a test handshake saw.
type side struct {
	org  string
	role Role
	err  error
}

// handshake connects a client to a server over loopback TCP. The server
// writes one byte after a good handshake and the client reads it, so that a
// refusal by the server (which TLS 1.3 reports after the client's handshake
// returns) reaches the client too. Deadlines bound everything.
func handshake(t *testing.T, serverCfg, clientCfg *tls.Config) (srv, cli side) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	deadline := time.Now().Add(5 * time.Second)
	done := make(chan side, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- side{err: err}
			return
		}
		defer c.Close()
		c.SetDeadline(deadline)
		tc := tls.Server(c, serverCfg)
		if err := tc.Handshake(); err != nil {
			done <- side{err: err}
			return
		}
		var s side
		s.org, s.role, s.err = PeerFromConn(tc)
		if s.err == nil {
			_, s.err = tc.Write([]byte{1})
		}
		done <- s
	}()
	d := net.Dialer{Deadline: deadline}
	raw, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	raw.SetDeadline(deadline)
	tc := tls.Client(raw, clientCfg)
	if cli.err = tc.Handshake(); cli.err == nil {
		if _, cli.err = io.ReadFull(tc, make([]byte, 1)); cli.err == nil {
			cli.org, cli.role, cli.err = PeerFromConn(tc)
		}
	}
	tc.Close()
	select {
	case srv = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("server side did not finish")
	}
	return srv, cli
}

// outcome checks one side of a handshake: want nil means it must succeed,
// otherwise it must fail with an error mentioning every string in want.
func outcome(t *testing.T, name string, err error, want []string) {
	t.Helper()
	switch {
	case want == nil:
		expect(t, name, err)
	case err == nil:
		t.Errorf("%s: handshake succeeded, want failure", name)
	case len(want) > 0:
		expect(t, name, err, want...)
	}
}

func TestHandshake(t *testing.T) {
	now := time.Now()
	ca, other := mustCA(t, "350505"), mustCA(t, "350503")
	district := mustIssue(t, ca, "350505000000", RoleDistrict, nil, now)
	district2 := mustIssue(t, ca, "350505000000", RoleDistrict, nil, now)
	town := mustIssue(t, ca, "350505100000", RoleTown, nil, now)
	village := mustIssue(t, ca, "350505100201", RoleVillage, nil, now)
	foreign := mustIssue(t, other, "350503000000", RoleDistrict, nil, now)
	expired := mustIssue(t, ca, "350505000000", RoleDistrict, nil, now.AddDate(-3, 0, 0))
	noIP := mustIssue(t, ca, "350505000000", RoleDistrict, []string{"node-b.example"}, now)
	clientOnly := craft(t, ca, func(c *x509.Certificate) {
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	})
	districts := AllowRoles(RoleDistrict)
	// The foreign client trusts our CA too, so that refusing it is up to the server.
	both := other.Pool()
	both.AddCert(ca.Cert)

	for _, tc := range []struct {
		name                   string
		server, client         *Issued
		serverPool, clientPool *x509.CertPool // nil: ca's pool
		serverAllow            Allow
		clientAllow            Allow
		serverErr, clientErr   []string // nil: that side must succeed
		// insist makes the client present its certificate even when the
		// server's list of acceptable CAs does not name its issuer, as a
		// hostile client would; crypto/tls would otherwise send none.
		insist bool
	}{
		{name: "district to district", server: district, client: district2, serverAllow: districts, clientAllow: districts},
		{name: "server cert without the dialled IP", server: noIP, client: district, serverAllow: districts, clientAllow: districts},
		{name: "town admitted by town-or-district rule", server: district, client: town,
			serverAllow: AllowRoles(RoleTown, RoleDistrict), clientAllow: districts},
		{name: "nil allow admits any verified peer", server: district, client: village, clientAllow: districts},
		{name: "village refused by district server", server: district, client: village,
			serverAllow: districts, clientAllow: districts,
			serverErr: []string{"350505100201", "village", "not allowed"}, clientErr: []string{}},
		{name: "district client refuses village server", server: village, client: district,
			serverAllow: districts, clientAllow: districts,
			serverErr: []string{}, clientErr: []string{"350505100201", "village", "not allowed"}},
		{name: "client from another district's CA", server: district, client: foreign,
			clientPool: both, serverAllow: districts, clientAllow: districts,
			serverErr: []string{"didn't provide a certificate"}, clientErr: []string{}},
		{name: "client from another district's CA insists", server: district, client: foreign,
			clientPool: both, serverAllow: districts, clientAllow: districts, insist: true,
			serverErr: []string{"unknown authority"}, clientErr: []string{}},
		{name: "server from another district's CA", server: foreign, client: district,
			serverPool: other.Pool(), serverAllow: districts, clientAllow: districts,
			serverErr: []string{}, clientErr: []string{"unknown authority"}},
		{name: "expired client", server: district, client: expired, serverAllow: districts, clientAllow: districts,
			serverErr: []string{"expired"}, clientErr: []string{}},
		{name: "expired server", server: expired, client: district, serverAllow: districts, clientAllow: districts,
			serverErr: []string{}, clientErr: []string{"expired"}},
		{name: "server cert without ServerAuth", server: clientOnly, client: district,
			serverAllow: districts, clientAllow: AllowRoles(RoleVillage),
			serverErr: []string{}, clientErr: []string{"key usage"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sp, cp := tc.serverPool, tc.clientPool
			if sp == nil {
				sp = ca.Pool()
			}
			if cp == nil {
				cp = ca.Pool()
			}
			ccfg := ClientConfig(cp, tc.client.TLSCertificate(), tc.clientAllow)
			if tc.insist {
				c := tc.client.TLSCertificate()
				ccfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &c, nil }
			}
			srv, cli := handshake(t, ServerConfig(sp, tc.server.TLSCertificate(), tc.serverAllow), ccfg)
			outcome(t, "server", srv.err, tc.serverErr)
			outcome(t, "client", cli.err, tc.clientErr)
			if tc.serverErr == nil && tc.clientErr == nil {
				wantOrg, wantRole, _ := Identity(tc.client.Cert)
				if srv.org != wantOrg || srv.role != wantRole {
					t.Errorf("server sees %s/%s, want %s/%s", srv.org, srv.role, wantOrg, wantRole)
				}
				wantOrg, wantRole, _ = Identity(tc.server.Cert)
				if cli.org != wantOrg || cli.role != wantRole {
					t.Errorf("client sees %s/%s, want %s/%s", cli.org, cli.role, wantOrg, wantRole)
				}
			}
		})
	}
}
