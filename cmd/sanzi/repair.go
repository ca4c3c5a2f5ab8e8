package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/sanzi/sanzi/node/limits"
	"github.com/sanzi/sanzi/node/pki"
	"github.com/sanzi/sanzi/node/repair"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// syncPuller reads a chain through a parent's SyncService.
type syncPuller struct{ c sanziv1.SyncServiceClient }

func (p syncPuller) SyncPull(ctx context.Context, r *sanziv1.SyncPullRequest) ([][]byte, error) {
	resp, err := p.c.SyncPull(ctx, r)
	return resp.GetEntries(), err
}

func newRepairCmd(g *globals) *cobra.Command {
	var (
		data, org, parent, tlsDir, certName string
		fromParent                          bool
	)
	cmd := &cobra.Command{
		Use:   "repair --from-parent",
		Short: "Restore the node's own chain from its parent's verified copy, keeping the local entries it removes as evidence",
		Long: `For a node whose chain was edited behind its back ("sanzi verify" fails,
the parent refuses the chain): with the node stopped, read the parent's
copy of the node's own chain (every entry the parent accepted, every
signature checked against the node's key), rewrite the local chain to it,
and record the repair as a TAMPER alert after the restored head: who,
when, which local entries were replaced and which the parent never
received (lost: re-record them). Every local entry removed is kept byte for
byte in <data>/quarantine/<org>-<time>/ with a manifest; nothing is dropped
silently. Start the node again afterwards: its chain verifies and syncs.`,
		Example: `  sanzi repair --from-parent --data v201 --org 350505100201 --parent 127.0.0.1:7601 --tls-dir ca`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !fromParent {
				return fmt.Errorf("say where to repair from: --from-parent (the only source for now)")
			}
			if data == "" || org == "" || parent == "" || tlsDir == "" {
				return fmt.Errorf("--data, --org, --parent and --tls-dir are required")
			}
			if certName == "" {
				certName = org
			}
			iss, err := pki.LoadIssued(tlsDir, certName)
			if err != nil {
				return fmt.Errorf("--tls-dir: %w", err)
			}
			pool, err := pki.LoadPool(tlsDir)
			if err != nil {
				return err
			}
			creds := credentials.NewTLS(pki.ClientConfig(pool, iss.TLSCertificate(), pki.AllowRoles(pki.RoleTown, pki.RoleDistrict)))
			conn, err := grpc.NewClient(parent, grpc.WithTransportCredentials(creds), limits.CallOptions())
			if err != nil {
				return err
			}
			defer conn.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Minute)
			defer cancel()
			res, err := repair.Run(ctx, repair.Config{DataDir: data, Origin: org, Parent: syncPuller{sanziv1.NewSyncServiceClient(conn)}, Author: g.localAuthor()})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if g.json {
				return writeJSON(out, res)
			}
			if len(res.Replaced)+len(res.Lost) == 0 {
				fmt.Fprintf(out, "chain %s already equals the parent's copy (%d entries): nothing to repair\n", org, res.Head)
				return nil
			}
			fmt.Fprintf(out, "chain %s restored from the parent's copy up to seq %d\n", org, res.Head)
			for _, s := range res.Replaced {
				fmt.Fprintf(out, "replaced %s-%d with the parent's entry (the local one is kept)\n", org, s)
			}
			for _, s := range res.Lost {
				fmt.Fprintf(out, "LOST %s-%d: the parent never received it; re-record it (kept as evidence)\n", org, s)
			}
			fmt.Fprintf(out, "local entries kept in %s\nrepair recorded as %s\n", res.Quarantine, res.Entry)
			return nil
		},
	}
	cmd.Flags().BoolVar(&fromParent, "from-parent", false, "restore from the parent's copy")
	cmd.Flags().StringVar(&data, "data", "", "the stopped node's data folder")
	cmd.Flags().StringVar(&org, "org", "", "the node's own org code (its chain)")
	cmd.Flags().StringVar(&parent, "parent", "", "sync address of the parent (town or district member)")
	cmd.Flags().StringVar(&tlsDir, "tls-dir", "", "folder with ca.crt and this node's certificate")
	cmd.Flags().StringVar(&certName, "cert", "", "NAME of the certificate in --tls-dir (default: the org code)")
	return cmd
}
