package member

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/sanzi/sanzi/federation/cluster"
	"github.com/sanzi/sanzi/node/api"
	"github.com/sanzi/sanzi/node/backup"
	"github.com/sanzi/sanzi/node/pki"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// backupRoute serves GET /v1/backup on a member: its state file (state.db)
// as of one bbolt read transaction, in the tar of node/backup.
//
// Why the state file and not the raft log, nor a Raft snapshot: state.db is
// everything the district holds — every chain, key, certificate,
// attachment, member record and the district's accounts with their
// credentials (replicated in it, so there is no separate credentials file
// to take) — with the Raft index it was applied through, written in the
// same transaction. The member's raft.db (log, current term, vote) is
// left out on purpose: a member must never go back in time in Raft's
// eyes. Restored with an older raft.db it could vote a second time in a
// term it already voted in, or forget entries it acknowledged and that a
// majority was counted with, and a committed entry could be lost. So a
// restored member does not resume as itself: it starts with no raft state,
// is removed from the configuration and added again (rejoin), and the
// leader sends it the log after its applied index (the FSM skips what
// state.db already holds) or a snapshot. A Raft snapshot (raft.Snapshot)
// would give the same bytes — the FSM's snapshot is this very read
// transaction — but forces log compaction on the running cluster and
// writes a file into snapshots/ that then has to be found and copied;
// the read transaction costs nothing to the cluster and cannot fail on a
// busy member.
//
// It hands out the district's whole state and every account's password
// hash, so it answers only a client on the loopback interface, signed in
// with an account that may verify chains (auditor) or manage accounts
// (administrator).
func (m *Member) backupRoute(w http.ResponseWriter, r *http.Request) {
	if !api.BackupTaker(w, r, m.accounts, m.log) {
		return
	}
	at := time.Now()
	backup.StartResponse(w, m.cfg.Cluster.ID, at)
	fsm := m.node.FSM()
	bm, err := backup.WriteExcept(r.Context(), w, m.cfg.Cluster.DataDir,
		[]backup.DB{{Name: "state.db", View: fsm.View}, {Name: "signins.db", DB: m.accounts.AuditDB()}}, notRestored, at)
	if err != nil {
		m.log.Error("backup failed", "err", err)
		return
	}
	m.log.Info("backup served", "files", len(bm.Files), "applied", fsm.AppliedIndex(), "to", r.RemoteAddr)
}

// notRestored are the member's files a backup leaves out: the raft log and
// stable store and raft's snapshots (see backupRoute for why).
func notRestored(rel string) bool {
	return rel == "raft.db" || strings.HasPrefix(rel, "snapshots/")
}

// How a member's folder is started (checkRestored).
type startMode int

const (
	startAsIs       startMode = iota // not restored: as its raft state says
	startRejoin                      // restored: leave and join the running cluster again
	startNewCluster                  // restored: the first member of a new cluster (newcluster.go)
)

