package member

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/sanzi/sanzi/federation/checkpoint"
	"github.com/sanzi/sanzi/node/backup"
)

// TestCheckRestored is how a member's folder is started: as it is, by
// rejoining, or as the first member of a new cluster, and every refusal
// between, including a new cluster made by a start that stopped before it
// removed the restore marker (it goes on with it).
func TestCheckRestored(t *testing.T) {
	type folder struct{ marker, raftDB, snapshot bool }
	cp := &checkpoint.Signed{}
	for _, tc := range []struct {
		name   string
		f      folder
		cfg    func(*Config)
		want   startMode
		refuse string
		// marker: whether the restore marker is still there afterwards.
		marker bool
	}{
		{"plain folder", folder{}, func(*Config) {}, startAsIs, "", false},
		{"restored, --join", folder{marker: true}, func(c *Config) { c.Join = "x:1" }, startRejoin, "", true},
		{"restored, --bootstrap alone", folder{marker: true}, func(c *Config) { c.Cluster.Bootstrap = true }, 0, "must rejoin", true},
		{"restored, nothing", folder{marker: true}, func(*Config) {}, 0, "must rejoin", true},
		{"new cluster", folder{marker: true}, func(c *Config) { c.Cluster.Bootstrap, c.OldClusterGone, c.LastCheckpoint = true, "gone", cp }, startNewCluster, "", true},
		{"new cluster, no checkpoint to be found", folder{marker: true}, func(c *Config) { c.Cluster.Bootstrap, c.OldClusterGone, c.NoLastCheckpoint = true, "gone", true }, startNewCluster, "", true},
		{"new cluster without --last-checkpoint", folder{marker: true}, func(c *Config) { c.Cluster.Bootstrap, c.OldClusterGone = true, "gone" }, 0, "--last-checkpoint", true},
		{"new cluster without --bootstrap", folder{marker: true}, func(c *Config) { c.OldClusterGone, c.LastCheckpoint = "gone", cp }, 0, "--bootstrap and --old-cluster-gone together", true},
		{"new cluster and --join", folder{marker: true}, func(c *Config) {
			c.Cluster.Bootstrap, c.OldClusterGone, c.LastCheckpoint, c.Join = true, "gone", cp, "x:1"
		}, 0, "give one of them", true},
		{"new cluster made, marker left", folder{marker: true, raftDB: true, snapshot: true}, func(c *Config) { c.Cluster.Bootstrap, c.OldClusterGone, c.LastCheckpoint = true, "gone", cp }, startAsIs, "", false},
		{"raft.db and no snapshot", folder{marker: true, raftDB: true}, func(c *Config) { c.Cluster.Bootstrap, c.OldClusterGone, c.LastCheckpoint = true, "gone", cp }, 0, "restore only into an empty folder", true},
		{"--old-cluster-gone on a folder not restored", folder{}, func(c *Config) { c.Cluster.Bootstrap, c.OldClusterGone = true, "gone" }, 0, "holds none", false},
		{"--old-cluster-gone left on a running cluster's folder", folder{raftDB: true}, func(c *Config) { c.Cluster.Bootstrap, c.OldClusterGone = true, "gone" }, startAsIs, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.f.marker {
				if err := os.WriteFile(filepath.Join(dir, backup.MarkerName), []byte(`{"backupTakenAt":"2026-12-01T00:00:00Z"}`), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if tc.f.raftDB {
				if err := os.WriteFile(filepath.Join(dir, "raft.db"), nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if tc.f.snapshot {
				snaps, err := raft.NewFileSnapshotStore(dir, 2, io.Discard)
				if err != nil {
					t.Fatal(err)
				}
				sink, err := snaps.Create(raft.SnapshotVersionMax, 10, 1, raft.Configuration{}, 10, nil)
				if err != nil {
					t.Fatal(err)
				}
				sink.Write([]byte("state"))
				if err := sink.Close(); err != nil {
					t.Fatal(err)
				}
			}
			cfg := Config{}
			cfg.Cluster.DataDir = dir
			tc.cfg(&cfg)
			got, err := checkRestored(cfg, slog.New(slog.DiscardHandler))
			switch {
			case tc.refuse != "" && (err == nil || !strings.Contains(err.Error(), tc.refuse)):
				t.Fatalf("got %v, %v; want a refusal naming %q", got, err, tc.refuse)
			case tc.refuse == "" && (err != nil || got != tc.want):
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
			if _, err := os.Stat(filepath.Join(dir, backup.MarkerName)); (err == nil) != tc.marker {
				t.Errorf("restore marker there: %v, want %v", err == nil, tc.marker)
			}
		})
	}
}
