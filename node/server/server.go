// Package server runs a village or a town node, the tier its org code names
// (idcode.Level): it opens the keys, ledger, attachment store and books
// under one data folder, serves the API over gRPC and over REST/JSON
// (grpc-gateway), and exposes /metrics, /healthz, /readyz and
// /openapi.json. A town also takes its villages' pushes (node/town's inbox)
// and looks across their chains. Logs name the tier (subsystem "village" or
// "town"), and /metrics says it in sanzi_node_info{tier}. Shutdown drains
// in-flight requests and commits every queued entry before the ledger
// closes, so nothing acknowledged is lost.
package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/sanzi/sanzi/federation/checkpoint/cpstore"
	"github.com/sanzi/sanzi/federation/public"
	"github.com/sanzi/sanzi/node/accounts"
	"github.com/sanzi/sanzi/node/api"
	"github.com/sanzi/sanzi/node/attach"
	"github.com/sanzi/sanzi/node/authz"
	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/calendar"
	"github.com/sanzi/sanzi/node/dataformat"
	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/idcode"
	"github.com/sanzi/sanzi/node/keys"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/limits"
	"github.com/sanzi/sanzi/node/notify"
	"github.com/sanzi/sanzi/node/pki"
	"github.com/sanzi/sanzi/node/relay"
	"github.com/sanzi/sanzi/node/rest"
	"github.com/sanzi/sanzi/node/rules"
	"github.com/sanzi/sanzi/node/supervise"
	"github.com/sanzi/sanzi/node/town"
	"github.com/sanzi/sanzi/proto/gen"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
	"github.com/sanzi/sanzi/web"
)

