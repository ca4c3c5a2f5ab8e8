package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sanzi/sanzi/node/authz"
	"github.com/sanzi/sanzi/node/backup"
	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/dataformat"
)

// TestBackupWhileRecording takes a backup over GET /v1/backup while
// transactions are recorded concurrently, restores it into a new folder and
// opens it: every chain verifies, the head is within what was recorded, and
// the restored folder refuses to start without a parent to catch up from.
func TestBackupWhileRecording(t *testing.T) {
	n := startTestNode(t, nil)
	post := func(i int) {
		if code, _, e := n.do(t, "POST", "/v1/transactions", "application/json", strings.NewReader(validTx(i)), 0); code != 200 {
			t.Errorf("record %d: %d %s", i, code, e.Message)
		}
	}
	for i := range 5 {
		post(i)
	}
	var recorded atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 100; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			post(i)
			recorded.Add(1)
		}
	})
	for recorded.Load() < 3 {
		time.Sleep(time.Millisecond)
	}
	resp, err := n.client.Get(n.base + "/v1/backup")
	if err != nil {
		t.Fatal(err)
	}
	tarball, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /v1/backup: %d %v", resp.StatusCode, err)
	}
	afterBackup := recorded.Load()
	for recorded.Load() < afterBackup+3 {
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()
	live := n.head().Seq

	dir := filepath.Join(t.TempDir(), "restored")
	m, err := backup.Restore(bytes.NewReader(tarball), dir, n.cfg.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"ledger.db", "credentials.db", dataformat.FileName, "keys/" + testOrg + ".key"} {
		if _, ok := m.Files[f]; !ok {
			t.Errorf("the backup lacks %s: %v", f, m.Files)
		}
	}
	cfg := Config{DataDir: dir, Orgs: []string{testOrg}, GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", NoSync: true, Logger: slog.New(slog.DiscardHandler), AccountArgon: testArgon, Stdout: io.Discard}
	if _, err := Open(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), backup.MarkerName) {
		t.Fatalf("a restored folder without a parent opened (want a refusal naming %s): %v", backup.MarkerName, err)
	}
	if err := os.Remove(filepath.Join(dir, backup.MarkerName)); err != nil {
		t.Fatal(err)
	}
	r, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	<-r.ledger.Checked() // the chains are checked after the node opens
	if b := r.ledger.Broken(); len(b) > 0 {
		t.Fatalf("restored chain does not verify: %v", b[0])
	}
	got := r.ledger.Head(testOrg).Seq
	t.Logf("backup: %d bytes, %d files; restored head %d, live head %d", len(tarball), len(m.Files), got, live)
	if got < 5+3 || got >= live {
		t.Errorf("restored head %d: want one taken during recording, between 8 and the live head %d", got, live)
	}
}

// TestBackupLoopbackOnly: the route hands out the node's keys and every
// account's credentials, so a client from another address is refused, and
// on loopback it needs a sign-in that may verify chains or manage accounts.
func TestBackupLoopbackOnly(t *testing.T) {
	n := startTestNode(t, nil)
	reader := signIn(t, n.Node, "reader", testOrg, authz.RoleSupervisoryCommittee)
	admin := signIn(t, n.Node, "admin2", testOrg, authz.RoleAdmin)
	for _, tc := range []struct {
		remote, token string
		want          int
	}{
		{"192.0.2.7:4000", n.token, http.StatusForbidden}, {"[2001:db8::1]:4000", n.token, http.StatusForbidden}, {"garbage", n.token, http.StatusForbidden},
		{"127.0.0.1:4000", "", http.StatusUnauthorized}, {"127.0.0.1:4000", "not-a-token", http.StatusUnauthorized},
		{"127.0.0.1:4000", reader, http.StatusForbidden},
		{"127.0.0.1:4000", n.token, http.StatusOK}, {"127.0.0.1:4000", admin, http.StatusOK},
	} {
		req := httptest.NewRequest("GET", "/v1/backup", nil)
		req.RemoteAddr = tc.remote
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		w := httptest.NewRecorder()
		n.backupRoute(w, req)
		if w.Code != tc.want {
			t.Errorf("from %s with %.8q: %d, want %d", tc.remote, tc.token, w.Code, tc.want)
		}
	}
}

// TestOpenTodaysDataFolder opens testdata/datadir-v1, a data folder written
// by this format (a village with a few transactions), from a copy: it must
// open without migration and its chain verify. Regenerate it with
// SANZI_WRITE_TESTDATA=1 only when the format version changes (then keep
// the old one too, and test its migration).
func TestOpenTodaysDataFolder(t *testing.T) {
	src := filepath.Join("testdata", "datadir-v1")
	if os.Getenv("SANZI_WRITE_TESTDATA") != "" {
		writeTestdataFolder(t, src)
	}
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	// git does not keep modes: the key must be private again.
	if err := os.Chmod(filepath.Join(dir, "keys", testOrg+".key"), 0o600); err != nil {
		t.Fatal(err)
	}
	v, _, err := dataformat.Read(dir)
	if err != nil || v != dataformat.Current {
		t.Fatalf("testdata format %d (%v), want %d", v, err, dataformat.Current)
	}
	n, err := Open(context.Background(), Config{DataDir: dir, Orgs: []string{testOrg}, GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", NoSync: true, Logger: slog.New(slog.DiscardHandler), AccountArgon: testArgon, Stdout: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	<-n.ledger.Checked()
	if b := n.ledger.Broken(); len(b) > 0 {
		t.Fatalf("testdata chain does not verify: %v", b[0])
	}
	// A folder of a sanzi without accounts gets its first administrator
	// (one entry) at its first start with them.
	if h := n.ledger.Head(testOrg).Seq; h != 8+1 {
		t.Errorf("testdata head %d, want 9 (4 transactions and their alerts, then the first administrator)", h)
	}
	txs, _, _, err := n.books.ListTransactions(books.TransactionFilter{Org: testOrg}, books.Page{})
	if err != nil || len(txs) != 4 {
		t.Fatalf("testdata transactions: %d (%v), want 4", len(txs), err)
	}
	t.Logf("opened %s: format %d, head %d, %d transactions", src, v, n.ledger.Head(testOrg).Seq, len(txs))
}

func writeTestdataFolder(t *testing.T, dst string) {
	os.RemoveAll(dst)
	t.Run("write", func(t *testing.T) { // its node stops when it ends
		n := startTestNode(t, func(c *Config) { c.DataDir = dst })
		for i := range 4 {
			if code, _, e := n.do(t, "POST", "/v1/transactions", "application/json", strings.NewReader(validTx(i)), 0); code != 200 {
				t.Fatalf("record %d: %d %s", i, code, e.Message)
			}
		}
	})
}
