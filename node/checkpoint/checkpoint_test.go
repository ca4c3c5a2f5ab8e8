package checkpoint_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/sanzi/sanzi/node/checkpoint"
	"github.com/sanzi/sanzi/node/keys"
	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

const org = "350505100201"

func TestCodecRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 2, 9, 30, 0, 123, time.FixedZone("CST", 8*3600))
	var e checkpoint.Encoder
	e.Uint(1 << 40)
	e.Int(-7)
	e.Bool(true)
	e.Float(0.25)
	e.String("村")
	e.Bytes(nil)
	e.Time(at)
	e.Time(time.Time{})
	e.Strings([]string{"a", "", "b"})
	e.Set(map[string]bool{"y": true, "x": true})
	e.Map(map[string]string{"k": "v"})
	e.Proto(&sanziv1.Procedure{Org: org, Summary: "报销"})
	e.Proto(nil)
	e.Section(func(s *checkpoint.Encoder) { s.String("inner") })
	raw, err := e.Data()
	if err != nil {
		t.Fatal(err)
	}
	d := checkpoint.NewDecoder(raw)
	p := &sanziv1.Procedure{}
	if d.Uint() != 1<<40 || d.Int() != -7 || !d.Bool() || d.Float() != 0.25 || d.String() != "村" || len(d.Bytes()) != 0 ||
		!d.Time().Equal(at) || !d.Time().IsZero() {
		t.Fatal("scalars did not round-trip")
	}
	if ss := d.Strings(); len(ss) != 3 || ss[2] != "b" {
		t.Fatalf("strings %q", ss)
	}
	if s := d.Set(); len(s) != 2 || !s["x"] {
		t.Fatalf("set %v", s)
	}
	if m := d.Map(); m["k"] != "v" {
		t.Fatalf("map %v", m)
	}
	if !d.Proto(p) || p.GetSummary() != "报销" || d.Proto(&sanziv1.Procedure{}) {
		t.Fatalf("proto %v", p)
	}
	if s := d.Section(); s.String() != "inner" || s.Done() != nil {
		t.Fatal("section")
	}
	if err := d.Done(); err != nil {
		t.Fatal(err)
	}
	// Damage never panics or allocates what it claims: a huge count, a
	// cut.
	bad := checkpoint.NewDecoder([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	if n := bad.Len(); n != 0 || bad.Err() == nil {
		t.Fatalf("a count beyond the bytes left: %d, %v", n, bad.Err())
	}
	cut := checkpoint.NewDecoder(raw[:len(raw)/2])
	for range 20 {
		_ = cut.String()
	}
	if cut.Err() == nil {
		t.Fatal("a cut state decoded")
	}
}

func TestLoadSaysWhyItCannotBeUsed(t *testing.T) {
	dir := t.TempDir()
	ring, _, err := keys.Ensure(filepath.Join(dir, "keys"), []string{org})
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(ledger.Config{Path: filepath.Join(dir, "ledger.db"), Keys: ring, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	out, err := l.Append(context.Background(), ledger.Record{Origin: org, Author: "a", Type: sanziv1.EntryType_ENTRY_TYPE_TRANSACTION},
		ledger.Record{Origin: org, Author: "a", Type: sanziv1.EntryType_ENTRY_TYPE_TRANSACTION})
	if err != nil {
		t.Fatal(err)
	}
	st := checkpoint.New(l)
	if _, _, err := st.Load("x", "v1"); !errors.Is(err, checkpoint.ErrNone) {
		t.Fatalf("nothing stored: %v", err)
	}
	head := ledger.Head{Seq: out[1].Seq, Hash: out[1].Hash}
	state := []byte("the state")
	for _, c := range []struct {
		name  string
		stamp string
		at    ledger.Head
		want  error
	}{
		{"as saved", "v1", head, nil},
		{"another stamp", "v2", head, checkpoint.ErrStale},
		{"ahead of the chain", "v1", ledger.Head{Seq: 3, Hash: head.Hash}, checkpoint.ErrInconsistent},
		{"another entry at the position", "v1", ledger.Head{Seq: 1, Hash: head.Hash}, checkpoint.ErrInconsistent},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := st.Save("x", "v1", checkpoint.Positions{org: c.at}, state); err != nil {
				t.Fatal(err)
			}
			at, got, err := st.Load("x", c.stamp)
			if !errors.Is(err, c.want) {
				t.Fatalf("load: %v, want %v", err, c.want)
			}
			if c.want == nil && (!bytes.Equal(got, state) || at[org] != head || at.Entries() != 2) {
				t.Fatalf("loaded %q at %v", got, at)
			}
		})
	}
	if err := st.Drop("x"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Load("x", "v1"); !errors.Is(err, checkpoint.ErrNone) {
		t.Fatalf("dropped: %v", err)
	}
}
