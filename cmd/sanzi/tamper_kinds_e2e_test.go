package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestTamperedVillageThroughTown is issue 18's scenario through a town:
// village → town → district over mutual TLS. The village's entries reach
// the district, the town stops, one more expense is recorded and one byte
// of its summary changed in ledger.db. The town refuses the pushed entry
// and records one red TAMPER alert in its own chain however many times it
// is pushed (a restart of the village pushes it again); the village stops
// pushing and names the seq; the town keeps forwarding its other village;
// `sanzi repair --from-parent` against the town restores the chain, which
// then goes on up to the district.
func TestTamperedVillageThroughTown(t *testing.T) {
	const town, org, other, marker = "350505100000", "350505100201", "350505100202", "TAMPER-ME-IN-TOWN"
	n := newTamperNet(t, town, org, other)
	tw, inbox := n.town(town)
	v, w := n.village(org, inbox), n.village(other, inbox)
	tn := &node{t: t, http: tw.http}
	// tamperAlerts are the TAMPER alerts in the town's chain about org,
	// by severity.
	tamperAlerts := func(t *testing.T) []string {
		var alerts struct {
			Alerts []struct {
				Alert struct {
					Severity string `json:"severity"`
				} `json:"alert"`
				SubjectID string `json:"subjectId"`
			} `json:"alerts"`
		}
		tn.t = t
		if code, raw := tn.call("GET", "/v1/alerts?ruleCode=TAMPER", "", nil, &alerts); code != 200 {
			t.Fatalf("the town's TAMPER alerts: %d %s", code, raw)
		}
		var out []string
		for _, a := range alerts.Alerts {
			if strings.HasPrefix(a.SubjectID, org+"-") {
				out = append(out, a.SubjectID+" "+a.Alert.Severity)
			}
		}
		return out
	}
	// refusedAtTown is how many pushes of org's chain the town refused as
	// not verifying, by its metric.
	refusedAtTown := func(t *testing.T, failure string) int {
		tn.t = t
		_, body := tn.call("GET", "/metrics", "", nil, nil)
		m := regexp.MustCompile(`sanzi_town_tamper_refused_total\{failure="` + failure + `"\} (\d+)`).FindSubmatch(body)
		if m == nil {
			return 0
		}
		c, _ := strconv.Atoi(string(m[1]))
		return c
	}
	var synced, altered uint64
	n.step(t, "entries synced through the town, then one expense while the town is down", func(t *testing.T) {
		v.record(5, 1)
		w.record(5, 1)
		synced = n.synced(v)
		n.synced(w)
		tw.stop()
		altered = v.expense(6, marker) // its procedure follows
		v.unsigned(altered)
		t.Logf("%d entries synced through the town, head %d", synced, v.head())
	})
	n.step(t, "one byte of the expense's summary changed in ledger.db", func(t *testing.T) {
		v.tamper(altered, editSummary(marker))
	})
	n.step(t, "the town records it once, the village stops, the other village goes on", func(t *testing.T) {
		tw.start()
		v.start()
		v.refusedOnce(altered, "hash")
		w.record(5, 6)
		n.synced(w)
		// Pushed again by a restart: still one alert.
		v.stop()
		v.start()
		eventually(t, 30*time.Second, "the town refusing the second push", func() bool { return refusedAtTown(t, "hash") >= 2 })
		if got := tamperAlerts(t); len(got) != 1 || got[0] != fmt.Sprintf("%s-%d red", org, altered) {
			t.Fatalf("the town's TAMPER alerts about %s after %d pushes: %v, want one red on seq %d", org, refusedAtTown(t, "hash"), got, altered)
		}
		if len(v.syncState().Refused) != 1 {
			t.Fatalf("after a restart: %+v", v.syncState())
		}
		// The alert is in the town's chain, which goes up like any other.
		n.synced(tw)
		if s, _ := n.head(org); s != synced {
			t.Fatalf("the district holds %d of %s, want %d: nothing of the altered chain forwarded", s, org, synced)
		}
		t.Logf("the town refused %d pushes, one alert; %s went on to seq %d at the district", refusedAtTown(t, "hash"), other, w.head())
	})
	n.step(t, "repair from the town's copy", func(t *testing.T) {
		v.repairFrom(inbox, n.ca, synced, altered, marker)
	})
	n.step(t, "the village goes on up to the district and the copies agree", func(t *testing.T) {
		n.goesOn(v, synced)
	})
}

// TestTamperKindsAtTheDistrict: a bad signature and a broken link, each
// made by editing ledger.db's bytes of a village pushing straight to the
// district, are recorded once with their kind and stop the village pushing
// that chain. The district checks one signature per batch, on its last
// entry (DESIGN.md), so the signature edited is the head's; the link is
// broken on the expense, before its procedure.
//
// TODO(issue 18): a bad signature on an entry that is not the last of its
// batch passes the parent (the last entry's signature vouches for its hash
// through the links) and is stored as pushed; the village's own verify
// checks every signature and fails on it, and a repair from that parent's
// copy, which checks every signature too, would fail the same way. Either
// parents check every signature or restore and verify accept what the
// links vouch for; a design decision, not made here.
func TestTamperKindsAtTheDistrict(t *testing.T) {
	cases := []struct {
		name, org string
		edit      edit
		onHead    bool // edit the head, not the expense
		failure   string
		kind      sanziv1.TamperKind
	}{
		{"bad signature", "350505100201", editSignature, true, "signature", sanziv1.TamperKind_TAMPER_KIND_SIGNATURE},
		{"broken link", "350505100202", editLink, false, "link", sanziv1.TamperKind_TAMPER_KIND_LINK},
	}
	var orgs []string
	for _, c := range cases {
		orgs = append(orgs, c.org)
	}
	n := newTamperNet(t, orgs...)
	for _, c := range cases {
		n.step(t, c.name, func(t *testing.T) {
			v := n.village(c.org, n.d.api)
			v.record(3, 1)
			synced := n.synced(v)
			var at uint64
			v.offline(func() {
				at = v.expense(4, "EDITED-"+c.failure)
				if c.onHead {
					at = v.head()
				}
				v.tamper(at, c.edit)
			})
			v.start()
			v.refusedOnce(at, c.failure)
			v.stop()
			v.start()
			eventually(t, 30*time.Second, "refused again after a restart", func() bool { return len(v.syncState().Refused) == 1 })
			f := n.findings(c.org)
			if len(f) != 1 || f[0].GetKind() != c.kind || f[0].GetSeq() != at || f[0].GetPushedBy() != "village "+c.org || f[0].GetProblem() == "" {
				t.Fatalf("the district's TAMPER findings: %v, want one %v at seq %d", f, c.kind, at)
			}
			out, code := run(t, "district", "forks", "--server", n.d.api, "--tls-dir", n.ca, "--origin", c.org, "--token", n.auditor())
			if code != 0 || !strings.Contains(out, strings.TrimPrefix(c.kind.String(), "TAMPER_KIND_")) || !strings.Contains(out, c.org) {
				t.Fatalf("district forks: exit %d\n%s", code, out)
			}
			t.Logf("district forks:\n%s", out)
			if s, _ := n.head(c.org); s != synced {
				t.Fatalf("the district holds %d, want %d", s, synced)
			}
			v.stop()
		})
	}
}
