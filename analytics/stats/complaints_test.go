package stats

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestComplaintsInRisk (issue 15): villagers' complaints, rows of the
// district's chain about a village, count in the integrity-risk index of
// that village (受举报), within the scope by the village's code and by
// month, and of each post they name; a row loaded twice (a replay) counts
// once. On the real ClickHouse the tests start (Debian's 18.16 here).
func TestComplaintsInRisk(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ClickHouse")
	}
	ctx := context.Background()
	conn := schemaConn(t, clickhouse.Options{})
	b, err := conn.PrepareBatch(ctx, "INSERT INTO complaints (raft_index, origin, seq, district, town, village, number, category, posts, photos, filed_at)")
	if err != nil {
		t.Fatal(err)
	}
	aug, sep := time.Date(2026, 8, 3, 2, 0, 0, 0, time.UTC), time.Date(2026, 9, 3, 2, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		seq     uint64
		village string
		posts   []string
		at      time.Time
	}{
		{1, "350505100201", []string{"village.head", "village.accountant"}, aug},
		{2, "350505100201", []string{"village.head"}, sep},
		{2, "350505100201", []string{"village.head"}, sep}, // the same entry loaded again
		{3, "350505100202", []string{}, aug},
		{4, "350505101201", []string{"village.accountant"}, aug},
	} {
		if err := b.Append(c.seq+10, "350505000000", c.seq, c.village[:6], c.village[:9], c.village, fmt.Sprintf("20260803-%06d", c.seq), "finance", c.posts, uint8(1), c.at); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	s := New(conn)
	risk := func(scope *sanziv1.StatsScope, groupBy string) string {
		t.Helper()
		rows, err := s.Risk(ctx, &sanziv1.RiskRequest{Scope: scope, GroupBy: groupBy})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rows {
			out = append(out, fmt.Sprintf("%s %d %.2f", r.GetOrg(), r.GetComplaints(), r.GetScore()))
		}
		return strings.Join(out, "|")
	}
	for _, c := range []struct {
		name, groupBy string
		scope         *sanziv1.StatsScope
		want          string
	}{
		{"villages of town 100", "", &sanziv1.StatsScope{Parent: "350505100"}, "350505100201 2 3.00|350505100202 1 1.50"},
		{"August only", "", &sanziv1.StatsScope{Parent: "350505100", FromMonth: 202608, ToMonth: 202608}, "350505100201 1 1.50|350505100202 1 1.50"},
		{"another town", "", &sanziv1.StatsScope{Parent: "350505101"}, "350505101201 1 1.50"},
		{"posts in the district", "post", &sanziv1.StatsScope{}, "village.accountant 2 3.00|village.head 2 3.00"},
		{"posts of town 100", "post", &sanziv1.StatsScope{Parent: "350505100"}, "village.head 2 3.00|village.accountant 1 1.50"},
	} {
		if got := risk(c.scope, c.groupBy); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
