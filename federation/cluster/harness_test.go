package cluster_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sanzi/sanzi/federation/cluster"
	"github.com/sanzi/sanzi/node/freeport"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/limits"
	"github.com/sanzi/sanzi/node/pki"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"
)

// Cluster is a test harness of real members on loopback TCP with mutual TLS:
// Leader(), WaitForNewLeader(), Partition/Heal by cutting a member's Raft
// transport, Stop/Start to restart members on their data. It polls; it never
// sleeps to let the cluster settle.
type Cluster struct {
	t       testing.TB
	dir     string
	ca      *pki.CA
	cert    *pki.Issued
	tune    func(*cluster.Config)
	mu      sync.Mutex
	members map[string]*member
	order   []string
}

type member struct {
	conn     *grpc.ClientConn
	id       string
	cfg      cluster.Config
	node     *cluster.Node
	svc      *cluster.Service
	srv      *grpc.Server
	apiAddr  string
	raftAddr string
}

func freeAddr(t testing.TB) string {
	return freeport.Loopback(t)
}

// NewCluster starts n members: the first bootstraps, the others join.
func NewCluster(t testing.TB, n int, tune func(*cluster.Config)) *Cluster {
	t.Helper()
	ca, err := pki.NewCA("350505", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue("350505000000", pki.RoleDistrict, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{t: t, dir: t.TempDir(), ca: ca, cert: cert, tune: tune, members: map[string]*member{}}
	t.Cleanup(c.StopAll)
	for i := 1; i <= n; i++ {
		c.Add(fmt.Sprintf("m%d", i))
	}
	return c
}

func (c *Cluster) config(id string) cluster.Config {
	allow := pki.AllowRoles(pki.RoleDistrict)
	cfg := cluster.Config{
		ID: id, RaftAddr: freeAddr(c.t), DataDir: filepath.Join(c.dir, id),
		ServerTLS: pki.ServerConfig(c.ca.Pool(), c.cert.TLSCertificate(), allow),
		ClientTLS: pki.ClientConfig(c.ca.Pool(), c.cert.TLSCertificate(), allow),
	}
	if c.tune != nil {
		c.tune(&cfg)
	}
	return cfg
}

// Add starts a new member and (after the first) adds it as a voter.
func (c *Cluster) Add(id string) *member {
	c.t.Helper()
	cfg := c.config(id)
	c.mu.Lock()
	cfg.Bootstrap = len(c.members) == 0
	c.mu.Unlock()
	m := &member{id: id, cfg: cfg}
	c.start(m)
	c.mu.Lock()
	c.members[id] = m
	c.order = append(c.order, id)
	c.mu.Unlock()
	if !cfg.Bootstrap {
		eventually(c.t, 60*time.Second, "the leader to add "+id, func() bool {
			return c.Leader().node.Join(id, m.raftAddr, m.apiAddr) == nil
		})
	}
	return m
}

func (c *Cluster) start(m *member) {
	c.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if m.apiAddr != "" {
		ln, err = net.Listen("tcp", m.apiAddr)
	}
	if err != nil {
		c.t.Fatal(err)
	}
	m.apiAddr = ln.Addr().String()
	m.cfg.APIAddr = m.apiAddr
	m.node, err = cluster.Open(m.cfg)
	if err != nil {
		c.t.Fatalf("open %s: %v", m.id, err)
	}
	m.raftAddr = m.node.Layer().Addr().String()
	m.cfg.RaftAddr = m.raftAddr
	m.svc = cluster.NewService(m.node, c.creds())
	m.srv = grpc.NewServer(grpc.Creds(credentials.NewTLS(pki.ServerConfig(c.ca.Pool(), c.cert.TLSCertificate(), nil))),
		grpc.MaxRecvMsgSize(limits.MaxMessageSize), grpc.ChainUnaryInterceptor(cluster.Authorize), cluster.ServerCodec())
	sanziv1.RegisterDistrictServiceServer(m.srv, m.svc)
	sanziv1.RegisterSyncServiceServer(m.srv, cluster.NewSyncServer(m.svc, c.ca.Pool(), slog.New(slog.DiscardHandler)))
	sanziv1.RegisterAttachmentServiceServer(m.srv, cluster.NewAttachmentServer(m.node))
	go m.srv.Serve(ln)
}

func (c *Cluster) creds() credentials.TransportCredentials {
	return credentials.NewTLS(pki.ClientConfig(c.ca.Pool(), c.cert.TLSCertificate(), nil))
}

// Client returns a gRPC client for member id (one connection per member,
// dropped when it stops).
func (c *Cluster) Client(id string) sanziv1.DistrictServiceClient {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.members[id]
	if m.conn == nil {
		conn, err := grpc.NewClient(m.apiAddr, grpc.WithTransportCredentials(c.creds()),
			limits.CallOptions())
		if err != nil {
			panic(err)
		}
		m.conn = conn
	}
	return sanziv1.NewDistrictServiceClient(m.conn)
}

// Member returns a running member.
func (c *Cluster) Member(id string) *member {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.members[id]
}

// Running lists running members.
func (c *Cluster) Running() []*member {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*member
	for _, id := range c.order {
		if m := c.members[id]; m != nil && m.node != nil {
			out = append(out, m)
		}
	}
	return out
}

// Stop shuts a member down (its data stays for Start).
func (c *Cluster) Stop(id string) {
	m := c.Member(id)
	if m == nil || m.node == nil {
		return
	}
	c.mu.Lock()
	if m.conn != nil {
		m.conn.Close()
		m.conn = nil
	}
	c.mu.Unlock()
	m.srv.Stop()
	m.svc.Close()
	m.node.Shutdown()
	m.node = nil
}

// Start restarts a stopped member on its data and addresses.
func (c *Cluster) Start(id string) {
	m := c.Member(id)
	m.cfg.Bootstrap = false
	c.start(m)
}

// Remove takes a member out of the configuration and stops it.
func (c *Cluster) Remove(id string) {
	c.t.Helper()
	var err error
	eventually(c.t, 60*time.Second, "the leader to remove "+id, func() bool {
		err = c.Leader().node.Leave(id)
		return err == nil
	})
	c.Stop(id)
	c.mu.Lock()
	delete(c.members, id)
	c.mu.Unlock()
}

// StopAll stops every member.
func (c *Cluster) StopAll() {
	for _, m := range c.Running() {
		c.Stop(m.id)
	}
}

// Partition cuts a member's Raft traffic both ways; Heal restores it.
func (c *Cluster) Partition(id string) { c.Member(id).node.Layer().Cut() }

// Heal reconnects a partitioned member.
func (c *Cluster) Heal(id string) { c.Member(id).node.Layer().Heal() }

// eventually polls cond every 10 ms until it holds or d passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond) // poll interval, not a settle delay
	}
}

