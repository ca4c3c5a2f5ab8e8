package loader

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sanzi/sanzi/analytics/stats"
	"github.com/sanzi/sanzi/node/ledger"
	clusterv1 "github.com/sanzi/sanzi/proto/gen/sanzi/cluster/v1"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestTamperFindingCountsForTheVillage: a TAMPER finding the district
// recorded about a village's entry (here an edited body, kind HASH) is the
// district's alert in ClickHouse, but the integrity-risk index counts it
// on the village's row, unconfirmed, once however many times it was
// recorded (issue 18).
func TestTamperFindingCountsForTheVillage(t *testing.T) {
	ctx := context.Background()
	s, d := newRig(t)
	f := d.f
	// Two villages of one town with the same records (same amounts, the
	// same PRIVATE-ACCT alerts): only the finding tells them apart.
	edited, clean := newVillage(t, "350505100201"), newVillage(t, "350505100202")
	for _, v := range []*village{edited, clean} {
		v.record(t, rand.New(rand.NewPCG(18, 18)), 30)
	}
	d.ship(edited, 50)
	hash := &sanziv1.ForkRecord{Origin: edited.org, Seq: 7, HeldHash: "aa", SentHash: "cc", Kind: sanziv1.TamperKind_TAMPER_KIND_HASH,
		Problem: "body does not match its hash", PushedBy: edited.org + "/village", At: timestamppb.Now()}
	// The village pushes the edited entry again: the FSM records it once.
	// (The clean village's entries come after, so the last Raft index is
	// on the feed and the loader's wait ends.)
	d.apply(clusterv1.CommandType_COMMAND_TYPE_RECORD_FORK, hash)
	d.apply(clusterv1.CommandType_COMMAND_TYPE_RECORD_FORK, hash)
	d.ship(clean, 50)
	conn := connect(t, s)
	_, wait := run(t, d, conn)
	wait()

	t.Run("the district's alert names the village and what failed", func(t *testing.T) {
		var n uint64
		var origin, town, about, kind string
		if err := conn.QueryRow(ctx, `SELECT count(), any(origin), any(town), any(subject_origin), any(tamper_kind) FROM alerts
			WHERE rule_code = 'TAMPER'`).Scan(&n, &origin, &town, &about, &kind); err != nil {
			t.Fatal(err)
		}
		if n != 1 || origin != "350505000000" || town != "350505100" || about != edited.org || kind != "TAMPER_KIND_HASH" {
			t.Fatalf("TAMPER alerts: %d, origin %s town %s about %s kind %s; want 1 of 350505000000 in 350505100 about %s, TAMPER_KIND_HASH",
				n, origin, town, about, kind, edited.org)
		}
	})

	risk := func(t *testing.T) map[string]*sanziv1.RiskRow {
		t.Helper()
		rows, err := stats.New(conn).Risk(ctx, &sanziv1.RiskRequest{Scope: &sanziv1.StatsScope{}})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]*sanziv1.RiskRow{}
		for i, r := range rows {
			out[r.GetOrg()] = r
			t.Logf("risk #%d: %s score %.2f %s, tamper findings %d, serious %d, unreviewed %d", i+1, r.GetOrg(), r.GetScore(), r.GetLevel(),
				r.GetTamperFindings(), r.GetSplitRelated(), r.GetUnreviewedAlerts())
		}
		if len(rows) < 2 || rows[0].GetOrg() != edited.org {
			t.Fatalf("risk ranking %v: want %s first", rows, edited.org)
		}
		return out
	}
	t.Run("the village's row counts it, unconfirmed, and ranks it above its twin", func(t *testing.T) {
		rows := risk(t)
		e, c := rows[edited.org], rows[clean.org]
		if c == nil || e.GetTamperFindings() != 1 || c.GetTamperFindings() != 0 || e.GetSplitRelated() != c.GetSplitRelated()+1 ||
			e.GetScore() != c.GetScore()+8 || e.GetUnreviewedAlerts() != c.GetUnreviewedAlerts() {
			t.Fatalf("risk rows: %v\n%v\nwant the edited village one finding and 8 points (3 red + 5 serious) above the clean one", e, c)
		}
		if rows["350505000000"] != nil {
			t.Fatalf("the district's findings made a row of their own: %v", rows["350505000000"])
		}
	})

	t.Run("the same finding recorded by a second parent counts once", func(t *testing.T) {
		// The town recorded the same refused bytes in its own chain: its
		// alert carries the same key (TAMPER/origin/seq/sent hash).
		b, err := conn.PrepareBatch(ctx, "INSERT INTO alerts ("+columns["alerts"]+")")
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Append(f.AppliedIndex()+1, "350505100000", uint64(1), "350505", "350505100", "TAMPER", "red", "v1",
			ledger.EntryID(edited.org, 7), "TAMPER/"+edited.org+"/7/cc", time.Now(), edited.org, "TAMPER_KIND_HASH"); err != nil {
			t.Fatal(err)
		}
		if err := b.Send(); err != nil {
			t.Fatal(err)
		}
		if e := risk(t)[edited.org]; e.GetTamperFindings() != 1 {
			t.Fatalf("the finding recorded twice counts %d times", e.GetTamperFindings())
		}
	})
}

// TestFinding tells a parent's TAMPER finding about another org's chain
// from an org's own TAMPER alerts, and reads what failed.
func TestFinding(t *testing.T) {
	village := "350505100201"
	for _, c := range []struct {
		name, origin, subject, rule string
		evidence                    map[string]string
		about, kind                 string
	}{
		{"a town's refused entry", "350505100000", village + "-11", "TAMPER", map[string]string{"failure": "hash"}, village, "TAMPER_KIND_HASH"},
		{"a town's bad signature", "350505100000", village + "-11", "TAMPER", map[string]string{"failure": "signature"}, village, "TAMPER_KIND_SIGNATURE"},
		{"a town's fork", "350505100000", village + "-11", "TAMPER", map[string]string{"held_hash": "aa"}, village, "TAMPER_KIND_UNSPECIFIED"},
		{"the village's own (closed books edited)", village, village + "-3", "TAMPER", nil, "", ""},
		{"the village's repair", village, "", "TAMPER", nil, "", ""},
		{"another rule about another org", "350505100000", village + "-11", "RELATIVE", nil, "", ""},
	} {
		about, kind := finding(&ledger.Stored{Origin: c.origin, Subject: c.subject}, &sanziv1.Alert{RuleCode: c.rule, Evidence: c.evidence})
		if about != c.about || kind != c.kind {
			t.Errorf("%s: about %q kind %q, want %q %q", c.name, about, kind, c.about, c.kind)
		}
	}
}
