package loader

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sanzi/sanzi/analytics/chserver"
	"github.com/sanzi/sanzi/federation/fsm"
	"github.com/sanzi/sanzi/node/attach"
	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/keys"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/rules"
	clusterv1 "github.com/sanzi/sanzi/proto/gen/sanzi/cluster/v1"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

var quiet = slog.New(slog.DiscardHandler)

// village is a real village ledger whose entries the test hands to a real
// FSM, as the district would commit them; want are its own totals.
type village struct {
	org       string
	ring      *keys.Ring
	b         *books.Books
	sent      uint64 // seqs handed to the FSM so far
	wantSum   int64  // income and expense amounts, reversals subtracted
	wantCount int    // transactions recorded, reversals subtracted
	txs       []string
}

func newVillage(t *testing.T, org string) *village { return newVillageAt(t, org, nil) }

// newVillageAt is newVillage with the ledger's clock (nil: time.Now).
func newVillageAt(t *testing.T, org string, now func() time.Time) *village {
	dir := t.TempDir()
	ring, _, err := keys.Ensure(filepath.Join(dir, "keys"), []string{org})
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(ledger.Config{Path: filepath.Join(dir, "ledger.db"), Keys: ring, Indexer: books.Indexer(), Now: now, NoSync: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	att, err := attach.Open(filepath.Join(dir, "att"), l.DB(), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := books.New(l, att, &books.Validator{Served: []string{org}})
	if err != nil {
		t.Fatal(err)
	}
	e, err := rules.Compile(rules.Default())
	if err != nil {
		t.Fatal(err)
	}
	b.SetRules(e)
	return &village{org: org, ring: ring, b: b}
}

// record adds n transactions (some to a person's account, which raises a
// PRIVATE-ACCT alert) and reverses every tenth.
func (v *village) record(t *testing.T, rnd *rand.Rand, n int) {
	ctx := context.Background()
	for i := range n {
		amount := int64(100 + rnd.IntN(500_000))
		tx := &sanziv1.Transaction{Org: v.org, Kind: sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE, AmountFen: amount,
			PaymentMethod: sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER,
			Counterparty:  &sanziv1.Counterparty{Name: "某公司", IdNumber: "91350100M000100Y43", BankAccount: "6222020200112233445"},
			BusinessDate:  time.Now().Format(time.DateOnly), Summary: "支出", InvoiceNumber: fmt.Sprintf("%08d", len(v.txs)+1), Category: "办公费"}
		if i%7 == 0 {
			tx.Counterparty = &sanziv1.Counterparty{Name: "林某某", IdNumber: "11010519491231002X", BankAccount: "6228480012345678"}
			tx.AmountFen = 200_000 + amount
		}
		s, _, err := v.b.RecordTransaction(ctx, "t", tx)
		if err != nil {
			t.Fatal(err)
		}
		v.txs = append(v.txs, s.ID())
		v.wantSum += tx.AmountFen
		v.wantCount++
		if len(v.txs)%10 == 0 {
			if _, err := v.b.RecordReversal(ctx, "t", &sanziv1.Reversal{Org: v.org, TargetId: s.ID(), Reason: "错账"}); err != nil {
				t.Fatal(err)
			}
			v.wantSum -= tx.AmountFen
			v.wantCount--
		}
	}
}

// district is a real FSM fed Raft logs by hand.
type district struct {
	t     testing.TB
	f     *fsm.FSM
	index uint64
}

func (d *district) apply(typ clusterv1.CommandType, m proto.Message) {
	p, _ := proto.Marshal(m)
	data, _ := proto.Marshal(&clusterv1.Command{Type: typ, Payload: p})
	d.index++
	if res := d.f.Apply(&raft.Log{Index: d.index, Term: 1, Type: raft.LogCommand, Data: data}); res != nil {
		if r, ok := res.(*fsm.Result); ok && r.Rejected > 0 {
			d.t.Fatalf("FSM rejected %d entries: %v", r.Rejected, r.Problems)
		}
	}
}

// ship hands the village's new entries to the district in Raft entries of
// up to per entries.
func (d *district) ship(v *village, per int) {
	if v.sent == 0 {
		pub, _ := v.ring.Public(v.org)
		d.apply(clusterv1.CommandType_COMMAND_TYPE_REGISTER_ORIGIN, &clusterv1.RegisterOrigin{Origin: v.org, PublicKey: pub})
	}
	var raws [][]byte
	err := v.b.Ledger().Range(v.org, v.sent+1, 0, func(s *ledger.Stored) bool {
		raws = append(raws, s.Raw)
		v.sent = s.Seq
		return true
	})
	if err != nil {
		d.t.Fatal(err)
	}
	for len(raws) > 0 {
		n := min(per, len(raws))
		d.apply(clusterv1.CommandType_COMMAND_TYPE_APPEND, &clusterv1.AppendBatch{Entries: raws[:n]})
		raws = raws[n:]
	}
}

// newRig starts a private ClickHouse and a real FSM for the district,
// both closed when the test ends.
func newRig(t *testing.T) (*chserver.Server, *district) {
	t.Helper()
	s, err := chserver.Start(context.Background(), chserver.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	f, err := fsm.Open(fsm.Config{Path: filepath.Join(t.TempDir(), "fsm.db"), Logger: quiet, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return s, &district{t: t, f: f}
}

func connect(t testing.TB, s *chserver.Server) driver.Conn {
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{s.Addr()}, DialTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// run starts a loader and returns a function that waits until it has
// loaded through the district's applied index, then stops it.
func run(t *testing.T, d *district, conn driver.Conn) (*Loader, func()) {
	l, err := New(Config{Source: d.f, Conn: conn, BatchRows: 500, Poll: 20 * time.Millisecond, Base: 50 * time.Millisecond, Max: 500 * time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	// A test's ranges are a few dozen rows: hold each (batch.merge), as
	// production holds big ones, so the held parts go through ClickHouse in
	// every test that runs a loader this way; copied ranges go in with
	// the loaders the other tests make.
	l.holdRows = 1
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	return l, func() {
		deadline := time.Now().Add(60 * time.Second)
		for l.Stats().LoadedIndex < d.f.AppliedIndex() {
			if time.Now().After(deadline) {
				t.Fatalf("loader stuck at %d of %d: %+v", l.Stats().LoadedIndex, d.f.AppliedIndex(), l.Stats())
			}
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		<-done
	}
}

// check compares, per village, ClickHouse's sum and count of transactions
// with what the village recorded, and the entry count with its chain.
func check(t *testing.T, conn driver.Conn, vs []*village) {
	t.Helper()
	ctx := context.Background()
	for _, v := range vs {
		var sum int64
		var n, entries, alerts uint64
		var signed int64
		if err := conn.QueryRow(ctx, "SELECT sum(amount_fen), count(), sum(sign) FROM transactions WHERE origin = ?", v.org).Scan(&sum, &n, &signed); err != nil {
			t.Fatal(err)
		}
		if err := conn.QueryRow(ctx, "SELECT count() FROM entries WHERE origin = ?", v.org).Scan(&entries); err != nil {
			t.Fatal(err)
		}
		if err := conn.QueryRow(ctx, "SELECT count() FROM alerts WHERE origin = ?", v.org).Scan(&alerts); err != nil {
			t.Fatal(err)
		}
		// The summaries the loader writes per batch agree with the rows.
		var msum, mcount int64
		var digits, expenses uint64
		if err := conn.QueryRow(ctx, "SELECT sum(amount_fen), sum(transactions) FROM monthly WHERE origin = ?", v.org).Scan(&msum, &mcount); err != nil {
			t.Fatal(err)
		}
		if err := conn.QueryRow(ctx, "SELECT sum(n) FROM expense_digits WHERE origin = ?", v.org).Scan(&digits); err != nil {
			t.Fatal(err)
		}
		if err := conn.QueryRow(ctx, "SELECT count() FROM transactions WHERE origin = ? AND sign = 1 AND kind = 'expense'", v.org).Scan(&expenses); err != nil {
			t.Fatal(err)
		}
		if msum != v.wantSum || mcount != int64(v.wantCount) || digits != expenses {
			t.Fatalf("village %s summaries: monthly sum %d count %d, digits %d; want %d, %d, %d", v.org, msum, mcount, digits, v.wantSum, v.wantCount, expenses)
		}
		head := v.b.Ledger().Head(v.org).Seq
		if sum != v.wantSum || signed != int64(v.wantCount) || entries != head || alerts == 0 {
			t.Fatalf("village %s in ClickHouse: sum %d count %d (rows %d) entries %d alerts %d; recorded sum %d count %d entries %d",
				v.org, sum, signed, n, entries, alerts, v.wantSum, v.wantCount, head)
		}
	}
}

// TestLoaderExactlyOnce loads three villages' chains through a real FSM
// into a real ClickHouse and checks sums and counts per village: after a
// plain load, after a second loader resumes (nothing twice), and after
// ClickHouse is stopped mid-load and started again (nothing missing).
func TestLoaderExactlyOnce(t *testing.T) {
	ctx := context.Background()
	s, d := newRig(t)
	rnd := rand.New(rand.NewPCG(6, 6))
	vs := []*village{newVillage(t, "350505100201"), newVillage(t, "350505100202"), newVillage(t, "350505101203")}
	for _, v := range vs {
		v.record(t, rnd, 400)
		d.ship(v, 37)
	}
	conn := connect(t, s)
	_, wait := run(t, d, conn)
	wait()
	check(t, conn, vs)

	// A second loader (a new leader) resumes where the first stopped and
	// loads only what came after; meanwhile the district refused a fork
	// (recorded twice: the same fork pushed again), which becomes one
	// TAMPER alert of the district, in the forked village's town.
	fork := &sanziv1.ForkRecord{Origin: vs[2].org, Seq: 3, HeldHash: "aa", SentHash: "bb", SignedByOrigin: true, At: timestamppb.Now()}
	d.apply(clusterv1.CommandType_COMMAND_TYPE_RECORD_FORK, fork)
	d.apply(clusterv1.CommandType_COMMAND_TYPE_RECORD_FORK, fork)
	for _, v := range vs {
		v.record(t, rnd, 100)
		d.ship(v, 50)
	}
	second, wait := run(t, d, conn)
	wait()
	check(t, conn, vs)
	var tampers uint64
	var town, subject string
	if err := conn.QueryRow(ctx, "SELECT count(), any(town), any(subject) FROM alerts WHERE rule_code = 'TAMPER' AND origin = '350505000000'").Scan(&tampers, &town, &subject); err != nil {
		t.Fatal(err)
	}
	if tampers != 1 || town != vs[2].org[:9] || subject != vs[2].org+"-3" {
		t.Fatalf("the district's TAMPER alerts in ClickHouse: %d in town %q about %q, want 1 in %s about %s-3", tampers, town, subject, vs[2].org[:9], vs[2].org)
	}
	if second.Stats().Rows == 0 || second.Stats().Rows > 3*(100+10+100)*2 {
		t.Fatalf("second loader inserted %d rows: want only the new entries' rows", second.Stats().Rows)
	}

	// ClickHouse goes away during loading and comes back.
	third, wait := run(t, d, connect(t, s))
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		v.record(t, rnd, 200)
		d.ship(v, 25)
	}
	deadline := time.Now().Add(30 * time.Second)
	for third.Stats().Failures == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if third.Stats().Failures == 0 {
		t.Fatal("the loader never noticed ClickHouse was down")
	}
	if err := s.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	wait()
	check(t, connect(t, s), vs)
	t.Logf("loaded through %d; while ClickHouse was down: %d failed attempts", third.Stats().LoadedIndex, third.Stats().Failures)
}
