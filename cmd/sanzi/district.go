package main

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/sanzi/sanzi/analytics/schema"
	"github.com/sanzi/sanzi/federation/checkpoint"
	"github.com/sanzi/sanzi/federation/cluster"
	"github.com/sanzi/sanzi/federation/member"
	"github.com/sanzi/sanzi/federation/public"
	"github.com/sanzi/sanzi/node/accounts"
	"github.com/sanzi/sanzi/node/idcode"
	"github.com/sanzi/sanzi/node/keys"
	"github.com/sanzi/sanzi/node/limits"
	"github.com/sanzi/sanzi/node/pki"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// tlsFlags name the district CA certificate and this process's own
// certificate, which every district command needs (mutual TLS everywhere).
type tlsFlags struct{ dir, name string }

func (t *tlsFlags) add(cmd *cobra.Command, defName string) {
	cmd.Flags().StringVar(&t.dir, "tls-dir", "", "folder with ca.crt and NAME.crt/NAME.key from `sanzi ca issue`")
	cmd.Flags().StringVar(&t.name, "cert", defName, "NAME of the certificate in --tls-dir")
}

func (t *tlsFlags) load() (*x509.CertPool, tls.Certificate, error) {
	if t.dir == "" {
		return nil, tls.Certificate{}, fmt.Errorf("--tls-dir is required: the folder with ca.crt and %s.crt", t.name)
	}
	pool, err := pki.LoadPool(t.dir)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	iss, err := pki.LoadIssued(t.dir, t.name)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	return pool, iss.TLSCertificate(), nil
}

// districtClient dials a member with mutual TLS.
func (t *tlsFlags) districtClient(addr string) (sanziv1.DistrictServiceClient, func(), error) {
	pool, cert, err := t.load()
	if err != nil {
		return nil, nil, err
	}
	creds := credentials.NewTLS(pki.ClientConfig(pool, cert, pki.AllowRoles(pki.RoleDistrict)))
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds), limits.CallOptions())
	if err != nil {
		return nil, nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	return sanziv1.NewDistrictServiceClient(conn), func() { conn.Close() }, nil
}

func newCACmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "ca", Short: "Make the district CA and issue node certificates (mutual TLS everywhere)"}
	var dir, district string
	initCmd := &cobra.Command{
		Use:   "init",
		Short: "Make a district CA in --dir (refuses to overwrite an existing one)",
		RunE: func(cmd *cobra.Command, args []string) error {
			ca, err := pki.NewCA(district, time.Now())
			if err != nil {
				return err
			}
			if err := ca.Save(dir); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "district %s CA written to %s (ca.crt, ca.key: keep ca.key offline)\n", district, dir)
			return nil
		},
	}
	initCmd.Flags().StringVar(&dir, "dir", "", "folder for ca.crt and ca.key")
	initCmd.Flags().StringVar(&district, "district", "", "6-digit district code, e.g. 350505")
	var org, role, name, out string
	var hosts []string
	issue := &cobra.Command{
		Use:   "issue",
		Short: "Issue a node's certificate and Ed25519 key, naming its org code and role",
		Example: `  sanzi ca issue --dir ca --org 350505000000 --role district --name d1 --out d1
  sanzi ca issue --dir ca --org 350505100201 --role village --name village --out v201`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ca, err := pki.LoadCA(dir)
			if err != nil {
				return err
			}
			r, err := pki.ParseRole(role)
			if err != nil {
				return err
			}
			iss, err := ca.Issue(org, r, hosts, time.Now())
			if err != nil {
				return err
			}
			if out == "" {
				out = dir
			}
			if name == "" {
				name = org
			}
			// A node's folder must never hold the CA key: whoever reads the
			// node's files could then certify anyone in the district.
			if filepath.Clean(out) == filepath.Clean(dir) {
				fmt.Fprintf(cmd.ErrOrStderr(), "note: %s.key is written to the CA folder, beside ca.key; give each node a folder of its own with --out and never copy ca.key to a node\n", name)
			} else if _, err := os.Stat(filepath.Join(out, "ca.key")); err == nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s holds a ca.key; remove it from the node's folder (keep ca.key only on the CA host, offline)\n", out)
			}
			if err := iss.Save(out, name); err != nil {
				return err
			}
			if out != dir {
				crt, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
				if err == nil {
					err = os.WriteFile(filepath.Join(out, "ca.crt"), crt, 0o644)
				}
				if err != nil {
					return fmt.Errorf("copy ca.crt to %s: %w", out, err)
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s (%s) issued: %s/%s.crt, %s/%s.key; signing key fingerprint %s\n",
				org, r, out, name, out, name, keys.Fingerprint(iss.Key.Public().(ed25519.PublicKey)))
			return nil
		},
	}
	issue.Flags().StringVar(&dir, "dir", "", "the CA folder")
	issue.Flags().StringVar(&org, "org", "", "12-digit org code the certificate names")
	issue.Flags().StringVar(&role, "role", "", "village, town or district")
	issue.Flags().StringVar(&name, "name", "", "file name for the certificate (default: the org code)")
	issue.Flags().StringVar(&out, "out", "", "the node's own folder to write to, with a copy of ca.crt but never ca.key (default: the CA folder, for the CA host's own certificates)")
	issue.Flags().StringSliceVar(&hosts, "hosts", nil, "DNS names or IPs the node serves on (default localhost, 127.0.0.1, ::1)")
	cmd.AddCommand(initCmd, issue)
	return cmd
}

func newDistrictCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "district", Short: "Run and manage the district cluster (Raft)"}
	cmd.AddCommand(newDistrictServeCmd(g), newDistrictJoinCmd(g), newDistrictLeaveCmd(g), newDistrictStatusCmd(g), newDistrictForksCmd(g), newDistrictRegisterCmd(g), newDistrictLoginCmd(g), newDistrictRulesCmd(g), newDistrictCatalogCmd(g), newDistrictDirectiveCmd(g), newDistrictRevokeCmd(g), newDistrictFingerprintCmd())
	return cmd
}

func newDistrictServeCmd(g *globals) *cobra.Command {
	var (
		cfg       member.Config
		t         tlsFlags
		orgsFile  string
		nf        notifyFlags
		chainCert string
		proxies   []string
		lastCP    string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a member of the district cluster",
		Long: `Run one member of the district cluster. Start the first member with
--bootstrap; start the others with --join pointing at any running member's
API address (or add them later with "sanzi district join"). Raft traffic and
the API are mutual TLS with certificates from "sanzi ca issue --role district".

Defaults: snapshot every 8192 log entries (checked every 120 s), 10240
entries kept behind each snapshot, heartbeat and election timeouts 1 s.

Every member serves the villagers' public site at /public/ on --http, with
no sign-in: each village's approved monthly disclosures, and the district's
signed checkpoints of every chain head, which the leader signs with the key
of --chain-cert (so every member must hold the same). "sanzi verify-public"
checks a village's page against them and the signed chain segments that
prove it (--public-proofs, on unless turned off).

Villagers also file complaints there (a form on each village's page, no
account, up to 3 photos of 5 MB): each is written to the district's chain
through Raft, goes down to the village's town, which opens the complaint
procedure, and the town's reply comes back up to the complaint's status
page (number and secret) and the village's page. The --complaint-* flags
bound the filings per address (at this member: addresses are not stored)
and per village (at all members together: counted from the district's
chain, so give every member the same); a question of arithmetic on the
form stops blind floods. --no-complaints turns it off.

A folder restored from a member's backup ("sanzi restore") rejoins the
running cluster with --join. When the whole cluster is lost, it becomes the
first member of a new one with --bootstrap --old-cluster-gone REASON
--last-checkpoint FILE|none: its state is the new cluster's first snapshot,
and the other members start empty with --join and receive it. It is
refused while a member the backup records still answers with a cluster.`,
		Example: `  sanzi district serve --id d1 --raft 127.0.0.1:7501 --api 127.0.0.1:7502 --http 127.0.0.1:7503 \
    --data d1 --tls-dir d1 --cert d1 --bootstrap
  sanzi district serve --id d2 --raft 127.0.0.1:7511 --api 127.0.0.1:7512 --data d2 --tls-dir d2 --cert d2 --join 127.0.0.1:7502`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if t.name == "" {
				t.name = cfg.Cluster.ID
			}
			pool, cert, err := t.load()
			if err != nil {
				return err
			}
			cfg.Pool, cfg.Cert = pool, cert
			if chainCert != "" {
				iss, err := pki.LoadIssued(t.dir, chainCert)
				if err != nil {
					return fmt.Errorf("--chain-cert: %w", err)
				}
				org, role, err := pki.Identity(iss.Cert)
				if err != nil || role != pki.RoleDistrict {
					return fmt.Errorf("--chain-cert %s: not a district certificate (%v)", chainCert, err)
				}
				cfg.ChainSigner = &cluster.ChainSigner{Origin: org, Key: iss.Key, Cert: iss.Cert.Raw}
			}
			if cfg.PublicLimits.TrustedProxies, err = public.ParseProxies(proxies); err != nil {
				return fmt.Errorf("--public-trusted-proxy: %w", err)
			}
			cfg.Cluster.Logger = g.logger()
			if lastCP == "none" {
				cfg.NoLastCheckpoint = true
			} else if lastCP != "" {
				if cfg.LastCheckpoint, err = readCheckpointFile(lastCP); err != nil {
					return err
				}
			}
			if err := nf.load(&cfg.Notify); err != nil {
				return err
			}
			if orgsFile != "" {
				if cfg.Orgs, err = readOrgs(orgsFile); err != nil {
					return err
				}
			}
			m, err := member.Start(cmd.Context(), cfg)
			if err != nil {
				return fmt.Errorf("start district member: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "district member %s: raft %s, api %s, http %s\n", cfg.Cluster.ID, cfg.Cluster.RaftAddr, m.APIAddr(), m.HTTPAddr())
			if otp := m.AdminPassword(); otp != "" {
				// Printed this once; only its hash is kept.
				fmt.Fprintf(cmd.OutOrStdout(), "first administrator: account %s, one-time password %s (replace it at the first sign-in: sanzi district login --account %s --password-file … --new-password-file …)\n",
					accounts.AdminID, otp, accounts.AdminID)
			}
			return m.Wait(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Cluster.ID, "id", "", "member id, unique in the cluster")
	f.StringVar(&cfg.Cluster.RaftAddr, "raft", "127.0.0.1:7501", "Raft listen address (what peers dial)")
	f.StringVar(&cfg.APIListen, "api", "127.0.0.1:7502", "gRPC listen address")
	f.StringVar(&cfg.Cluster.APIAddr, "api-advertise", "", "gRPC address others use (default: --api)")
	f.StringVar(&cfg.HTTPAddr, "http", "", "address for /metrics, /healthz, /readyz and REST reads (off when empty)")
	f.StringVar(&cfg.Cluster.DataDir, "data", "", "data folder (raft.db, snapshots, state.db)")
	f.BoolVar(&cfg.Cluster.Bootstrap, "bootstrap", false, "make a new cluster with this member if the data folder is empty")
	f.StringVar(&cfg.Join, "join", "", "API address of a running member to join through")
	f.StringVar(&cfg.OldClusterGone, "old-cluster-gone", "", "with --bootstrap on a folder restored from a member's backup: make a NEW cluster from it; say why you know every member of the old cluster is gone for good (it is logged); refused while one still answers")
	f.StringVar(&lastCP, "last-checkpoint", "", "with --old-cluster-gone: the newest checkpoint the old cluster published (JSON of /public/v1/checkpoints/latest, or a checkpoint-N.json of sanzi verify-public --keep), which the new cluster continues from; \"none\" when there is none to be found")
	f.StringVar(&cfg.ClickHouse, "clickhouse", "", "ClickHouse native address (host:port) the analytics loader fills while this member leads (off when empty)")
	f.StringSliceVar(&cfg.ClickHouseShards, "clickhouse-shards", nil, "instead of --clickhouse: the shards of a sharded ClickHouse (deploy/clickhouse), comma-separated host:port")
	f.StringVar(&cfg.ClickHouseCluster, "clickhouse-cluster", "sanzi", "remote_servers name of the sharded ClickHouse")
	f.StringVar(&orgsFile, "orgs", "", "CSV file of the district's orgs, code,name per line (district, towns, villages), for names in the statistics")
	f.Uint64Var(&cfg.Cluster.SnapshotThreshold, "snapshot-threshold", 8192, "log entries between snapshots")
	f.Uint64Var(&cfg.Cluster.TrailingLogs, "trailing-logs", 10240, "log entries kept after a snapshot")
	f.DurationVar(&cfg.Cluster.AttachmentTTL, "attachment-ttl", 0, "how long an attachment no entry names is kept before the leader's hourly expiry removes it (default 168h)")
	f.Int64Var(&cfg.Cluster.AttachmentQuota, "attachment-quota", 0, "bytes of attachments each origin may keep at the district (default 10 GiB)")
	f.DurationVar(&cfg.Cluster.SnapshotInterval, "snapshot-interval", 120*time.Second, "how often to check the snapshot threshold")
	f.DurationVar(&cfg.Cluster.HeartbeatTimeout, "heartbeat-timeout", time.Second, "Raft heartbeat timeout")
	f.DurationVar(&cfg.Cluster.ElectionTimeout, "election-timeout", time.Second, "Raft election timeout")
	f.StringVar(&chainCert, "chain-cert", "", "NAME of the district certificate in --tls-dir whose key signs the district's chain for people (account changes, rule sets); every member the same (default: this member's own --cert, enough for one member)")
	f.StringVar(&cfg.AdminPasswordFile, "admin-password-file", "", "at the first start of the first member (--bootstrap): file (mode 0600) with the first administrator's password; default: a one-time password printed once")
	f.DurationVar(&cfg.CheckpointEvery, "checkpoint-every", time.Minute, "how often the leader signs a checkpoint of every chain head with the district chain's key (only when a head changed, or the last one is an hour old); the public site serves them")
	addPublicFlags(f, &cfg.PublicProofs, &cfg.PublicLimits, &proxies)
	f.BoolVar(&cfg.NoComplaints, "no-complaints", false, "do not take villagers' complaints on the public site (the village pages then list none)")
	f.IntVar(&cfg.ComplaintLimits.AddressBurst, "complaint-address-burst", 1, "complaints one address may file at once at this member before --complaint-address-every applies (each member counts its own: addresses are not stored)")
	f.DurationVar(&cfg.ComplaintLimits.AddressEvery, "complaint-address-every", 5*time.Minute, "after its burst, one address files one complaint each this long")
	f.IntVar(&cfg.ComplaintLimits.VillageBurst, "complaint-village-burst", 30, "complaints about one village (from everyone, at every member: counted from the district's chain, so give every member the same) the district takes at once before --complaint-village-every applies")
	f.DurationVar(&cfg.ComplaintLimits.VillageEvery, "complaint-village-every", time.Minute, "after its burst, one complaint about a village each this long")
	nf.add(f, &cfg.Notify) // the leader tells the town and district posts of each TAMPER finding
	t.add(cmd, "")
	return cmd
}

func newDistrictJoinCmd(g *globals) *cobra.Command {
	var (
		req    sanziv1.JoinRequest
		leader string
		t      tlsFlags
	)
	cmd := &cobra.Command{
		Use:   "join",
		Short: "Add a running member to the cluster as a voter",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, done, err := t.districtClient(leader)
			if err != nil {
				return err
			}
			defer done()
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			if _, err := c.Join(ctx, &req); err != nil {
				return explain(leader, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s joined\n", req.GetId())
			return nil
		},
	}
	cmd.Flags().StringVar(&leader, "leader", "", "API address of the leader (or any member: it forwards)")
	cmd.Flags().StringVar(&req.Id, "id", "", "id of the member to add")
	cmd.Flags().StringVar(&req.RaftAddress, "raft", "", "its Raft address")
	cmd.Flags().StringVar(&req.ApiAddress, "api", "", "its API address")
	t.add(cmd, "admin")
	return cmd
}

func newDistrictLeaveCmd(g *globals) *cobra.Command {
	var (
		id, server string
		t          tlsFlags
	)
	cmd := &cobra.Command{
		Use:   "leave",
		Short: "Remove a member from the cluster",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, done, err := t.districtClient(server)
			if err != nil {
				return err
			}
			defer done()
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			if _, err := c.Leave(ctx, &sanziv1.LeaveRequest{Id: id}); err != nil {
				return explain(server, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s left\n", id)
			return nil
		},
	}
	cmd.Flags().StringVar(&server, "server", "127.0.0.1:7502", "API address of any member")
	cmd.Flags().StringVar(&id, "id", "", "id of the member to remove")
	t.add(cmd, "admin")
	return cmd
}

func newDistrictStatusCmd(g *globals) *cobra.Command {
	var p personFlags
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show members, leader, term, commit and applied index, lag and last snapshot",
		Long: `Read by a signed-in person with the statistics permission (a district
analyst or auditor): --token or SANZI_TOKEN.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return p.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewDistrictServiceClient(conn).ClusterStatus(ctx, &sanziv1.ClusterStatusRequest{All: true})
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(cmd.OutOrStdout(), resp)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "leader %s (%s)\n", resp.GetLeaderId(), resp.GetLeaderAddress())
				var rows [][]string
				for _, m := range resp.GetMembers() {
					rows = append(rows, []string{m.GetId(), strings.ToLower(m.GetState()), fmt.Sprint(m.GetVoter()), m.GetRaftAddress(), m.GetApiAddress(),
						fmt.Sprint(m.GetTerm()), fmt.Sprint(m.GetCommitIndex()), fmt.Sprint(m.GetAppliedIndex()), fmt.Sprint(m.GetLag()), fmt.Sprint(m.GetLastSnapshotIndex()), m.GetError()})
				}
				table(cmd.OutOrStdout(), []string{"ID", "STATE", "VOTER", "RAFT", "API", "TERM", "COMMIT", "APPLIED", "LAG", "SNAPSHOT", "ERROR"}, rows)
				return nil
			})
		},
	}
	p.add(cmd)
	return cmd
}

func newDistrictForksCmd(g *globals) *cobra.Command {
	var (
		p      personFlags
		origin string
	)
	cmd := &cobra.Command{
		Use:   "forks",
		Short: "List the forks and unverifiable entries the district refused: its own critical TAMPER alerts, with who pushed them",
		Long: `A fork is a different entry pushed at a seq the district already holds;
KIND "fork". An entry that does not verify is refused too, KIND naming the
check it failed: HASH (its body was edited), SIGNATURE, LINK or SEQ; SENT is
then the SHA-256 of the pushed bytes. The district records each once,
replicated, with the pushed entry as evidence. "signed" says a fork carries
the origin's valid signature: the origin's own node rewrote its history.
Read by a signed-in auditor (--token or SANZI_TOKEN).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return p.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewDistrictServiceClient(conn).ListForks(ctx, &sanziv1.ListForksRequest{Origin: origin})
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(cmd.OutOrStdout(), resp)
				}
				var rows [][]string
				for _, f := range resp.GetForks() {
					rows = append(rows, []string{f.GetAt().AsTime().Local().Format(time.DateTime), tamperKind(f.GetKind()), f.GetOrigin(), fmt.Sprint(f.GetSeq()),
						f.GetHeldHash()[:min(12, len(f.GetHeldHash()))], f.GetSentHash()[:min(12, len(f.GetSentHash()))], fmt.Sprint(f.GetSignedByOrigin()), f.GetPushedBy()})
				}
				table(cmd.OutOrStdout(), []string{"AT", "KIND", "ORIGIN", "SEQ", "HELD", "SENT", "SIGNED", "PUSHED BY"}, rows)
				return nil
			})
		},
	}
	p.add(cmd)
	cmd.Flags().StringVar(&origin, "origin", "", "only forks of this origin (12 digits)")
	return cmd
}

