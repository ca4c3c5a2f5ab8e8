// Package publictest builds, for tests, a district member's replicated
// state holding one village's chain: entries written with a real ledger and
// applied through the real FSM as raft would, disclosure procedures
// approved step by step, and checkpoints signed from it.
package publictest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/federation/checkpoint"
	"github.com/sanzi/sanzi/federation/fsm"
	"github.com/sanzi/sanzi/node/disclosed"
	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/idcode"
	"github.com/sanzi/sanzi/node/keys"
	"github.com/sanzi/sanzi/node/ledger"
	clusterv1 "github.com/sanzi/sanzi/proto/gen/sanzi/cluster/v1"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// The orgs of the world.
const (
	District = "350505000000"
	Town     = "350505100000"
	Village  = "350505100201"
)

// Quiet is a logger that drops everything.
var Quiet = slog.New(slog.DiscardHandler)

// World is the state.
type World struct {
	t     testing.TB
	led   *ledger.Ledger
	F     *fsm.FSM
	index uint64
	// Signer signs checkpoints with Key, dated Now.
	Signer *checkpoint.Signer
	Key    ed25519.PrivateKey
	Now    time.Time
	// Unsplit seals the entries added while it is set as nodes did before
	// personal data was sealed apart from entries' hashes (issue 15): in
	// the hashed body, unmasked.
	Unsplit bool

	clockMu sync.Mutex
	clock   func() time.Time
}

// SetClock dates the entries added from now on by now (their recorded_at),
// as the test's site reads the time; nil is the wall clock, as before.
func (w *World) SetClock(now func() time.Time) {
	w.clockMu.Lock()
	defer w.clockMu.Unlock()
	w.clock = now
}

// recordedAt is the ledger's clock.
func (w *World) recordedAt() time.Time {
	w.clockMu.Lock()
	now := w.clock
	w.clockMu.Unlock()
	if now == nil {
		return time.Now()
	}
	return now()
}

// splitter seals as every node does (entries.Masker), or not at all while
// the world's Unsplit is set.
type splitter struct{ w *World }

func (s splitter) Mask(t sanziv1.EntryType, payload []byte, at time.Time) ([]byte, bool, error) {
	if s.w.Unsplit {
		return payload, false, nil
	}
	return entries.Masker{}.Mask(t, payload, at)
}

func (s splitter) Same(t sanziv1.EntryType, a, b []byte) (bool, error) {
	return entries.Masker{}.Same(t, a, b)
}

// New makes an empty world.
func New(t testing.TB) *World {
	ring := keys.NewRing()
	ring.Add(Village, ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32)))
	ring.Add(District, ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, 32)))
	ring.Add(Town, TownKey)
	w := &World{t: t, Key: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32)), Now: time.Date(2026, 2, 5, 2, 0, 0, 0, time.UTC)}
	var err error
	if w.led, err = ledger.Open(ledger.Config{Path: filepath.Join(t.TempDir(), "l.db"), Keys: ring, NoSync: true, Logger: Quiet, Split: splitter{w}, Now: w.recordedAt}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.led.Close() })
	if w.F, err = fsm.Open(fsm.Config{Path: filepath.Join(t.TempDir(), "state.db"), NoSync: true, Logger: Quiet}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.F.Close() })
	w.Signer, err = checkpoint.NewSigner(checkpoint.Config{District: District, Key: w.Key, State: w.F, Proposer: w, Now: func() time.Time { return w.Now }, Logger: Quiet})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// Public is the key checkpoints verify with.
func (w *World) Public() ed25519.PublicKey { return w.Key.Public().(ed25519.PublicKey) }

func (w *World) apply(typ clusterv1.CommandType, m proto.Message) interface{} {
	p, _ := proto.Marshal(m)
	data, _ := proto.Marshal(&clusterv1.Command{Type: typ, Payload: p})
	w.index++
	return w.F.Apply(&raft.Log{Index: w.index, Term: 1, Type: raft.LogCommand, Data: data})
}

// ProposeCheckpoint applies the checkpoint as raft would.
func (w *World) ProposeCheckpoint(_ context.Context, c *clusterv1.Checkpoint) error {
	if err, ok := w.apply(clusterv1.CommandType_COMMAND_TYPE_CHECKPOINT, c).(error); ok {
		return err
	}
	return nil
}

// TownKey is the town's chain key (a complaint's contact is sealed to it).
var TownKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{6}, 32))

// Add records m in the village's chain and applies it to the state.
func (w *World) Add(typ sanziv1.EntryType, m proto.Message) string {
	return w.AddAt(Village, "e2e", typ, m).ID()
}

// AddAt records m by author in origin's chain (the village's, the town's
// or the district's) and applies it to the state.
func (w *World) AddAt(origin, author string, typ sanziv1.EntryType, m proto.Message) *ledger.Stored {
	w.t.Helper()
	p, _ := proto.Marshal(m)
	st, err := w.led.Append(context.Background(), ledger.Record{Origin: origin, Author: author, Type: typ, Payload: p})
	if err != nil {
		w.t.Fatal(err)
	}
	w.apply(clusterv1.CommandType_COMMAND_TYPE_APPEND, &clusterv1.AppendBatch{Entries: [][]byte{st[0].Raw}})
	return st[0]
}

