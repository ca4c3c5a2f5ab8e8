package synth

import (
	"context"
	"log/slog"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/sanzi/sanzi/analytics/chserver"
	"github.com/sanzi/sanzi/analytics/schema"
)

// TestFill fills a small district and checks each table's rows, the
// villages and towns they spread over, and the refusals of a bad shape.
func TestFill(t *testing.T) {
	ctx := context.Background()
	srv, err := chserver.Start(ctx, chserver.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{srv.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := schema.Apply(ctx, conn); err != nil {
		t.Fatal(err)
	}
	d := District{Code: "350505", Towns: 3, VillagesPerTown: 4, Transactions: 1200, Steps: 100, Alerts: 50, Cards: 0, Months: 12}
	if err := Fill(ctx, conn, d); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		table          string
		rows           uint64
		villages, town uint64
	}{
		{"transactions", 1200, 12, 3},
		{"steps", 100, 12, 3},
		{"alerts", 50, 12, 3},
		{"cards", 0, 0, 0},
	} {
		var rows, villages, towns uint64
		if err := conn.QueryRow(ctx, "SELECT count(), uniqExact(origin), uniqExact(town) FROM "+c.table).Scan(&rows, &villages, &towns); err != nil {
			t.Fatal(err)
		}
		if rows != c.rows || villages != c.villages || towns != c.town {
			t.Errorf("%s: %d rows over %d villages in %d towns; want %d, %d, %d", c.table, rows, villages, towns, c.rows, c.villages, c.town)
		}
	}
	var first, last uint32
	if err := conn.QueryRow(ctx, "SELECT min(month), max(month) FROM transactions").Scan(&first, &last); err != nil {
		t.Fatal(err)
	}
	if first != 202501 || last != 202512 {
		t.Errorf("transactions from %d to %d; want 202501 to 202512", first, last)
	}
	for _, bad := range []District{{Code: "350505", Towns: 0, VillagesPerTown: 1, Months: 1}, {Code: "3505", Towns: 1, VillagesPerTown: 1, Months: 1}} {
		if err := Fill(ctx, conn, bad); err == nil {
			t.Errorf("Fill(%+v): no error", bad)
		}
	}
}
