// Package cluster runs one member of the district cluster: hashicorp/raft
// with raft-boltdb/v2 as log and stable store, file snapshots, the FSM of
// federation/fsm, Raft traffic over mutual TLS (federation/transport), and a
// proposer that verifies pushed entries before proposing them, coalesces
// concurrent pushes into one Raft entry, and acknowledges only after commit
// and apply. See DESIGN.md, "The district cluster".
package cluster

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/federation/fsm"
	"github.com/sanzi/sanzi/federation/raftlog"
	"github.com/sanzi/sanzi/federation/transport"
	"github.com/sanzi/sanzi/node/attach"
	"github.com/sanzi/sanzi/node/dataformat"
	clusterv1 "github.com/sanzi/sanzi/proto/gen/sanzi/cluster/v1"
)

// Errors of a member; the API maps them to gRPC codes.
var (
	// ErrNotLeader: this member cannot propose; forward to Leader().
	ErrNotLeader = errors.New("cluster: not the leader")
	// ErrSaturated: the leader's proposal queue is full; retry shortly.
	ErrSaturated = errors.New("cluster: leader saturated")
	// ErrUnknownOrigin: no public key is registered for the origin.
	ErrUnknownOrigin = errors.New("cluster: origin not registered")
	// ErrGap: a push starts after the district's head of that origin.
	ErrGap = errors.New("cluster: gap in chain")
	// ErrFork: a push holds a different entry at a seq the district holds.
	ErrFork = errors.New("cluster: fork")
	// ErrInvalid: an entry does not verify (hash, link or signature).
	ErrInvalid = errors.New("cluster: entry does not verify")
)

// Config sets up one member. Zero values get the defaults stated.
type Config struct {
	// ID names the member in the Raft configuration.
	ID string
	// RaftAddr is the Raft listen address, also what peers dial.
	RaftAddr string
	// APIAddr is where this member serves gRPC, recorded in the FSM so
	// followers can forward to the leader.
	APIAddr string
	// DataDir holds raft.db (log and stable store), snapshots/ and state.db.
	DataDir string
	// Bootstrap makes a new single-member cluster when DataDir is empty.
	Bootstrap bool
	// FromState, with Bootstrap, makes the new cluster from the state file
	// DataDir already holds (a restored backup) rather than from nothing:
	// see seedFromState. SeedCheck, when set, runs on that state before
	// anything is written, and may refuse (or add to the state: it is the
	// new cluster's first snapshot).
	FromState bool
	SeedCheck func(*fsm.FSM) error
	// ServerTLS and ClientTLS secure Raft traffic (district role only).
	ServerTLS, ClientTLS *tls.Config
	// SnapshotThreshold: log entries between snapshots (default 8192).
	SnapshotThreshold uint64
	// TrailingLogs: entries kept after a snapshot, so a briefly lagging
	// follower catches up from the log rather than a snapshot (default 10240).
	TrailingLogs uint64
	// SnapshotInterval: how often to check the threshold (default 120s).
	SnapshotInterval time.Duration
	// HeartbeatTimeout and ElectionTimeout (default 1s each, as HashiCorp
	// recommends for LAN production servers; tests may lower them).
	HeartbeatTimeout, ElectionTimeout time.Duration
	// MaxBatchBytes caps the entries coalesced into one Raft entry (default 4 MiB).
	MaxBatchBytes int
	// QueueLen caps pushes waiting to be proposed; beyond it pushes are
	// refused with ErrSaturated (default 256).
	QueueLen int
	// MaxInflight caps Raft entries proposed but not yet applied (default 4).
	MaxInflight int
	// ApplyTimeout bounds one proposal (default 10s).
	ApplyTimeout time.Duration
	// NoSync turns off fsync of the log and state (tests only).
	NoSync bool
	// Logger; default slog.Default().
	Logger *slog.Logger
	// CertPool is the district CA: key rotations in pushed chains must
	// carry a certificate of it. Nil: only rotations signed by the old key
	// are accepted (tests without a CA).
	CertPool *x509.CertPool
	// Named lists the attachments an entry's payload names
	// (entries.AttachmentsIn): those are locked and never expire.
	Named fsm.NamedFunc
	// AttachmentTTL: attachments no entry names are removed this long after
	// their upload (default attach.DefaultTTL, 7 days); AttachmentQuota:
	// bytes of attachments each origin may keep (default 10 GiB).
	AttachmentTTL   time.Duration
	AttachmentQuota int64
	// Now is the leader's clock: certificates' expiry is checked against it
	// when a push is received, and upload times and expiry cutoffs, which go
	// into the log, are read from it; default time.Now.
	Now func() time.Time
}