// Tx records a transaction.
func (w *World) Tx(kind sanziv1.TransactionKind, fen int64, method sanziv1.PaymentMethod, category, summary string, cp *sanziv1.Counterparty) string {
	return w.Add(sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, &sanziv1.Transaction{Org: Village, Kind: kind, AmountFen: fen, PaymentMethod: method,
		Counterparty: cp, BusinessDate: w.Now.Format(time.DateOnly), Summary: summary, Category: category})
}

// AcrossTheSplit records and discloses two months, each with a payment to
// a person (Person): 2026-01's sealed as before personal data was split
// out of entries' hashes (seq 1, unmasked in its body), 2026-02's split;
// then it signs a checkpoint.
func (w *World) AcrossTheSplit() {
	bank := sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER
	exp := sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE
	w.Unsplit = true
	w.Tx(exp, 1_000, bank, "劳务支出", "旧账", Person())
	w.Unsplit = false
	w.Disclose("2026-01")
	w.Tx(exp, 2_000, bank, "劳务支出", "新账", Person())
	w.Disclose("2026-02")
	w.Sign()
}

// Disclose opens period's disclosure procedure and approves its four
// steps, the last closing it.
func (w *World) Disclose(period string) {
	id := w.Add(sanziv1.EntryType_ENTRY_TYPE_PROCEDURE, &sanziv1.Procedure{Org: Village, MatterCode: disclosed.Matter, Period: period, Summary: "公开"})
	for i, step := range []string{"prepare", "audit", "check", "publish"} {
		w.Add(sanziv1.EntryType_ENTRY_TYPE_STEP_DECISION, &sanziv1.StepDecision{Org: Village, ProcedureId: id, StepCode: step,
			Action: sanziv1.StepAction_STEP_ACTION_APPROVE, Post: "p", Closes: i == 3})
	}
}

// ItemizeFromFen is the threshold DiscloseNaming's approvals record.
const ItemizeFromFen = 100_000

// DiscloseNaming opens period's disclosure procedure and approves its
// steps as a village node does since approvals name what they approve:
// each names the digest of the public content the village computes for it
// (disclosed.Prepare on the village's own chain), or sum when not "" (a
// committee shown other content than the chain gives). It returns the
// digest named.
func (w *World) DiscloseNaming(period, sum string) string {
	w.t.Helper()
	id := w.Add(sanziv1.EntryType_ENTRY_TYPE_PROCEDURE, &sanziv1.Procedure{Org: Village, MatterCode: disclosed.Matter, Period: period, Summary: "公开"})
	if sum == "" {
		d, err := disclosed.Prepare(w.led, Village, id, disclosed.Options{ItemizeFromFen: ItemizeFromFen})
		if err != nil {
			w.t.Fatal(err)
		}
		sum = d.ContentSha256
	}
	for i, step := range []string{"prepare", "audit"} {
		w.Add(sanziv1.EntryType_ENTRY_TYPE_STEP_DECISION, &sanziv1.StepDecision{Org: Village, ProcedureId: id, StepCode: step,
			Action: sanziv1.StepAction_STEP_ACTION_APPROVE, Post: "p", Closes: i == 1,
			Disclosure: &sanziv1.DisclosureApproval{ContentSha256: sum, ItemizeFromFen: ItemizeFromFen}})
	}
	return sum
}

// Sign signs a checkpoint a minute later.
func (w *World) Sign() *checkpoint.Signed {
	w.t.Helper()
	w.Now = w.Now.Add(time.Minute)
	s, err := w.Signer.Once(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	return s
}

// Resident is a valid resident ID number.
func Resident() string {
	first17 := "35050519800101123"
	ck, _ := idcode.ResidentIDCheck(first17)
	return first17 + string(ck)
}

// Person and Company are counterparties: a private person with every kind
// of personal data, a company with its credit code.
func Person() *sanziv1.Counterparty {
	return &sanziv1.Counterparty{Name: "张三", IdNumber: Resident(), BankAccount: "6222020200112233445", Phone: "13800135678"}
}

func Company() *sanziv1.Counterparty {
	return &sanziv1.Counterparty{Name: "福州某建材有限公司", IdNumber: "91350100M000100Y43"}
}

// EditJSON decodes a JSON object, lets fn change it and encodes it again:
// what a tampering site would serve.
func EditJSON(t testing.TB, body []byte, fn func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	fn(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// EditEntry lets fn change the i-th signed entry of a chain segment page.
func EditEntry(t testing.TB, body []byte, i int, fn func(e *sanziv1.Entry)) []byte {
	return EditJSON(t, body, func(m map[string]any) {
		es := m["entries"].([]any)
		raw, _ := base64.StdEncoding.DecodeString(es[i].(string))
		var e sanziv1.Entry
		if err := proto.Unmarshal(raw, &e); err != nil {
			t.Fatal(err)
		}
		fn(&e)
		b, _ := proto.Marshal(&e)
		es[i] = base64.StdEncoding.EncodeToString(b)
	})
}
