// Package member runs a district cluster member as a server: the Raft node
// of federation/cluster, its gRPC API (nodes with their certificates of the
// district CA, people with a bearer token over TLS: people.go), the
// district's accounts in the replicated state, and an HTTP listener with
// /metrics, /healthz, /readyz and the REST gateway, which calls the gRPC API
// with the caller's own credential. Everything a member needs comes from
// one data folder and the district CA's files.
package member

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/sanzi/sanzi/analytics/schema"
	"github.com/sanzi/sanzi/analytics/stats"
	"github.com/sanzi/sanzi/federation/checkpoint"
	"github.com/sanzi/sanzi/federation/cluster"
	"github.com/sanzi/sanzi/federation/fsm"
	"github.com/sanzi/sanzi/federation/public"
	"github.com/sanzi/sanzi/node/accounts"
	"github.com/sanzi/sanzi/node/api"
	"github.com/sanzi/sanzi/node/authz"
	"github.com/sanzi/sanzi/node/backtest"
	"github.com/sanzi/sanzi/node/backup"
	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/limits"
	"github.com/sanzi/sanzi/node/notify"
	"github.com/sanzi/sanzi/node/pki"
	"github.com/sanzi/sanzi/node/rest"
	"github.com/sanzi/sanzi/proto/gen"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
	"github.com/sanzi/sanzi/web"
)

// Config is what a member needs beyond the cluster's own Config.
type Config struct {
	Cluster cluster.Config
	// APIListen is the gRPC listen address (Cluster.APIAddr is what others
	// dial; they are usually the same).
	APIListen string
	// HTTPAddr serves /metrics, /healthz, /readyz and REST reads ("" = off).
	HTTPAddr string
	// Pool is the district CA; Cert this member's district certificate.
	Pool *x509.CertPool
	Cert tls.Certificate
	// Join, when set, is a member's API address to ask for admission.
	Join string
	// OldClusterGone, with Cluster.Bootstrap on a restored folder, makes a
	// new cluster from the backup (newcluster.go); it is the operator's
	// word that every member of the old cluster is gone, and why, which
	// is logged. LastCheckpoint is the newest checkpoint the old cluster
	// published, adopted by the new one so it never signs a contradicting
	// one; NoLastCheckpoint says there is none to be found.
	OldClusterGone   string
	LastCheckpoint   *checkpoint.Signed
	NoLastCheckpoint bool
	// ClickHouse, when set, is the native address (host:port) the analytics
	// loader writes to while this member leads.
	ClickHouse string
	// ClickHouseShards, instead of ClickHouse, are the shards of a sharded
	// deployment (deploy/clickhouse), with ClickHouseCluster its
	// remote_servers name; statistics query the first shard.
	ClickHouseShards  []string
	ClickHouseCluster string
	// Orgs is the district's org list with names, for the statistics.
	Orgs []schema.Org
	// Notify is who hears of the district's TAMPER findings and how, as
	// on a village or town node; the leader tells them (tamperNotifier).
	// No channel tells nobody.
	Notify notify.Setup
	// NotifyEvery is how often the leader looks for new findings to tell
	// of; default 2 s.
	NotifyEvery time.Duration
	// ChainSigner is the key the district's own chain is signed with when
	// people write it through this member (account changes, rule sets):
	// every member of a cluster must hold the same one, since the leader
	// seals. Nil: this member's own certificate and key, which serves a
	// one-member district.
	ChainSigner *cluster.ChainSigner
	// AdminPasswordFile, at the first start of a cluster's first member
	// (Cluster.Bootstrap), holds the first administrator's password (mode
	// 0600); without it a one-time password is made (AdminPassword).
	AdminPasswordFile string
	// Argon is the cost of password hashes; zero: accounts.DefaultParams.
	Argon accounts.Params
	// FollowEvery is how often the member looks for account entries other
	// members proposed; default 100 ms.
	FollowEvery time.Duration
	// CheckpointEvery is how often the leader signs a checkpoint of every
	// chain head (public.go); default checkpoint.DefaultEvery (a minute).
	CheckpointEvery time.Duration
	// PublicProofs serves the signed chain segments that prove the public
	// pages (federation/public), without the entries' private parts.
	PublicProofs bool
	// PublicLimits bound the public site per address and in all.
	PublicLimits public.Limits
	// NoComplaints turns off the villagers' complaints on the public site
	// (complaints.go); ComplaintLimits bound them.
	NoComplaints    bool
	ComplaintLimits public.ComplaintLimits
	// Now is the clock of checkpoints and the public site; default
	// time.Now.
	Now func() time.Time
}