func (c *Config) validate() error {
	switch {
	case c.ID == "":
		return errors.New("member id is required (--id)")
	case c.RaftAddr == "":
		return errors.New("raft address is required (--raft)")
	case c.DataDir == "":
		return errors.New("data folder is required (--data)")
	case c.ServerTLS == nil || c.ClientTLS == nil:
		return errors.New("TLS configuration is required: raft traffic is always mutual TLS")
	}
	def := func(v *uint64, d uint64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.SnapshotThreshold, 8192)
	def(&c.TrailingLogs, 10240)
	if c.SnapshotInterval <= 0 {
		c.SnapshotInterval = 120 * time.Second
	}
	if c.HeartbeatTimeout <= 0 {
		c.HeartbeatTimeout = time.Second
	}
	if c.ElectionTimeout <= 0 {
		c.ElectionTimeout = time.Second
	}
	if c.MaxBatchBytes <= 0 {
		c.MaxBatchBytes = 4 << 20
	}
	if c.QueueLen <= 0 {
		c.QueueLen = 256
	}
	if c.MaxInflight <= 0 {
		c.MaxInflight = 4
	}
	if c.ApplyTimeout <= 0 {
		c.ApplyTimeout = 10 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.AttachmentTTL <= 0 {
		c.AttachmentTTL = attach.DefaultTTL
	}
	if c.AttachmentQuota <= 0 {
		c.AttachmentQuota = attach.DefaultQuota
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// logCacheSize is how many of the last Raft logs a member keeps decoded:
// more than the leader has in flight (MaxInflight proposals, raft's own
// pipeline of a few AppendEntries) and a follower has appended but not yet
// applied, so replication and apply never read raft.db back in steady state.
const logCacheSize = 16

// Node is a running member.
type Node struct {
	cfg    Config
	log    *slog.Logger
	raft   *raft.Raft
	fsm    *fsm.FSM
	layer  *transport.Layer
	logs   *raftboltdb.BoltStore
	snaps  *raft.FileSnapshotStore
	trans  *raft.NetworkTransport
	queue  chan *pending
	flight chan *inflight
	stop   chan struct{}
	wg     sync.WaitGroup
	met    *metrics

	leaderMu   sync.Mutex
	leaderSubs []chan bool
	// readyTerm is the term whose post-election barrier completed here: a
	// leader of that term has applied everything earlier terms committed.
	readyTerm atomic.Uint64
}

// Open starts a member: it opens the state, log and snapshot stores, binds
// the Raft listener and joins (or bootstraps) the cluster.
func Open(cfg Config) (*Node, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger.With("subsystem", "district", "member", cfg.ID)
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("create data folder %s: %w", cfg.DataDir, err)
	}
	// The format first, as on a village or town: a folder of a newer
	// sanzi is refused before any file in it is opened; an older one is
	// migrated (with a backup beside it when a step changes data).
	if _, err := dataformat.Ensure(context.Background(), dataformat.Config{Dir: cfg.DataDir, Now: cfg.Now, Logger: log}); err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, log: log, stop: make(chan struct{}), queue: make(chan *pending, cfg.QueueLen), flight: make(chan *inflight, cfg.MaxInflight)}
	var err error
	if n.fsm, err = fsm.Open(fsm.Config{Path: filepath.Join(cfg.DataDir, "state.db"), Logger: log, NoSync: cfg.NoSync, Named: cfg.Named}); err != nil {
		return nil, err
	}
	fail := func(err error) (*Node, error) {
		n.closeStores()
		return nil, err
	}
	// raft's own log: warnings and errors only, into the member's logger
	// with subsystem=raft (raftlog names it) in place of district.
	hl := raftlog.New(cfg.Logger.With("member", cfg.ID), "raft", hclog.Warn)
	seeding := cfg.Bootstrap && cfg.FromState
	if seeding {
		// Before raft.db exists: a refusal leaves the restored folder as it
		// was, so the operator can start it again once the cause is gone.
		if _, err := os.Stat(filepath.Join(cfg.DataDir, "raft.db")); err == nil {
			return fail(fmt.Errorf("%s already holds raft state: a new cluster is made from a backup restored into an empty folder only", cfg.DataDir))
		}
		if cfg.SeedCheck != nil {
			if err := cfg.SeedCheck(n.fsm); err != nil {
				return fail(err)
			}
		}
		fail = func(err error) (*Node, error) {
			n.closeStores()
			// Nothing of the new cluster is kept when it was not made.
			os.Remove(filepath.Join(cfg.DataDir, "raft.db"))
			os.RemoveAll(filepath.Join(cfg.DataDir, "snapshots"))
			return nil, err
		}
	}
	if n.logs, err = raftboltdb.New(raftboltdb.Options{Path: filepath.Join(cfg.DataDir, "raft.db"), NoSync: cfg.NoSync, BoltOptions: logBoltOptions()}); err != nil {
		return fail(fmt.Errorf("open raft log: %w", err))
	}
	if n.snaps, err = raft.NewFileSnapshotStoreWithLogger(cfg.DataDir, 2, hl); err != nil {
		return fail(fmt.Errorf("open snapshot store: %w", err))
	}
	if n.layer, err = transport.Listen(transport.Config{Addr: cfg.RaftAddr, Server: cfg.ServerTLS, Client: cfg.ClientTLS, Logger: log}); err != nil {
		return fail(err)
	}
	n.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: n.layer, MaxPool: 3, Timeout: 10 * time.Second, Logger: hl,
		ServerAddressProvider: nil,
	})
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.ID)
	rc.Logger = hl
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.TrailingLogs = cfg.TrailingLogs
	rc.SnapshotInterval = cfg.SnapshotInterval
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = min(cfg.HeartbeatTimeout/2, 500*time.Millisecond)
	// The FSM keeps its applied index in its own file, in the same
	// transaction as the data, and skips replayed entries: restoring the
	// snapshot at every start would only cost time.
	rc.NoSnapshotRestoreOnStart = true
	rc.BatchApplyCh = true
	leaderCh := make(chan bool, 8)
	rc.NotifyCh = leaderCh
	if cfg.Bootstrap {
		has, err := raft.HasExistingState(n.logs, n.logs, n.snaps)
		if err != nil {
			return fail(fmt.Errorf("check raft state: %w", err))
		}
		switch {
		case !has && seeding:
			if err := n.seedFromState(rc.LocalID); err != nil {
				return fail(err)
			}
		case has && seeding: // snapshots/ not of this start's making: leave it
			n.closeStores()
			os.Remove(filepath.Join(cfg.DataDir, "raft.db"))
			return nil, fmt.Errorf("%s already holds raft snapshots: a new cluster is made from a backup restored into an empty folder only", cfg.DataDir)
		case !has:
			conf := raft.Configuration{Servers: []raft.Server{{ID: rc.LocalID, Address: n.trans.LocalAddr()}}}
			if err := raft.BootstrapCluster(rc, n.logs, n.logs, n.snaps, n.trans, conf); err != nil {
				return fail(fmt.Errorf("bootstrap cluster: %w", err))
			}
			log.Info("bootstrapped a new cluster", "raft", n.trans.LocalAddr())
		}
	}
	n.met = newMetrics(n) // its gauges read n.raft only when scraped
	// The last logs written stay decoded in memory: the leader reads each
	// one back to send it to the followers (and the one before it for its
	// term), and a follower reads each back to apply it. Read from
	// raft.db, every batch was msgpack-decoded into a fresh copy on every
	// member, the largest allocation of an ingest. The cache holds logs
	// raft has in memory anyway while they are in flight; at most
	// logCacheSize × MaxBatchBytes.
	cached, err := raft.NewLogCache(logCacheSize, n.logs)
	if err != nil {
		return fail(fmt.Errorf("log cache: %w", err))
	}
	if n.raft, err = raft.NewRaft(rc, timedFSM{FSM: n.fsm, met: n.met}, cached, n.logs, n.snaps, n.trans); err != nil {
		return fail(fmt.Errorf("start raft: %w", err))
	}
	n.wg.Add(3)
	go n.propose()
	go n.await()
	go n.watchLeadership(leaderCh)
	n.wg.Add(1)
	go n.expireLoop()
	return n, nil
}

