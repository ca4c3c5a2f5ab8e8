package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestTokenStore keeps one token per server, in a file only its owner can
// read, in a folder only its owner can enter, and refuses a file others
// could read.
func TestTokenStore(t *testing.T) {
	exp := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	a := savedToken{Token: "tok-a", Account: "admin", ID: "t1", ExpiresAt: exp}
	b := savedToken{Token: "tok-b", Account: "zhang.san", ID: "t2", ExpiresAt: exp}
	tests := []struct {
		name    string
		ops     func(t *testing.T, s *tokenStore)
		server  string
		want    savedToken
		wantOK  bool
		wantErr string
	}{
		{name: "empty store has nothing", ops: func(*testing.T, *tokenStore) {}, server: "127.0.0.1:7401"},
		{name: "put then get", ops: func(t *testing.T, s *tokenStore) { must(t, s.put("127.0.0.1:7401", a)) },
			server: "127.0.0.1:7401", want: a, wantOK: true},
		{name: "per server", ops: func(t *testing.T, s *tokenStore) {
			must(t, s.put("127.0.0.1:7401", a))
			must(t, s.put("127.0.0.1:7402", b))
		}, server: "127.0.0.1:7402", want: b, wantOK: true},
		{name: "other server not given the token", ops: func(t *testing.T, s *tokenStore) { must(t, s.put("127.0.0.1:7401", a)) },
			server: "127.0.0.1:7499"},
		{name: "a new sign-in replaces the old", ops: func(t *testing.T, s *tokenStore) {
			must(t, s.put("127.0.0.1:7401", a))
			must(t, s.put("127.0.0.1:7401", b))
		}, server: "127.0.0.1:7401", want: b, wantOK: true},
		{name: "remove forgets one server only", ops: func(t *testing.T, s *tokenStore) {
			must(t, s.put("127.0.0.1:7401", a))
			must(t, s.put("127.0.0.1:7402", b))
			if ok, err := s.remove("127.0.0.1:7401"); !ok || err != nil {
				t.Fatalf("remove: %v %v", ok, err)
			}
			if ok, err := s.remove("127.0.0.1:7401"); ok || err != nil {
				t.Fatalf("second remove: %v %v", ok, err)
			}
		}, server: "127.0.0.1:7402", want: b, wantOK: true},
		{name: "file readable by others is refused", ops: func(t *testing.T, s *tokenStore) {
			must(t, s.put("127.0.0.1:7401", a))
			must(t, os.Chmod(s.path, 0o644))
		}, server: "127.0.0.1:7401", wantErr: "chmod 600"},
		{name: "garbage file says what to do", ops: func(t *testing.T, s *tokenStore) {
			must(t, os.MkdirAll(filepath.Dir(s.path), 0o700))
			must(t, os.WriteFile(s.path, []byte("{not json"), 0o600))
		}, server: "127.0.0.1:7401", wantErr: "sign in again"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &tokenStore{path: filepath.Join(t.TempDir(), "config", "sanzi", "tokens.json")}
			tc.ops(t, s)
			got, ok, err := s.get(tc.server)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("get: err %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || ok != tc.wantOK || got != tc.want {
				t.Fatalf("get(%s) = %+v %v %v, want %+v %v", tc.server, got, ok, err, tc.want, tc.wantOK)
			}
			if _, err := os.Stat(s.path); err != nil {
				return // nothing was written
			}
			if fi, _ := os.Stat(s.path); fi.Mode().Perm() != 0o600 {
				t.Errorf("tokens.json mode %04o, want 0600", fi.Mode().Perm())
			}
			if fi, _ := os.Stat(filepath.Dir(s.path)); fi.Mode().Perm() != 0o700 {
				t.Errorf("folder mode %04o, want 0700", fi.Mode().Perm())
			}
			left, _ := filepath.Glob(filepath.Join(filepath.Dir(s.path), ".tokens-*"))
			if len(left) != 0 {
				t.Errorf("temporary files left: %v", left)
			}
		})
	}
}

