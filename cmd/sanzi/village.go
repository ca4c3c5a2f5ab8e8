package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sanzi/sanzi/federation/public"
	"github.com/sanzi/sanzi/node/server"
)

func newVillageCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "village", Short: "Run a village node"}
	cmd.AddCommand(newServeCmd(g, "village"), newVillageRekeyCmd(g))
	return cmd
}

func newTownCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "town", Short: "Run a town node: its own chain, its villages' chains held verbatim and forwarded up"}
	cmd.AddCommand(newServeCmd(g, "town"), newVillageRekeyCmd(g))
	return cmd
}

// serveLong and townLong are the help of `village serve` and `town serve`.
const (
	serveLong = `Serve a node over the data folder given with --data (a town also takes
its villages' pushes on --sync-addr and forwards them to --parent).

On first start it makes an Ed25519 signing key for each --org under
DATA/keys. At every start it verifies the links and hashes of every chain,
once it is serving (writes to a chain wait for its check); a chain that
fails refuses new entries (see /readyz and "sanzi verify"). The state the
supervision and the accounts derive from the chains is restored from a
checkpoint in ledger.db and follows only the entries after it; a missing,
damaged or older one is rebuilt once by replaying the chains.
On SIGINT or SIGTERM it stops taking requests, finishes those in flight,
commits everything queued and closes the ledger: nothing acknowledged is lost.`
	townLong = `

A town node checks each village batch (the certificate names the village,
under this town; links; the village's signature), stores it verbatim with
its attachments, acknowledges it, and forwards it upward with the village's
certificate. It looks across its villages (DUP-INVOICE, SPLIT, RELATIVE
against the other villages' declared relatives) and lists their alerts,
transactions and procedures on its own API. Its reviewers decide the steps
of town posts and review village alerts with the usual calls, org naming
the village: the decision is recorded in the town's chain, and the village
applies it in its own when it pulls.`
)

// newServeCmd is `village serve` and `town serve`: the same node, a town
// also taking its villages' pushes on --sync-addr.
func newServeCmd(g *globals, tier string) *cobra.Command {
	var cfg server.Config
	var orgs []string
	var nf notifyFlags
	var proxies []string
	var orgsFile string
	long, example := serveLong, `  sanzi village serve --data /var/lib/sanzi --org 350505100201
  sanzi village serve --data v201 --org 350505100201 --parent 127.0.0.1:7601 --tls-dir ca
  SANZI_DATA=/var/lib/sanzi SANZI_ORG=350505100201 sanzi village serve`
	if tier == "town" {
		long += townLong
		example = `  sanzi town serve --data town --org 350505100000 --sync-addr 127.0.0.1:7601 --parent 127.0.0.1:7502 --tls-dir ca`
	}
	serve := &cobra.Command{
		Use:     "serve",
		Short:   "Serve a " + tier + " node: gRPC, REST, /metrics, /healthz, /readyz",
		Long:    long,
		Example: example,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, o := range orgs {
				for _, p := range strings.Split(o, ",") {
					if p = strings.TrimSpace(p); p != "" {
						cfg.Orgs = append(cfg.Orgs, p)
					}
				}
			}
			cfg.Logger = g.logger()
			if err := nf.load(&cfg.Setup); err != nil {
				return err
			}
			if tier == "town" && cfg.SyncAddr == "" {
				return fmt.Errorf("--sync-addr is required: where the town's villages push")
			}
			var err error
			if cfg.PublicLimits.TrustedProxies, err = public.ParseProxies(proxies); err != nil {
				return fmt.Errorf("--public-trusted-proxy: %w", err)
			}
			if cfg.PublicDistrictURL != "" {
				if !cfg.Public {
					return fmt.Errorf("--public-district-url is for a town serving --public")
				}
				if _, err := public.ParseDistrictSite(cfg.PublicDistrictURL); err != nil {
					return fmt.Errorf("--public-district-url: %w", err)
				}
			}
			if orgsFile != "" {
				list, err := readOrgs(orgsFile)
				if err != nil {
					return err
				}
				cfg.OrgNames = map[string]string{}
				for _, o := range list {
					cfg.OrgNames[o.Code] = o.Name
				}
			}
			n, err := server.Open(cmd.Context(), cfg)
			if err != nil {
				return fmt.Errorf("start %s node: %w", tier, err)
			}
			if a := n.InboxAddr(); a != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "  villages push to %s (mutual TLS)\n", a)
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
	f.DurationVar(&cfg.AttachmentTTL, "attachment-ttl", 0, "how long an attachment no entry names is kept before a sweep removes it (default 168h)")
	f.Int64Var(&cfg.AttachmentQuota, "attachment-quota", 0, "bytes of attachments each village may keep at this town (default 10 GiB)")
	f.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 0, "how long to drain requests on shutdown (default 30s)")
	nf.add(f, &cfg.Setup)
	f.DurationVar(&cfg.SweepEvery, "sweep-every", 0, "how often step timers and time-driven rules run (default 1m)")
	f.StringVar(&cfg.Parent, "parent", "", "gRPC address of the parent (town, or district member) to push the chain to; empty: offline")
	f.StringVar(&cfg.TLSDir, "tls-dir", "", "folder with ca.crt and this node's certificate from `sanzi ca issue --role "+tier+"` (its key signs the chain)")
	f.StringVar(&cfg.CertName, "cert", "", "NAME of the certificate in --tls-dir (default: the org code)")
	f.StringVar(&cfg.TLSCert, "tls-cert", "", "certificate (PEM) to serve REST and gRPC over TLS with; required with --tls-key (or --tls-dir) when listening beyond loopback")
	f.StringVar(&cfg.TLSKey, "tls-key", "", "private key (PEM) of --tls-cert")
	f.StringVar(&cfg.AdminPasswordFile, "admin-password-file", "", "file (mode 0600) with the first administrator's password, read at the first start; without it a one-time password is printed once")
	f.DurationVar(&cfg.SyncAckTimeout, "ack-timeout", time.Minute, "how long to wait for the parent's ack of one batch before taking the link as dead")
	f.DurationVar(&cfg.SyncRetryMax, "retry-max", 30*time.Second, "longest wait between attempts to reach the parent (exponential backoff with jitter up to it; for the first minute a parent cannot be reached at all, e.g. while it restarts, every 62-125 ms instead)")
	if tier == "town" {
		f.StringVar(&cfg.SyncAddr, "sync-addr", "127.0.0.1:7601", "address the town's villages push to (mutual TLS, village certificates)")
		f.BoolVar(&cfg.Public, "public", false, "serve the villagers' public site for this town's villages at /public/ on --http-addr, as district members do: their approved monthly disclosures from the chains the town holds, proved by the district's signed checkpoints the town pulls from --parent and checks (complaints are filed on the district's site, not here)")
		addPublicFlags(f, &cfg.PublicProofs, &cfg.PublicLimits, &proxies)
		f.DurationVar(&cfg.PublicPoll, "public-poll", 15*time.Second, "with --public: how often to ask the district for new signed checkpoints")
		f.StringVar(&orgsFile, "orgs", "", "with --public: CSV file of the district's orgs, code,name per line, for the names on the public site")
		f.StringVar(&cfg.PublicDistrictURL, "public-district-url", "", "with --public: the address the district's members serve their public site under (its /public/ is added), an absolute http:// or https:// URL with no user name, password, query or fragment, e.g. https://gongkai.example.gov.cn; each village's page here then links the village's complaint form and complaints on the district's site (complaints are filed there only); without it the pages have no complaint section")
	}
	return serve
}