// logBoltOptions open raft.db. The freelist is not written at each commit
// but rebuilt when the file is opened (a scan of a file that compaction
// keeps to about TrailingLogs entries): with Raft entries of hundreds of
// KiB every commit frees and allocates many pages, and writing the
// freelist was a third of the bytes each log append wrote and synced. A
// file written either way opens either way. The map freelist allocates
// runs of pages (one entry's overflow) without scanning an array.
//
// TODO(issue 17): raft.db still writes each Raft entry about 2.5 times
// (BenchmarkClusterPush: 573 MB of pwrite for 3 × 78 MB of entries). bbolt
// never splits a leaf of four keys or fewer, so with entries of hundreds of
// KiB the last leaf holds up to four of them and every append rewrites it
// whole, with the node serialised again, fresh zeroed pages and the bytes
// synced: a 400 KiB append costs about 3.4 ms of CPU and 8 ms of wall here,
// on the commit path twice (leader, then follower). A log store that
// appends each entry once (hashicorp/raft-wal, or our own segment files),
// with a data-format step moving raft.db over, is the next cut of wall time.
// It is the next cut of CPU too, now that a member no longer decodes the
// payloads it applies (fsm markNamed): StoreLogs is about 29% of
// BenchmarkClusterPush's CPU profile, and its msgpack encode into a buffer
// grown from empty allocates 3.3 bytes per byte of log (765 MB for 3 × 77
// MB), with bbolt's page buffers for the overflow another 790 MB: most of
// the garbage behind the 12% the collector takes.
func logBoltOptions() *bolt.Options {
	return &bolt.Options{NoFreelistSync: true, FreelistType: bolt.FreelistMapType}
}