// TestTokenStoreTightensFolder: a config folder made open by someone else
// is closed to others before a token goes into it.
func TestTokenStoreTightensFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sanzi")
	must(t, os.MkdirAll(dir, 0o755))
	must(t, os.Chmod(dir, 0o755))
	s := &tokenStore{path: filepath.Join(dir, "tokens.json")}
	must(t, s.put("h:1", savedToken{Token: "x"}))
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Fatalf("folder mode %04o, want 0700", fi.Mode().Perm())
	}
}

// TestCredential: --token wins, then SANZI_TOKEN (bound to --token like
// every flag), then the token saved for --server; none for another server.
func TestCredential(t *testing.T) {
	store := filepath.Join(t.TempDir(), "tokens.json")
	s := &tokenStore{path: store}
	must(t, s.put("127.0.0.1:7401", savedToken{Token: "saved-7401"}))
	tests := []struct {
		name string
		args []string
		env  string
		want string
	}{
		{"saved for the server", []string{"--server", "127.0.0.1:7401"}, "", "saved-7401"},
		{"nothing saved for another server", []string{"--server", "127.0.0.1:7402"}, "", ""},
		{"environment over the saved one", []string{"--server", "127.0.0.1:7401"}, "from-env", "from-env"},
		{"flag over the environment", []string{"--server", "127.0.0.1:7401", "--token", "from-flag"}, "from-env", "from-flag"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SANZI_TOKEN", tc.env) // restored after the test
			if tc.env == "" {
				os.Unsetenv("SANZI_TOKEN")
			}
			g := parseGlobals(t, tc.args...)
			g.store = s
			got, err := g.credential()
			if err != nil || got != tc.want {
				t.Fatalf("credential() = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// parseGlobals runs the root command's flag parsing (and its environment
// binding) on a command that does nothing, and returns the globals.
func parseGlobals(t *testing.T, args ...string) *globals {
	t.Helper()
	for _, k := range []string{"SANZI_SERVER", "SANZI_AUTHOR", "SANZI_SERVER_CA"} {
		t.Setenv(k, "") // restored after the test
		os.Unsetenv(k)
	}
	g := &globals{}
	root := newRootFor(g)
	for _, c := range root.Commands() {
		if c.Name() == "whoami" {
			c.RunE = func(*cobra.Command, []string) error { return nil }
		}
	}
	root.SetArgs(append([]string{"whoami"}, args...))
	if err := root.Execute(); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	return g
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestIsLoopback decides where a token may travel without TLS.
func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:7401":   true,
		"127.8.9.1:7401":   true,
		"localhost:7401":   true,
		"LOCALHOST:7401":   true,
		"[::1]:7401":       true,
		"10.0.0.5:7401":    false,
		"0.0.0.0:7401":     false,
		"node.example:443": false,
		"[2001:db8::1]:1":  false,
		"":                 false,
	} {
		if got := isLoopback(addr); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

// TestBearerTransport: the token asks for TLS except to this machine, so
// a dial that went wrong fails instead of sending it in the clear.
func TestBearerTransport(t *testing.T) {
	tests := []struct {
		server, ca string
		wantSecure bool
	}{
		{"127.0.0.1:7401", "", false},
		{"10.0.0.5:7401", "", true},
	}
	for _, tc := range tests {
		g := &globals{server: tc.server, serverCA: tc.ca}
		conn, err := g.dialWith("secret")
		if err != nil {
			t.Fatal(err)
		}
		conn.Close()
		b := bearer{token: "secret", insecureOK: isLoopback(tc.server)}
		if b.RequireTransportSecurity() != tc.wantSecure {
			t.Errorf("%s: RequireTransportSecurity %v, want %v", tc.server, b.RequireTransportSecurity(), tc.wantSecure)
		}
		md, _ := b.GetRequestMetadata(t.Context())
		if md["authorization"] != "Bearer secret" {
			t.Errorf("metadata %v", md)
		}
	}
	if _, err := (&globals{server: "10.0.0.5:1", serverCA: filepath.Join(t.TempDir(), "missing.crt")}).dialWith("x"); err == nil || !strings.Contains(err.Error(), "--server-ca") {
		t.Errorf("missing --server-ca file: %v", err)
	}
}

// TestGrantFlags: grant and revoke take exactly one of --role and --post.
func TestGrantFlags(t *testing.T) {
	for _, tc := range []struct {
		f  grantFlags
		ok bool
	}{
		{grantFlags{role: "auditor"}, true},
		{grantFlags{post: "village.accountant"}, true},
		{grantFlags{}, false},
		{grantFlags{role: "auditor", post: "village.accountant"}, false},
	} {
		if err := tc.f.check(); (err == nil) != tc.ok {
			t.Errorf("%+v: %v", tc.f, err)
		}
	}
}

// TestAuthorFlag: --author is only an assertion now; nothing fills it from
// the operating system's login name any more (the node would refuse it).
func TestAuthorFlag(t *testing.T) {
	t.Setenv("USER", "someone")
	if g := parseGlobals(t); g.author != "" {
		t.Fatalf("default --author %q, want empty", g.author)
	}
	if g := parseGlobals(t); g.localAuthor() != "someone" {
		t.Fatalf("offline author %q, want the login name", g.localAuthor())
	}
	if g := parseGlobals(t, "--author", "zhang.san"); g.author != "zhang.san" || g.localAuthor() != "zhang.san" {
		t.Fatalf("--author zhang.san: %q %q", g.author, g.localAuthor())
	}
}

// fakeLogin answers Login calls in order and records the requests.
type fakeLogin struct {
	sanziv1.AccountServiceClient
	answers []error
	got     []*sanziv1.LoginRequest
}

func (f *fakeLogin) Login(_ context.Context, req *sanziv1.LoginRequest, _ ...grpc.CallOption) (*sanziv1.LoginResponse, error) {
	f.got = append(f.got, proto.CloneOf(req))
	err := f.answers[0]
	f.answers = f.answers[1:]
	if err != nil {
		return nil, err
	}
	return &sanziv1.LoginResponse{Secret: "s", Id: "t1"}, nil
}

// TestSignIn: a one-time password is answered by asking for a new one and
// signing in again with it, once; other refusals are not.
func TestSignIn(t *testing.T) {
	mustChange := status.Error(codes.FailedPrecondition, "accounts: password must be changed at this sign-in")
	wrong := status.Error(codes.Unauthenticated, "wrong account or password")
	tests := []struct {
		name      string
		answers   []error
		newPw     string
		askErr    error
		wantCalls int
		wantNew   string // new_password of the last call
		wantCode  codes.Code
	}{
		{"ordinary password", []error{nil}, "", nil, 1, "", codes.OK},
		{"one-time password, new one asked", []error{mustChange, nil}, "", nil, 2, "asked-new-pw", codes.OK},
		{"one-time password, new one given", []error{nil}, "given-new-pw", nil, 1, "given-new-pw", codes.OK},
		{"new one refused too", []error{mustChange}, "given-new-pw", nil, 1, "given-new-pw", codes.FailedPrecondition},
		{"wrong password is not asked about", []error{wrong}, "", nil, 1, "", codes.Unauthenticated},
		{"no terminal to ask", []error{mustChange}, "", errors.New("give --new-password-file"), 1, "", codes.Unknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeLogin{answers: tc.answers}
			asked := 0
			_, err := signIn(t.Context(), f, &sanziv1.LoginRequest{Account: "admin", Password: "old", NewPassword: tc.newPw},
				func() (string, error) { asked++; return "asked-new-pw", tc.askErr })
			if status.Code(err) != tc.wantCode || len(f.got) != tc.wantCalls {
				t.Fatalf("err %v (%s), %d calls; want %s, %d calls", err, status.Code(err), len(f.got), tc.wantCode, tc.wantCalls)
			}
			if last := f.got[len(f.got)-1]; last.GetNewPassword() != tc.wantNew {
				t.Fatalf("last new_password %q, want %q", last.GetNewPassword(), tc.wantNew)
			}
			if wantAsk := tc.answers[0] == mustChange && tc.newPw == ""; (asked == 1) != wantAsk || asked > 1 {
				t.Fatalf("asked %d times", asked)
			}
		})
	}
}
