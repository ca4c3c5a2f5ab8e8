package accounts

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// storedHash is the PHC string kept for id.
func (e *env) storedHash(id string) string {
	e.t.Helper()
	rec, ok, err := e.s.creds.password(id)
	if err != nil || !ok {
		e.t.Fatalf("password of %s: found %v, %v", id, ok, err)
	}
	return rec.Hash
}

// TestPasswordAtCost: a password set at a chosen cost (the demo's public
// accounts) keeps that cost through sign-ins, while an ordinary account of
// the same node is hashed, and re-hashed at sign-in, at the node's default
// cost; changing the chosen-cost password brings the default back.
func TestPasswordAtCost(t *testing.T) {
	cheap := Params{Time: 1, Memory: 1024, Threads: 1}
	const cheapPHC, defaultPHC = "$argon2id$v=19$m=1024,t=1,p=1$", "$argon2id$v=19$m=65536,t=3,p=2$"
	e := newEnvAt(t, Params{}) // the node's cost unset: DefaultParams
	ctx := context.Background()
	e.person("normal", RoleAccountant)
	e.person("demo", RoleAccountant)
	if err := e.s.SetPasswordAtCost(ctx, "demo", "public-demo-password", cheap); err != nil {
		t.Fatal(err)
	}
	t.Run("an ordinary account gets the default cost", func(t *testing.T) {
		e.login("normal", KindToken)
		if h := e.storedHash("normal"); !strings.HasPrefix(h, defaultPHC) {
			t.Fatalf("ordinary account's hash %q, want the default cost %s", h, defaultPHC)
		}
	})
	t.Run("the chosen cost is kept through sign-ins", func(t *testing.T) {
		for range 2 {
			if _, err := e.s.Login(ctx, LoginRequest{Account: "demo", Password: "public-demo-password"}); err != nil {
				t.Fatal(err)
			}
		}
		if h := e.storedHash("demo"); !strings.HasPrefix(h, cheapPHC) {
			t.Fatalf("after sign-ins the demo hash is %q, want the chosen %s", h, cheapPHC)
		}
	})
	t.Run("a password change goes back to the default", func(t *testing.T) {
		if err := e.s.ChangePassword(ctx, LoginRequest{Account: "demo", Password: "public-demo-password", NewPassword: "a-private-one-now"}); err != nil {
			t.Fatal(err)
		}
		if h := e.storedHash("demo"); !strings.HasPrefix(h, defaultPHC) {
			t.Fatalf("after a change the hash is %q, want the default %s", h, defaultPHC)
		}
		if _, err := e.s.Login(ctx, LoginRequest{Account: "demo", Password: "a-private-one-now"}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("refusals", func(t *testing.T) {
		if err := e.s.SetPasswordAtCost(ctx, "nobody", "public-demo-password", cheap); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown account: %v, want ErrNotFound", err)
		}
		if err := e.s.SetPasswordAtCost(ctx, "normal", "short", cheap); err == nil {
			t.Error("a too short password was set")
		}
		if err := e.s.SetPasswordAtCost(ctx, "normal", "public-demo-password", Params{Time: 1, Memory: 4, Threads: 1}); err == nil {
			t.Error("a cost under 8 KiB was taken")
		}
	})
}
