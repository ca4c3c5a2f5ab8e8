package cluster_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/refusal"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestPushUnsignedEntries: a village's expense is one append whose last
// entry alone is signed (ledger.SealAppend, as the village's ledger writes
// it). The district takes the append whole; it refuses as tampering an
// edit of an unsigned middle entry (its hash, or, rehashed, the signed
// entry's link to it), and refuses a push cut inside the append with an
// error saying so, not as tampering. Nothing refused is stored.
func TestPushUnsignedEntries(t *testing.T) {
	c := NewCluster(t, 1, nil)
	const org = "350505100201"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	iss, leader := c.registerVillage(ctx, org)
	var recs []ledger.Record
	for i := range 4 {
		recs = append(recs, ledger.Record{Origin: org, Author: "kj", Type: sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, Payload: []byte(fmt.Sprintf("entry %d", i))})
	}
	app, err := ledger.SealAppend(iss.Key, ledger.Head{}, recs, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	raws := make([][]byte, len(app))
	for i, s := range app {
		raws[i] = s.Raw
		if s.Signed() != (i == len(app)-1) {
			t.Fatalf("entry %d signed %v: want only the last signed", i+1, s.Signed())
		}
	}
	edit := func(raw []byte, rehash bool) []byte {
		var e sanziv1.Entry
		var b sanziv1.EntryBody
		if err := proto.Unmarshal(raw, &e); err != nil {
			t.Fatal(err)
		}
		if err := proto.Unmarshal(e.GetBody(), &b); err != nil {
			t.Fatal(err)
		}
		b.Payload = []byte("entry 1, amount changed")
		e.Body, _ = proto.MarshalOptions{Deterministic: true}.Marshal(&b)
		if rehash {
			sum := sha256.Sum256(e.Body)
			e.Hash = sum[:]
		}
		out, _ := proto.Marshal(&e)
		return out
	}
	with := func(i int, raw []byte) [][]byte {
		out := append([][]byte(nil), raws...)
		out[i] = raw
		return out
	}
	for _, tc := range []struct {
		name    string
		raws    [][]byte
		seq     uint64
		failure ledger.Failure
		want    string
	}{
		{"an unsigned middle entry edited", with(1, edit(raws[1], false)), 2, ledger.FailureHash, "does not match its hash"},
		{"an unsigned middle entry edited and rehashed", with(1, edit(raws[1], true)), 3, ledger.FailureLink, "does not link"},
		{"a push cut inside the append", raws[:3], 0, "", "ends inside an append"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := push(t, leader, tc.raws)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("push: %v, want a refusal saying %q", err, tc.want)
			}
			r := refusal.From(err)
			switch {
			case tc.failure == "" && r != nil && r.Reason == refusal.ReasonChainBroken:
				t.Fatalf("a cut push refused as a broken chain (tampering): %+v", r)
			case tc.failure != "" && (r == nil || r.Reason != refusal.ReasonChainBroken || r.Seq != tc.seq || r.Extra[refusal.KeyFailure] != string(tc.failure)):
				t.Fatalf("refusal %+v from %v, want CHAIN_BROKEN at seq %d (%s)", r, err, tc.seq, tc.failure)
			}
		})
	}
	resp, err := push(t, leader, raws)
	if err != nil || ackOf(resp, org) != 4 {
		t.Fatalf("the append whole: %v, ack %d", err, ackOf(resp, org))
	}
}
