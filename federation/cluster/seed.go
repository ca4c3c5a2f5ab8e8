package cluster

import (
	"errors"
	"fmt"
	"io"

	"github.com/hashicorp/raft"
)

// seedFromState makes a new one-member cluster whose first snapshot is the
// state file the data folder holds, at the Raft index that state was
// applied through: the way back when every member of a district was lost
// and one member's backup is all that is left (issue 16).
//
// Why a snapshot and not raft.BootstrapCluster or raft.RecoverCluster:
// BootstrapCluster writes a configuration entry at index 1, so the new
// log would start below the state's applied index; the FSM skips entries
// at or below it (it keeps its applied index with its data), so the new
// cluster's first entries would be silently dropped. The state's indexes
// also mean something beyond Raft (the analytics loader's position, the
// feed), so the new log must continue after them. RecoverCluster refuses a
// folder with no raft state at all, and would replay a log the backup
// deliberately does not hold. So this writes, into the snapshot store
// raft reads at start, a snapshot at index = the state's applied index,
// term 1, whose configuration is this member alone, and leaves the log
// empty: raft starts with lastApplied and its last log index at the
// snapshot's (NoSnapshotRestoreOnStart: the state file already is that
// snapshot), elects itself, and appends from applied+1. Members that join
// empty get this snapshot by InstallSnapshot (their log lacks everything
// before the leader's first entry), then the log after it.
// Config.SeedCheck has run before (in Open, before raft.db was created).
func (n *Node) seedFromState(id raft.ServerID) error {
	applied := n.fsm.AppliedIndex()
	if applied == 0 {
		return errors.New("the state file holds nothing applied: a new cluster from a backup needs a district member's backup (restore it with sanzi restore)")
	}
	snap, err := n.fsm.Snapshot()
	if err != nil {
		return fmt.Errorf("read the restored state for the new cluster's first snapshot: %w", err)
	}
	defer snap.Release()
	conf := raft.Configuration{Servers: []raft.Server{{Suffrage: raft.Voter, ID: id, Address: n.trans.LocalAddr()}}}
	sink, err := n.snaps.Create(raft.SnapshotVersionMax, applied, 1, conf, applied, n.trans)
	if err != nil {
		return fmt.Errorf("create the new cluster's first snapshot: %w", err)
	}
	if err := snap.Persist(sink); err != nil { // closes the sink
		return fmt.Errorf("write the new cluster's first snapshot: %w", err)
	}
	n.log.Info("new cluster made from a restored state: its first snapshot is the state, the log continues after it",
		"applied", applied, "raft", n.trans.LocalAddr(), "snapshot", sink.ID())
	return nil
}

// Seeded reports whether dataDir holds a whole Raft snapshot, as
// seedFromState leaves once it has made a new cluster (the file snapshot
// store lists only snapshots it finished writing).
func Seeded(dataDir string) bool {
	snaps, err := raft.NewFileSnapshotStore(dataDir, 2, io.Discard)
	if err != nil {
		return false
	}
	list, err := snaps.List()
	return err == nil && len(list) > 0
}