func (n *Node) closeStores() {
	if n.layer != nil {
		n.layer.Close()
	}
	if n.logs != nil {
		n.logs.Close()
	}
	if n.fsm != nil {
		n.fsm.Close()
	}
}

// Shutdown stops the member. Pushes still queued fail with ErrNotLeader;
// nothing acknowledged is affected (it is committed).
func (n *Node) Shutdown() error {
	close(n.stop)
	err := n.raft.Shutdown().Error()
	n.wg.Wait()
	n.trans.Close()
	n.closeStores()
	return err
}

// FSM is the member's state.
func (n *Node) FSM() *fsm.FSM { return n.fsm }

// Raft is the underlying raft instance (for status and tests).
func (n *Node) Raft() *raft.Raft { return n.raft }

// Layer is the Raft transport, which tests cut and heal.
func (n *Node) Layer() *transport.Layer { return n.layer }

// ID is the member id.
func (n *Node) ID() string { return n.cfg.ID }

// IsLeader reports whether this member leads now.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// LeaderTerm is the Raft term this member leads in; ok is false when it
// does not lead. Leadership is read on both sides of the term: raft changes
// a leader's term only by stepping it down, so a term read between two
// looks that both find this member leading is its own, not that of a newer
// leader it heard of as a follower (unless leadership was lost and won back
// between the two looks, which takes an election: a second at least). The
// analytics loader's fence is keyed by it.
func (n *Node) LeaderTerm() (term uint64, ok bool) {
	if !n.IsLeader() {
		return 0, false
	}
	term = n.raft.CurrentTerm()
	return term, n.IsLeader()
}

// ReadyLeader says whether this member leads and its state holds
// everything committed before it was elected: a newly elected leader has
// those entries in its log but may not have applied them yet, so a read
// of its own state would miss them until its first barrier completes.
func (n *Node) ReadyLeader() bool {
	term, ok := n.LeaderTerm()
	return ok && term == n.readyTerm.Load()
}

// Leader returns the leader's id, Raft address and API address (from the
// FSM's member records); empty when there is no known leader.
func (n *Node) Leader() (id, raftAddr, apiAddr string) {
	addr, lid := n.raft.LeaderWithID()
	id, raftAddr = string(lid), string(addr)
	for _, m := range n.fsm.Members() {
		if m.GetId() == id {
			apiAddr = m.GetApiAddress()
		}
	}
	return id, raftAddr, apiAddr
}

