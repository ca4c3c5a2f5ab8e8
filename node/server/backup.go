package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/sanzi/sanzi/node/api"
	"github.com/sanzi/sanzi/node/backup"
	"github.com/sanzi/sanzi/node/keys"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/limits"
	"github.com/sanzi/sanzi/node/pki"
	"github.com/sanzi/sanzi/node/relay"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// backupRoute serves GET /v1/backup: a tar of the data folder, consistent
// while the node records (node/backup). It hands out the node's signing
// keys and every account's credentials, so it answers only a client on the
// loopback interface (the operator on the machine, `sanzi backup`), signed
// in with an account that may verify the chains (auditor) or manage
// accounts (administrator).
func (n *Node) backupRoute(w http.ResponseWriter, r *http.Request) {
	if !api.BackupTaker(w, r, n.accounts, n.log) {
		return
	}
	at := n.cfg.Now()
	backup.StartResponse(w, n.cfg.Orgs[0], at)
	m, err := backup.Write(r.Context(), w, n.cfg.DataDir, []backup.DB{{Name: "ledger.db", DB: n.ledger.DB()}, {Name: "credentials.db", DB: n.accounts.CredentialsDB()},
		{Name: "signins.db", DB: n.accounts.AuditDB()}}, at)
	if err != nil {
		// The status is sent; the client sees a tar without its manifest,
		// which restore refuses.
		n.log.Error("backup failed", "err", err)
		return
	}
	n.log.Info("backup served", "files", len(m.Files), "to", r.RemoteAddr)
}

// parentDialer dials the parent's SyncService over mutual TLS with the
// node's certificate.
func parentDialer(cfg Config, iss *pki.Issued) (relay.Dialer, error) {
	pool, err := pki.LoadPool(cfg.TLSDir)
	if err != nil {
		return nil, err
	}
	creds := credentials.NewTLS(pki.ClientConfig(pool, iss.TLSCertificate(), pki.AllowRoles(pki.RoleTown, pki.RoleDistrict)))
	return func(ctx context.Context) (sanziv1.SyncServiceClient, func(), error) {
		conn, err := grpc.NewClient(cfg.Parent, grpc.WithTransportCredentials(creds), limits.CallOptions())
		if err != nil {
			return nil, nil, err
		}
		return sanziv1.NewSyncServiceClient(conn), func() { conn.Close() }, nil
	}, nil
}

// catchUpRestored runs on a data folder restored from a backup (it holds
// backup.MarkerName), before the node takes any write: the parent may hold
// entries of the node's own chains recorded after the backup was taken, and
// recording now would put new entries at those seqs, a fork. So the node
// first pulls them back from the parent (relay.CatchUp); it refuses to
// start while it cannot, or when it has no parent to ask. Once caught up
// the marker is removed and the node starts as usual; entries the backup
// holds and the parent lacks are pushed by the outbox.
func catchUpRestored(ctx context.Context, cfg Config, l *ledger.Ledger, ring *keys.Ring, iss *pki.Issued, log *slog.Logger) error {
	m, err := backup.ReadMarker(cfg.DataDir)
	if err != nil || m == nil {
		return err
	}
	marker := filepath.Join(cfg.DataDir, backup.MarkerName)
	if cfg.Parent == "" {
		return fmt.Errorf("%s was restored from a backup taken at %s: its chains may be behind its parent's copy, and recording now would fork them. Start it with --parent and --tls-dir so it catches up first; a node that has no parent holds the only copy: remove %s and start it again",
			cfg.DataDir, m.BackupTakenAt.Format(time.RFC3339), marker)
	}
	dial, err := parentDialer(cfg, iss)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, max(cfg.SyncAckTimeout, time.Minute))
	defer cancel()
	client, closeConn, err := dial(ctx)
	if err != nil {
		return err
	}
	defer closeConn()
	for _, org := range cfg.Orgs {
		pub, ok := ring.Public(org)
		if !ok {
			continue
		}
		before := l.Head(org).Seq
		n, err := relay.CatchUp(ctx, client, l, org, pub)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
				err = fmt.Errorf("the parent %s did not answer: %w", cfg.Parent, err)
			}
			return fmt.Errorf("%s was restored from a backup taken at %s and must catch up from its parent before it records: %w", cfg.DataDir, m.BackupTakenAt.Format(time.RFC3339), err)
		}
		log.Info("caught up a restored chain from the parent", "origin", org, "backup_head", before, "pulled", n, "head", l.Head(org).Seq)
	}
	if err := backup.ClearMarker(cfg.DataDir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
