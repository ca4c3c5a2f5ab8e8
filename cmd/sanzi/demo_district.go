package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/sanzi/sanzi/analytics/schema"
	"github.com/sanzi/sanzi/federation/cluster"
	"github.com/sanzi/sanzi/federation/member"
	"github.com/sanzi/sanzi/node/pki"
)

// demoDistrict is the demo's three-member district cluster.
type demoDistrict struct {
	caDir   string
	ca      *pki.CA
	members []*member.Member
	http    string
}

// startDemoDistrict makes (or reuses) a CA and three member certificates
// under root and starts members d1..d3 on ports base+1.., d1 bootstrapping.
func startDemoDistrict(ctx context.Context, root string, base int, clickhouseAddr string, log *slog.Logger, progress func(string)) (*demoDistrict, error) {
	caDir := filepath.Join(root, "ca")
	ca, err := pki.LoadCA(caDir)
	if errors.Is(err, os.ErrNotExist) {
		if ca, err = pki.NewCA("350505", time.Now()); err == nil {
			err = ca.Save(caDir)
		}
		for _, name := range []string{"d1", "d2", "d3", "admin"} {
			if err != nil {
				break
			}
			var iss *pki.Issued
			if iss, err = ca.Issue("350505000000", pki.RoleDistrict, nil, time.Now()); err == nil {
				err = iss.Save(caDir, name)
			}
		}
		progress("made district CA and certificates in " + caDir)
	}
	if err != nil {
		return nil, fmt.Errorf("district CA: %w", err)
	}
	d := &demoDistrict{caDir: caDir, ca: ca}
	// Every member signs the district's chain for people with the admin
	// certificate's key, as `sanzi district serve --chain-cert admin`.
	signer, err := pki.LoadIssued(caDir, "admin")
	if err != nil {
		return nil, err
	}
	for i := 1; i <= 3; i++ {
		id := fmt.Sprintf("d%d", i)
		iss, err := pki.LoadIssued(caDir, id)
		if err != nil {
			d.stop()
			return nil, err
		}
		cfg := member.Config{
			Cluster: cluster.Config{
				ID: id, RaftAddr: fmt.Sprintf("127.0.0.1:%d", base+10*i+1), DataDir: filepath.Join(root, id),
				Bootstrap: i == 1, Logger: log.With("member", id),
			},
			APIListen: fmt.Sprintf("127.0.0.1:%d", base+10*i+2),
			Pool:      ca.Pool(), Cert: iss.TLSCertificate(), ClickHouse: clickhouseAddr,
			ChainSigner: &cluster.ChainSigner{Origin: "350505000000", Key: signer.Key, Cert: signer.Cert.Raw},
			Orgs:        []schema.Org{{Code: "350505000000", Name: "示范区"}, {Code: "350505100000", Name: "城关镇"}, {Code: demoOrg, Name: "东风村"}},
		}
		if i == 1 {
			cfg.HTTPAddr = fmt.Sprintf("127.0.0.1:%d", base+3)
		} else {
			cfg.Join = d.members[0].APIAddr()
		}
		m, err := member.Start(ctx, cfg)
		if err != nil {
			d.stop()
			return nil, fmt.Errorf("start district member %s: %w", id, err)
		}
		d.members = append(d.members, m)
		progress(fmt.Sprintf("district member %s up (api %s)", id, m.APIAddr()))
		if otp := m.AdminPassword(); otp != "" {
			progress(fmt.Sprintf("first district administrator: account admin, one-time password %s (sanzi district login --server %s --tls-dir %s --account admin --password-file - --new-password-file FILE)", otp, m.APIAddr(), caDir))
		}
	}
	d.http = d.members[0].HTTPAddr()
	return d, nil
}

func (d *demoDistrict) stop() {
	for i := len(d.members) - 1; i >= 0; i-- {
		d.members[i].Stop()
	}
}

// issue makes the certificate of a demo node once: a node keeps signing
// with the key of its first certificate.
func (d *demoDistrict) issue(org string, role pki.Role) error {
	if _, err := pki.LoadIssued(d.caDir, org); err == nil {
		return nil
	}
	iss, err := d.ca.Issue(org, role, nil, time.Now())
	if err != nil {
		return err
	}
	return iss.Save(d.caDir, org)
}
