package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	"github.com/sanzi/sanzi/federation/fsm"
	"github.com/sanzi/sanzi/node/attach"
	"github.com/sanzi/sanzi/node/keys"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/pki"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

func newReverseCmd(g *globals) *cobra.Command {
	var r sanziv1.Reversal
	cmd := &cobra.Command{
		Use:   "reverse ID",
		Short: "Cancel an earlier entry by recording a reversal (nothing is ever edited or deleted)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r.TargetId = args[0]
			if r.Org == "" {
				r.Org = orgOf(args[0])
			}
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewLedgerServiceClient(conn).RecordReversal(ctx, &sanziv1.RecordReversalRequest{Author: g.author, Reversal: &r})
				if err != nil {
					return err
				}
				return g.printEntry(cmd.OutOrStdout(), resp, resp.GetEntry())
			})
		},
	}
	cmd.Flags().StringVar(&r.Reason, "reason", "", "why the entry is reversed (required)")
	cmd.Flags().StringVar(&r.Org, "org", "", "org code (default: the entry's)")
	return cmd
}

func newAttachCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "attach FILE",
		Short: "Upload a receipt, contract scan or minutes; prints the SHA-256 to name it by",
		Long: `Upload a file to the node. It is stored under the SHA-256 of its content;
name that hash in an entry's attachments (--attach) and from then on the file
is locked: it can be neither replaced nor removed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			content, err := os.ReadFile(args[0])
			if err != nil {
				return fmt.Errorf("read %s: %w", args[0], err)
			}
			ctype := mime.TypeByExtension(strings.ToLower(filepath.Ext(args[0])))
			if ctype == "" {
				ctype = "application/octet-stream"
			}
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewAttachmentServiceClient(conn).UploadAttachment(ctx, &sanziv1.UploadAttachmentRequest{
					Content: content, FileName: filepath.Base(args[0]), ContentType: ctype,
				})
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(cmd.OutOrStdout(), resp)
				}
				a := resp.GetAttachment()
				fmt.Fprintf(cmd.OutOrStdout(), "%s  %s (%d bytes)\n", a.GetSha256(), a.GetFileName(), a.GetSize())
				if a.GetLockedBy() != "" {
					fmt.Fprintf(cmd.OutOrStdout(), "already on the node, locked by %s\n", a.GetLockedBy())
				}
				return nil
			})
		},
	}
}

func newLedgerCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "ledger", Short: "Read the signed chains as they are stored"}
	head := &cobra.Command{
		Use:   "head ORIGIN",
		Short: "Show the newest seq and hash of an origin's chain",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewLedgerServiceClient(conn).GetHead(ctx, &sanziv1.GetHeadRequest{Origin: args[0]})
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(cmd.OutOrStdout(), resp)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s seq %d hash %s\n", resp.GetHead().GetOrigin(), resp.GetHead().GetSeq(), resp.GetHead().GetHash())
				return nil
			})
		},
	}
	var from uint64
	var limit int32
	entries := &cobra.Command{
		Use:   "entries ORIGIN",
		Short: "List entries of an origin's chain from a seq on",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewLedgerServiceClient(conn).ListEntries(ctx, &sanziv1.ListEntriesRequest{Origin: args[0], FromSeq: from, Limit: limit})
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(cmd.OutOrStdout(), resp)
				}
				var rows [][]string
				for _, e := range resp.GetEntries() {
					m := e.GetMeta()
					rows = append(rows, []string{fmt.Sprint(m.GetSeq()), enumShort(m.GetType(), "ENTRY_TYPE_"), m.GetRecordedAt().AsTime().Format("2006-01-02 15:04:05"), m.GetAuthor(), short(m.GetHash()), short(e.GetPrevHash())})
				}
				table(cmd.OutOrStdout(), []string{"SEQ", "TYPE", "RECORDED (UTC)", "AUTHOR", "HASH", "PREV"}, rows)
				if resp.GetNextSeq() != 0 {
					fmt.Fprintf(cmd.OutOrStdout(), "more: --from %d\n", resp.GetNextSeq())
				}
				return nil
			})
		},
	}
	entries.Flags().Uint64Var(&from, "from", 1, "first seq")
	entries.Flags().Int32Var(&limit, "limit", 100, "at most this many (max 1000)")
	cmd.AddCommand(head, entries)
	return cmd
}

func newKeysCmd(g *globals) *cobra.Command {
	var data string
	var orgs []string
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "List the signing keys of a data folder (origin, fingerprint, public key)",
		Long: `List the Ed25519 keys under DATA/keys. Give the fingerprint to the town and
