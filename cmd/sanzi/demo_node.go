package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/sanzi/sanzi/node/idcode"
	"github.com/sanzi/sanzi/node/limits"
	"github.com/sanzi/sanzi/node/money"
	"github.com/sanzi/sanzi/node/pki"
	"github.com/sanzi/sanzi/node/server"
)

// demoSeededFile marks a demo village whose year was recorded to the end.
const demoSeededFile = "demo-seeded"

// newDemoNodeCmd is `sanzi demo node`, what `sanzi demo` runs for each
// town and village: the node of `sanzi village serve` / `sanzi town serve`
// (same server.Open and Serve, same flags' meaning), plus what only a
// demo does: its demo accounts made in-process at the first start, and,
// for a new village, a year of business recorded through its own gRPC API
// on a demo clock that walks the past year and is then released to the
// real time. Hidden: it is the demo's, not an operator's.
func newDemoNodeCmd(g *globals) *cobra.Command {
	var (
		cfg      server.Config
		org      string
		seed     uint64
		profile  string
		noSeed   bool
		clockOff bool
		townAPI  string
	)
	cmd := &cobra.Command{
		Use:    "node",
		Short:  "Run one demo town or village node (started by `sanzi demo`)",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			lvl, err := idcode.OrgCode(org)
			if err != nil {
				return fmt.Errorf("--org: %w", err)
			}
			town := lvl == idcode.LevelTown
			people := demoVillagePeople
			if town {
				people = demoTownPeople
			}
			_, statErr := os.Stat(filepath.Join(cfg.DataDir, "ledger.db"))
			fresh := errors.Is(statErr, os.ErrNotExist)
			clock := &demoClock{}
			start := demoYearStart(time.Now())
			if fresh && !town && !noSeed && !clockOff {
				clock.Set(start.Add(-time.Hour)) // the accounts exist before the year starts
			} else {
				clock.Release()
			}
			cfg.Now = clock.Now
			cfg.Orgs = []string{org}
			cfg.Logger = g.logger().With("node", org)
			if cfg.TLSDir != "" {
				cfg.TLSCert, cfg.TLSKey = filepath.Join(cfg.TLSDir, org+".crt"), filepath.Join(cfg.TLSDir, org+".key")
			}
			if cfg.AdminPasswordFile, err = demoAdminFile(cfg.DataDir); err != nil {
				return err
			}
			n, err := server.Open(cmd.Context(), cfg)
			if err != nil {
				return fmt.Errorf("start demo node %s: %w", org, err)
			}
			if err := seedDemoAccounts(cmd.Context(), n.Accounts(), org, people); err != nil {
				n.Close()
				return err
			}
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			served := make(chan error, 1)
			go func() { served <- n.Serve(ctx) }()
			fmt.Fprintf(out, "up %s grpc=%s http=%s\n", org, n.GRPCAddr(), n.HTTPAddr())
			marker := filepath.Join(cfg.DataDir, demoSeededFile)
			_, markErr := os.Stat(marker)
			switch {
			case town || noSeed:
			case !fresh && markErr == nil:
				fmt.Fprintf(out, "reused %s head=%d\n", org, n.Books().Ledger().Head(org).Seq)
			case !fresh:
				fmt.Fprintf(out, "reused %s head=%d (its year was interrupted while being recorded: remove the demo folder for a whole one)\n", org, n.Books().Ledger().Head(org).Seq)
			default:
				began := time.Now()
				for !n.Serving() { // its sync runs: the town's steps need it
					select {
					case <-ctx.Done():
						return ctx.Err()
					case <-time.After(10 * time.Millisecond):
					}
				}
				st, err := seedVillageYear(ctx, n, cfg.TLSDir, townAPI, org, villageProfile(profile), seed, clock, start, func(st seedStats, at time.Time) {
					fmt.Fprintf(out, "progress %s entries=%d refused=%d day=%s\n", org, st.Entries, st.Refused, at.Format(time.DateOnly))
				})
				clock.Release()
				if err != nil {
					cancel()
					<-served
					return fmt.Errorf("record the demo year of %s: %w", org, err)
				}
				if err := os.WriteFile(marker, []byte(time.Now().Format(time.RFC3339)+"\n"), 0o600); err != nil {
					return err
				}
				var reasons []string
				for r, k := range st.Reasons {
					reasons = append(reasons, fmt.Sprintf("%d× %s", k, r))
				}
				sort.Strings(reasons)
				fmt.Fprintf(out, "seeded %s entries=%d refused=%d decisions=%d town=%d payments=%d disclosures=%d reviews=%d head=%d took=%s\n", org,
					st.Entries, st.Refused, st.Decisions, st.TownDecisions, st.TownPayments, st.Disclosures, st.Reviews,
					n.Books().Ledger().Head(org).Seq, time.Since(began).Round(time.Millisecond))
				if len(reasons) > 0 {
					fmt.Fprintf(out, "refusals %s %s\n", org, strings.Join(reasons, "; "))
				}
				fmt.Fprintf(out, "books %s opening cash=%s bank=%s closed=%d blocked=%d deferred=%d waiting=%d last=%s cash=%s bank=%s\n", org,
					money.FormatFen(st.OpeningCashFen), money.FormatFen(st.OpeningBankFen), st.Closes, st.CloseBlocked, st.CloseDeferred, st.CloseWaiting,
					st.LastClose.GetMonth(), money.FormatFen(st.LastClose.GetCashFen()), money.FormatFen(st.LastClose.GetBankFen()))
			}
			fmt.Fprintf(out, "serving %s head=%d\n", org, n.Books().Ledger().Head(org).Seq)
			return <-served
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data", "", "data folder")
	f.StringVar(&org, "org", "", "12-digit org code of the town or village")
	f.StringVar(&cfg.GRPCAddr, "grpc-addr", "127.0.0.1:0", "gRPC listen address")
	f.StringVar(&cfg.HTTPAddr, "http-addr", "127.0.0.1:0", "REST listen address")
	f.StringVar(&cfg.SyncAddr, "sync-addr", "", "a town: where its villages push")
	f.StringVar(&cfg.Parent, "parent", "", "gRPC address of the parent to push to")
	f.StringVar(&cfg.TLSDir, "tls-dir", "", "folder with ca.crt and ORG.crt/ORG.key; the people's APIs are served over TLS with them")
	f.DurationVar(&cfg.SweepEvery, "sweep-every", 2*time.Second, "how often step timers and time-driven rules run")
	f.DurationVar(&cfg.SyncRetryMax, "retry-max", 2*time.Second, "longest wait between attempts to reach the parent")
	f.Uint64Var(&seed, "seed", 16, "seed of the village's year")
	f.StringVar(&profile, "profile", string(profileOrdinary), "ordinary or misbehaving")
	f.BoolVar(&noSeed, "no-seed", false, "record no year")
	f.BoolVar(&clockOff, "real-clock", false, "record the year on the real clock (entries dated in the past, recorded now)")
	f.StringVar(&townAPI, "town-grpc", "", "a village: its town's gRPC address, where the town's demo accounts decide the town's steps (empty: they stay open)")
	return cmd
}

// seedVillageYear records the village's year through the node's own gRPC
// API, signed in as its demo accounts, over TLS with the demo CA; with
// townAPI, the town's steps through the town's (demo_town.go).
func seedVillageYear(ctx context.Context, n *server.Node, tlsDir, townAPI, org string, profile villageProfile, seed uint64, clock *demoClock, start time.Time, progress func(seedStats, time.Time)) (seedStats, error) {
	creds := grpc.WithTransportCredentials(insecure.NewCredentials()) // loopback, without --tls-dir
	if tlsDir != "" {
		pool, err := pki.LoadPool(tlsDir)
		if err != nil {
			return seedStats{}, err
		}
		creds = grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}))
	}
	conn, err := grpc.NewClient(n.GRPCAddr(), creds, limits.CallOptions())
	if err != nil {
		return seedStats{}, fmt.Errorf("connect to %s: %w", n.GRPCAddr(), err)
	}
	defer conn.Close()
	s := newYearSeeder(org, profile, seed, clock, conn, start)
	s.progress = progress
	if townAPI != "" {
		tc, err := grpc.NewClient(townAPI, creds, limits.CallOptions())
		if err != nil {
			return seedStats{}, fmt.Errorf("connect to the town at %s: %w", townAPI, err)
		}
		defer tc.Close()
		s.town = &townDesk{conn: tc, node: n, tokens: map[string]string{}}
	}
	return s.Run(ctx)
}