func newDistrictRegisterCmd(g *globals) *cobra.Command {
	var (
		server, origin, pubHex, keyDir string
		t                              tlsFlags
	)
	cmd := &cobra.Command{
		Use:   "register",
		Short: "Register the public key an origin signs its chain with",
		Long: `Tell the district which Ed25519 key signs an origin's chain: either
--public-key in hex, or --keys DIR to register every origin found in a node's
key folder (DATA/keys).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			regs := map[string][]byte{}
			if keyDir != "" {
				ring, err := keys.Load(keyDir)
				if err != nil {
					return err
				}
				for _, o := range ring.Origins() {
					pub, _ := ring.Public(o)
					regs[o] = pub
				}
			}
			if origin != "" {
				pub, err := hex.DecodeString(pubHex)
				if err != nil {
					return fmt.Errorf("--public-key: %w", err)
				}
				regs[origin] = pub
			}
			if len(regs) == 0 {
				return fmt.Errorf("give --origin with --public-key, or --keys DIR")
			}
			c, done, err := t.districtClient(server)
			if err != nil {
				return err
			}
			defer done()
			for o, pub := range regs {
				ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
				_, err := c.RegisterOrigin(ctx, &sanziv1.RegisterOriginRequest{Origin: o, PublicKey: pub})
				cancel()
				if err != nil {
					return explain(server, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "registered %s (%s)\n", o, keys.Fingerprint(pub))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&server, "server", "127.0.0.1:7502", "API address of any member")
	cmd.Flags().StringVar(&origin, "origin", "", "12-digit origin")
	cmd.Flags().StringVar(&pubHex, "public-key", "", "Ed25519 public key in hex")
	cmd.Flags().StringVar(&keyDir, "keys", "", "a node's key folder: register every origin in it")
	t.add(cmd, "admin")
	return cmd
}

// readOrgs reads the district's org list: one "code,name" per line, a header
// line optional; a malformed line is an error naming it.
func readOrgs(path string) ([]schema.Org, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--orgs: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = 2
	var out []schema.Org
	for line := 1; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("--orgs %s: %w", path, err)
		}
		code, name := strings.TrimSpace(rec[0]), strings.TrimSpace(rec[1])
		if line == 1 && code == "code" {
			continue
		}
		if _, err := idcode.OrgCode(code); err != nil {
			return nil, fmt.Errorf("--orgs %s, line %d: %w", path, line, err)
		}
		out = append(out, schema.Org{Code: code, Name: name})
	}
}

// tamperKind names a TAMPER record's kind: "fork" for the zero value (every
// record before kinds existed), else HASH, SIGNATURE, LINK or SEQ.
func tamperKind(k sanziv1.TamperKind) string {
	if k == sanziv1.TamperKind_TAMPER_KIND_UNSPECIFIED {
		return "fork"
	}
	return strings.TrimPrefix(k.String(), "TAMPER_KIND_")
}

// readCheckpointFile reads a signed checkpoint as the public site serves
// it (its signature is checked against the district chain's key in the
// restored state, when it is adopted).
func readCheckpointFile(path string) (*checkpoint.Signed, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--last-checkpoint: %w", err)
	}
	var sc public.Checkpoint
	if err := json.Unmarshal(raw, &sc); err != nil {
		return nil, fmt.Errorf("--last-checkpoint %s: not a checkpoint as the public site serves it: %w", path, err)
	}
	sig, err := base64.StdEncoding.DecodeString(sc.Signature)
	if err != nil {
		return nil, fmt.Errorf("--last-checkpoint %s: signature: %w", path, err)
	}
	st, err := checkpoint.Parse([]byte(sc.Statement))
	if err != nil {
		return nil, fmt.Errorf("--last-checkpoint %s: %w", path, err)
	}
	return &checkpoint.Signed{Statement: st, Text: []byte(sc.Statement), Signature: sig}, nil
}