// SubscribeLeadership returns a channel that receives true when this member
// becomes leader (after a barrier) and false when it stops leading. Leader-
// only work (the analytics loader) starts and stops on it. A reader that is
// slow (stopping its work) never blocks raft and never misses the outcome:
// the channel holds one value, and a newer one replaces it, so the last
// value received is the current state. A true received while the work
// already runs may mean leadership was lost and regained meanwhile (the
// false replaced before it was read): restart the work, from its durable
// progress.
func (n *Node) SubscribeLeadership() <-chan bool {
	ch := make(chan bool, 1)
	n.leaderMu.Lock()
	n.leaderSubs = append(n.leaderSubs, ch)
	n.leaderMu.Unlock()
	return ch
}

func (n *Node) watchLeadership(ch <-chan bool) {
	defer n.wg.Done()
	for {
		select {
		case <-n.stop:
			return
		case leader := <-ch:
			n.met.leaderChanges.Inc()
			if leader {
				term := n.raft.CurrentTerm()
				n.log.Info("became leader", "term", term)
				if err := n.wait(n.raft.Barrier(n.cfg.ApplyTimeout)); err != nil {
					n.log.Warn("barrier after election failed", "err", err)
					continue
				}
				n.readyTerm.Store(term)
				n.recordSelf()
			} else {
				id, _, _ := n.Leader()
				n.log.Info("lost leadership", "new_leader", id)
			}
			n.leaderMu.Lock()
			for _, s := range n.leaderSubs {
				offer(s, leader)
			}
			n.leaderMu.Unlock()
		}
	}
}

// offer puts v in ch (capacity 1), replacing a value not yet received:
// only this member's leadership watcher sends, so after offer the channel
// holds v or its reader has just taken it.
func offer(ch chan bool, v bool) {
	for {
		select {
		case ch <- v:
			return
		default:
		}
		select {
		case <-ch:
		default:
		}
	}
}

// recordSelf makes sure the FSM knows where the leader serves its API.
func (n *Node) recordSelf() {
	for _, m := range n.fsm.Members() {
		if m.GetId() == n.cfg.ID && m.GetApiAddress() == n.cfg.APIAddr && m.GetRaftAddress() == string(n.trans.LocalAddr()) {
			return
		}
	}
	if err := n.setMember(n.cfg.ID, string(n.trans.LocalAddr()), n.cfg.APIAddr); err != nil {
		n.log.Warn("record own API address", "err", err)
	}
}

// apply proposes one command and waits until it is applied, at most until
// ctx ends (see waitCtx).
func (n *Node) apply(ctx context.Context, t clusterv1.CommandType, m proto.Message) (any, error) {
	payload, err := proto.Marshal(m)
	if err != nil {
		return nil, err
	}
	cmd, err := proto.Marshal(&clusterv1.Command{Type: t, Payload: payload, Optional: optionalCommands[t]})
	if err != nil {
		return nil, err
	}
	timeout := n.cfg.ApplyTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	if err := ctx.Err(); err != nil || timeout <= 0 {
		return nil, fmt.Errorf("apply %s: %w", t, cmp.Or(err, context.DeadlineExceeded))
	}
	f := n.raft.Apply(cmd, timeout)
	if err := n.waitCtx(ctx, f); err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
			return nil, fmt.Errorf("%w: %v", ErrNotLeader, err)
		}
		return nil, fmt.Errorf("apply %s: %w", t, err)
	}
	if err, ok := f.Response().(error); ok {
		return nil, err
	}
	return f.Response(), nil
}

// optionalCommands are proposed as optional: they only add data newer code
// reads, so a member not upgraded yet skips them rather than stopping.
var optionalCommands = map[clusterv1.CommandType]bool{clusterv1.CommandType_COMMAND_TYPE_RECORD_DELIVERY: true}

func (n *Node) setMember(id, raftAddr, apiAddr string) error {
	_, err := n.apply(context.Background(), clusterv1.CommandType_COMMAND_TYPE_SET_MEMBER, &clusterv1.Member{Id: id, RaftAddress: raftAddr, ApiAddress: apiAddr})
	return err
}

// RegisterOrigin records origin's public key through Raft (leader only).
func (n *Node) RegisterOrigin(origin string, pub, cert []byte) error {
	_, err := n.apply(context.Background(), clusterv1.CommandType_COMMAND_TYPE_REGISTER_ORIGIN, &clusterv1.RegisterOrigin{Origin: origin, PublicKey: pub, Certificate: cert})
	return err
}

