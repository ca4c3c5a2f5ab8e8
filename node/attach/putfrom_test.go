package attach

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// failingReader gives some bytes, then fails, as a dropped client does.
type failingReader struct{ left int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.left <= 0 {
		return 0, errors.New("connection reset")
	}
	n := min(len(p), f.left)
	f.left -= n
	return n, nil
}

// TestPutFrom: content read from a reader is stored under its hash with
// its description, again is a no-op, and every refusal (over the limit, a
// hash other than expected, a failed read, a cancelled context) leaves no
// file, temporary or not.
func TestPutFrom(t *testing.T) {
	s, _ := openStore(t)
	content := bytes.Repeat([]byte("receipt "), 1000)
	h := hashOf(content)

	a, err := s.PutFrom(context.Background(), bytes.NewReader(content), "r.txt", "text/plain", h)
	if err != nil {
		t.Fatal(err)
	}
	if a.GetSha256() != h || a.GetSize() != int64(len(content)) || a.GetFileName() != "r.txt" || a.GetContentType() != "text/plain" {
		t.Fatalf("stored %v", a)
	}
	if _, got, err := s.Get(h); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("read back: %v (equal %v)", err, bytes.Equal(got, content))
	}
	again, err := s.PutFrom(context.Background(), bytes.NewReader(content), "other.txt", "", "")
	if err != nil || again.GetFileName() != "r.txt" || !again.GetUploadedAt().AsTime().Equal(a.GetUploadedAt().AsTime()) {
		t.Fatalf("second upload: %v, %v; want the first description unchanged", again, err)
	}
	stored := files(t, s.dir)

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name     string
		ctx      context.Context
		r        io.Reader
		expected string
		want     error
	}{
		{"one byte over the limit", context.Background(), strings.NewReader(strings.Repeat("x", DefaultMaxSize+1)), "", ErrTooLarge},
		{"hash other than expected", context.Background(), strings.NewReader("abc"), strings.Repeat("0", 64), ErrHashMismatch},
		{"read fails", context.Background(), &failingReader{left: 100 << 10}, "", nil},
		{"context ended", cancelled, strings.NewReader("late"), "", context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.PutFrom(tc.ctx, tc.r, "x", "", tc.expected)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if got := files(t, s.dir); !slices.Equal(got, stored) {
				t.Fatalf("files after the refusal: %v, want %v", got, stored)
			}
		})
	}
}

// files lists every file under dir (temporary ones too).
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
