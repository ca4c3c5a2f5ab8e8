package chserver

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// started is a server of its own for one test, closed when it ends.
func started(t *testing.T) *Server {
	t.Helper()
	s, err := Start(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// connect opens a connection to s, closed when the test ends.
func connect(t *testing.T, s *Server) driver.Conn {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{s.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestStartQueryStopRestart(t *testing.T) {
	ctx := context.Background()
	s := started(t)
	conn := connect(t, s)
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
	conn2 := connect(t, s)
	var n, sum uint64
	if err := conn2.QueryRow(ctx, "SELECT count(), sum(x) FROM t").Scan(&n, &sum); err != nil {
		t.Fatal(err)
	}
	if n != 1000 || sum != 999*1000/2 {
		t.Fatalf("after restart: count %d sum %d, want 1000 and 499500", n, sum)
	}
}

// TestThreadCPU inserts a block and checks that ThreadCPU counts the
// insert's work under the connection's thread (TCPHandler), and never
// more in all than the process's CPU: the benchmark splits the server's
// CPU between inserts and merges with it. (A SELECT's work runs on
// threads of its own that end with it, which ThreadCPU does not see.)
func TestThreadCPU(t *testing.T) {
	ctx := context.Background()
	s := started(t)
	conn := connect(t, s)
	if err := conn.Exec(ctx, "CREATE TABLE t (x UInt64, s String) ENGINE = MergeTree ORDER BY s"); err != nil {
		t.Fatal(err)
	}
	const rows = 2_000_000
	xs, ss := make([]uint64, rows), make([]string, rows)
	for i := range xs {
		xs[i], ss[i] = uint64(i), strconv.Itoa(i*7919%rows)
	}
	b, err := conn.PrepareBatch(ctx, "INSERT INTO t (x, s)")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Column(0).Append(xs); err != nil {
		t.Fatal(err)
	}
	if err := b.Column(1).Append(ss); err != nil {
		t.Fatal(err)
	}
	before, err := s.ThreadCPU()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	after, err := s.ThreadCPU()
	if err != nil {
		t.Fatal(err)
	}
	total, err := s.CPU()
	if err != nil {
		t.Fatal(err)
	}
	d := after["TCPHandler"] - before["TCPHandler"]
	t.Logf("the insert cost the TCPHandler threads %v", d)
	if d < 50*time.Millisecond {
		t.Errorf("the insert of %d unsorted rows cost the TCPHandler threads %v: %v then %v", rows, d, before, after)
	}
	var sum time.Duration
	for _, d := range after {
		sum += d
	}
	// Threads that ended are in the process's total, not in the threads'.
	if sum > total {
		t.Errorf("threads' CPU %v is more than the process's %v", sum, total)
	}
}
