package stats

import (
	"context"
	"log/slog"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sanzi/sanzi/analytics/chserver"
	"github.com/sanzi/sanzi/analytics/schema"
)

// schemaConn starts a private ClickHouse (Debian's, chserver) for one
// test, connects to it and applies the schema; both end with the test.
func schemaConn(t testing.TB, opts clickhouse.Options) driver.Conn {
	t.Helper()
	ctx := context.Background()
	srv, err := chserver.Start(ctx, chserver.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	opts.Addr = []string{srv.Addr()}
	conn, err := clickhouse.Open(&opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := schema.Apply(ctx, conn); err != nil {
		t.Fatal(err)
	}
	return conn
}
