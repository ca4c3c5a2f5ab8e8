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

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/sanzi/sanzi/node/api"
	"github.com/sanzi/sanzi/node/attach"
	"github.com/sanzi/sanzi/node/backup"
	"github.com/sanzi/sanzi/node/entries"
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
	dial, err := parentConn(cfg, iss)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) (sanziv1.SyncServiceClient, func(), error) {
		conn, err := dial()
		if err != nil {
			return nil, nil, err
		}
		return sanziv1.NewSyncServiceClient(conn), func() { conn.Close() }, nil
	}, nil
}

// parentConn makes connections to the parent over mutual TLS with the
// node's certificate.
func parentConn(cfg Config, iss *pki.Issued) (func() (*grpc.ClientConn, error), error) {
	pool, err := pki.LoadPool(cfg.TLSDir)
	if err != nil {
		return nil, err
	}
	creds := credentials.NewTLS(pki.ClientConfig(pool, iss.TLSCertificate(), pki.AllowRoles(pki.RoleTown, pki.RoleDistrict)))
	return func() (*grpc.ClientConn, error) {
		return grpc.NewClient(cfg.Parent, grpc.WithTransportCredentials(creds), limits.CallOptions())
	}, nil
}

// catchUpRestored runs on a data folder restored from a backup (it holds
// backup.MarkerName), before the node takes any write: the parent may hold
// entries of the node's own chains recorded after the backup was taken, and
// recording now would put new entries at those seqs, a fork. So the node
// first pulls them back from the parent (relay.CatchUp), then the
// attachments its chains name that the backup lacks (pullAttachments); it
// refuses to start while it cannot, or when it has no parent to ask. Once
// caught up the marker is removed and the node starts as usual; entries
// the backup holds and the parent lacks are pushed by the outbox.
func catchUpRestored(ctx context.Context, cfg Config, l *ledger.Ledger, att *attach.Store, ring *keys.Ring, iss *pki.Issued, log *slog.Logger) error {
	m, err := backup.ReadMarker(cfg.DataDir)
	if err != nil || m == nil {
		return err
	}
	marker := filepath.Join(cfg.DataDir, backup.MarkerName)
	if cfg.Parent == "" {
		return fmt.Errorf("%s was restored from a backup taken at %s: its chains may be behind its parent's copy, and recording now would fork them. Start it with --parent and --tls-dir so it catches up first; a node that has no parent holds the only copy: remove %s and start it again",
			cfg.DataDir, m.BackupTakenAt.Format(time.RFC3339), marker)
	}
	dial, err := parentConn(cfg, iss)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, max(cfg.SyncAckTimeout, time.Minute))
	defer cancel()
	conn, err := dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	client := sanziv1.NewSyncServiceClient(conn)
	for _, org := range cfg.Orgs {
		pub, ok := ring.Public(org)
		if !ok {
			continue
		}
		before := l.Head(org).Seq
		n, err := relay.CatchUp(ctx, client, l, org, pub)
		if err == nil {
			var got, missing int
			got, missing, err = pullAttachments(ctx, sanziv1.NewAttachmentServiceClient(conn), l, att, org, log)
			log.Info("caught up a restored chain from the parent", "origin", org, "backup_head", before, "pulled", n, "head", l.Head(org).Seq,
				"attachments_pulled", got, "attachments_missing", missing)
		}
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
				err = fmt.Errorf("the parent %s did not answer: %w", cfg.Parent, err)
			}
			return fmt.Errorf("%s was restored from a backup taken at %s and must catch up from its parent before it records: %w", cfg.DataDir, m.BackupTakenAt.Format(time.RFC3339), err)
		}
	}
	if err := backup.ClearMarker(cfg.DataDir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// pullAttachments fetches from the parent every attachment origin's chain
// names that att does not hold — those of entries recorded after the
// backup, which went up to the parent with them — checks each against its
// hash (att.Put refuses another content) and locks it by the first entry
// naming it, as recording the entry would have. The whole chain is walked,
// once per restore, so an attachment missed by an earlier, interrupted
// start is fetched too. One the parent does not hold (NotFound), or all
// when the parent serves none (an older town), are left missing and
// logged; anything else stops the start (the marker stays, and the next
// start tries again).
func pullAttachments(ctx context.Context, client sanziv1.AttachmentServiceClient, l *ledger.Ledger, att *attach.Store, origin string, log *slog.Logger) (got, missing int, err error) {
	type want struct{ h, entry string }
	var wants []want
	seen := map[string]bool{}
	var rerr error
	err = l.Range(origin, 1, 0, func(s *ledger.Stored) bool {
		hs, err := entries.Attachments(s.Raw)
		if err != nil {
			rerr = fmt.Errorf("attachments of %s: %w", s.ID(), err)
			return false
		}
		for _, h := range hs {
			if seen[h] {
				continue
			}
			seen[h] = true
			if _, err := att.Describe(h); errors.Is(err, attach.ErrNotFound) {
				wants = append(wants, want{h, s.ID()})
			} else if err != nil {
				rerr = err
				return false
			}
		}
		return true
	})
	if err = errors.Join(err, rerr); err != nil {
		return 0, 0, fmt.Errorf("list the attachments %s names: %w", origin, err)
	}
	for _, w := range wants {
		resp, err := client.GetAttachment(ctx, &sanziv1.GetAttachmentRequest{Sha256: w.h})
		switch status.Code(err) {
		case codes.NotFound:
			log.Warn("an attachment a restored chain names is not at the parent either", "sha256", w.h, "entry", w.entry)
			missing++
			continue
		case codes.Unimplemented: // a town of an older sanzi serves none
			log.Warn("the parent serves no attachments back (upgrade it, then restore again to fetch them)", "sha256", w.h, "entry", w.entry, "missing", len(wants)-got)
			return got, len(wants) - got, nil
		}
		if err != nil {
			return got, missing, fmt.Errorf("fetch attachment %s of %s from the parent: %w", w.h, w.entry, err)
		}
		d := resp.GetAttachment()
		if _, err := att.Put(resp.GetContent(), d.GetFileName(), d.GetContentType(), w.h); err != nil {
			return got, missing, fmt.Errorf("store attachment %s of %s: %w", w.h, w.entry, err)
		}
		if err := l.DB().Update(func(tx *bolt.Tx) error { return attach.LockTx(tx, w.h, w.entry) }); err != nil {
			return got, missing, fmt.Errorf("lock attachment %s by %s: %w", w.h, w.entry, err)
		}
		got++
	}
	return got, missing, nil
}
