// Package schema keeps the district's ClickHouse tables as code: numbered
// migrations applied at start, each recorded in schema_migrations, so a new
// loader or a new server gets the same tables and a second run changes
// nothing. The SQL runs on Debian's ClickHouse 18.16 and on current
// releases (no window functions, DateTime64, Map or Bool).
//
// Every fact table carries raft_index, the Raft entry its row came from:
// the loader inserts each batch as one block per table and resumes after
// max(raft_index), so a replay never double-counts and no query needs FINAL.
// ReplacingMergeTree keyed by (origin, seq) stays as a safety net.
package schema

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Migration is one numbered change.
type Migration struct {
	Version uint32
	Name    string
	SQL     []string
}

// FactTables are the tables the loader fills from the chain, each with a
// raft_index column.
var FactTables = []string{"entries", "transactions", "alerts", "cards", "contracts", "payments", "assets", "procedures", "steps", "alert_transitions"}

// Migrations in order; append, never edit a released one.
func Migrations() []Migration {
	return []Migration{{Version: 1, Name: "entries, transactions, alerts, cards", SQL: []string{
		// One row per entry of every chain: who recorded what, where, when.
		`CREATE TABLE IF NOT EXISTS entries (
			raft_index UInt64, origin String, seq UInt64, district String, town String,
			type UInt8, type_name String, recorded_at DateTime, day Date DEFAULT toDate(recorded_at),
			author String, subject String
		) ENGINE = ReplacingMergeTree ORDER BY (town, origin, seq)`,
		// Money in and out, in fen; reversed is set on the reversal's own
		// row (a negative copy), so sums need no join.
		`CREATE TABLE IF NOT EXISTS transactions (
			raft_index UInt64, origin String, seq UInt64, district String, town String,
			kind String, sign Int8, amount_fen Int64, payment_method String, category String, budget_line String,
			counterparty String, counterparty_id String, business_date Date, month UInt32,
			recorded_at DateTime
		) ENGINE = ReplacingMergeTree ORDER BY (town, origin, seq)`,
		`CREATE TABLE IF NOT EXISTS alerts (
			raft_index UInt64, origin String, seq UInt64, district String, town String,
			rule_code String, severity String, rule_set_version String, subject String, alert_key String,
			recorded_at DateTime, day Date DEFAULT toDate(recorded_at)
		) ENGINE = ReplacingMergeTree ORDER BY (town, origin, seq)`,
		`CREATE TABLE IF NOT EXISTS cards (
			raft_index UInt64, origin String, seq UInt64, district String, town String,
			level String, procedure_id String, matter_code String, step_code String, post String, person String,
			deadline DateTime, recorded_at DateTime, day Date DEFAULT toDate(recorded_at)
		) ENGINE = ReplacingMergeTree ORDER BY (town, origin, seq)`,
	}}, {Version: 2, Name: "contracts, payments, assets, procedures, steps, alert transitions", SQL: []string{
		`CREATE TABLE IF NOT EXISTS contracts (
			raft_index UInt64, origin String, seq UInt64, district String, town String,
			kind String, contract_number String, counterparty String, object_kind String, area_mu Float64,
			term_start Date, term_end Date, annual_amount_fen Int64, award_method String, recorded_at DateTime
		) ENGINE = ReplacingMergeTree ORDER BY (town, origin, seq)`,
		`CREATE TABLE IF NOT EXISTS payments (
			raft_index UInt64, origin String, seq UInt64, district String, town String,
			contract_id String, amount_fen Int64, payment_method String, business_date Date, month UInt32, recorded_at DateTime
		) ENGINE = ReplacingMergeTree ORDER BY (town, origin, seq)`,
		// One row per asset event: registration, appraisal or disposal.
		`CREATE TABLE IF NOT EXISTS assets (
			raft_index UInt64, origin String, seq UInt64, district String, town String,
			event String, asset_id String, asset_code String, category String, value_fen Int64, method String, recorded_at DateTime
		) ENGINE = ReplacingMergeTree ORDER BY (town, origin, seq)`,
		`CREATE TABLE IF NOT EXISTS procedures (
			raft_index UInt64, origin String, seq UInt64, district String, town String,
			matter_code String, subject String, amount_fen Int64, period String, opened_at DateTime
		) ENGINE = ReplacingMergeTree ORDER BY (town, origin, seq)`,
		// One row per decided step: when it opened, its deadline, when and
		// by which post it was decided.
		`CREATE TABLE IF NOT EXISTS steps (
			raft_index UInt64, origin String, seq UInt64, district String, town String,
			procedure_id String, step_code String, post String, action String, closes UInt8,
			opened_at DateTime, deadline DateTime, decided_at DateTime, author String,
			day Date DEFAULT toDate(decided_at)
		) ENGINE = ReplacingMergeTree ORDER BY (town, origin, seq)`,
		`CREATE TABLE IF NOT EXISTS alert_transitions (
			raft_index UInt64, origin String, seq UInt64, district String, town String,
			alert_id String, status String, reason String, at DateTime, author String
		) ENGINE = ReplacingMergeTree ORDER BY (town, origin, seq)`,
	}}}
}

// Apply runs the migrations not yet recorded, in order.
func Apply(ctx context.Context, conn driver.Conn) (applied []uint32, err error) {
	if err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version UInt32, name String, applied_at DateTime
	) ENGINE = MergeTree ORDER BY version`); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	done := map[uint32]bool{}
	rows, err := conn.Query(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return nil, err
		}
		done[v] = true
	}
	rows.Close()
	for _, m := range Migrations() {
		if done[m.Version] {
			continue
		}
		for i, q := range m.SQL {
			if err := conn.Exec(ctx, q); err != nil {
				return applied, fmt.Errorf("migration %d (%s), statement %d: %w", m.Version, m.Name, i+1, err)
			}
		}
		b, err := conn.PrepareBatch(ctx, "INSERT INTO schema_migrations (version, name, applied_at)")
		if err != nil {
			return applied, err
		}
		if err := b.Append(m.Version, m.Name, time.Now()); err != nil {
			return applied, err
		}
		if err := b.Send(); err != nil {
			return applied, fmt.Errorf("record migration %d: %w", m.Version, err)
		}
		applied = append(applied, m.Version)
	}
	return applied, nil
}

// LoadedThrough is, per fact table, the highest raft_index it holds (0 when
// empty): the loader resumes after it.
func LoadedThrough(ctx context.Context, conn driver.Conn) (map[string]uint64, error) {
	out := map[string]uint64{}
	for _, t := range FactTables {
		var v uint64
		if err := conn.QueryRow(ctx, "SELECT max(raft_index) FROM "+t).Scan(&v); err != nil {
			return nil, fmt.Errorf("read max(raft_index) of %s: %w", t, err)
		}
		out[t] = v
	}
	return out, nil
}
