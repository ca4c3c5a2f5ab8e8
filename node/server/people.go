package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/sanzi/sanzi/node/accounts"
	"github.com/sanzi/sanzi/node/api"
	"github.com/sanzi/sanzi/node/authz"
)

// openAccounts opens the node's accounts (issue 12): the home org's chain
// holds them, <data>/credentials.db their credentials. At the first start
// it creates the administrator, printing its one-time password once.
func (n *Node) openAccounts(ctx context.Context) error {
	svc, err := accounts.Open(ctx, accounts.Config{
		Org: n.cfg.Orgs[0], Chain: n.ledger, CredentialsPath: filepath.Join(n.cfg.DataDir, "credentials.db"),
		AuditPath: filepath.Join(n.cfg.DataDir, "signins.db"),
		Now:       n.cfg.Now, Logger: n.log.With("subsystem", "accounts"), Registerer: n.registry,
		Argon: n.cfg.AccountArgon, NoSync: n.cfg.NoSync, Checkpoints: n.checkpoints(),
	})
	if err != nil {
		return err
	}
	pw, created, err := svc.EnsureAdmin(ctx, n.cfg.AdminPasswordFile)
	if err != nil {
		svc.Close()
		return err
	}
	if created && pw != "" {
		printAdmin(n.cfg.Stdout, pw)
		n.log.Info("printed the first administrator's one-time password to standard output (not logged); it must be changed at the first sign-in", "account", accounts.AdminID)
	}
	n.accounts = svc
	return nil
}

// AdminLine is the line that carries the first administrator's one-time
// password on standard output, for scripts to find:
// "first administrator: admin / <password> — change it at first sign-in".
const AdminLine = "first administrator: %s / %s — change it at first sign-in"

// printAdmin prints the first administrator's one-time password in a block
// of its own, the only time it is shown.
func printAdmin(w io.Writer, pw string) {
	line := fmt.Sprintf(AdminLine, accounts.AdminID, pw)
	rule := strings.Repeat("=", 72)
	fmt.Fprintf(w, "%s\n%s\n(shown this once; sign in with `sanzi login` and set a new password)\n%s\n", rule, line, rule)
}

// Accounts is the node's accounts, for in-process tools and tests.
func (n *Node) Accounts() *accounts.Service { return n.accounts }

// person is api.Person with this node's accounts and logger.
func (n *Node) person(w http.ResponseWriter, r *http.Request, perm authz.Permission) (authz.Principal, bool) {
	return api.Person(w, r, n.accounts, perm, n.log)
}

// loopbackAddr reports whether a listen address binds loopback only.
// An empty host ("":7400) binds every interface.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// peopleTLS is the certificate the node serves people's APIs (HTTP and
// gRPC) with, or nil to serve them plain. Given --tls-cert/--tls-key it is
// always used; otherwise a node listening anywhere but loopback uses its
// --tls-dir certificate, and refuses to start without one (item 8).
// Loopback stays plain so that tests and the demo work.
func peopleTLS(cfg Config, issued func() (tls.Certificate, bool)) (*tls.Config, error) {
	var cert tls.Certificate
	switch {
	case cfg.TLSCert != "" || cfg.TLSKey != "":
		if cfg.TLSCert == "" || cfg.TLSKey == "" {
			return nil, errors.New("--tls-cert and --tls-key go together")
		}
		c, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert %s / --tls-key %s: %w", cfg.TLSCert, cfg.TLSKey, err)
		}
		cert = c
	case loopbackAddr(cfg.HTTPAddr) && loopbackAddr(cfg.GRPCAddr):
		return nil, nil
	default:
		c, ok := issued()
		if !ok {
			open := cfg.HTTPAddr
			if loopbackAddr(open) {
				open = cfg.GRPCAddr
			}
			return nil, fmt.Errorf("the node listens on %s, beyond this machine: people's sign-ins must travel over TLS. "+
				"Give --tls-cert and --tls-key (a server certificate for this host), or --tls-dir with the node's certificate "+
				"from `sanzi ca issue --dir ca --org %s --role village --name %s --out DIR` (ask the district for one); "+
				"or listen on 127.0.0.1 behind a TLS proxy", open, cfg.Orgs[0], cfg.Orgs[0])
		}
		cert = c
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}, nil
}

// pinnedClientTLS is how the node's REST gateway reaches its own gRPC API
// when that is served over TLS: it trusts exactly the node's certificate
// (the listen address may be a wildcard that no certificate names).
func pinnedClientTLS(server *tls.Config) *tls.Config {
	want := server.Certificates[0].Certificate[0]
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // replaced by the pin below
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || string(raw[0]) != string(want) {
				return errors.New("the gateway reached a gRPC server that is not this node")
			}
			return nil
		},
	}
}