// Config is what a village or town node needs to run.
type Config struct {
	// DataDir holds ledger.db, attachments/ and keys/.
	DataDir string
	// Orgs are the 12-digit org codes the node records for (usually one).
	Orgs []string
	// GRPCAddr and HTTPAddr are listen addresses; port 0 picks a free one.
	GRPCAddr, HTTPAddr string
	// MaxAttachment is the attachment size limit in bytes.
	MaxAttachment int64
	// AttachmentTTL is how long an attachment no entry names is kept
	// (default attach.DefaultTTL, 7 days); AttachmentQuota the bytes of
	// attachments each village may keep at a town (default
	// attach.DefaultQuota, 10 GiB).
	AttachmentTTL   time.Duration
	AttachmentQuota int64
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger; default slog.Default().
	Logger *slog.Logger
	// ShutdownTimeout bounds the drain on shutdown; default 30s.
	ShutdownTimeout time.Duration
	// NoSync turns off fsync, for throw-away tests only.
	NoSync bool
	// Rules is the rule set every entry is checked against as it is
	// recorded; nil means rules.Default().
	// TODO(issue 4): take the published set the district sends down.
	Rules *rules.RuleSet
	// Setup is who is told and how (notify.Setup: contacts, webhook
	// secret, mail server); no channel tells nobody.
	notify.Setup
	// SweepEvery is how often step timers and time-driven rules run;
	// default one minute.
	SweepEvery time.Duration
	// Calendar is the district's working-day calendar; nil means
	// calendar.Default2026().
	Calendar *calendar.Spec
	// Parent is the gRPC address of the node's parent (its town, or the
	// district); empty keeps the node offline. TLSDir holds ca.crt and the
	// node's certificate CertName.crt/.key from `sanzi ca issue --role
	// village`, whose key becomes the node's signing key.
	Parent, TLSDir, CertName string
	// SyncAddr, for a town node, is where its villages push (mutual TLS,
	// village certificates); the town stores their chains verbatim and
	// forwards them to its parent with their certificates.
	SyncAddr string
	// SyncAckTimeout bounds the wait for the parent's ack of one batch
	// before the link is taken as dead; default 1 minute.
	SyncAckTimeout time.Duration
	// Public, for a town with a Parent, serves the villagers' public site
	// for its villages at /public/ on HTTPAddr (issue 15), from its copy of
	// their chains and the district's signed checkpoints it pulls every
	// PublicPoll (default 15 s) and checks (public.go). PublicProofs,
	// PublicLimits and OrgNames (code to name, --orgs) as a district
	// member's.
	Public       bool
	PublicProofs bool
	PublicLimits public.Limits
	PublicPoll   time.Duration
	OrgNames     map[string]string
	// PublicDistrictURL, with Public, is where the district's members
	// serve the public site (public.ParseDistrictSite): the town's village
	// pages link their complaint form and complaints there. Empty: the
	// pages have no complaint section.
	PublicDistrictURL string
	// SyncRetryMax caps the backoff between attempts to reach the parent;
	// default 30 s.
	SyncRetryMax time.Duration
	// MaxJSONBody is the body limit of a JSON REST route; default
	// rest.DefaultJSONLimit (1 MiB). BodyLimits overrides it for single
	// routes ("POST /v1/rules"); uploads are bounded by MaxAttachment.
	MaxJSONBody int64
	BodyLimits  map[string]int64
	// MaxSheetRows caps the data rows of a sheet imported over POST
	// /v1/imports (whose byte limit is BodyLimits["POST /v1/imports"]);
	// default api.DefaultSheetMaxRows.
	MaxSheetRows int
	// MaxAlertStreams caps the alert streams (SSE and gRPC WatchAlerts) the
	// node holds, MaxAlertStreamsPerClient those of one client; defaults
	// limits.DefaultStreamsPerNode and DefaultStreamsPerClient.
	MaxAlertStreams, MaxAlertStreamsPerClient int
	// GRPCMaxStreams caps concurrent RPCs per gRPC connection; default
	// limits.DefaultMaxConcurrentStreams.
	GRPCMaxStreams int
	// HTTPReadTimeout bounds reading a whole request, HTTPWriteTimeout
	// writing its answer, HTTPIdleTimeout a kept-alive connection with no
	// request; defaults in rest (5, 5 and 2 minutes). The alert stream lifts
	// the read and write deadlines for itself.
	HTTPReadTimeout, HTTPWriteTimeout, HTTPIdleTimeout time.Duration
	// AdminPasswordFile, read at the first start, is the first
	// administrator's password (mode 0600; changed at the first sign-in
	// all the same). Without it a one-time password is made and printed
	// once to Stdout (AdminLine).
	AdminPasswordFile string
	// Stdout is where that one-time password is printed; default os.Stdout.
	Stdout io.Writer
	// AccountArgon is the cost of password hashes; zero is
	// accounts.DefaultParams. Tests lower it.
	AccountArgon accounts.Params
	// TLSCert and TLSKey are the certificate people's APIs (HTTP and gRPC)
	// are served with. A node listening anywhere but loopback must have
	// them or a --tls-dir certificate (peopleTLS); on loopback they are
	// optional and the APIs are plain.
	TLSCert, TLSKey string

	// withoutAuthz leaves the authz interceptor out of the gRPC server, so
	// that BenchmarkRecord can measure what sign-in checks cost against
	// the same node without them. Unexported, and set by no code but that
	// benchmark: no flag or caller outside this package reaches it.
	withoutAuthz bool
	// replayAll starts the node as it started before issue 17: the
	// chains checked before Open returns, every chain replayed from seq 1
	// for the supervision and the accounts, no checkpoint read or
	// written. Set by no code but BenchmarkStartup, for its "before".
	replayAll bool
}

// bodyLimits are the routes whose body limit is not rest.DefaultJSONLimit:
// a rule set carries its whole rule list, and a rule test the entries to
// run it on; an imported sheet is a raw body with a limit of its own,
// which is also the limit of its content over gRPC.
var bodyLimits = map[string]int64{
	"POST /v1/rules":      4 << 20,
	"POST /v1/rules/test": 4 << 20,
	importRoute:           api.DefaultSheetMaxBytes,
}

// envelope is the room a gRPC message needs around an attachment of the
// largest size.
const envelope = 1 << 20

