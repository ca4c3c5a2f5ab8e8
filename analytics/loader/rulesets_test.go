package loader

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/analytics/schema"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/rules"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// withParam is rules.Default() as version, with one rule's parameter set.
func withParam(version, code, param string, fen int64) rules.RuleSet {
	rs := rules.Default()
	rs.Version = version
	for i, r := range rs.Rules {
		if r.Code == code {
			p := map[string]int64{}
			for k, v := range r.Params {
				p[k] = v
			}
			p[param] = fen
			rs.Rules[i].Params = p
		}
	}
	return rs
}

// TestThresholdsInForce checks which org's rule set a transaction is
// counted with: its own chain's, else its town's, else the district's,
// else the default; from the second of publication on, and only once the
// publication is loaded (Raft order).
func TestThresholdsInForce(t *testing.T) {
	t0 := time.Date(2026, 8, 1, 8, 0, 0, 0, time.UTC)
	pub := func(index uint64, origin string, at time.Time, fen int64) schema.RuleSetRow {
		return schema.RuleSetRow{RaftIndex: index, Origin: origin, Seq: index, State: schema.RuleSetPublished, EffectiveAt: at,
			Thresholds: schema.Thresholds{Rules: []string{"BIG-SPEND"}, Fen: []int64{fen}}}
	}
	sets := newRuleSets([]schema.RuleSetRow{
		pub(10, "350505000000", t0, 1_000), // the district's
		pub(20, "350505100000", t0.Add(time.Hour), 2_000),
		pub(30, "350505100201", t0.Add(2*time.Hour), 3_000),
		pub(40, "350505000000", t0.Add(3*time.Hour), 4_000),
	})
	def := schema.DefaultThresholds()
	for _, c := range []struct {
		name   string
		index  uint64
		origin string
		at     time.Time
		want   []int64
	}{
		{"before any publication", 50, "350505100201", t0.Add(-time.Second), def},
		{"the district's, same second", 50, "350505101201", t0.Add(999 * time.Millisecond), []int64{1_000}},
		{"the district's newest", 50, "350505101201", t0.Add(4 * time.Hour), []int64{4_000}},
		{"the town's over the district's", 50, "350505100202", t0.Add(4 * time.Hour), []int64{2_000}},
		{"the village's own over its town's", 50, "350505100201", t0.Add(4 * time.Hour), []int64{3_000}},
		{"a town's own transaction", 50, "350505100000", t0.Add(4 * time.Hour), []int64{2_000}},
		{"the district's own transaction", 50, "350505000000", t0.Add(4 * time.Hour), []int64{4_000}},
		{"the village's set not yet loaded", 29, "350505100201", t0.Add(4 * time.Hour), []int64{2_000}},
		{"nothing loaded yet", 9, "350505100201", t0.Add(4 * time.Hour), def},
		{"not an org code", 50, "x", t0.Add(4 * time.Hour), def},
	} {
		if got := sets.thresholds(c.index, c.origin, c.at); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	if got := schema.ThresholdsOf(withParam("v", "CASH-PAY", "cash_limit_fen", 50_000)).Fen; !slices.Equal(got, []int64{50_000, 5_000_000, 10_000_000}) {
		t.Errorf("thresholds of a set with CASH-PAY at 500 yuan: %v", got)
	}
}

// clock is a settable ledger clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.now = t }

// publish records rs as a draft by one person and its publication by
// another in v's own chain, as books.SubmitRuleSet and PublishRuleSet do.
func (v *village) publish(t *testing.T, rs rules.RuleSet) {
	raw, err := json.Marshal(rs)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	for _, r := range []struct {
		author string
		v      *sanziv1.RuleSetVersion
	}{
		{"drafter", &sanziv1.RuleSetVersion{Org: v.org, Version: rs.Version, State: sanziv1.RuleSetState_RULE_SET_STATE_DRAFT,
			RulesJson: string(raw), DraftedBy: "drafter", Sha256: hex.EncodeToString(sum[:])}},
		{"publisher", &sanziv1.RuleSetVersion{Org: v.org, Version: rs.Version, State: sanziv1.RuleSetState_RULE_SET_STATE_PUBLISHED,
			DraftedBy: "drafter", Sha256: hex.EncodeToString(sum[:])}},
	} {
		p, _ := proto.Marshal(r.v)
		if _, err := v.b.Ledger().Append(context.Background(), ledger.Record{Origin: v.org, Author: r.author, Type: sanziv1.EntryType_ENTRY_TYPE_RULE_SET, Payload: p}); err != nil {
			t.Fatal(err)
		}
	}
}

// expenses records one bank-transfer expense per amount, each to its own
// company with an invoice (so no rule refuses it).
func (v *village) expenses(t *testing.T, day time.Time, amounts ...int64) {
	for _, a := range amounts {
		n := len(v.txs) + 1
		tx := &sanziv1.Transaction{Org: v.org, Kind: sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE, AmountFen: a,
			PaymentMethod: sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER,
			Counterparty:  &sanziv1.Counterparty{Name: fmt.Sprintf("公司%d", n), IdNumber: "91350100M000100Y43", BankAccount: "6222020200112233445"},
			BusinessDate:  day.Format(time.DateOnly), Summary: "支出", InvoiceNumber: fmt.Sprintf("%08d", n), Category: "办公费"}
		st, _, err := v.b.RecordTransaction(context.Background(), "t", tx)
		if err != nil {
			t.Fatal(err)
		}
		v.txs = append(v.txs, st.ID())
	}
}

// justUnder is a village's expense count and "just under" count per first
// digit, from the summary the loader writes.
func justUnder(t *testing.T, conn driver.Conn, org string) map[uint8][2]uint64 {
	t.Helper()
	rows, err := conn.Query(context.Background(), "SELECT digit, sum(n), sum(just_under) FROM expense_digits WHERE origin = ? GROUP BY digit", org)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[uint8][2]uint64{}
	for rows.Next() {
		var d uint8
		var n, u uint64
		if err := rows.Scan(&d, &n, &u); err != nil {
			t.Fatal(err)
		}
		out[d] = [2]uint64{n, u}
	}
	return out
}

// TestPublishedRuleSetMovesJustUnder: the district publishes a rule set
// with BIG-SPEND at 30,000 yuan instead of 50,000; expenses recorded after
// it between 27,000 and 30,000 yuan count as just under, those between
// 45,000 and 50,000 no longer, while a village that published its own set
// (the default amounts) keeps the old band. A second loader, resuming from
// what the first wrote, decides the same way.
func TestPublishedRuleSetMovesJustUnder(t *testing.T) {
	ctx := context.Background()
	s, d := newRig(t)
	conn := connect(t, s)
	t0 := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Second)
	clk := &clock{now: t0}
	dist, v, own := newVillageAt(t, "350505000000", clk.Now), newVillageAt(t, "350505100201", clk.Now), newVillageAt(t, "350505100202", clk.Now)
	const oldBand, newBand = 4_600_000, 2_800_000 // first digits 4 and 2

	t.Run("before the district's set, the default band", func(t *testing.T) {
		v.expenses(t, t0, oldBand, newBand)
		d.ship(v, 10)
		clk.Set(t0.Add(time.Hour))
		dist.publish(t, withParam("district-2", "BIG-SPEND", "big_spend_fen", 3_000_000))
		d.ship(dist, 10)
		_, wait := run(t, d, conn)
		wait()
		if got := justUnder(t, conn, v.org); got[4] != [2]uint64{1, 1} || got[2] != [2]uint64{1, 0} {
			t.Fatalf("village %s (n, just under) by first digit: %v; want 4: (1, 1), 2: (1, 0)", v.org, got)
		}
		var pubs uint64
		var fen []int64
		if err := conn.QueryRow(ctx, "SELECT count(), any(threshold_fen) FROM rule_sets WHERE origin = ? AND state = 'published'", dist.org).Scan(&pubs, &fen); err != nil {
			t.Fatal(err)
		}
		if pubs != 1 || !slices.Equal(fen, []int64{100_000, 3_000_000, 10_000_000}) {
			t.Fatalf("the district's publications in rule_sets: %d with %v", pubs, fen)
		}
	})
	t.Run("after it, the new band; a village's own set wins", func(t *testing.T) {
		clk.Set(t0.Add(90 * time.Minute))
		own.publish(t, withParam("own-1", "BIG-SPEND", "big_spend_fen", 5_000_000))
		clk.Set(t0.Add(2 * time.Hour))
		v.expenses(t, t0, oldBand, newBand)
		own.expenses(t, t0, oldBand, newBand)
		d.ship(v, 10)
		d.ship(own, 10)
		// A new loader: it knows the district's set only from rule_sets.
		second, wait := run(t, d, conn)
		wait()
		if second.Stats().Rows == 0 {
			t.Fatal("the second loader loaded nothing")
		}
		if got := justUnder(t, conn, v.org); got[4] != [2]uint64{2, 1} || got[2] != [2]uint64{2, 1} {
			t.Fatalf("village %s (n, just under) by first digit: %v; want 4: (2, 1), 2: (2, 1)", v.org, got)
		}
		if got := justUnder(t, conn, own.org); got[4] != [2]uint64{1, 1} || got[2] != [2]uint64{1, 0} {
			t.Fatalf("village %s with its own set (n, just under) by first digit: %v; want 4: (1, 1), 2: (1, 0)", own.org, got)
		}
	})
}
