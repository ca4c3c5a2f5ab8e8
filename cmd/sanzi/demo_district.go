package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sanzi/sanzi/node/accounts"
	"github.com/sanzi/sanzi/node/limits"
	"github.com/sanzi/sanzi/node/pki"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// demoCA is the demo's own certificate authority under dir.
type demoCA struct {
	dir string
	ca  *pki.CA
	at  time.Time
}

// loadDemoCA makes (or reuses) the demo's CA, valid from at: the villages
// sign a year of entries dated from then, and a certificate must have been
// valid when an entry was signed.
func loadDemoCA(dir string, at time.Time) (*demoCA, error) {
	ca, err := pki.LoadCA(dir)
	if errors.Is(err, os.ErrNotExist) {
		if ca, err = pki.NewCA("350505", at); err == nil {
			err = ca.Save(dir)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("demo CA: %w", err)
	}
	if ca.Cert.NotBefore.After(at) {
		at = ca.Cert.NotBefore // a CA kept from an earlier run
	}
	return &demoCA{dir: dir, ca: ca, at: at}, nil
}

// issue makes the certificate named name of org once: a node keeps
// signing with the key of its first certificate.
func (c *demoCA) issue(org, role string) error { return c.issueAs(org, org, role) }

func (c *demoCA) issueAs(name, org, role string) error {
	if _, err := pki.LoadIssued(c.dir, name); err == nil {
		return nil
	}
	iss, err := c.ca.Issue(org, pki.Role(role), nil, c.at)
	if err != nil {
		return err
	}
	return iss.Save(c.dir, name)
}

// demoDistrictPeople are the district's demo accounts, one per role.
var demoDistrictPeople = []demoPerson{
	{"qu.fenxi", "区三资监管科 分析员 (demo)", []accounts.Role{accounts.RoleDistrictAnalyst}, nil},
	{"qu.guize", "区规则专员 (demo)", []accounts.Role{accounts.RoleDistrictRulesOfficer}, nil},
	{"qu.shenji", "区审计 (demo)", []accounts.Role{accounts.RoleAuditor}, nil},
}

// demoMembers is the running district cluster as the demo talks to it:
// signed in as the district analyst.
type demoMembers struct {
	api   []string
	http  string
	conn  *grpc.ClientConn
	token string
}

// startDemoMembers starts o.member members (`sanzi district serve`), the
// first bootstrapping, and signs in its demo accounts.
func startDemoMembers(ctx context.Context, r *demoRun, caDir string, o demoOptions, orgsFile string, progress func(string)) (*demoMembers, error) {
	ca, err := loadDemoCA(caDir, time.Time{})
	if err != nil {
		return nil, err
	}
	if err := ca.issueAs("admin", demoDistrictOrg, "district"); err != nil {
		return nil, err
	}
	d := &demoMembers{http: addr(o.portBase + 103)}
	// A new cluster grows one member at a time (each joins through the
	// first); a kept one needs a quorum back before any member is up, so
	// all start at once and are waited for after.
	_, err = os.Stat(filepath.Join(o.dir, "district", "d1"))
	kept := err == nil
	type started struct {
		p     *demoProc
		lines chan string
	}
	var pending []started
	wait := func(st started) error {
		if _, err := waitLine(ctx, st.p, st.lines, "district member", 2*time.Minute); err != nil {
			return err
		}
		go func() {
			for range st.lines {
			}
		}()
		return nil
	}
	for i := 1; i <= o.member; i++ {
		id := fmt.Sprintf("d%d", i)
		if err := ca.issueAs(id, demoDistrictOrg, "district"); err != nil {
			return nil, err
		}
		base := o.portBase + 100 + 10*i
		data := filepath.Join(o.dir, "district", id)
		args := []string{"district", "serve", "--id", id, "--raft", addr(base + 1), "--api", addr(base + 2), "--data", data,
			"--tls-dir", caDir, "--cert", id, "--chain-cert", "admin", "--orgs", orgsFile, "--log-level", "warn"}
		if o.clickhouse != "" {
			args = append(args, "--clickhouse", o.clickhouse)
		}
		if i == 1 {
			pw, err := demoAdminFile(data)
			if err != nil {
				return nil, err
			}
			args = append(args, "--bootstrap", "--http", d.http, "--admin-password-file", pw)
		} else {
			args = append(args, "--join", d.api[0])
		}
		lines := make(chan string, 16)
		p, err := r.start("district-"+id, func(l string) { lines <- l }, args...)
		if err != nil {
			return nil, err
		}
		d.api = append(d.api, addr(base+2))
		if kept {
			pending = append(pending, started{p, lines})
			continue
		}
		if err := wait(started{p, lines}); err != nil {
			return nil, err
		}
		progress(fmt.Sprintf("member %s up (api %s)", id, addr(base+2)))
	}
	for i, st := range pending {
		if err := wait(st); err != nil {
			return nil, err
		}
		progress(fmt.Sprintf("member d%d up again (api %s)", i+1, d.api[i]))
	}
	pool, err := pki.LoadPool(caDir)
	if err != nil {
		return nil, err
	}
	cfg := pki.ClientConfig(pool, tls.Certificate{}, pki.AllowRoles(pki.RoleDistrict))
	cfg.Certificates = nil // a person: a token, no certificate
	if d.conn, err = grpc.NewClient(d.api[0], grpc.WithTransportCredentials(credentials.NewTLS(cfg)), limits.CallOptions()); err != nil {
		return nil, err
	}
	if err := d.signIn(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

// signIn gives the district administrator the demo password, makes the
// district's demo accounts and signs in as the analyst.
func (d *demoMembers) signIn(ctx context.Context) error {
	acc := sanziv1.NewAccountServiceClient(d.conn)
	login := func(id, pw, newPw string) (string, error) {
		var last error
		for range 60 { // leadership may still be settling
			c, cancel := context.WithTimeout(ctx, 20*time.Second)
			in, err := acc.Login(c, &sanziv1.LoginRequest{Account: id, Password: pw, NewPassword: newPw, Label: "demo"})
			cancel()
			if err == nil {
				return in.GetSecret(), nil
			}
			last = err
			if c := status.Code(err); c != codes.Unavailable && c != codes.DeadlineExceeded && !strings.Contains(err.Error(), "leader") {
				return "", err
			}
			time.Sleep(time.Second)
		}
		return "", last
	}
	first := demoPassword + "-first"
	admin, err := login(accounts.AdminID, first, demoPassword)
	if err != nil {
		if admin, err = login(accounts.AdminID, demoPassword, ""); err != nil {
			return fmt.Errorf("district administrator: %w", err)
		}
	}
	ac := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+admin)
	for _, p := range demoDistrictPeople {
		roles := make([]string, len(p.roles))
		for i, r := range p.roles {
			roles[i] = string(r)
		}
		_, err := acc.CreateAccount(ac, &sanziv1.CreateAccountRequest{Author: accounts.AdminID, Password: first,
			Account: &sanziv1.Account{Account: p.id, Name: p.name, Org: demoDistrictOrg, Roles: roles}})
		if status.Code(err) == codes.AlreadyExists {
			continue
		}
		if err != nil {
			return fmt.Errorf("district account %s: %w", p.id, err)
		}
		if _, err := login(p.id, first, demoPassword); err != nil {
			return fmt.Errorf("district account %s: set the demo password: %w", p.id, err)
		}
	}
	d.token, err = login(demoDistrictPeople[0].id, demoPassword, "")
	return err
}

func (d *demoMembers) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	return metadata.AppendToOutgoingContext(c, "authorization", "Bearer "+d.token), cancel
}

// heads are the district's chain heads by origin.
func (d *demoMembers) heads(ctx context.Context) (map[string]uint64, error) {
	c, cancel := d.ctx(ctx)
	defer cancel()
	out, err := sanziv1.NewDistrictServiceClient(d.conn).ListHeads(c, &sanziv1.ListHeadsRequest{})
	if err != nil {
		return nil, fmt.Errorf("district heads: %w", err)
	}
	m := map[string]uint64{}
	for _, h := range out.GetHeads() {
		m[h.GetOrigin()] = h.GetSeq()
	}
	return m, nil
}

// risk is the district's integrity-risk ranking of its villages.
func (d *demoMembers) risk(ctx context.Context) ([]*sanziv1.RiskRow, error) {
	c, cancel := d.ctx(ctx)
	defer cancel()
	out, err := sanziv1.NewAnalyticsServiceClient(d.conn).Risk(c, &sanziv1.RiskRequest{})
	if err != nil {
		return nil, err
	}
	var rows []*sanziv1.RiskRow
	for _, r := range out.GetRows() {
		if !strings.HasSuffix(r.GetOrg(), "000") { // villages only
			rows = append(rows, r)
		}
	}
	return rows, nil
}