func (c *Config) validate() error {
	if c.DataDir == "" {
		return errors.New("data folder is required (--data)")
	}
	if len(c.Orgs) == 0 {
		return errors.New("at least one org code is required (--org)")
	}
	for _, o := range c.Orgs {
		if _, err := idcode.OrgCode(o); err != nil {
			return fmt.Errorf("--org %s: %w", o, err)
		}
	}
	if c.GRPCAddr == "" {
		c.GRPCAddr = "127.0.0.1:7401"
	}
	if c.HTTPAddr == "" {
		c.HTTPAddr = "127.0.0.1:7400"
	}
	if c.MaxAttachment <= 0 {
		c.MaxAttachment = attach.DefaultMaxSize
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 30 * time.Second
	}
	if c.SweepEvery <= 0 {
		c.SweepEvery = time.Minute
	}
	if c.MaxJSONBody <= 0 {
		c.MaxJSONBody = rest.DefaultJSONLimit
	}
	c.BodyLimits = withDefaults(c.BodyLimits, bodyLimits)
	if c.MaxAlertStreams <= 0 {
		c.MaxAlertStreams = limits.DefaultStreamsPerNode
	}
	if c.MaxAlertStreamsPerClient <= 0 {
		c.MaxAlertStreamsPerClient = limits.DefaultStreamsPerClient
	}
	if c.GRPCMaxStreams <= 0 {
		c.GRPCMaxStreams = limits.DefaultMaxConcurrentStreams
	}
	if c.HTTPReadTimeout <= 0 {
		c.HTTPReadTimeout = rest.DefaultReadTimeout
	}
	if c.HTTPWriteTimeout <= 0 {
		c.HTTPWriteTimeout = rest.DefaultWriteTimeout
	}
	if c.HTTPIdleTimeout <= 0 {
		c.HTTPIdleTimeout = rest.DefaultIdleTimeout
	}
	if (c.Parent != "" || c.SyncAddr != "") && c.TLSDir == "" {
		return errors.New("--parent and --sync-addr need --tls-dir: nodes talk to each other only over mutual TLS")
	}
	if c.SyncAddr != "" && len(c.Orgs) > 0 {
		if lvl, _ := idcode.OrgCode(c.Orgs[0]); lvl != idcode.LevelTown || len(c.Orgs) != 1 {
			return fmt.Errorf("a town node records for one town code (last three digits 000), not %v", c.Orgs)
		}
	}
	if c.CertName == "" && len(c.Orgs) > 0 {
		c.CertName = c.Orgs[0]
	}
	if c.Stdout == nil {
		c.Stdout = os.Stdout
	}
	if !loopbackAddr(c.HTTPAddr) || !loopbackAddr(c.GRPCAddr) {
		if c.TLSDir == "" && (c.TLSCert == "" || c.TLSKey == "") {
			// The whole message, with how to get a certificate, comes from peopleTLS.
			_, err := peopleTLS(*c, func() (tls.Certificate, bool) { return tls.Certificate{}, false })
			return err
		}
	}
	return nil
}

// withDefaults is set with the entries of defaults it does not have.
func withDefaults(set, defaults map[string]int64) map[string]int64 {
	out := maps.Clone(defaults)
	maps.Copy(out, set)
	return out
}

// Node is an opened village or town node, listening once Open returns.
type Node struct {
	cfg    Config
	level  idcode.Level // the tier the node runs at, from its first org
	log    *slog.Logger
	ledger *ledger.Ledger
	books  *books.Books
	sup    *supervise.Supervisor
	// decisionsRefused counts a village's town decisions it could not
	// apply (0 elsewhere).
	decisionsRefused func() int
	keys             *keys.Ring
	grpc             *grpc.Server
	http             *http.Server
	grpcLn           net.Listener
	httpLn           net.Listener
	gwConn           *grpc.ClientConn
	ready            atomic.Bool
	served           chan error
	registry         *prometheus.Registry
	cal              *calendar.Calendar
	notifier         *notify.Notifier
	deliveries       *prometheus.CounterVec // by channel and result; set with notifier
	stopSweep        func()
	outbox           *relay.Outbox
	pullers          []*relay.Puller
	desk             *town.Desk // a town's complaints desk (complaints.go)
	issued           *pki.Issued
	inbox            *town.Inbox
	crossKick        chan struct{}
	// outboxKick wakes a town's outbox when its inbox stored a batch.
	outboxKick chan struct{}
	inboxLn    net.Listener
	inboxSrv   *grpc.Server
	// streams counts the open alert streams, SSE and gRPC together.
	streams *limits.Streams
	// api is the node's gRPC service, which REST uploads call directly
	// (see uploadAttachment), through unary: the node's own unary
	// interceptors, as the gRPC server runs them.
	api   *api.Service
	unary []grpc.UnaryServerInterceptor
	// stream are the node's stream interceptors, which the REST sheet
	// import runs as the gRPC server does (see importSheet).
	stream []grpc.StreamServerInterceptor
	// accounts are the node's people (issue 12); the authz interceptor
	// authenticates every call against them.
	accounts *accounts.Service
	// tls serves people's APIs (HTTP and gRPC) when set: see peopleTLS.
	tls *tls.Config
	// A town with --public (public.go): the district's checkpoints it
	// keeps, the site, and the checkpoints it refused.
	districtCPs *cpstore.Store
	publicSite  http.Handler
	cpRefused   *prometheus.CounterVec
}

