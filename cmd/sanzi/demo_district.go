package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/sanzi/sanzi/analytics/schema"
	"github.com/sanzi/sanzi/federation/cluster"
	"github.com/sanzi/sanzi/federation/member"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/pki"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// demoDistrict is the demo's three-member district cluster.
type demoDistrict struct {
	members []*member.Member
	client  sanziv1.DistrictServiceClient
	conn    *grpc.ClientConn
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
	d := &demoDistrict{}
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
			Orgs: []schema.Org{{Code: "350505000000", Name: "示范区"}, {Code: "350505100000", Name: "城关镇"}, {Code: demoOrg, Name: "东风村"}},
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
	}
	d.http = d.members[0].HTTPAddr()
	admin, err := pki.LoadIssued(caDir, "admin")
	if err != nil {
		d.stop()
		return nil, err
	}
	d.conn, err = grpc.NewClient(d.members[0].APIAddr(), grpc.WithTransportCredentials(credentials.NewTLS(pki.ClientConfig(ca.Pool(), admin.TLSCertificate(), nil))))
	if err != nil {
		d.stop()
		return nil, err
	}
	d.client = sanziv1.NewDistrictServiceClient(d.conn)
	return d, nil
}

func (d *demoDistrict) stop() {
	if d.conn != nil {
		d.conn.Close()
	}
	for i := len(d.members) - 1; i >= 0; i-- {
		d.members[i].Stop()
	}
}

// uplink pushes the village's new entries to the district every few
// seconds, from the district's head on. It is the demo's stand-in for the
// village outbox.
// TODO(issue 4): replace with the sync outbox (town in between, mutual TLS
// as the village, backoff, attachments).
func (d *demoDistrict) uplink(ctx context.Context, l *ledger.Ledger, origin string, pub ed25519.PublicKey, log *slog.Logger) {
	registered := false
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		if err := d.pushOnce(ctx, l, origin, pub, &registered); err != nil && ctx.Err() == nil {
			log.Warn("demo uplink: will retry", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (d *demoDistrict) pushOnce(ctx context.Context, l *ledger.Ledger, origin string, pub ed25519.PublicKey, registered *bool) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if !*registered {
		if _, err := d.client.RegisterOrigin(ctx, &sanziv1.RegisterOriginRequest{Origin: origin, PublicKey: pub}); err != nil {
			return fmt.Errorf("register %s: %w", origin, err)
		}
		*registered = true
	}
	h, err := d.client.GetDistrictHead(ctx, &sanziv1.GetDistrictHeadRequest{Origin: origin})
	if err != nil {
		return err
	}
	var batch [][]byte
	if err := l.Range(origin, h.GetHead().GetSeq()+1, 1000, func(s *ledger.Stored) bool {
		batch = append(batch, s.Raw)
		return true
	}); err != nil {
		return err
	}
	if len(batch) == 0 {
		return nil
	}
	_, err = d.client.PushEntries(ctx, &sanziv1.PushEntriesRequest{Entries: batch})
	return err
}