// Member is a running member server.
type Member struct {
	cfg       Config
	log       *slog.Logger
	node      *cluster.Node
	svc       *cluster.Service
	grpc      *grpc.Server
	http      *http.Server
	apiLn     net.Listener
	httpLn    net.Listener
	gwConn    *grpc.ClientConn
	errc      chan error
	analytics *analytics
	tamper    *analytics // the TAMPER notifier's leader-only runs; nil without channels
	// checkpoints is the checkpoint signer's leader-only runs (public.go).
	checkpoints *analytics
	chainKey    *cluster.ChainSigner // the district chain's key: signs the chain and checkpoints
	sync        *cluster.SyncServer
	chConn      driver.Conn // statistics queries; nil without ClickHouse
	accounts    *accounts.Service
	authz       *authz.Interceptor
	org         string // the district's org code
	adminOTP    string
	stopBg      context.CancelFunc
	httpTLS     bool
	streams     streams       // the cockpit's open statistics streams (stream.go)
	reports     reportIndex   // directive reports gathered from the chains (governance.go)
	backtests   backtest.Gate // one rules backtest at a time (backtest.go)
}

// Start opens the node and starts serving.
func Start(ctx context.Context, cfg Config) (*Member, error) {
	log := cfg.Cluster.Logger
	if log == nil {
		log = slog.Default()
	}
	districtOnly := pki.AllowRoles(pki.RoleDistrict)
	cfg.Cluster.ServerTLS = pki.ServerConfig(cfg.Pool, cfg.Cert, districtOnly)
	cfg.Cluster.ClientTLS = pki.ClientConfig(cfg.Pool, cfg.Cert, districtOnly)
	if cfg.Cluster.CertPool == nil {
		cfg.Cluster.CertPool = cfg.Pool // key rotations must carry a certificate of the district CA
	}
	apiLn, err := net.Listen("tcp", cfg.APIListen)
	if err != nil {
		return nil, fmt.Errorf("listen for gRPC on %s: %w", cfg.APIListen, err)
	}
	if cfg.Cluster.APIAddr == "" {
		cfg.Cluster.APIAddr = apiLn.Addr().String()
	}
	if cfg.Cluster.Named == nil {
		cfg.Cluster.Named = entries.AttachmentsIn // locks what entries name at the district
	}
	mode, err := checkRestored(cfg, log)
	if err != nil {
		apiLn.Close()
		return nil, err
	}
	if mode == startNewCluster {
		cfg.Cluster.FromState = true
		cfg.Cluster.SeedCheck = func(f *fsm.FSM) error { return seedCheck(ctx, cfg, log, f) }
	}
	n, err := cluster.Open(cfg.Cluster)
	if err != nil {
		apiLn.Close()
		return nil, err
	}
	m := &Member{cfg: cfg, log: log, node: n, apiLn: apiLn, errc: make(chan error, 2)}
	peerCreds := credentials.NewTLS(pki.ClientConfig(cfg.Pool, cfg.Cert, districtOnly))
	m.svc = cluster.NewService(n, peerCreds)
	if err := m.openAccounts(ctx); err != nil {
		m.svc.Close()
		n.Shutdown()
		apiLn.Close()
		return nil, err
	}
	// Nodes connect with a certificate of the district CA (cluster.Authorize
	// decides per method by role); people without one, with a bearer token
	// the permission table checks (people.go).
	anyRole := pki.AllowRoles(pki.RoleDistrict, pki.RoleTown, pki.RoleVillage)
	m.grpc = grpc.NewServer(append(limits.ServerOptions(0, log),
		grpc.Creds(credentials.NewTLS(peopleTLS(cfg.Pool, cfg.Cert, anyRole))),
		grpc.MaxRecvMsgSize(limits.MaxMessageSize), grpc.MaxSendMsgSize(limits.MaxMessageSize),
		grpc.ChainUnaryInterceptor(m.unary), grpc.ChainStreamInterceptor(m.stream),
		cluster.ServerCodec(), // a push's entries alias the request
	)...)
	api.NewAccounts(m.accounts, "district", m.org).Register(m.grpc)
	sanziv1.RegisterDistrictServiceServer(m.grpc, districtAPI{Service: m.svc, m: m})
	sanziv1.RegisterRuleServiceServer(m.grpc, ruleAPI{m: m})
	syncSrv := cluster.NewSyncServer(m.svc, cfg.Pool, log.With("subsystem", "sync"))
	m.sync = syncSrv
	syncSrv.Named = entries.Attachments
	sanziv1.RegisterSyncServiceServer(m.grpc, syncSrv)
	sanziv1.RegisterAttachmentServiceServer(m.grpc, cluster.NewAttachmentServer(m.node))
	if cfg.ClickHouse == "" && len(cfg.ClickHouseShards) > 0 {
		if cfg.ClickHouseCluster == "" {
			m.Stop()
			return nil, errors.New("ClickHouse shards need the cluster name (--clickhouse-cluster, the remote_servers name)")
		}
	}
	if chAddr := cmp.Or(cfg.ClickHouse, first(cfg.ClickHouseShards)); chAddr != "" {
		if m.chConn, err = clickhouse.Open(&clickhouse.Options{Addr: []string{chAddr}, DialTimeout: 5 * time.Second}); err != nil {
			m.Stop()
			return nil, fmt.Errorf("ClickHouse %s for statistics: %w", cfg.ClickHouse, err)
		}
		st := stats.New(m.chConn)
		sanziv1.RegisterAnalyticsServiceServer(m.grpc, stats.NewService(st))
		// The books' statements of any village, town or the district
		// from ClickHouse (issue 19); the rest of BooksService is the
		// village's and answers Unimplemented here.
		sanziv1.RegisterBooksServiceServer(m.grpc, stats.NewBooksService(st, m.liveChart))
	}
	go func() { m.errc <- m.grpc.Serve(apiLn) }()
	if cfg.HTTPAddr != "" {
		if err := m.serveHTTP(ctx); err != nil {
			m.Stop()
			return nil, err
		}
	}
	if mode == startNewCluster {
		if err := backup.ClearMarker(cfg.Cluster.DataDir); err != nil {
			m.Stop()
			return nil, err
		}
	}
	if mode == startRejoin {
		if err := m.rejoin(ctx); err != nil {
			m.Stop()
			return nil, err
		}
	} else if cfg.Join != "" {
		if err := m.join(ctx); err != nil {
			m.Stop()
			return nil, err
		}
	}
	if cfg.ClickHouse != "" || len(cfg.ClickHouseShards) > 0 {
		m.startAnalytics(ctx)
	}
	m.startTamperNotifier(ctx)
	if err := m.startCheckpoints(ctx); err != nil {
		m.Stop()
		return nil, err
	}
	if cfg.Cluster.Bootstrap {
		if err := m.bootstrapAdmin(ctx); err != nil {
			m.Stop()
			return nil, err
		}
	}
	log.Info("district member serving", "id", cfg.Cluster.ID, "raft", n.Layer().Addr().String(), "api", apiLn.Addr().String(), "http", cfg.HTTPAddr)
	return m, nil
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// join asks the member at cfg.Join (forwarded to the leader) to add us.
func (m *Member) join(ctx context.Context) error {
	creds := credentials.NewTLS(pki.ClientConfig(m.cfg.Pool, m.cfg.Cert, pki.AllowRoles(pki.RoleDistrict)))
	conn, err := grpc.NewClient(m.cfg.Join, grpc.WithTransportCredentials(creds))
	if err != nil {
		return fmt.Errorf("connect to %s to join: %w", m.cfg.Join, err)
	}
	defer conn.Close()
	c := sanziv1.NewDistrictServiceClient(conn)
	var last error
	for attempt := 0; attempt < 20; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, last = c.Join(cctx, &sanziv1.JoinRequest{Id: m.cfg.Cluster.ID, RaftAddress: m.node.Layer().Addr().String(), ApiAddress: m.cfg.Cluster.APIAddr})
		cancel()
		if last == nil {
			m.log.Info("joined the cluster", "via", m.cfg.Join)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return fmt.Errorf("join through %s: %w", m.cfg.Join, last)
}

// serveHTTP serves REST, /metrics and health. The gateway calls this
// member's gRPC API over TLS without a certificate, with the caller's
// bearer token or session: it never acts with the member's certificate, so
// a REST call is exactly what its caller may do over gRPC. A listener on
// anything but loopback serves HTTPS with the member's certificate.
func (m *Member) serveHTTP(ctx context.Context) error {
	ln, err := net.Listen("tcp", m.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen for HTTP on %s: %w", m.cfg.HTTPAddr, err)
	}
	if a, ok := ln.Addr().(*net.TCPAddr); !ok || !a.IP.IsLoopback() {
		ln = tls.NewListener(ln, &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{m.cfg.Cert}})
		m.httpTLS = true
	}
	m.httpLn = ln
	// The gateway's own JSON options (every field written, zero or not),
	// with decoding that names the field of a refused body.
	jsonM := &runtime.JSONPb{MarshalOptions: protojson.MarshalOptions{EmitUnpopulated: true}}
	gwOpts := []runtime.ServeMuxOption{
		runtime.WithMarshalerOption(runtime.MIMEWildcard, rest.Decoding(jsonM)),
		runtime.WithErrorHandler(rest.ErrorHandler),
		runtime.WithRoutingErrorHandler(rest.RoutingErrorHandler),
		runtime.WithMetadata(authz.SessionFromCookie),
		runtime.WithForwardResponseOption(authz.SessionCookies(m.httpTLS)),
	}
	gw := runtime.NewServeMux(gwOpts...)
	// TLS that verifies this member's certificate and presents none.
	anon := pki.ClientConfig(m.cfg.Pool, tls.Certificate{}, pki.AllowRoles(pki.RoleDistrict))
	anon.Certificates = nil
	m.gwConn, err = grpc.NewClient(m.apiLn.Addr().String(), grpc.WithTransportCredentials(credentials.NewTLS(anon)), limits.CallOptions())
	if err != nil {
		return fmt.Errorf("connect gateway: %w", err)
	}
	// RuleService in full (issue 14): the rules officer's console lists,
	// reads, drafts and publishes rule sets over REST with the session's
	// CSRF token; four eyes are checked by the chain as over gRPC. A draft
	// is tested and backtested over the district's chains (backtest.go).
	services := []string{"DistrictService", "AccountService", "RuleService"}
	if err := sanziv1.RegisterRuleServiceHandler(ctx, gw, m.gwConn); err != nil {
		return fmt.Errorf("register gateway: %w", err)
	}
	if err := sanziv1.RegisterDistrictServiceHandler(ctx, gw, m.gwConn); err != nil {
		return fmt.Errorf("register gateway: %w", err)
	}
	if err := sanziv1.RegisterAccountServiceHandler(ctx, gw, m.gwConn); err != nil {
		return fmt.Errorf("register gateway: %w", err)
	}
	if m.chConn != nil {
		if err := sanziv1.RegisterAnalyticsServiceHandler(ctx, gw, m.gwConn); err != nil {
			return fmt.Errorf("register gateway: %w", err)
		}
		services = append(services, "AnalyticsService")
	}
	// Of BooksService the district serves GetStatement alone (issue 19):
	// its gateway has a mux of its own, reached only by that route, so no
	// other books route answers here and /openapi.json lists only
	// /v1/statements of them.
	var booksGW *runtime.ServeMux
	if m.chConn != nil {
		booksGW = runtime.NewServeMux(gwOpts...)
		if err := sanziv1.RegisterBooksServiceHandler(ctx, booksGW, m.gwConn); err != nil {
			return fmt.Errorf("register gateway: %w", err)
		}
		services = append(services, "BooksService_GetStatement")
	}
	statsStream := m.chConn != nil
	mux := http.NewServeMux()
	routes, err := rest.Routes(gen.OpenAPI, rest.Limits{}, services...)
	if err != nil {
		return err
	}
	doc, err := rest.Document(gen.OpenAPI, services...)
	if err != nil {
		return err
	}
	// The villagers' public site (issue 15), no sign-in; its JSON routes
	// are added to /openapi.json by hand (public.Describe).
	site, err := m.publicSite()
	if err != nil {
		return err
	}
	if doc, err = public.Describe(doc); err != nil {
		return err
	}
	mux.Handle(public.Prefix, site)
	mux.Handle("/v1/", authz.RequireCSRF(rest.Guard(gw, routes), authz.CSRFCheck(m.accounts)))
	if booksGW != nil {
		mux.Handle("GET /v1/statements", authz.RequireCSRF(rest.Guard(booksGW, routes), authz.CSRFCheck(m.accounts)))
	}
	mux.HandleFunc("GET /v1/backup", m.backupRoute) // backup.go
	mux.Handle("/metrics", promhttp.HandlerFor(m.node.Registry(), promhttp.HandlerOpts{}))
	// The parent's side of `sanzi sync status` (as a town serves it): the
	// pushes this member refused for their signing key, and the revoked
	// keys in the replicated state. Read-only, like /metrics.
	mux.HandleFunc("GET /v1/sync/status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"keyRefusals": m.sync.Refused.List(), "revocations": m.node.FSM().Revocations()})
	})
	if statsStream {
		mux.HandleFunc("GET /v1/stats/stream", m.statsStream)
	}
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(doc)
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	// The browser console (issue 14): GET / and /app/..., static files only.
	mux.Handle("/", web.Handler(web.Options{Tier: "district", Org: m.org}))
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		id, _, _ := m.node.Leader()
		ready := id != ""
		if !ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		json.NewEncoder(w).Encode(map[string]any{"ready": ready, "leader": id, "member": m.cfg.Cluster.ID})
	})
	m.http = rest.NewServer(mux, 0, 0, 0)
	go func() {
		err := m.http.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		m.errc <- err
	}()
	return nil
}

