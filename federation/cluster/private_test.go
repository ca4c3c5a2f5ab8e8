package cluster_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/refusal"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestPushWithoutPrivatePartRefused: a village's entry that holds personal
// data is sealed with it outside the hash (issue 15). Pushed to the
// district without that private part (as the public site serves it), or
// with another one, it is refused as a broken chain naming the entry; the
// entry whole is then accepted.
func TestPushWithoutPrivatePartRefused(t *testing.T) {
	c := NewCluster(t, 1, nil)
	const org = "350505100201"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	iss, leader := c.registerVillage(ctx, org)
	payload, err := proto.Marshal(&sanziv1.Transaction{Kind: sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE, AmountFen: 100,
		Counterparty: &sanziv1.Counterparty{Name: "张三丰", IdNumber: "11010519491231002X", BankAccount: "6222021234567890123"}})
	if err != nil {
		t.Fatal(err)
	}
	st, err := ledger.SealSplit(iss.Key, ledger.Head{}, ledger.Record{Origin: org, Author: "kj", Type: sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, Payload: payload}, time.Now(), entries.Masker{})
	if err != nil || len(st.Digest) == 0 {
		t.Fatalf("seal: %v, digest %x", err, st.Digest)
	}
	redacted, err := ledger.Redact(st.Raw)
	if err != nil {
		t.Fatal(err)
	}
	var e sanziv1.Entry
	if err := proto.Unmarshal(st.Raw, &e); err != nil {
		t.Fatal(err)
	}
	e.Private, _ = proto.Marshal(&sanziv1.EntryPrivate{Salt: make([]byte, ledger.SaltSize), Payload: payload})
	other, _ := proto.Marshal(&e)
	for _, tc := range []struct {
		name, raw, want string
	}{
		{"without its private part", string(redacted), "private part is missing"},
		{"with another private part", string(other), "does not match the digest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := push(t, leader, [][]byte{[]byte(tc.raw)})
			r := refusal.From(err)
			if r == nil || r.Reason != refusal.ReasonChainBroken || r.Origin != org || r.Seq != 1 || r.Extra[refusal.KeyFailure] != string(ledger.FailurePrivate) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("push: %v (refusal %+v), want CHAIN_BROKEN at seq 1 (%s) saying %q", err, r, ledger.FailurePrivate, tc.want)
			}
		})
	}
	resp, err := push(t, leader, [][]byte{st.Raw})
	if err != nil || ackOf(resp, org) != 1 {
		t.Fatalf("the entry whole: %v, ack %d", err, ackOf(resp, org))
	}
}
