package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/relay"
	"github.com/sanzi/sanzi/node/server"
)

func newSyncCmd(g *globals) *cobra.Command {
	var httpAddr string
	status := &cobra.Command{
		Use:   "status",
		Short: "Show how far the node's parent has acknowledged its chain, and how far the chains that flow down have come",
		RunE: func(cmd *cobra.Command, args []string) error {
			c := &http.Client{Timeout: 10 * time.Second}
			resp, err := g.httpGet(cmd.Context(), c, httpAddr, "/v1/sync/status")
			if err != nil {
				return fmt.Errorf("ask %s: %w", httpAddr, err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s: %s", resp.Status, body)
			}
			if g.json {
				_, err := cmd.OutOrStdout().Write(body)
				return err
			}
			var st server.SyncStatus
			if err := json.Unmarshal(body, &st); err != nil {
				return err
			}
			if st.Origin == "" { // a district member: only the parent's side
				printKeyRefusals(cmd.OutOrStdout(), st.KeyRefusals, st.Revocations)
				return nil
			}
			conn := "connected"
			if !st.Connected {
				conn = fmt.Sprintf("not connected (%d failed attempts: %s)", st.Failures, st.LastError)
			}
			last := "never"
			if !st.LastAck.IsZero() {
				last = st.LastAck.Format(time.RFC3339)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "origin %s: head %d, parent acknowledged %d, lag %d; %s; last ack %s; attachments sent %d (%d bytes)\n",
				st.Origin, st.Head, st.Acked, st.Lag, conn, last, st.Attachments, st.AttachmentBytes)
			for _, r := range st.Refused {
				fmt.Fprintf(cmd.OutOrStdout(), "origin %s: REFUSED by the parent (%s): %s since %s; not pushed until you %s: %s\n",
					r.Origin, r.Reason, r.Summary, r.At.Format(time.RFC3339), r.Remedy, r.Message)
			}
			for _, p := range st.Pulls {
				state := "last pulled never"
				if !p.LastPull.IsZero() {
					state = "last pulled " + p.LastPull.Format(time.RFC3339)
				}
				if p.Failures > 0 {
					state += fmt.Sprintf("; %d failed pulls: %s", p.Failures, p.LastError)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "pulled %s: head %d; %s\n", p.Origin, p.Head, state)
			}
			printKeyRefusals(cmd.OutOrStdout(), st.KeyRefusals, st.Revocations)
			return nil
		},
	}
	status.Flags().StringVar(&httpAddr, "http", "127.0.0.1:7400", "REST address of the node")
	cmd := &cobra.Command{Use: "sync", Short: "Sync with the parent tier"}
	cmd.AddCommand(status)
	return cmd
}

// printKeyRefusals prints a parent's side: the pushes it refused for their
// signing key, and the revocations it enforces.
func printKeyRefusals(w io.Writer, refused []relay.Refusal, revs []ledger.Revocation) {
	for _, r := range refused {
		fmt.Fprintf(w, "refused %s (%s) %d time(s), last %s: %s\n", r.Origin, r.Reason, r.Count, r.At.Format(time.RFC3339), r.Error)
	}
	for _, r := range revs {
		fmt.Fprintf(w, "revoked key %s of %s after seq %d (%s): %s\n", r.Fingerprint, r.Origin, r.AfterSeq, r.Entry, r.Reason)
	}
}
