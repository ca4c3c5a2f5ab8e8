package schema

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sanzi/sanzi/analytics/chserver"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestApplyClusterAddsNewColumns: a migration that adds a column to a
// _local table (as 6 does to alerts) reaches the Distributed table over it,
// which CREATE ... AS copied once, when ApplyCluster runs again.
func TestApplyClusterAddsNewColumns(t *testing.T) {
	ctx := context.Background()
	p, err := chserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cluster := fmt.Sprintf(`<remote_servers><one><shard><replica><host>127.0.0.1</host><port>%d</port></replica></shard></one></remote_servers>`, p)
	conn := serve(t, chserver.Options{TCPPort: p, Extra: cluster})
	if err := ApplyCluster(ctx, []driver.Conn{conn}, "one"); err != nil {
		t.Fatal(err)
	}
	columns := func() string {
		var got string
		if err := conn.QueryRow(ctx, `SELECT arrayStringConcat(groupArray(concat(name, ' ', default_expression)), ',') FROM system.columns
			WHERE database = currentDatabase() AND table = 'alerts' AND name IN ('subject_origin', 'tamper_kind', 'probe')`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := columns(); !strings.Contains(got, "subject_origin if(") || !strings.Contains(got, "tamper_kind ''") {
		t.Fatalf("the Distributed alerts table after a fresh ApplyCluster: %s", got)
	}
	if err := conn.Exec(ctx, "ALTER TABLE alerts_local ADD COLUMN probe String DEFAULT 'x'"); err != nil {
		t.Fatal(err)
	}
	if err := ApplyCluster(ctx, []driver.Conn{conn}, "one"); err != nil {
		t.Fatal(err)
	}
	var probe string
	if err := conn.QueryRow(ctx, "SELECT any(default_expression) FROM system.columns WHERE database = currentDatabase() AND table = 'alerts' AND name = 'probe'").Scan(&probe); err != nil {
		t.Fatal(err)
	}
	if probe != "'x'" {
		t.Fatalf("the Distributed alerts table after the local one gained a column: default %q (columns %s)", probe, columns())
	}
}

// before makes the tables as a deployment had them before migration v
// (every migration under it applied and recorded) and returns what
// inserts rows into them.
func before(t *testing.T, ctx context.Context, conn driver.Conn, v uint32) func(q string, rows ...[]any) {
	t.Helper()
	if err := conn.Exec(ctx, "CREATE TABLE schema_migrations (version UInt32, name String, applied_at DateTime) ENGINE = MergeTree ORDER BY version"); err != nil {
		t.Fatal(err)
	}
	for _, m := range Migrations() {
		if m.Version >= v {
			continue
		}
		for _, q := range m.SQL {
			if err := conn.Exec(ctx, q); err != nil {
				t.Fatalf("migration %d: %v", m.Version, err)
			}
		}
		if err := conn.Exec(ctx, fmt.Sprintf("INSERT INTO schema_migrations (version, name, applied_at) SELECT %d, 'old', now()", m.Version)); err != nil {
			t.Fatal(err)
		}
	}
	return func(q string, rows ...[]any) {
		t.Helper()
		if err := chserver.Insert(ctx, conn, q, rows...); err != nil {
			t.Fatal(err)
		}
	}
}

// TestOriginDefaults: migration 10 makes entries' and transactions'
// district and town DEFAULTs computed from origin (the loader leaves them
// out), on tables made before it: rows already there keep what they hold,
// a writer that still names them is obeyed, and rows without them get the
// origin's district and town as the loader's orgParts makes them.
func TestOriginDefaults(t *testing.T) {
	ctx := context.Background()
	conn := serve(t, chserver.Options{})
	insert := before(t, ctx, conn, 10)
	insert("INSERT INTO entries (raft_index, origin, seq, district, town, type, type_name, recorded_at, author, subject)",
		[]any{uint64(1), "350505101201", uint64(1), "old-d", "old-t", uint8(1), "x", int64(0), "a", ""})
	applied, err := Apply(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(applied) != "[10 11]" {
		t.Fatalf("applied %v, want [10 11]", applied)
	}
	insert("INSERT INTO entries (raft_index, origin, seq, type, type_name, recorded_at, author, subject)",
		[]any{uint64(2), "350505102202", uint64(1), uint8(1), "x", int64(0), "a", ""},
		[]any{uint64(3), "3505051", uint64(1), uint8(1), "x", int64(0), "a", ""})
	insert("INSERT INTO entries (raft_index, origin, seq, district, town, type, type_name, recorded_at, author, subject)",
		[]any{uint64(4), "350505103203", uint64(1), "named-d", "named-t", uint8(1), "x", int64(0), "a", ""})
	insert("INSERT INTO transactions (raft_index, origin, seq, kind, sign, amount_fen, payment_method, category, budget_line, counterparty, counterparty_id, business_date, month, recorded_at)",
		[]any{uint64(5), "350505104204", uint64(1), "expense", int8(1), int64(1), "", "", "", "", "", "2026-08-15", uint32(202608), int64(0)})
	for _, tc := range []struct {
		table, origin, district, town string
	}{
		{"entries", "350505101201", "old-d", "old-t"},
		{"entries", "350505102202", "350505", "350505102"},
		{"entries", "3505051", "3505051", "3505051"},
		{"entries", "350505103203", "named-d", "named-t"},
		{"transactions", "350505104204", "350505", "350505104"},
	} {
		var d, tw string
		if err := conn.QueryRow(ctx, "SELECT district, town FROM "+tc.table+" WHERE origin = ?", tc.origin).Scan(&d, &tw); err != nil {
			t.Fatalf("%s %s: %v", tc.table, tc.origin, err)
		}
		if d != tc.district || tw != tc.town {
			t.Errorf("%s %s: district %q town %q, want %q %q", tc.table, tc.origin, d, tw, tc.district, tc.town)
		}
	}
}

// TestEnumNames: migration 11 makes entries' type_name and transactions'
// kind and payment_method DEFAULTs computed from the enum numbers (the
// loader sends only those), on tables made before it: rows already there
// keep their strings, a writer that names them is obeyed, and every value
// of the Go enums, and a number none covers, is named as the loader named
// it before (an enum grown without a migration that names its new value
// fails here).
func TestEnumNames(t *testing.T) {
	ctx := context.Background()
	conn := serve(t, chserver.Options{})
	// A deployment from before migration 11, with a row of each table.
	insert := before(t, ctx, conn, 11)
	insert("INSERT INTO entries (raft_index, origin, seq, type, type_name, recorded_at, author, subject)",
		[]any{uint64(1), "350505101201", uint64(1), uint8(1), "old", int64(0), "a", ""})
	insert("INSERT INTO transactions (raft_index, origin, seq, kind, sign, amount_fen, payment_method, category, budget_line, counterparty, counterparty_id, business_date, month, recorded_at)",
		[]any{uint64(1), "350505101201", uint64(1), "old-kind", int8(1), int64(1), "old-method", "", "", "", "", "2026-08-15", uint32(202608), int64(0)})
	applied, err := Apply(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(applied) != "[11]" {
		t.Fatalf("applied %v, want [11]", applied)
	}
	// Named explicitly, by an older writer.
	insert("INSERT INTO entries (raft_index, origin, seq, type, type_name, recorded_at, author, subject)",
		[]any{uint64(2), "350505101201", uint64(2), uint8(1), "named", int64(0), "a", ""})
	insert("INSERT INTO transactions (raft_index, origin, seq, kind, sign, amount_fen, payment_method, category, budget_line, counterparty, counterparty_id, business_date, month, recorded_at)",
		[]any{uint64(2), "350505101201", uint64(2), "named-kind", int8(1), int64(1), "named-method", "", "", "", "", "2026-08-15", uint32(202608), int64(0)})
	type want struct {
		seq        uint64
		a, b       string
		what       string
		numA, numB int32
	}
	var entries, txs []want
	entries = append(entries, want{seq: 1, a: "old", what: "a row from before"}, want{seq: 2, a: "named", what: "a writer naming it"})
	txs = append(txs, want{seq: 1, a: "old-kind", b: "old-method", what: "a row from before"}, want{seq: 2, a: "named-kind", b: "named-method", what: "a writer naming them"})
	seq := uint64(10)
	for n := range sanziv1.EntryType_name {
		entries = append(entries, want{seq: seq, a: sanziv1.EntryType(n).String(), numA: n, what: "entry type " + sanziv1.EntryType(n).String()})
		seq++
	}
	entries = append(entries, want{seq: seq, a: "200", numA: 200, what: "an entry type no name covers"})
	kinds := TransactionKindNames()
	for n := range sanziv1.TransactionKind_name {
		k := kinds[n]
		if k == "" {
			k = "unknown"
		}
		txs = append(txs, want{seq: seq, a: k, b: "PAYMENT_METHOD_UNSPECIFIED", numA: n, what: "kind " + sanziv1.TransactionKind(n).String()})
		seq++
	}
	for n := range sanziv1.PaymentMethod_name {
		txs = append(txs, want{seq: seq, a: "income", b: sanziv1.PaymentMethod(n).String(), numA: 1, numB: n, what: "method " + sanziv1.PaymentMethod(n).String()})
		seq++
	}
	txs = append(txs, want{seq: seq, a: "unknown", b: "-3", numA: 99, numB: -3, what: "numbers no name covers"})
	for _, e := range entries[2:] {
		insert("INSERT INTO entries (raft_index, origin, seq, type, recorded_at, author, subject)",
			[]any{e.seq, "350505101201", e.seq, uint8(e.numA), int64(0), "a", ""})
	}
	for _, x := range txs[2:] {
		insert("INSERT INTO transactions (raft_index, origin, seq, kind_number, sign, amount_fen, payment_method_number, category, budget_line, counterparty, counterparty_id, business_date, month, recorded_at)",
			[]any{x.seq, "350505101201", x.seq, x.numA, int8(1), int64(1), x.numB, "", "", "", "", "2026-08-15", uint32(202608), int64(0)})
	}
	if len(entries) < 30 || len(txs) < 12 {
		t.Fatalf("%d entries and %d transactions cases: the enums were not read", len(entries), len(txs))
	}
	for _, e := range entries {
		var got string
		if err := conn.QueryRow(ctx, "SELECT type_name FROM entries WHERE seq = ?", e.seq).Scan(&got); err != nil {
			t.Fatalf("%s: %v", e.what, err)
		}
		if got != e.a {
			t.Errorf("entries, %s: type_name %q, want %q", e.what, got, e.a)
		}
	}
	for _, x := range txs {
		var kind, method string
		if err := conn.QueryRow(ctx, "SELECT kind, payment_method FROM transactions WHERE seq = ?", x.seq).Scan(&kind, &method); err != nil {
			t.Fatalf("%s: %v", x.what, err)
		}
		if kind != x.a || method != x.b {
			t.Errorf("transactions, %s: kind %q payment_method %q, want %q %q", x.what, kind, method, x.a, x.b)
		}
	}
}

// serve starts a private ClickHouse for one test and connects to it, with
// no schema: each test makes the tables it is about.
func serve(t *testing.T, opts chserver.Options) driver.Conn {
	t.Helper()
	opts.Logger = slog.New(slog.DiscardHandler)
	s, err := chserver.Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{s.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