// Leader waits for exactly one running, reachable member to lead and for
// every running member to agree.
func (c *Cluster) Leader() *member {
	c.t.Helper()
	var leader *member
	eventually(c.t, 20*time.Second, "a leader", func() bool {
		leader = nil
		for _, m := range c.Running() {
			if m.node.IsLeader() && !m.node.Layer().IsCut() {
				if leader != nil {
					return false
				}
				leader = m
			}
		}
		return leader != nil
	})
	return leader
}

// WaitForNewLeader waits for a leader other than old.
func (c *Cluster) WaitForNewLeader(old string) *member {
	c.t.Helper()
	var l *member
	eventually(c.t, 20*time.Second, "a new leader", func() bool {
		for _, m := range c.Running() {
			if m.id != old && m.node.IsLeader() {
				l = m
				return true
			}
		}
		return false
	})
	return l
}

// village makes genuine signed chains of an origin in memory.
type village struct {
	origin string
	key    ed25519.PrivateKey
	head   ledger.Head
	seq    int
	// tx makes each payload a real Transaction of about the size asked,
	// so that a member whose Named hook reads payloads (production's
	// entries.AttachmentsIn) does its real work on them.
	tx bool
}

func newVillage(i int) *village {
	seed := make([]byte, ed25519.SeedSize)
	seed[0], seed[1] = byte(i), byte(i>>8)
	return &village{origin: fmt.Sprintf("350505100%03d", 200+i), key: ed25519.NewKeyFromSeed(seed)}
}