// AddAttachmentPiece stores one piece of an attachment through Raft
// (leader only); the FSM's refusal (fsm.ErrAttachment,
// fsm.ErrAttachmentMismatch) comes back as the error.
func (n *Node) AddAttachmentPiece(ctx context.Context, c *clusterv1.AttachmentChunk) error {
	_, err := n.apply(ctx, clusterv1.CommandType_COMMAND_TYPE_ATTACHMENT_CHUNK, c)
	return err
}

// SetLoaded records through Raft the index the analytics loader has loaded
// through (leader only), so that lag is visible on every member and a new
// leader's loader knows where its predecessor got to. It returns when ctx
// ends even if raft has not answered: a loader being stopped (leadership
// lost, the member shutting down) must not wait for an entry that may
// never be applied.
func (n *Node) SetLoaded(ctx context.Context, index uint64) error {
	_, err := n.apply(ctx, clusterv1.CommandType_COMMAND_TYPE_SET_LOADED, &clusterv1.LoadedIndex{Index: index})
	return err
}

// Join adds a voter (leader only) and records its API address.
func (n *Node) Join(id, raftAddr, apiAddr string) error {
	if !n.IsLeader() {
		return ErrNotLeader
	}
	cf := n.raft.GetConfiguration()
	if err := n.wait(cf); err != nil {
		return fmt.Errorf("read configuration: %w", err)
	}
	for _, s := range cf.Configuration().Servers {
		if s.ID == raft.ServerID(id) && s.Address == raft.ServerAddress(raftAddr) {
			return n.setMember(id, raftAddr, apiAddr) // already a member
		}
		if s.ID == raft.ServerID(id) || s.Address == raft.ServerAddress(raftAddr) {
			if err := n.wait(n.raft.RemoveServer(s.ID, 0, n.cfg.ApplyTimeout)); err != nil {
				return fmt.Errorf("remove stale member %s: %w", s.ID, err)
			}
		}
	}
	if err := n.wait(n.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(raftAddr), 0, n.cfg.ApplyTimeout)); err != nil {
		return fmt.Errorf("add voter %s at %s: %w", id, raftAddr, err)
	}
	n.log.Info("member joined", "id", id, "raft", raftAddr, "api", apiAddr)
	return n.setMember(id, raftAddr, apiAddr)
}

// Leave removes a member (leader only).
func (n *Node) Leave(id string) error {
	if !n.IsLeader() {
		return ErrNotLeader
	}
	if err := n.wait(n.raft.RemoveServer(raft.ServerID(id), 0, n.cfg.ApplyTimeout)); err != nil {
		return fmt.Errorf("remove member %s: %w", id, err)
	}
	n.log.Info("member left", "id", id)
	return nil
}

// Linearize makes a read that follows it see everything committed before
// it: the member must be the leader, confirm it still is, and apply all
// earlier entries.
func (n *Node) Linearize() error {
	if !n.IsLeader() {
		return ErrNotLeader
	}
	if err := n.wait(n.raft.VerifyLeader()); err != nil {
		return fmt.Errorf("%w: %v", ErrNotLeader, err)
	}
	return n.wait(n.raft.Barrier(n.cfg.ApplyTimeout))
}

// FirstLogIndex is the oldest index the log still holds (tests use it to
// see compaction).
func (n *Node) FirstLogIndex() (uint64, error) { return n.logs.FirstIndex() }

// ErrTimeout: raft did not answer a request in time (it may still take
// effect; check the status and retry).
var ErrTimeout = errors.New("cluster: raft did not answer in time")

// wait waits for a raft future, at most twice ApplyTimeout or until the
// member stops: some futures (a configuration change racing a loss of
// leadership, anything queued when raft shuts down) are never resolved.
func (n *Node) wait(f raft.Future) error { return n.waitCtx(context.Background(), f) }

// waitCtx is wait that also gives up when ctx ends. The entry may still be
// applied after that.
func (n *Node) waitCtx(ctx context.Context, f raft.Future) error {
	errc := make(chan error, 1)
	go func() { errc <- f.Error() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return fmt.Errorf("raft did not answer before the caller gave up: %w", ctx.Err())
	case <-n.stop:
		return fmt.Errorf("%w: member shutting down", ErrNotLeader)
	case <-time.After(2 * n.cfg.ApplyTimeout):
		return fmt.Errorf("%w after %s", ErrTimeout, 2*n.cfg.ApplyTimeout)
	}
}
