package fsm

import (
	"testing"

	"google.golang.org/protobuf/proto"

	clusterv1 "github.com/sanzi/sanzi/proto/gen/sanzi/cluster/v1"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestRecordTamper: an entry that failed verification is recorded like a
// fork, with its kind and evidence, once however many times it is pushed
// (keyed by origin, seq and the hash of the pushed bytes); another edit of
// the same seq is a second finding; two replicas fed the same log agree;
// each record reaches the feed at its index (the loader's TAMPER alert).
func TestRecordTamper(t *testing.T) {
	rec := func(sent string, kind sanziv1.TamperKind) *sanziv1.ForkRecord {
		return &sanziv1.ForkRecord{Origin: "350505100201", Seq: 11, SentHash: sent, Kind: kind, Problem: "body does not match its hash",
			PushedBy: "village 350505100201", Entry: []byte("the pushed bytes " + sent)}
	}
	f, g := openFSM(t), openFSM(t)
	steps := []struct {
		name string
		rec  *sanziv1.ForkRecord
		want int
	}{
		{"first push of an edited entry", rec("aa11", sanziv1.TamperKind_TAMPER_KIND_HASH), 1},
		{"the same bytes pushed again", rec("aa11", sanziv1.TamperKind_TAMPER_KIND_HASH), 1},
		{"and again", rec("aa11", sanziv1.TamperKind_TAMPER_KIND_HASH), 1},
		{"a second edit of the same seq", rec("bb22", sanziv1.TamperKind_TAMPER_KIND_SIGNATURE), 2},
		{"a fork of another seq", &sanziv1.ForkRecord{Origin: "350505100201", Seq: 3, HeldHash: "cc", SentHash: "dd"}, 3},
	}
	for i, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			l := cmdLog(t, uint64(i+1), clusterv1.CommandType_COMMAND_TYPE_RECORD_FORK, false, st.rec)
			if res := f.Apply(l); res != nil {
				t.Fatalf("apply: %v", res)
			}
			g.Apply(l)
			got, err := f.Forks("")
			if err != nil || len(got) != st.want {
				t.Fatalf("%d records (%v), want %d", len(got), err, st.want)
			}
		})
	}
	got, _ := f.Forks("350505100201")
	if got[0].GetKind() != sanziv1.TamperKind_TAMPER_KIND_HASH || got[0].GetIndex() != 1 || string(got[0].GetEntry()) != "the pushed bytes aa11" ||
		got[1].GetKind() != sanziv1.TamperKind_TAMPER_KIND_SIGNATURE || got[1].GetIndex() != 4 || got[2].GetKind() != sanziv1.TamperKind_TAMPER_KIND_UNSPECIFIED {
		t.Errorf("records: %v", got)
	}
	if digest(t, f) != digest(t, g) {
		t.Error("two replicas fed the same records differ")
	}
	var fed []uint64
	if err := f.Feed(0, 100, func(index uint64, r *clusterv1.FeedRecord) bool {
		if r.GetFork() != nil {
			fed = append(fed, index)
			if index == 1 && !proto.Equal(r.GetFork(), got[0]) {
				t.Errorf("feed at 1: %v, want %v", r.GetFork(), got[0])
			}
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if len(fed) != 3 {
		t.Errorf("feed holds records at %v, want 3 (1, 4, 5)", fed)
	}
}