// Open opens the node's stores and binds its listeners; Serve starts serving.
func Open(ctx context.Context, cfg Config) (n *Node, err error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	level, _ := idcode.OrgCode(cfg.Orgs[0]) // validated
	log := cfg.Logger.With("subsystem", string(level))
	// The format first: a folder written by a newer sanzi is refused
	// before anything in it is touched.
	if _, err := dataformat.Ensure(ctx, dataformat.Config{Dir: cfg.DataDir, Now: cfg.Now, Logger: log}); err != nil {
		return nil, err
	}
	var issued *pki.Issued
	if cfg.TLSDir != "" {
		if issued, err = installIssuedKey(cfg); err != nil {
			return nil, err
		}
	}
	if cfg.SyncAddr != "" { // a town: its villages' keys before the ledger verifies their chains
		if err := town.RepairPins(cfg.DataDir, log); err != nil {
			return nil, err
		}
	}
	ring, made, err := keys.Ensure(filepath.Join(cfg.DataDir, "keys"), cfg.Orgs)
	if err != nil {
		return nil, err
	}
	for _, o := range made {
		pub, _ := ring.Public(o)
		log.Info("made a new signing key", "origin", o, "fingerprint", keys.Fingerprint(pub))
	}
	var checkCert ledger.CertCheck // rotations authorised by the district CA
	if cfg.TLSDir != "" {
		pool, err := pki.LoadPool(cfg.TLSDir)
		if err != nil {
			return nil, err
		}
		checkCert = pki.Rotation(pool)
	}
	l, err := ledger.Open(ledger.Config{
		Path: filepath.Join(cfg.DataDir, "ledger.db"), Keys: ring, Indexer: books.Indexer(),
		Now: cfg.Now, Logger: log.With("subsystem", "ledger"), NoSync: cfg.NoSync, CheckCert: checkCert,
		// Personal data is sealed outside the entries' hashes (issue 15).
		Split: entries.Masker{},
		// Every chain is checked once the node is up, not before: start-up
		// stays the same at a million entries (issue 17).
		CheckLater: !cfg.replayAll,
	})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	att, err := attach.Open(filepath.Join(cfg.DataDir, "attachments"), l.DB(), cfg.MaxAttachment, cfg.Now)
	if err != nil {
		return nil, err
	}
	if err := catchUpRestored(ctx, cfg, l, att, ring, issued, log); err != nil {
		return nil, err
	}
	att.SetPolicy(attach.Policy{TTL: cfg.AttachmentTTL, Quota: cfg.AttachmentQuota})
	b, err := books.New(l, att, &books.Validator{Served: cfg.Orgs, Now: cfg.Now})
	if err != nil {
		return nil, err
	}
	rs := rules.Default()
	if cfg.Rules != nil {
		rs = *cfg.Rules
	}
	engine, err := rules.Compile(rs)
	if err != nil {
		return nil, fmt.Errorf("compile rule set %s: %w", rs.Version, err)
	}
	b.SetRules(engine)
	n = &Node{cfg: cfg, level: level, log: log, ledger: l, books: b, keys: ring, served: make(chan error, 3), registry: prometheus.NewRegistry()}
	if n.tls, err = peopleTLS(cfg, func() (tls.Certificate, bool) {
		if issued == nil {
			return tls.Certificate{}, false
		}
		return issued.TLSCertificate(), true
	}); err != nil {
		return nil, err
	}
	if err := n.openAccounts(ctx); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			n.accounts.Close()
		}
	}()
	if err := n.supervise(ctx); err != nil {
		return nil, fmt.Errorf("start supervision: %w", err)
	}
	n.issued = issued
	if cfg.SyncAddr != "" {
		if err := n.serveInbox(issued); err != nil {
			return nil, err
		}
	}
	if cfg.Public {
		if err := n.openPublic(); err != nil {
			return nil, err
		}
	}
	defer func() {
		if err != nil && n.districtCPs != nil {
			n.districtCPs.Close()
		}
	}()
	m := newMetrics(n.registry, l, n.level, cfg.Orgs[0])
	registerAttachmentMetrics(n.registry, att)
	// Every call passes the permission table, REST's too (the gateway
	// calls this server; uploads run n.unary): the signed-in account is
	// bound to the request's author and orgs, and personal data in the
	// answer is masked by its roles (authz.Masked, issue 12 item 10).
	n.unary = []grpc.UnaryServerInterceptor{m.unary(log)}
	streams := []grpc.StreamServerInterceptor{m.stream(log)}
	if !cfg.withoutAuthz {
		authn := authz.NewInterceptor(n.accounts, log.With("subsystem", "authz"))
		n.unary = append(n.unary, authn.Unary)
		streams = append(streams, authn.Stream)
	}
	n.stream = streams
	opts := limits.ServerOptions(cfg.GRPCMaxStreams, log)
	if n.tls != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(n.tls)))
	}
	n.grpc = grpc.NewServer(append(opts,
		grpc.MaxRecvMsgSize(int(cfg.MaxAttachment)+envelope),
		grpc.MaxSendMsgSize(int(cfg.MaxAttachment)+envelope),
		grpc.ChainUnaryInterceptor(n.unary...),
		grpc.ChainStreamInterceptor(streams...),
	)...)
	n.streams = limits.NewStreams(cfg.MaxAlertStreams, cfg.MaxAlertStreamsPerClient)
	svc := api.New(b, n.sup)
	svc.LimitStreams(n.streams)
	svc.SetSheetLimits(api.SheetLimits{MaxBytes: cfg.BodyLimits[importRoute], MaxRows: cfg.MaxSheetRows})
	if level == idcode.LevelTown {
		// The villagers' complaints that came down the district's chain
		// (issue 15), with the contacts sealed to the town's key.
		if key, ok := ring.Private(cfg.Orgs[0]); ok {
			n.desk = town.NewDesk(b, n.sup, key, ring.Retired(cfg.Orgs[0])...)
			svc.SetComplaints(n.desk)
		}
	}
	svc.Register(n.grpc)
	n.api = svc
	api.NewAccounts(n.accounts, string(n.level), cfg.Orgs[0]).Register(n.grpc)

	if n.grpcLn, err = net.Listen("tcp", cfg.GRPCAddr); err != nil {
		return nil, fmt.Errorf("listen for gRPC on %s: %w", cfg.GRPCAddr, err)
	}
	if n.httpLn, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		n.grpcLn.Close()
		return nil, fmt.Errorf("listen for HTTP on %s: %w", cfg.HTTPAddr, err)
	}
	handler, err := n.httpHandler(ctx)
	if err != nil {
		n.grpcLn.Close()
		n.httpLn.Close()
		return nil, err
	}
	n.http = rest.NewServer(handler, cfg.HTTPReadTimeout, cfg.HTTPWriteTimeout, cfg.HTTPIdleTimeout)
	n.http.TLSConfig = n.tls
	// Up: the chains are checked now, in the background (CheckLater).
	l.CheckChains()
	return n, nil
}

