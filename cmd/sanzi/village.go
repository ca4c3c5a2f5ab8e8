package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sanzi/sanzi/node/server"
)

func newVillageCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "village", Short: "Run a village node"}
	var cfg server.Config
	var orgs []string
	var contactsFile, secretFile string
	serve := &cobra.Command{
		Use:   "serve",
		Short: "Serve a village node: gRPC, REST, /metrics, /healthz, /readyz",
		Long: `Serve a village node over the data folder given with --data.

On first start it makes an Ed25519 signing key for each --org under
DATA/keys. At every start it verifies the links and hashes of every chain;
a chain that fails refuses new entries (see /readyz and "sanzi verify").
On SIGINT or SIGTERM it stops taking requests, finishes those in flight,
commits everything queued and closes the ledger: nothing acknowledged is lost.`,
		Example: `  sanzi village serve --data /var/lib/sanzi --org 350505100201
  SANZI_DATA=/var/lib/sanzi SANZI_ORG=350505100201 sanzi village serve`,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, o := range orgs {
				for _, p := range strings.Split(o, ",") {
					if p = strings.TrimSpace(p); p != "" {
						cfg.Orgs = append(cfg.Orgs, p)
					}
				}
			}
			cfg.Logger = g.logger()
			if contactsFile != "" {
				raw, err := os.ReadFile(contactsFile)
				if err != nil {
					return fmt.Errorf("--contacts: %w", err)
				}
				dec := json.NewDecoder(bytes.NewReader(raw))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&cfg.Contacts); err != nil {
					return fmt.Errorf("--contacts %s: want {\"org/post\": [{\"Name\": ..., \"Email\": ..., \"Webhook\": ...}]} (\"*/post\" for every org): %w", contactsFile, err)
				}
			}
			if secretFile != "" {
				raw, err := os.ReadFile(secretFile)
				if err != nil {
					return fmt.Errorf("--webhook-secret-file: %w", err)
				}
				if cfg.WebhookSecret = bytes.TrimSpace(raw); len(cfg.WebhookSecret) < 16 {
					return fmt.Errorf("--webhook-secret-file %s: the secret must be at least 16 bytes", secretFile)
				}
			}
			n, err := server.Open(cmd.Context(), cfg)
			if err != nil {
				return fmt.Errorf("start village node: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "village node for %s\n  REST    http://%s/v1/transactions\n  gRPC    %s\n  OpenAPI http://%s/openapi.json\n  metrics http://%s/metrics\n",
				strings.Join(cfg.Orgs, ", "), n.HTTPAddr(), n.GRPCAddr(), n.HTTPAddr(), n.HTTPAddr())
			return n.Serve(cmd.Context())
		},
	}
	f := serve.Flags()
	f.StringVar(&cfg.DataDir, "data", "", "data folder (ledger.db, attachments/, keys/); created if missing")
	f.StringSliceVar(&orgs, "org", nil, "12-digit org code this node records for; repeat or comma-separate for several")
	f.StringVar(&cfg.GRPCAddr, "grpc-addr", "127.0.0.1:7401", "gRPC listen address")
	f.StringVar(&cfg.HTTPAddr, "http-addr", "127.0.0.1:7400", "REST, metrics and health listen address")
	f.Int64Var(&cfg.MaxAttachment, "max-attachment", 16<<20, "attachment size limit in bytes")
	f.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 0, "how long to drain requests on shutdown (default 30s)")
	f.StringVar(&contactsFile, "contacts", "", `JSON file naming who holds each post and how to reach them: {"350505100201/town.reviewer": [{"Name": "王五", "Email": "w@example.cn", "Webhook": "https://..."}], "*/village.head": [...]}; cards name them, notifications go to them`)
	f.StringVar(&secretFile, "webhook-secret-file", "", "file holding the HMAC-SHA256 key that signs webhook notifications (X-Sanzi-Signature); unset: no webhook channel")
	f.StringVar(&cfg.SMTPAddr, "smtp-addr", "", "host:port of the mail server for notifications; unset: no mail channel")
	f.StringVar(&cfg.SMTPFrom, "smtp-from", "三资监管 <sanzi@localhost>", "sender of notification mail")
	f.DurationVar(&cfg.SweepEvery, "sweep-every", 0, "how often step timers and time-driven rules run (default 1m)")
	f.StringVar(&cfg.Parent, "parent", "", "gRPC address of the parent (town, or district member) to push the chain to; empty: offline")
	f.StringVar(&cfg.TLSDir, "tls-dir", "", "folder with ca.crt and this village's certificate from `sanzi ca issue --role village` (its key signs the chain)")
	f.StringVar(&cfg.CertName, "cert", "", "NAME of the certificate in --tls-dir (default: the org code)")
	cmd.AddCommand(serve)
	return cmd
}
