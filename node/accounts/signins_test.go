package accounts

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// outcomes renders events as "account outcome×count@address", newest first.
func outcomes(evs []SignInEvent) string {
	var out []string
	for _, e := range evs {
		s := e.Account + " " + string(e.Outcome)
		if e.Count > 1 {
			s += fmt.Sprintf("×%d", e.Count)
		}
		if e.Address != "" {
			s += "@" + e.Address
		}
		out = append(out, s)
	}
	return strings.Join(out, ", ")
}

// TestSignInAudit: every sign-in, failure, lock, throttled attempt,
// password change and sign-out is in the audit the administrator reads,
// newest first, filtered and paged, scoped to the accounts it manages.
func TestSignInAudit(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.person("li.si", RoleAccountant) // its first password replaced: password_changed
	if _, _, err := e.s.Create(ctx, e.admin, NewAccount{ID: "wang.wu", Name: "王五", Org: village, Roles: []Role{RoleAccountant}, Password: "one-time-password-1"}); err != nil {
		t.Fatal(err)
	}
	step := func() { e.clock.Advance(time.Second) }
	step()
	if _, err := e.s.Login(ctx, LoginRequest{Account: "wang.wu", Password: "one-time-password-1", Address: "10.0.0.5"}); !errors.Is(err, ErrPasswordChangeRequired) {
		t.Fatalf("one-time password: %v", err)
	}
	step()
	si := e.login("li.si", KindSession)
	wrong := LoginRequest{Account: "li.si", Password: "guess-guess-guess", Address: "10.0.0.7"}
	for range 5 { // the fifth locks the account
		step()
		e.s.Login(ctx, wrong)
	}
	for range 3 { // refused unchecked: one event
		step()
		e.s.Login(ctx, wrong)
	}
	step()
	e.s.Login(ctx, LoginRequest{Account: "no.body", Password: "guess-guess-guess", Address: "10.0.0.8"})
	step()
	if err := e.s.LogoutFrom(ctx, si.Secret, "10.0.0.9"); err != nil {
		t.Fatal(err)
	}

	all, next, err := e.s.ListSignIns(ctx, e.admin, SignInFilter{}, 0)
	if err != nil || next != "" {
		t.Fatalf("list: %v, next %q", err, next)
	}
	want := "li.si signout@10.0.0.9, no.body failed@10.0.0.8, li.si throttled×3@10.0.0.7, li.si locked@10.0.0.7, " +
		"li.si failed@10.0.0.7, li.si failed@10.0.0.7, li.si failed@10.0.0.7, li.si failed@10.0.0.7, li.si ok@10.0.0.9, " +
		"wang.wu must_change@10.0.0.5, li.si password_changed"
	if got := outcomes(all); !strings.HasPrefix(got, want) {
		t.Fatalf("audit:\n%s\nwant it to start\n%s", got, want)
	}
	if all[0].Kind != KindSession || !strings.Contains(all[3].Reason, "locked for") || all[1].Reason != "wrong account or password" {
		t.Fatalf("details: %+v %+v %+v", all[0], all[3], all[1])
	}

	t.Run("filtered by account and outcome", func(t *testing.T) {
		got, _, err := e.s.ListSignIns(ctx, e.admin, SignInFilter{Account: "li.si", Outcome: OutcomeFailed}, 0)
		if err != nil || outcomes(got) != strings.Repeat("li.si failed@10.0.0.7, ", 3)+"li.si failed@10.0.0.7" {
			t.Fatalf("%s %v", outcomes(got), err)
		}
	})
	t.Run("paged", func(t *testing.T) {
		var seen []SignInEvent
		before := ""
		for {
			page, next, err := e.s.ListSignIns(ctx, e.admin, SignInFilter{Before: before}, 4)
			if err != nil || len(page) > 4 {
				t.Fatalf("page after %q: %d events, %v", before, len(page), err)
			}
			seen = append(seen, page...)
			if next == "" {
				break
			}
			before = next
		}
		if outcomes(seen) != outcomes(all) {
			t.Fatalf("paged:\n%s\nwhole:\n%s", outcomes(seen), outcomes(all))
		}
		if _, _, err := e.s.ListSignIns(ctx, e.admin, SignInFilter{Before: "zz"}, 4); !errors.Is(err, ErrEventID) {
			t.Fatalf("a bad page token: %v", err)
		}
	})
	t.Run("an administrator of another village sees only names nobody holds", func(t *testing.T) {
		other := Principal{Account: "other.admin", Org: "350505100202", Roles: []Role{RoleAdmin}}
		got, _, err := e.s.ListSignIns(ctx, other, SignInFilter{}, 0)
		if err != nil || outcomes(got) != "no.body failed@10.0.0.8" {
			t.Fatalf("%s %v", outcomes(got), err)
		}
	})
	t.Run("refused to an account that manages none", func(t *testing.T) {
		if _, _, err := e.s.ListSignIns(ctx, Principal{Account: "li.si", Org: village, Roles: []Role{RoleAccountant}}, SignInFilter{}, 0); !errors.Is(err, ErrPermissionDenied) {
			t.Fatalf("%v, want ErrPermissionDenied", err)
		}
	})
	t.Run("kept across a restart", func(t *testing.T) {
		e.close()
		e.open()
		got, _, err := e.s.ListSignIns(ctx, e.admin, SignInFilter{}, 0)
		if err != nil || outcomes(got) != outcomes(all) {
			t.Fatalf("after a restart:\n%s %v", outcomes(got), err)
		}
	})
}

// TestSignInLogBounds: the audit keeps at most MaxEvents, none older than
// MaxAge, queues at most Queue events between writes and says how many it
// dropped, and clips what a caller typed.
func TestSignInLogBounds(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l, err := openQuiet(SignInLogConfig{Path: filepath.Join(t.TempDir(), "signins.db"), MaxEvents: 3, MaxAge: 24 * time.Hour, Queue: 4, Now: clock.Now, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := range 6 { // 4 queued, 2 dropped
		clock.Advance(time.Minute)
		l.Record(SignInEvent{Account: fmt.Sprintf("a%d", i), Outcome: OutcomeFailed})
	}
	clock.Advance(time.Minute)
	l.Record(SignInEvent{Account: strings.Repeat("长", 40), Outcome: OutcomeFailed}) // the 5th: dropped too
	l.Flush()
	l.Record(SignInEvent{Account: "after", Outcome: OutcomeOK})
	got, _, err := l.List(ctx, SignInFilter{}, 10)
	if err != nil || outcomes(got) != "after ok, a3 failed, a2 failed" || got[0].Dropped != 3 {
		t.Fatalf("%s (dropped %d) %v; want the newest 3, the last counting 3 dropped", outcomes(got), got[0].Dropped, err)
	}
	clock.Advance(25 * time.Hour)
	l.Record(SignInEvent{Account: strings.Repeat("长", 40), Outcome: OutcomeFailed})
	got, _, err = l.List(ctx, SignInFilter{}, 10)
	if err != nil || len(got) != 1 || len(got[0].Account) > maxAuditAccount || !strings.HasPrefix(got[0].Account, "长") {
		t.Fatalf("after a day: %q %v; want only the newest, its account clipped to %d bytes of whole characters", outcomes(got), err, maxAuditAccount)
	}
}
