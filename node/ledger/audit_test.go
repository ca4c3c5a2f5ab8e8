package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// auditChain writes n entries whose payloads carry a marker, closes the
// ledger and returns its path.
func auditChain(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ledger.db")
	l := openTest(t, path, testKeys(t, testOrigin))
	for i := 1; i <= n; i++ {
		if _, err := l.Append(context.Background(), Record{Origin: testOrigin, Author: "a", Type: sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, Payload: []byte(fmt.Sprintf("AUDIT-%04d amount 1000", i))}); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	return path
}

// tamperPayload changes one byte of seq's payload in the file itself.
func tamperPayload(t *testing.T, path string, seq int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	marker := []byte(fmt.Sprintf("AUDIT-%04d amount 1000", seq))
	if !bytes.Contains(data, marker) {
		t.Fatal("marker not in the file")
	}
	data = bytes.ReplaceAll(data, marker, bytes.Replace(marker, []byte("1000"), []byte("9000"), 1))
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestCheckEntry(t *testing.T) {
	ctx := context.Background()
	good := testKeys(t, testOrigin)
	pub, _ := good.Public(testOrigin)
	for _, tc := range []struct {
		name     string
		tamper   int // seq whose payload is changed (0: none)
		otherKey bool
		seq      uint64
		want     Failure // "" for a good entry
		wantAt   uint64
	}{
		{name: "good", seq: 5},
		{name: "first", seq: 1},
		{name: "tampered itself", tamper: 5, seq: 5, want: FailureHash, wantAt: 5},
		{name: "tampered before it", tamper: 3, seq: 5, want: FailureHash, wantAt: 3},
		{name: "tampered after it", tamper: 7, seq: 5},
		{name: "another key", otherKey: true, seq: 5, want: FailureSignature, wantAt: 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := auditChain(t, 8)
			if tc.tamper > 0 {
				tamperPayload(t, path, tc.tamper)
			}
			ring := good
			if tc.otherKey {
				ring = testKeys(t, "350505100999", testOrigin) // testOrigin gets another seed
			}
			l := openTest(t, path, ring)
			defer l.Close()
			got, err := l.CheckEntry(ctx, testOrigin, tc.seq)
			if err != nil {
				t.Fatal(err)
			}
			if got.Stored == nil || got.Stored.Seq != tc.seq {
				t.Fatalf("stored %+v, want seq %d", got.Stored, tc.seq)
			}
			if tc.want == "" {
				if got.Problem != nil {
					t.Fatalf("problem %v, want none", got.Problem)
				}
				if !bytes.Equal(got.Key, pub) {
					t.Fatal("key in force is not the origin's")
				}
				return
			}
			if got.Problem == nil || got.Problem.Failure != tc.want || got.Problem.Seq != tc.wantAt {
				t.Fatalf("problem %+v, want %s at seq %d", got.Problem, tc.want, tc.wantAt)
			}
		})
	}
	path := auditChain(t, 2)
	l := openTest(t, path, good)
	defer l.Close()
	for _, c := range []struct {
		origin string
		seq    uint64
	}{{testOrigin, 3}, {"350505100888", 1}} {
		if _, err := l.CheckEntry(ctx, c.origin, c.seq); !errors.Is(err, ErrNotFound) {
			t.Fatalf("CheckEntry(%s, %d): %v, want ErrNotFound", c.origin, c.seq, err)
		}
	}
}

func TestVerifyChainProgress(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		tamper int
		want   []uint64 // progress reported
		badAt  uint64
	}{
		{name: "good", want: []uint64{4, 8, 10}},
		{name: "tampered", tamper: 6, want: []uint64{4}, badAt: 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := auditChain(t, 10)
			if tc.tamper > 0 {
				tamperPayload(t, path, tc.tamper)
			}
			l := openTest(t, path, testKeys(t, testOrigin))
			defer l.Close()
			var seen []uint64
			p, err := l.VerifyChain(ctx, testOrigin, 4, func(p VerifyProgress) error {
				if p.Head != 10 {
					t.Errorf("head %d, want 10", p.Head)
				}
				seen = append(seen, p.Checked)
				return nil
			})
			if !slices.Equal(seen, tc.want) {
				t.Fatalf("progress %v, want %v", seen, tc.want)
			}
			var ve *VerifyError
			switch {
			case tc.badAt == 0 && err != nil:
				t.Fatalf("verify: %v", err)
			case tc.badAt == 0 && p.Checked != 10:
				t.Fatalf("checked %d, want 10", p.Checked)
			case tc.badAt != 0 && (!errors.As(err, &ve) || ve.Seq != tc.badAt || ve.Failure != FailureHash):
				t.Fatalf("verify: %v, want a hash failure at %d", err, tc.badAt)
			}
		})
	}
	path := auditChain(t, 1)
	l := openTest(t, path, testKeys(t, testOrigin))
	defer l.Close()
	if _, err := l.VerifyChain(ctx, "350505100888", 0, func(VerifyProgress) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("verify a chain not held: %v", err)
	}
}