// GRPCAddr is the bound gRPC address.
func (n *Node) GRPCAddr() string { return n.grpcLn.Addr().String() }

// HTTPAddr is the bound HTTP address.
func (n *Node) HTTPAddr() string { return n.httpLn.Addr().String() }

// Books gives in-process access, for the demo seeder and tests.
func (n *Node) Books() *books.Books { return n.books }

// Keys are the node's signing keys.
func (n *Node) Keys() *keys.Ring { return n.keys }

// gatewayServices are the services the node serves over REST, by the name
// the OpenAPI document gives them and their gateway registration.
var gatewayServices = []struct {
	name     string
	register func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error
}{
	{"TransactionService", sanziv1.RegisterTransactionServiceHandler},
	{"ContractService", sanziv1.RegisterContractServiceHandler},
	{"AssetService", sanziv1.RegisterAssetServiceHandler},
	{"AttachmentService", sanziv1.RegisterAttachmentServiceHandler},
	{"LedgerService", sanziv1.RegisterLedgerServiceHandler},
	{"AlertService", sanziv1.RegisterAlertServiceHandler},
	{"RuleService", sanziv1.RegisterRuleServiceHandler},
	{"WorkflowService", sanziv1.RegisterWorkflowServiceHandler},
	{"CardService", sanziv1.RegisterCardServiceHandler},
	{"DirectiveService", sanziv1.RegisterDirectiveServiceHandler},
	{"DisclosureService", sanziv1.RegisterDisclosureServiceHandler},
	{"ComplaintService", sanziv1.RegisterComplaintServiceHandler},
	{"AccountService", sanziv1.RegisterAccountServiceHandler},
	{"BooksService", sanziv1.RegisterBooksServiceHandler},
}

