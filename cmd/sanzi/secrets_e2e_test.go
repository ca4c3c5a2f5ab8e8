package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRefusesExposedSecrets: sanzi ca and a village node refuse to start on
// a private key or secret file that group or others may read, and say which
// file and the chmod to run; ca issue --out gives a node a folder without
// ca.key.
func TestRefusesExposedSecrets(t *testing.T) {
	dir := t.TempDir()
	caDir, tlsDir := filepath.Join(dir, "ca"), filepath.Join(dir, "v201-tls")
	caKey, nodeKey := filepath.Join(caDir, "ca.key"), filepath.Join(tlsDir, org+".key")
	issue := []string{"ca", "issue", "--dir", caDir, "--org", org, "--role", "village", "--out", tlsDir}
	if out, code := run(t, "ca", "init", "--district", "350505", "--dir", caDir); code != 0 {
		t.Fatalf("ca init: %d %s", code, out)
	}
	chmod := func(t *testing.T, path string, mode os.FileMode) {
		t.Helper()
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
	}
	refused := func(t *testing.T, file string, args ...string) {
		t.Helper()
		out, code := run(t, args...)
		if code == 0 || !strings.Contains(out, "chmod 600 "+file) {
			t.Fatalf("sanzi %s: exit %d, want a refusal naming chmod 600 %s:\n%s", strings.Join(args[:2], " "), code, file, out)
		}
	}

	t.Run("CA key", func(t *testing.T) {
		for _, mode := range []os.FileMode{0o644, 0o640} {
			chmod(t, caKey, mode)
			refused(t, caKey, issue...)
		}
		chmod(t, caKey, 0o600)
		if out, code := run(t, issue...); code != 0 {
			t.Fatalf("ca issue with ca.key 0600: %d %s", code, out)
		}
		names, err := os.ReadDir(tlsDir)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, n := range names {
			got = append(got, n.Name())
		}
		if strings.Join(got, " ") != "350505100201.crt 350505100201.key ca.crt" {
			t.Errorf("--out folder holds %v, want the node's certificate, key and ca.crt only", got)
		}
	})
	serve := func(data string, extra ...string) []string {
		return append([]string{"village", "serve", "--data", data, "--org", org, "--http-addr", freePort(t), "--grpc-addr", freePort(t)}, extra...)
	}
	t.Run("TLS key", func(t *testing.T) {
		chmod(t, nodeKey, 0o640)
		refused(t, nodeKey, serve(filepath.Join(dir, "d1"), "--tls-dir", tlsDir)...)
		chmod(t, nodeKey, 0o600)
	})
	t.Run("node key", func(t *testing.T) {
		// The key the node made at its first start, later widened by a copy.
		data := filepath.Join(dir, "d2")
		keyDir := filepath.Join(data, "keys")
		if err := os.MkdirAll(keyDir, 0o700); err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(nodeKey)
		if err != nil {
			t.Fatal(err)
		}
		key := filepath.Join(keyDir, org+".key")
		if err := os.WriteFile(key, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		chmod(t, key, 0o644)
		refused(t, key, serve(data)...)
	})
	t.Run("webhook secret", func(t *testing.T) {
		secret := filepath.Join(dir, "webhook.secret")
		if err := os.WriteFile(secret, []byte("0123456789abcdef0123\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		chmod(t, secret, 0o644)
		refused(t, secret, serve(filepath.Join(dir, "d3"), "--webhook-secret-file", secret)...)
	})
}
