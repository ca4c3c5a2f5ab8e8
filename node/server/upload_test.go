package server

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"

	gwruntime "github.com/grpc-ecosystem/grpc-gateway/v2/runtime"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestConcurrentUploadsStreamToDisk sends 8 concurrent 15 MiB uploads to a
// real node over loopback: each must be answered 200 with the SHA-256 of
// what was sent, in the gateway's JSON, and be on disk, while the node's
// heap grows by far less than the 120 MiB sent (the uploads are streamed to
// disk, never held whole). An upload over the limit, with or without
// Content-Length, is answered 413 and leaves no file behind.
func TestConcurrentUploadsStreamToDisk(t *testing.T) {
	const clients, size = 8, 15 << 20
	n := startTestNode(t, func(c *Config) { c.MaxAttachment = 16 << 20 })
	dir := filepath.Join(n.cfg.DataDir, "attachments")

	t.Run("8 × 15 MiB at once", func(t *testing.T) {
		want := make([]string, clients)
		for i := range want { // each client sends size bytes of one letter
			sum := sha256.New()
			io.Copy(sum, &filler{left: size, b: byte('a' + i)})
			want[i] = hex.EncodeToString(sum.Sum(nil))
		}
		runtime.GC()
		var m0 runtime.MemStats
		runtime.ReadMemStats(&m0)
		stopWatch := watchHeap()
		var wg sync.WaitGroup
		got := make([]string, clients)
		for i := range clients {
			wg.Go(func() {
				req, err := http.NewRequest("POST", n.base+"/v1/attachments?fileName=scan-"+string(rune('a'+i))+".pdf&contentType=application/pdf",
					&filler{left: size, b: byte('a' + i)})
				if err != nil {
					t.Error(err)
					return
				}
				req.ContentLength = size
				req.Header.Set("Content-Type", "application/octet-stream")
				resp, err := (&http.Client{Transport: bearer{token: n.token, next: &http.Transport{}}}).Do(req)
				if err != nil {
					t.Errorf("upload %d: %v", i, err)
					return
				}
				defer resp.Body.Close()
				raw, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != http.StatusOK {
					t.Errorf("upload %d: HTTP %d: %s", i, resp.StatusCode, raw)
					return
				}
				// The answer is the gateway's: UploadAttachmentResponse in its JSON.
				var up sanziv1.UploadAttachmentResponse
				if err := (&gwruntime.JSONPb{}).Unmarshal(raw, &up); err != nil {
					t.Errorf("upload %d: answer %s: %v", i, raw, err)
					return
				}
				a, err := n.books.Attachments().Describe(up.GetAttachment().GetSha256())
				if err != nil {
					t.Errorf("upload %d: %v", i, err)
					return
				}
				if exp, _ := (&gwruntime.JSONPb{}).Marshal(&sanziv1.UploadAttachmentResponse{Attachment: a}); string(exp) != string(raw) {
					t.Errorf("upload %d: answer %s, want the gateway's %s", i, raw, exp)
				}
				if a.GetFileName() != "scan-"+string(rune('a'+i))+".pdf" || a.GetContentType() != "application/pdf" || a.GetSize() != size {
					t.Errorf("upload %d recorded as %v", i, a)
				}
				got[i] = a.GetSha256()
			})
		}
		wg.Wait()
		peak := stopWatch()
		growth := int64(peak) - int64(m0.HeapInuse)
		t.Logf("%d × %d MiB uploads: heap in use %.1f MB before, peak %.1f MB (+%.1f MB) for %d MiB sent",
			clients, size>>20, mb(m0.HeapInuse), mb(peak), float64(growth)/(1<<20), clients*size>>20)
		if growth > 40<<20 {
			t.Errorf("the heap grew by %.1f MB under %d uploads of %d MiB; want < 40 MB", float64(growth)/(1<<20), clients, size>>20)
		}
		for i := range clients {
			if got[i] != want[i] {
				t.Errorf("upload %d stored as %q, want %s", i, got[i], want[i])
				continue
			}
			if fi, err := os.Stat(filepath.Join(dir, want[i][:2], want[i])); err != nil || fi.Size() != size {
				t.Errorf("upload %d on disk: %v, %v", i, fi, err)
			}
		}
	})

	t.Run("over the limit", func(t *testing.T) {
		before := stored(t, dir)
		for _, chunked := range []bool{false, true} {
			length := int64(16<<20 + 1)
			if chunked {
				length = -1 // cut by the handler's reads, not refused by the guard
			}
			code, _, e := n.do(t, "POST", "/v1/attachments", "application/octet-stream", &filler{left: 16<<20 + 1}, length)
			if code != http.StatusRequestEntityTooLarge || e.field() != "content" {
				t.Errorf("chunked %v: HTTP %d, field %q (%s); want 413 naming content", chunked, code, e.field(), e.Message)
			}
		}
		if after := stored(t, dir); !slices.Equal(after, before) {
			t.Errorf("files after the refused uploads: %v, before: %v", after, before)
		}
	})
}

// stored lists the attachment files under dir and the temporary files an
// upload writes on its way there.
func stored(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, pattern := range []string{"??/*", ".upload-*", "??/.upload-*"} {
		m, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m...)
	}
	return out
}