func (n *Node) httpHandler(ctx context.Context) (http.Handler, error) {
	jsonM := &runtime.JSONPb{
		MarshalOptions:   protojson.MarshalOptions{EmitUnpopulated: false},
		UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
	}
	gw := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, rest.Decoding(jsonM)),
		runtime.WithMarshalerOption("application/octet-stream", rawMarshaler{json: jsonM, max: n.cfg.MaxAttachment}),
		runtime.WithErrorHandler(rest.ErrorHandler),
		runtime.WithRoutingErrorHandler(rest.RoutingErrorHandler),
		runtime.WithMetadata(authz.SessionFromCookie),
		runtime.WithForwardResponseOption(authz.SessionCookies(n.tls != nil)),
	)
	transport := insecure.NewCredentials()
	if n.tls != nil {
		transport = credentials.NewTLS(pinnedClientTLS(n.tls))
	}
	conn, err := grpc.NewClient(n.GRPCAddr(),
		grpc.WithTransportCredentials(transport),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(int(n.cfg.MaxAttachment)+envelope), grpc.MaxCallSendMsgSize(int(n.cfg.MaxAttachment)+envelope)),
	)
	if err != nil {
		return nil, fmt.Errorf("connect gateway to %s: %w", n.GRPCAddr(), err)
	}
	n.gwConn = conn
	names := make([]string, 0, len(gatewayServices))
	for _, s := range gatewayServices {
		if err := s.register(ctx, gw, conn); err != nil {
			return nil, fmt.Errorf("register gateway handler of %s: %w", s.name, err)
		}
		names = append(names, s.name)
	}
	routes, err := rest.Routes(gen.OpenAPI, rest.Limits{JSON: n.cfg.MaxJSONBody, Raw: n.cfg.MaxAttachment, PerRoute: n.cfg.BodyLimits}, names...)
	if err != nil {
		return nil, err
	}
	// The node's own document: only the services it registers, so that
	// /openapi.json never names a route this node answers 404.
	doc, err := rest.Document(gen.OpenAPI, names...)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	if n.publicSite != nil {
		// A town with --public (public.go): the villagers' site, and its
		// JSON routes in the document; without it neither.
		if doc, err = public.Describe(doc); err != nil {
			return nil, err
		}
		mux.Handle(public.Prefix, n.publicSite)
	}
	mux.Handle("/v1/", authz.RequireCSRF(rest.Guard(n.withUploads(gw), routes), authz.CSRFCheck(n.accounts)))
	mux.HandleFunc("GET /v1/alerts/stream", n.alertEvents)
	mux.HandleFunc("GET /v1/sync/status", n.syncStatus)
	mux.HandleFunc("GET /v1/backup", n.backupRoute)
	mux.Handle("/metrics", promhttp.HandlerFor(n.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", n.readyz)
	// The browser console (issue 14): GET / and /app/..., static files only.
	mux.Handle("/", web.Handler(web.Options{Tier: string(n.level), Org: n.cfg.Orgs[0]}))
	mux.HandleFunc("/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(doc)
	})
	return mux, nil
}

// readyz says whether the node takes writes: it is serving, the check of
// its chains at start is over, and no chain failed it.
func (n *Node) readyz(w http.ResponseWriter, r *http.Request) {
	var problems []string
	if !n.ready.Load() {
		problems = append(problems, "not serving yet (or shutting down)")
	}
	for _, ve := range n.ledger.Broken() {
		problems = append(problems, ve.Error())
	}
	own, forwarded := n.syncRefused()
	problems = append(problems, own...)
	select {
	case <-n.ledger.Checked():
	default: // writes wait for it (ledger.CheckLater); reads are served
		problems = append(problems, "still checking the chains' stored entries, as at every start; writes wait for it")
	}
	w.Header().Set("Content-Type", "application/json")
	if len(problems) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(map[string]any{"ready": len(problems) == 0, "problems": problems, "warnings": forwarded, "orgs": n.cfg.Orgs})
}