district so they can check that entries really come from this node. With
--org, make a key for each org code that has none yet.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if data == "" {
				return fmt.Errorf("--data is required: the node's data folder")
			}
			dir := filepath.Join(data, "keys")
			ring, made, err := keys.Ensure(dir, orgs)
			if err != nil {
				return err
			}
			var rows [][]string
			for _, o := range ring.Origins() {
				pub, _ := ring.Current(o)
				_, priv := ring.Private(o)
				note := "public only"
				if priv {
					note = "can sign"
				}
				for _, m := range made {
					if m == o {
						note += " (new)"
					}
				}
				rows = append(rows, []string{o, keys.Fingerprint(pub), fmt.Sprintf("%x", []byte(pub)), note})
			}
			if g.json {
				out := []map[string]string{}
				for _, r := range rows {
					out = append(out, map[string]string{"origin": r[0], "fingerprint": r[1], "publicKey": r[2], "note": r[3]})
				}
				return writeJSON(cmd.OutOrStdout(), out)
			}
			table(cmd.OutOrStdout(), []string{"ORIGIN", "FINGERPRINT", "PUBLIC KEY (ED25519, HEX)", ""}, rows)
			return nil
		},
	}
	cmd.Flags().StringVar(&data, "data", "", "the node's data folder")
	cmd.Flags().StringSliceVar(&orgs, "org", nil, "make a key for this org code if it has none")
	return cmd
}

func newVerifyCmd(g *globals) *cobra.Command {
	var data, tlsDir string
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Walk every chain and every locked attachment; exit 1 at the first bad entry of any chain",
		Long: `Check the data folder of a stopped node: every entry's hash against its
stored bytes, every link to the entry before, every seq without gaps, every
signature against the origin's public key, and every locked attachment
against its hash. Prints the first bad entry of each chain (origin, seq and
what is wrong) and exits with status 1 when anything is wrong. A key
rotation switches the key from the next entry on; one signed by its new key
(the old one lost or revoked) needs the district CA: give --tls-dir.

Stop the node first: the ledger file is locked while a node runs.
A district member's folder (state.db, no ledger.db) is checked the same
way, with the keys the district holds.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if data == "" {
				return fmt.Errorf("--data is required: the node's data folder")
			}
			var ring ledger.KeyRing
			path := filepath.Join(data, "ledger.db")
			_, err := os.Stat(path)
			member := false
			if errors.Is(err, os.ErrNotExist) {
				// A district member's folder: its chains are in state.db,
				// with the keys the district registered.
				if st := filepath.Join(data, "state.db"); fileExists(st) {
					f, ferr := fsm.Open(fsm.Config{Path: st})
					if ferr != nil {
						return fmt.Errorf("open the district member's state (stop the member first): %w", ferr)
					}
					f.Close() // its key cache stays readable
					ring, path, member, err = f, st, true, nil
				}
			}
			if err != nil {
				return fmt.Errorf("no ledger.db (village or town) nor state.db (district member) in %s: %w", data, err)
			}
			if !member {
				if ring, err = keys.Load(filepath.Join(data, "keys")); err != nil {
					return err
				}
			}
			var check ledger.CertCheck // key rotations authorised by the district CA
			if tlsDir != "" {
				pool, err := pki.LoadPool(tlsDir)
				if err != nil {
					return err
				}
				check = pki.Rotation(pool)
			}
			counts, problems, err := ledger.VerifyWith(path, ring, check)
			if err != nil {
				return err
			}
			// A member's attachments live in state.db, checked against their
			// hashes as they are received (federation/fsm); a node's are files.
			var attProblems []attach.Problem
			var attCount int
			if !member {
				if attProblems, attCount, err = attach.Check(path, filepath.Join(data, "attachments")); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			if g.json {
				res := map[string]any{"ok": len(problems)+len(attProblems) == 0, "chains": counts, "problems": problems, "attachmentProblems": attProblems, "lockedAttachments": attCount}
				if err := writeJSON(out, res); err != nil {
					return err
				}
			} else {
				for o, c := range counts {
					fmt.Fprintf(out, "chain %s: %d entries\n", o, c)
				}
				for _, p := range problems {
					fmt.Fprintf(out, "BAD origin %s seq %d: %s\n", p.Origin, p.Seq, p.Problem)
				}
				for _, p := range attProblems {
					fmt.Fprintf(out, "BAD attachment %s (locked by %s): %s\n", p.Hash, p.LockedBy, p.Problem)
				}
				fmt.Fprintf(out, "%d locked attachments checked\n", attCount)
			}
			if len(problems)+len(attProblems) > 0 {
				return &exitError{code: 1, msg: fmt.Sprintf("verify: %d broken chain(s), %d bad attachment(s)", len(problems), len(attProblems))}
			}
			if !g.json {
				fmt.Fprintln(out, "all chains verify")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&data, "data", "", "the node's data folder")
	cmd.Flags().StringVar(&tlsDir, "tls-dir", "", "folder with the district's ca.crt, to check key rotations' certificates")
	return cmd
}

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // rule expressions hold && and >: keep them readable
	return enc.Encode(v)
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