// Node is the cluster node.
func (m *Member) Node() *cluster.Node { return m.node }

// APIAddr is the bound gRPC address.
func (m *Member) APIAddr() string { return m.apiLn.Addr().String() }

// AdminPassword is the one-time password of the first administrator this
// member created at its first start ("" otherwise), for the caller to
// print once.
func (m *Member) AdminPassword() string { return m.adminOTP }

// HTTPS reports whether the HTTP listener serves TLS (it does on anything
// but loopback).
func (m *Member) HTTPS() bool { return m.httpTLS }

// Accounts is the district's accounts service.
func (m *Member) Accounts() *accounts.Service { return m.accounts }

// HTTPAddr is the bound HTTP address ("" when off).
func (m *Member) HTTPAddr() string {
	if m.httpLn == nil {
		return ""
	}
	return m.httpLn.Addr().String()
}

// Wait blocks until ctx ends or a listener fails, then stops the member.
func (m *Member) Wait(ctx context.Context) error {
	var err error
	select {
	case <-ctx.Done():
	case err = <-m.errc:
	}
	return errors.Join(err, m.Stop())
}

// Stop shuts the member down: listeners first, then Raft and the stores.
func (m *Member) Stop() error {
	if m.http != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		m.http.Shutdown(sctx)
		cancel()
	}
	if m.gwConn != nil {
		m.gwConn.Close()
	}
	done := make(chan struct{})
	go func() { m.grpc.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		m.grpc.Stop()
	}
	m.svc.Close()
	if m.stopBg != nil {
		m.stopBg()
	}
	if m.accounts != nil {
		m.accounts.Close()
	}
	if m.analytics != nil {
		m.analytics.shutdown()
	}
	if m.tamper != nil {
		m.tamper.shutdown()
	}
	if m.checkpoints != nil {
		m.checkpoints.shutdown()
	}
	if m.chConn != nil {
		m.chConn.Close()
	}
	return m.node.Shutdown()
}