// Serve serves until ctx ends, then shuts down gracefully: HTTP first (the
// gateway speaks to gRPC), then gRPC, then the ledger drains and closes.
func (n *Node) Serve(ctx context.Context) error {
	go func() { n.served <- n.grpc.Serve(n.grpcLn) }()
	go func() {
		var err error
		if n.tls != nil {
			err = n.http.ServeTLS(n.httpLn, "", "")
		} else {
			err = n.http.Serve(n.httpLn)
		}
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		n.served <- err
	}()
	// Background work (timers, the outbox) stops before the ledger closes.
	bgCtx, stopBG := context.WithCancel(ctx)
	var bg sync.WaitGroup
	bg.Go(func() { n.sweepLoop(bgCtx) })
	if n.crossKick != nil {
		bg.Go(func() { n.followVillages(bgCtx) })
	}
	n.stopSweep = func() { stopBG(); bg.Wait() }
	if n.cfg.Parent != "" {
		if err := n.startOutbox(bgCtx, n.issued, &bg); err != nil {
			n.stopSweep()
			return fmt.Errorf("start sync to %s: %w", n.cfg.Parent, err)
		}
	}
	if n.districtCPs != nil {
		bg.Go(func() { n.pullCheckpoints(bgCtx) })
	}
	if n.inboxSrv != nil {
		go func() { n.served <- n.inboxSrv.Serve(n.inboxLn) }()
	}
	n.ready.Store(true)
	n.log.Info(string(n.level)+" node serving", "orgs", strings.Join(n.cfg.Orgs, ","), "grpc", n.GRPCAddr(), "http", n.HTTPAddr(), "data", n.cfg.DataDir)
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-n.served:
		n.log.Error("listener failed; shutting down", "err", serveErr)
	}
	return errors.Join(serveErr, n.shutdown())
}

// Serving says whether Serve has started everything (the outbox and the
// pullers of a node with a parent) and takes writes.
func (n *Node) Serving() bool { return n.ready.Load() }

func (n *Node) shutdown() error {
	n.ready.Store(false)
	n.log.Info("shutting down: draining requests")
	n.books.CloseFeed() // alert streams end now instead of holding the drain
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.ShutdownTimeout)
	defer cancel()
	var errs []error
	if err := n.http.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("shut down HTTP: %w", err))
	}
	stopped := make(chan struct{})
	go func() { n.grpc.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-ctx.Done():
		n.grpc.Stop()
		errs = append(errs, errors.New("gRPC requests still running at the shutdown deadline were cut"))
	}
	n.gwConn.Close()
	if err := n.accounts.Checkpoint(0); err != nil {
		n.log.Warn("accounts not checkpointed at shutdown; the next start replays what came after the last one", "err", err)
	}
	if err := n.accounts.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close accounts: %w", err))
	}
	if n.inboxSrv != nil {
		n.inboxSrv.Stop() // streams stay open while idle; a cut push is resent, and a resend is a no-op
	}
	if n.stopSweep != nil {
		n.stopSweep()
	}
	// What the supervision followed since its last checkpoint is kept, so
	// that the next start replays nothing.
	if err := n.sup.Checkpoint(ctx); err != nil {
		n.log.Warn("supervision state not checkpointed at shutdown; the next start replays what came after the last one", "err", err)
	}
	if n.notifier != nil {
		if err := n.notifier.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("close notifier: %w", err))
		}
	}
	if n.districtCPs != nil {
		if err := n.districtCPs.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close checkpoints: %w", err))
		}
	}
	if err := n.ledger.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close ledger: %w", err))
	}
	st := n.ledger.Stats()
	n.log.Info(string(n.level)+" node stopped", "entries_appended", st.Entries, "commits", st.Commits)
	return errors.Join(errs...)
}

// Close releases a node that was opened but never served.
func (n *Node) Close() error {
	n.grpcLn.Close()
	n.httpLn.Close()
	n.gwConn.Close()
	var cps error
	if n.districtCPs != nil {
		cps = n.districtCPs.Close()
	}
	return errors.Join(n.accounts.Close(), cps, n.ledger.Close())
}
