package member

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/sanzi/sanzi/federation/fsm"
	"github.com/sanzi/sanzi/node/pki"
	clusterv1 "github.com/sanzi/sanzi/proto/gen/sanzi/cluster/v1"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// A whole district cluster lost, started again from one member's backup
// (issue 16): `sanzi restore` into an empty folder, then `sanzi district
// serve --bootstrap --old-cluster-gone REASON --last-checkpoint FILE|none`.
// The restored state becomes the new cluster's first Raft snapshot at its
// own applied index (cluster.seedFromState); the other members start empty
// with --join and receive it.
//
// Two clusters of one district must never run at once: each would take
// pushes and sign checkpoints, and the villages' chains would be held in
// two histories. So this is refused unless the operator states that the
// old cluster is gone, and even then when a member the backup's state
// records still answers with a cluster behind it.

// probeTimeout bounds how long an old member is asked whether it still
// runs; one that does not answer in it counts as gone.
const probeTimeout = 3 * time.Second

// seedCheck runs on the restored state before the new cluster is made
// (cluster.Config.SeedCheck): it refuses when an old member still answers,
// and adopts the old cluster's newest checkpoint.
func seedCheck(ctx context.Context, cfg Config, log *slog.Logger, f *fsm.FSM) error {
	if alive := probeOldMembers(ctx, cfg, f.Members()); len(alive) > 0 {
		return fmt.Errorf("refusing to start a new cluster from the backup: members of the old cluster still answer with a cluster behind them (%s); stop them for good (and wipe or set aside their folders) first, or restore this member into the running cluster with --join",
			strings.Join(alive, "; "))
	}
	if c := cfg.LastCheckpoint; c != nil {
		if err := f.AdoptCheckpoint(c); err != nil {
			return fmt.Errorf("adopt the old cluster's newest checkpoint: %w", err)
		}
		log.Info("adopted the old cluster's newest checkpoint: new checkpoints follow it once the chains are back at its heads",
			"number", c.Statement.Number, "time", c.Statement.Time)
	} else {
		log.Warn("no checkpoint of the old cluster given (--last-checkpoint none): checkpoints it signed after the backup, if any, may be contradicted by the new cluster's")
	}
	log.Warn("starting a NEW district cluster from a restored backup", "reason", cfg.OldClusterGone,
		"applied_in_backup", f.AppliedIndex(), "old_members", len(f.Members()))
	return nil
}

// probeOldMembers asks every member the state records, over mutual TLS,
// for its status, and returns those that answer as part of a cluster (a
// leader known, or anything applied). A member started empty and waiting
// to join the new cluster answers with neither and is not counted.
func probeOldMembers(ctx context.Context, cfg Config, old []*clusterv1.Member) []string {
	creds := credentials.NewTLS(pki.ClientConfig(cfg.Pool, cfg.Cert, pki.AllowRoles(pki.RoleDistrict)))
	var (
		mu    sync.Mutex
		alive []string
		wg    sync.WaitGroup
	)
	for _, m := range old {
		addr := m.GetApiAddress()
		if addr == "" || addr == cfg.Cluster.APIAddr || addr == cfg.APIListen {
			continue // this process's own listener, not serving yet
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if why := probeMember(ctx, creds, addr); why != "" {
				mu.Lock()
				alive = append(alive, fmt.Sprintf("%s at %s %s", m.GetId(), addr, why))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return alive
}

// probeMember says why the member at addr is part of a running cluster, or
// "" when it does not answer or answers empty.
func probeMember(ctx context.Context, creds credentials.TransportCredentials, addr string) string {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return ""
	}
	defer conn.Close()
	cctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	st, err := sanziv1.NewDistrictServiceClient(conn).ClusterStatus(cctx, &sanziv1.ClusterStatusRequest{}, grpc.WaitForReady(false))
	if err != nil {
		return ""
	}
	var applied uint64
	for _, ms := range st.GetMembers() {
		applied = max(applied, ms.GetAppliedIndex())
	}
	if st.GetLeaderId() == "" && applied == 0 {
		return ""
	}
	return fmt.Sprintf("(leader %q, applied index %d)", st.GetLeaderId(), applied)
}
