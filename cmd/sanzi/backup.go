package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/sanzi/sanzi/node/backup"
)

func newBackupCmd(g *globals) *cobra.Command {
	var httpAddr, out string
	cmd := &cobra.Command{
		Use:   "backup --http ADDR --out FILE",
		Short: "Back up a running village, town or district member: its data folder as one tar, consistent while it records",
		Long: `Reads GET /v1/backup from the node's HTTP address, which answers only on
loopback (run it on the node's machine): every bbolt file as of one read
transaction, the attachments, keys/ (the node's signing key: keep the file
as safe as the key) and FORMAT, with a manifest of sizes and SHA-256.
The file is written under a temporary name and renamed once whole.
Restore it with "sanzi restore".

A district member (its --http address) serves its state.db the same way,
as of one read transaction; its raft log is left out on purpose (a member
must not resume an old raft state): a restored member rejoins with --join
and the leader sends it what it lacks.`,
		Example: `  sanzi backup --http 127.0.0.1:7400 --out v201-2025-03-01.tar`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if httpAddr == "" || out == "" {
				return fmt.Errorf("--http and --out are required")
			}
			resp, err := g.httpGet(cmd.Context(), http.DefaultClient, httpAddr, "/v1/backup")
			if err != nil {
				return fmt.Errorf("ask %s for a backup: %w", httpAddr, err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
				return fmt.Errorf("the node refused the backup: %s %s", resp.Status, msg)
			}
			tmp := out + ".tmp"
			f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
			if err != nil {
				return err
			}
			n, err := io.Copy(f, resp.Body)
			if err == nil {
				err = f.Sync()
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err == nil {
				// Check it is whole (the manifest matches) before naming it.
				err = checkBackup(tmp)
			}
			if err == nil {
				err = os.Rename(tmp, out)
			}
			if err != nil {
				os.Remove(tmp)
				return fmt.Errorf("write backup %s: %w", out, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "backup of %s written to %s (%d bytes)\n", httpAddr, out, n)
			return nil
		},
	}
	cmd.Flags().StringVar(&httpAddr, "http", "127.0.0.1:7400", "HTTP address of the running node (loopback)")
	cmd.Flags().StringVar(&out, "out", "", "file to write the backup to")
	return cmd
}

// checkBackup restores path into a throw-away folder: a backup whose
// manifest does not match is refused there as it would be at restore.
func checkBackup(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	dir, err := os.MkdirTemp("", "sanzi-backup-check-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	_, err = backup.Restore(f, dir, time.Now())
	return err
}

func newRestoreCmd(g *globals) *cobra.Command {
	var in, data string
	cmd := &cobra.Command{
		Use:   "restore --in FILE --data DIR",
		Short: "Restore a backup into an empty data folder",
		Long: `Extracts a backup written by "sanzi backup" into DIR, which must be new or
empty, checking every file against the backup's manifest (a backup cut
short or altered is refused and DIR left empty).

The restored folder is marked (RESTORED.json). Its node's parent may hold
entries recorded after the backup was taken; recording at those seqs again
would fork the chain. So the node, started with --parent, first pulls its
own chain's missing entries back from the parent, verified against its
key, and only then takes writes; without --parent it refuses to start. A
node with no parent holds the only copy: remove RESTORED.json to start it.
The attachments those entries name are fetched from the parent too.

A district member's backup holds its state.db and no raft log: start the
restored member with --join (not --bootstrap); it leaves the cluster's
configuration and joins again, and the leader sends it the entries after
the backup. If the whole cluster is lost, it starts a new one instead:
"sanzi district serve --bootstrap --old-cluster-gone REASON
--last-checkpoint FILE|none" (see "sanzi district serve --help").`,
		Example: `  sanzi restore --in v201-2025-03-01.tar --data /var/lib/sanzi
  sanzi village serve --data /var/lib/sanzi --org 350505100201 --parent 127.0.0.1:7601 --tls-dir ca`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if in == "" || data == "" {
				return fmt.Errorf("--in and --data are required")
			}
			f, err := os.Open(in)
			if err != nil {
				return err
			}
			defer f.Close()
			m, err := backup.Restore(f, data, time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "restored %d files of the backup taken at %s into %s\nstart a village or town with --parent so it catches up from its parent before it records; a district member with --join, so it rejoins and catches up from the leader (or, if the whole cluster is lost, with --bootstrap --old-cluster-gone REASON --last-checkpoint FILE|none: the first member of a new one)\n",
				len(m.Files), m.TakenAt.Format(time.RFC3339), data)
			return nil
		},
	}
	cmd.Flags().StringVar(&in, "in", "", "backup file")
	cmd.Flags().StringVar(&data, "data", "", "data folder to restore into (new or empty)")
	return cmd
}
