package ledger

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"testing"
)

// sliceSource yields n records of testOrigin, then failAt's error (when
// failAt > 0) or io.EOF; an About on every other one names the record
// before it.
type sliceSource struct {
	i, n, failAt int
}

var errSource = errors.New("staging file torn")

func (s *sliceSource) Next() (Record, error) {
	if s.failAt > 0 && s.i == s.failAt {
		return Record{}, errSource
	}
	if s.i == s.n {
		return Record{}, io.EOF
	}
	s.i++
	r := rec(testOrigin, s.i)
	if s.i%2 == 0 {
		r.About = s.i - 1
	}
	return r, nil
}

// TestAppendStreamAllOrNothing: a stream that fails part way leaves the
// chain as it was (and the file, after a reopen); a whole one is recorded
// gapless with About resolved, and the next plain Append follows it.
func TestAppendStreamAllOrNothing(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	ring := testKeys(t, testOrigin)
	l := openTest(t, path, ring)
	if _, err := l.Append(ctx, rec(testOrigin, 0)); err != nil {
		t.Fatal(err)
	}
	t.Run("refused part way", func(t *testing.T) {
		src := &sliceSource{n: 500, failAt: 300}
		n, err := l.AppendStream(ctx, src, nil)
		if !errors.Is(err, errSource) || n != 0 {
			t.Fatalf("AppendStream = %d, %v; want the source's error", n, err)
		}
		if src.i != 300 {
			t.Fatalf("the source was read to %d, want 300: the fault did not happen where meant", src.i)
		}
		if h := l.Head(testOrigin); h.Seq != 1 {
			t.Fatalf("head after a refused stream: %d, want 1", h.Seq)
		}
		if _, err := l.Get(testOrigin, 2); !errors.Is(err, ErrNotFound) {
			t.Fatalf("entry 2 after a refused stream: %v", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := l.AppendStream(cctx, &sliceSource{n: 10}, nil); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled stream: %v", err)
		}
	})
	t.Run("whole", func(t *testing.T) {
		var seen int
		n, err := l.AppendStream(ctx, &sliceSource{n: 500}, func(*Stored) { seen++ })
		if err != nil || n != 500 || seen != 500 {
			t.Fatalf("AppendStream = %d (each saw %d), %v", n, seen, err)
		}
		s, err := l.Get(testOrigin, 3)
		if err != nil || s.Subject != EntryID(testOrigin, 2) {
			t.Fatalf("entry 3 (about stream record 1): subject %q, %v", s.Subject, err)
		}
		out, err := l.Append(ctx, rec(testOrigin, 1000))
		if err != nil || out[0].Seq != 502 {
			t.Fatalf("append after the stream: %v %v", out, err)
		}
	})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	counts, problems, err := Verify(path, ring)
	if err != nil || len(problems) > 0 || counts[testOrigin] != 502 {
		t.Fatalf("verify after reopen: %v %v %v", counts, problems, err)
	}
}