// checkRestored decides how a folder is started. A restored folder (it
// holds backup.MarkerName) has no raft state: it rejoins the cluster it was
// taken from (--join), or, when that whole cluster is gone and the operator
// says so (--bootstrap with --old-cluster-gone), becomes the first member
// of a new one. Anything else is refused: bootstrapping a restored folder
// as a plain new cluster would start a log at index 1 below the state's
// applied index, and without --join it would wait for ever.
func checkRestored(cfg Config, log *slog.Logger) (startMode, error) {
	mk, err := backup.ReadMarker(cfg.Cluster.DataDir)
	if err != nil {
		return startAsIs, err
	}
	_, statErr := os.Stat(filepath.Join(cfg.Cluster.DataDir, "raft.db"))
	hasRaft := statErr == nil
	if mk == nil {
		if cfg.OldClusterGone != "" {
			if hasRaft {
				log.Warn("--old-cluster-gone ignored: this folder already holds raft state (the new cluster was made at an earlier start)", "data", cfg.Cluster.DataDir)
				return startAsIs, nil
			}
			return startAsIs, fmt.Errorf("--old-cluster-gone makes a new cluster from a restored backup, and %s holds none: restore a member's backup into it first (sanzi restore)", cfg.Cluster.DataDir)
		}
		return startAsIs, nil
	}
	taken := mk.BackupTakenAt.Format(time.RFC3339)
	if hasRaft && cfg.OldClusterGone != "" && cluster.Seeded(cfg.Cluster.DataDir) {
		// An earlier start made the new cluster (its first snapshot is
		// whole) and stopped before it removed the marker.
		log.Warn("the new cluster was made from the backup at an earlier start; going on with it", "data", cfg.Cluster.DataDir, "backup_taken_at", taken)
		return startAsIs, backup.ClearMarker(cfg.Cluster.DataDir)
	}
	if hasRaft {
		return startAsIs, fmt.Errorf("%s holds both a restore marker and raft.db: restore only into an empty folder", cfg.Cluster.DataDir)
	}
	if cfg.OldClusterGone != "" {
		switch {
		case cfg.Join != "":
			return startAsIs, fmt.Errorf("%s: --join rejoins a running cluster and --old-cluster-gone starts a new one; give one of them", cfg.Cluster.DataDir)
		case !cfg.Cluster.Bootstrap:
			return startAsIs, fmt.Errorf("%s: a new cluster from the backup taken at %s is started with --bootstrap and --old-cluster-gone together", cfg.Cluster.DataDir, taken)
		case cfg.LastCheckpoint == nil && !cfg.NoLastCheckpoint:
			return startAsIs, fmt.Errorf("%s: the lost cluster may have signed checkpoints after the backup taken at %s, which the new cluster must not contradict: give the newest one it published with --last-checkpoint FILE (a copy of /public/v1/checkpoints/latest, or a checkpoint-N.json kept by sanzi verify-public --keep), or --last-checkpoint none if there is none to be found", cfg.Cluster.DataDir, taken)
		}
		return startNewCluster, nil
	}
	if cfg.Join == "" || cfg.Cluster.Bootstrap {
		return startAsIs, fmt.Errorf("%s was restored from a backup taken at %s: a restored member has no raft state and must rejoin the cluster it was taken from; start it with --join pointing at a running member (and without --bootstrap). If every member of that cluster is lost, start a new cluster from it with --bootstrap --old-cluster-gone REASON --last-checkpoint FILE|none",
			cfg.Cluster.DataDir, taken)
	}
	return startRejoin, nil
}

// rejoin removes this member's id from the cluster's configuration before
// it joins again: the configuration still counts it as a voter with the
// log and votes it had before it was lost, which a restored member no
// longer holds (see backupRoute). Once it has joined, the marker is
// removed; the leader then sends it the log after its applied index.
func (m *Member) rejoin(ctx context.Context) error {
	creds := credentials.NewTLS(pki.ClientConfig(m.cfg.Pool, m.cfg.Cert, pki.AllowRoles(pki.RoleDistrict)))
	conn, err := grpc.NewClient(m.cfg.Join, grpc.WithTransportCredentials(creds))
	if err != nil {
		return fmt.Errorf("connect to %s to rejoin: %w", m.cfg.Join, err)
	}
	defer conn.Close()
	c := sanziv1.NewDistrictServiceClient(conn)
	var last error
	for attempt := 0; attempt < 20; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, last = c.Leave(cctx, &sanziv1.LeaveRequest{Id: m.cfg.Cluster.ID})
		cancel()
		if last == nil {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	if last != nil {
		return fmt.Errorf("a restored member must leave the configuration before it rejoins: leave through %s: %w", m.cfg.Join, last)
	}
	m.log.Info("restored member: removed from the configuration to rejoin with no raft state", "applied_in_backup", m.node.FSM().AppliedIndex())
	if err := m.join(ctx); err != nil {
		return err
	}
	if err := backup.ClearMarker(m.cfg.Cluster.DataDir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
