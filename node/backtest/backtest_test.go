package backtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/rules"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

var cst = time.FixedZone("CST", 8*3600)

// chains is a Source over entries in memory (the fake of this package's
// unit test; the API tests run it over a real ledger and a real FSM).
type chains map[string][]*ledger.Stored

func (c chains) Range(origin string, from uint64, limit int, fn func(*ledger.Stored) bool) error {
	n := 0
	for _, s := range c[origin] {
		if s.Seq < from {
			continue
		}
		if !fn(s) {
			return nil
		}
		if n++; limit > 0 && n >= limit {
			return nil
		}
	}
	return nil
}

func (c chains) add(t *testing.T, origin string, typ sanziv1.EntryType, m proto.Message) string {
	t.Helper()
	raw, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	seq := uint64(len(c[origin]) + 1)
	at := time.Date(2026, 11, 2, 9, 0, 0, 0, cst).Add(time.Duration(seq) * time.Hour)
	c[origin] = append(c[origin], &ledger.Stored{Origin: origin, Seq: seq, Type: typ, Payload: raw, RecordedAt: at})
	return ledger.EntryID(origin, seq)
}

func cashPayment(org string, fen int64) *sanziv1.Transaction {
	return &sanziv1.Transaction{Org: org, Kind: sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE, AmountFen: fen,
		PaymentMethod: sanziv1.PaymentMethod_PAYMENT_METHOD_CASH, BusinessDate: "2026-11-02", Summary: "办公用品",
		Counterparty: &sanziv1.Counterparty{Name: "文具店"}, InvoiceCode: "3500", InvoiceNumber: fmt.Sprint(fen), Attachments: []string{"ab"}}
}

// draft is the default set with the cash limit lowered to 500 yuan.
func draft(t *testing.T) *rules.Engine {
	t.Helper()
	rs := rules.Default()
	rs.Version = "cash-500"
	found := false
	for i := range rs.Rules {
		if _, ok := rs.Rules[i].Params["cash_limit_fen"]; ok {
			rs.Rules[i].Params["cash_limit_fen"] = 50_000
			found = true
		}
	}
	if !found {
		t.Fatal("the default set has no cash_limit_fen")
	}
	e, err := rules.Compile(rs)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// world is two villages: the first paid 600, 900 and 300 yuan in cash (the
// 900 later reversed), the second 800.
func world(t *testing.T) (chains, []string) {
	c := chains{}
	a, b := "350505100201", "350505100202"
	c.add(t, a, sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, cashPayment(a, 60_000))
	rev := c.add(t, a, sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, cashPayment(a, 90_000))
	c.add(t, a, sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, cashPayment(a, 30_000))
	c.add(t, a, sanziv1.EntryType_ENTRY_TYPE_REVERSAL, &sanziv1.Reversal{Org: a, TargetId: rev, Reason: "录错"})
	c.add(t, b, sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, cashPayment(b, 80_000))
	return c, []string{a, b}
}

func result(rep *Report, code string) Result {
	for _, r := range rep.Results {
		if r.Code == code {
			return r
		}
	}
	return Result{}
}

func TestRun(t *testing.T) {
	ctx := context.Background()
	e := draft(t)
	tick := func(step time.Duration) func() time.Time {
		now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
		return func() time.Time { now = now.Add(step); return now }
	}
	for _, tc := range []struct {
		name    string
		lim     Limits
		stopped Stop
		read    int
		chains  int
		hits    int
	}{
		{"every chain, default bounds", Limits{}, StopNone, 5, 2, 3},
		{"one entry a page", Limits{PageSize: 1}, StopNone, 5, 2, 3},
		{"stopped after two entries", Limits{MaxEntries: 2}, StopEntries, 2, 1, 2},
		{"stopped by the clock before reading", Limits{MaxDuration: time.Second, Now: tick(time.Minute)}, StopDuration, 0, 1, 0},
		{"a clock that never runs out", Limits{Now: tick(0)}, StopNone, 5, 2, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, origins := world(t)
			rep, err := Run(ctx, c, origins, e, cst, tc.lim)
			if err != nil {
				t.Fatal(err)
			}
			got := result(rep, "CASH-PAY")
			if rep.Stopped != tc.stopped || rep.Read != tc.read || rep.Chains != tc.chains || got.Hits != tc.hits {
				t.Fatalf("stopped %q read %d chains %d CASH-PAY %+v; want %q %d %d %d hits", rep.Stopped, rep.Read, rep.Chains, got, tc.stopped, tc.read, tc.chains, tc.hits)
			}
			if len(rep.Results) < len(e.Set().Rules) || rep.Total != 2 || rep.Version != "cash-500" {
				t.Fatalf("%d results for %d rules, total %d, version %q", len(rep.Results), len(e.Set().Rules), rep.Total, rep.Version)
			}
		})
	}
	t.Run("hits per rule, reversed and chains", func(t *testing.T) {
		c, origins := world(t)
		rep, err := Run(ctx, c, origins, e, cst, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		got := result(rep, "CASH-PAY")
		want := []string{"350505100201-1", "350505100201-2", "350505100202-1"}
		if got.Reversed != 1 || got.Chains != 2 || fmt.Sprint(got.Examples) != fmt.Sprint(want) || got.Name == "" {
			t.Fatalf("CASH-PAY %+v: want 1 reversed, 2 chains, examples %v", got, want)
		}
		if rep.Checked != 4 {
			t.Fatalf("checked %d entries, want the 4 transactions", rep.Checked)
		}
		// The default set raises no CASH-PAY on the same history.
		def, err := rules.Compile(rules.Default())
		if err != nil {
			t.Fatal(err)
		}
		rep, err = Run(ctx, c, origins, def, cst, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if r := result(rep, "CASH-PAY"); r.Code != "CASH-PAY" || r.Hits != 0 {
			t.Fatalf("default set: CASH-PAY %+v, want listed with 0 hits", r)
		}
	})
	t.Run("a cancelled request ends the run", func(t *testing.T) {
		c, origins := world(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := Run(cctx, c, origins, e, cst, Limits{}); !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want context.Canceled", err)
		}
	})
	t.Run("an entry that does not decode is an error naming it", func(t *testing.T) {
		c, origins := world(t)
		c[origins[1]][0].Payload = []byte{0xff, 0xff}
		if _, err := Run(ctx, c, origins, e, cst, Limits{}); err == nil || !strings.Contains(err.Error(), "350505100202-1") {
			t.Fatalf("err %v, want one naming 350505100202-1", err)
		}
	})
}