// next makes n more entries of about size bytes each.
func (v *village) next(n, size int) [][]byte {
	out := make([][]byte, 0, n)
	payload := make([]byte, size)
	for i := 0; i < n; i++ {
		v.seq++
		copy(payload, fmt.Sprintf("entry %d of %s", v.seq, v.origin))
		if v.tx {
			var err error
			if payload, err = txPayload(v.origin, v.seq, size); err != nil {
				panic(err)
			}
		}
		s, err := ledger.Seal(v.key, v.head, ledger.Record{Origin: v.origin, Author: "test", Type: sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, Payload: payload}, time.Unix(1_790_000_000+int64(v.seq), 0))
		if err != nil {
			panic(err)
		}
		v.head = ledger.Head{Seq: s.Seq, Hash: s.Hash}
		out = append(out, s.Raw)
	}
	return out
}

// txPayload is an encoded Transaction of org, numbered seq, padded by its
// summary to about size bytes.
func txPayload(org string, seq, size int) ([]byte, error) {
	t := &sanziv1.Transaction{Org: org, Kind: sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE, AmountFen: int64(100 + seq%50_000),
		PaymentMethod: sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER, Counterparty: &sanziv1.Counterparty{Name: fmt.Sprintf("party %d", seq%61)},
		BusinessDate: "2026-08-15", Category: "办公费", Summary: fmt.Sprintf("entry %d of %s", seq, org)}
	b, err := proto.Marshal(t)
	if err != nil {
		return nil, err
	}
	if pad := size - len(b); pad > 0 {
		t.Summary += strings.Repeat(".", pad)
		return proto.Marshal(t)
	}
	return b, nil
}

// registerVillage issues org a village certificate from the district CA
// and registers it at the leader, whose client it returns with it.
func (c *Cluster) registerVillage(ctx context.Context, org string) (*pki.Issued, sanziv1.DistrictServiceClient) {
	c.t.Helper()
	iss, err := c.ca.Issue(org, pki.RoleVillage, nil, time.Now())
	if err != nil {
		c.t.Fatal(err)
	}
	leader := c.Client(c.Leader().id)
	if _, err := leader.RegisterOrigin(ctx, &sanziv1.RegisterOriginRequest{Origin: org, PublicKey: iss.Key.Public().(ed25519.PublicKey), Certificate: iss.Cert.Raw}); err != nil {
		c.t.Fatal(err)
	}
	return iss, leader
}

func (c *Cluster) register(v *village) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Client(c.Leader().id).RegisterOrigin(ctx, &sanziv1.RegisterOriginRequest{Origin: v.origin, PublicKey: v.key.Public().(ed25519.PublicKey)}); err != nil {
		c.t.Fatalf("register %s: %v", v.origin, err)
	}
}

// digests returns each running member's state digest once all have applied
// the leader's last index.
func (c *Cluster) converged() map[string][32]byte {
	c.t.Helper()
	var out map[string][32]byte
	eventually(c.t, 30*time.Second, "members to converge", func() bool {
		out = map[string][32]byte{}
		var first [32]byte
		for i, m := range c.Running() {
			d, err := m.node.FSM().Digest()
			if err != nil {
				return false
			}
			out[m.id] = d
			if i == 0 {
				first = d
			} else if d != first {
				return false
			}
		}
		return true
	})
	return out
}
