package chserver

import (
	"context"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
)

func TestStartQueryStopRestart(t *testing.T) {
	ctx := context.Background()
	s, err := Start(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{s.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Exec(ctx, "CREATE TABLE t (x UInt64) ENGINE = MergeTree ORDER BY x"); err != nil {
		t.Fatal(err)
	}
	b, err := conn.PrepareBatch(ctx, "INSERT INTO t (x)")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		if err := b.Append(uint64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := conn.Ping(ctx); err == nil {
		t.Fatal("ping answered after Stop")
	}
	if err := s.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	conn2, err := clickhouse.Open(&clickhouse.Options{Addr: []string{s.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	var n, sum uint64
	if err := conn2.QueryRow(ctx, "SELECT count(), sum(x) FROM t").Scan(&n, &sum); err != nil {
		t.Fatal(err)
	}
	if n != 1000 || sum != 999*1000/2 {
		t.Fatalf("after restart: count %d sum %d, want 1000 and 499500", n, sum)
	}
}
