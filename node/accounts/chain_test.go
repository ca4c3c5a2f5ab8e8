package accounts

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/keys"
	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestChainEntries: every change is an entry of the village's chain naming
// who made it, no entry (nor ledger.db) holds a credential, and reopening
// rebuilds the same accounts.
func TestChainEntries(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.person("li.si", RoleAccountant)
	if _, err := e.s.Grant(ctx, e.admin, "li.si", Grant{Post: "village.accountant"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Grant(ctx, e.admin, "li.si", Grant{Role: RoleAuditor}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Revoke(ctx, e.admin, "li.si", Grant{Role: RoleAccountant}); err != nil {
		t.Fatal(err)
	}
	otp, err := e.s.ResetPassword(ctx, e.admin, "li.si")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Login(ctx, LoginRequest{Account: "li.si", Password: pw("li.si")}); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("old password after a reset: %v", err)
	}
	si, err := e.s.Login(ctx, LoginRequest{Account: "li.si", Password: otp, NewPassword: pw("li.si") + "-2", Kind: KindSession})
	if err != nil {
		t.Fatal(err)
	}
	e.person("wang.wu", RoleAuditor)
	if _, err := e.s.Disable(ctx, e.admin, "wang.wu", "left"); err != nil {
		t.Fatal(err)
	}

	type seen struct {
		typ    sanziv1.EntryType
		author string
		acct   string
	}
	var got []seen
	err = e.l.Range(village, 1, 0, func(s *ledger.Stored) bool {
		var acct string
		switch s.Type {
		case sanziv1.EntryType_ENTRY_TYPE_ACCOUNT_CREATED:
			var m sanziv1.AccountCreated
			proto.Unmarshal(s.Payload, &m)
			acct = m.Account
		case sanziv1.EntryType_ENTRY_TYPE_ACCOUNT_GRANTED, sanziv1.EntryType_ENTRY_TYPE_ACCOUNT_REVOKED:
			var m sanziv1.AccountGrant
			proto.Unmarshal(s.Payload, &m)
			acct = m.Account + " " + m.Role + m.Post
		case sanziv1.EntryType_ENTRY_TYPE_ACCOUNT_DISABLED:
			var m sanziv1.AccountDisabled
			proto.Unmarshal(s.Payload, &m)
			acct = m.Account
		case sanziv1.EntryType_ENTRY_TYPE_ACCOUNT_PASSWORD_RESET:
			var m sanziv1.AccountPasswordReset
			proto.Unmarshal(s.Payload, &m)
			acct = m.Account
		}
		got = append(got, seen{s.Type, s.Author, acct})
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []seen{
		{sanziv1.EntryType_ENTRY_TYPE_ACCOUNT_CREATED, BootstrapAuthor, "admin"},
		{sanziv1.EntryType_ENTRY_TYPE_ACCOUNT_CREATED, "admin", "li.si"},
		{sanziv1.EntryType_ENTRY_TYPE_ACCOUNT_GRANTED, "admin", "li.si village.accountant"},
		{sanziv1.EntryType_ENTRY_TYPE_ACCOUNT_GRANTED, "admin", "li.si auditor"},
		{sanziv1.EntryType_ENTRY_TYPE_ACCOUNT_REVOKED, "admin", "li.si accountant"},
		{sanziv1.EntryType_ENTRY_TYPE_ACCOUNT_PASSWORD_RESET, "admin", "li.si"},
		{sanziv1.EntryType_ENTRY_TYPE_ACCOUNT_CREATED, "admin", "wang.wu"},
		{sanziv1.EntryType_ENTRY_TYPE_ACCOUNT_DISABLED, "admin", "wang.wu"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("chain holds\n%v\nwant\n%v", got, want)
	}

	before, err := e.s.List(ctx, e.admin)
	if err != nil || len(before) != 3 {
		t.Fatalf("List: %d accounts, %v", len(before), err)
	}
	li, _ := e.s.Show(ctx, e.admin, "li.si")
	if !reflect.DeepEqual(li.Roles, []Role{RoleAuditor}) || !reflect.DeepEqual(li.Posts, []string{"village.accountant"}) || li.CreatedBy != "admin" || li.LastEntry != village+"-6" {
		t.Fatalf("li.si: %+v", li)
	}

	pwRec, _, _ := e.s.creds.password("li.si")
	e.close()
	t.Run("no credential in the chain", func(t *testing.T) {
		ledgerBytes, err := os.ReadFile(filepath.Join(e.dir, "ledger.db"))
		if err != nil {
			t.Fatal(err)
		}
		credBytes, err := os.ReadFile(filepath.Join(e.dir, "credentials.db"))
		if err != nil {
			t.Fatal(err)
		}
		_, _, key, err := parseHash(pwRec.Hash)
		if err != nil {
			t.Fatal(err)
		}
		for name, secret := range map[string][]byte{
			"password hash": []byte(pwRec.Hash), "hash key": key, "session id": []byte(si.Secret),
			"CSRF token": []byte(si.CSRF), "one-time password": []byte(otp), "new password": []byte(pw("li.si") + "-2"),
		} {
			if bytes.Contains(ledgerBytes, secret) {
				t.Errorf("ledger.db holds the %s", name)
			}
		}
		// The scan can find what it looks for: the hash is in credentials.db.
		if !bytes.Contains(credBytes, []byte(pwRec.Hash)) {
			t.Error("credentials.db does not hold the password hash: the scan above proves nothing")
		}
	})
	t.Run("state rebuilt on reopen", func(t *testing.T) {
		e.open()
		after, err := e.s.List(ctx, e.admin)
		if err != nil || !reflect.DeepEqual(before, after) {
			t.Fatalf("after reopening:\n%+v\nbefore:\n%+v (%v)", after, before, err)
		}
		if p, err := e.s.Authenticate(ctx, si.Secret); err != nil || p.Account != "li.si" {
			t.Fatalf("session across a restart: %+v, %v", p, err)
		}
		if _, created, err := e.s.EnsureAdmin(ctx, ""); created || err != nil {
			t.Fatalf("EnsureAdmin on a node with accounts: created %v, %v", created, err)
		}
	})
	t.Run("entries appended by others are followed", func(t *testing.T) {
		payload, _ := proto.Marshal(&sanziv1.AccountGrant{Account: "li.si", Post: "village.finance"})
		if _, err := e.l.Append(ctx, ledger.Record{Origin: village, Author: "admin", Type: sanziv1.EntryType_ENTRY_TYPE_ACCOUNT_GRANTED, Payload: payload}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.Grant(ctx, e.admin, "li.si", Grant{Role: RoleVillageCommittee}); err != nil {
			t.Fatal(err)
		}
		li, _ := e.s.Show(ctx, e.admin, "li.si")
		if !reflect.DeepEqual(li.Posts, []string{"village.accountant", "village.finance"}) {
			t.Fatalf("posts %v: the entry appended beside the service was not applied", li.Posts)
		}
	})
}

func TestManageValidation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	clerk := e.person("li.si", RoleAccountant)
	townAdmin := Principal{Account: "town.admin", Org: town, Roles: []Role{RoleAdmin}}
	otherVillageAdmin := Principal{Account: "other", Org: "350505100202", Roles: []Role{RoleAdmin}}
	ok := NewAccount{ID: "zhou.qi", Name: "周七", Org: village, Roles: []Role{RoleAccountant}, Posts: []string{"village.accountant"}}
	with := func(f func(*NewAccount)) NewAccount { n := ok; f(&n); return n }
	for _, tc := range []struct {
		name   string
		by     Principal
		n      NewAccount
		want   error
		fields []string
	}{
		{"non-admin", clerk, ok, ErrPermissionDenied, nil},
		{"bad id", e.admin, with(func(n *NewAccount) { n.ID = "Zhou Qi" }), nil, []string{"id"}},
		{"id with a colon", e.admin, with(func(n *NewAccount) { n.ID = "node:x" }), nil, []string{"id"}},
		{"no name", e.admin, with(func(n *NewAccount) { n.Name = " " }), nil, []string{"name"}},
		{"org not 12 digits", e.admin, with(func(n *NewAccount) { n.Org = "3505051002" }), nil, []string{"org"}},
		{"org outside the node", e.admin, with(func(n *NewAccount) { n.Org = "350505100202" }), nil, []string{"org"}},
		{"org outside the creator's scope", otherVillageAdmin, ok, nil, []string{"org"}},
		{"unknown role", e.admin, with(func(n *NewAccount) { n.Roles = []Role{"boss"} }), nil, []string{"roles[0]"}},
		{"role twice", e.admin, with(func(n *NewAccount) { n.Roles = []Role{RoleAuditor, RoleAuditor} }), nil, []string{"roles[1]"}},
		{"unknown post", e.admin, with(func(n *NewAccount) { n.Posts = []string{"village.king"} }), nil, []string{"posts[0]"}},
		{"town post at a village", e.admin, with(func(n *NewAccount) { n.Posts = []string{"town.reviewer"} }), nil, []string{"posts[0]"}},
		{"short password", e.admin, with(func(n *NewAccount) { n.Password = "123" }), nil, []string{"password"}},
		{"several at once", e.admin, with(func(n *NewAccount) { n.ID, n.Name = "", "" }), nil, []string{"id", "name"}},
		{"existing id", e.admin, with(func(n *NewAccount) { n.ID = "li.si" }), ErrExists, nil},
		{"town admin for a village of its town", townAdmin, ok, nil, nil},
		{"town_admin role (manage_accounts in authz's table)", Principal{Account: "town.mgr", Org: town, Roles: []Role{RoleTownAdmin}},
			with(func(n *NewAccount) { n.ID = "zhou.ba" }), nil, nil},
		{"reviewer (no manage_accounts)", Principal{Account: "town.rev", Org: town, Roles: []Role{RoleTownReviewer}},
			with(func(n *NewAccount) { n.ID = "zhou.jiu" }), ErrPermissionDenied, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := e.s.Create(ctx, tc.by, tc.n)
			if tc.fields != nil {
				var inv *books.InvalidError
				if !errors.As(err, &inv) {
					t.Fatalf("Create: %v, want field errors on %v", err, tc.fields)
				}
				var fields []string
				for _, v := range inv.Violations {
					fields = append(fields, v.Field)
				}
				if !reflect.DeepEqual(fields, tc.fields) {
					t.Fatalf("fields %v (%v), want %v", fields, err, tc.fields)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Create: %v, want %v", err, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name string
		do   func() error
		want string // error text, or "" for success
	}{
		{"grant both role and post", func() error {
			_, err := e.s.Grant(ctx, e.admin, "li.si", Grant{Role: RoleAuditor, Post: "village.accountant"})
			return err
		}, "exactly one"},
		{"grant a held role", func() error { _, err := e.s.Grant(ctx, e.admin, "li.si", Grant{Role: RoleAccountant}); return err }, "already holds"},
		{"revoke a role not held", func() error { _, err := e.s.Revoke(ctx, e.admin, "li.si", Grant{Role: RoleAuditor}); return err }, "does not hold"},
		{"grant by a non-admin", func() error { _, err := e.s.Grant(ctx, clerk, "li.si", Grant{Role: RoleAdmin}); return err }, "permission denied"},
		{"grant to an unknown account", func() error { _, err := e.s.Grant(ctx, e.admin, "nobody", Grant{Role: RoleAdmin}); return err }, "not found"},
		{"admin outside its scope", func() error {
			_, err := e.s.Grant(ctx, otherVillageAdmin, "li.si", Grant{Role: RoleAuditor})
			return err
		}, "outside"},
		{"disable oneself", func() error { _, err := e.s.Disable(ctx, e.admin, AdminID, ""); return err }, "your own account"},
		{"grant oneself a role", func() error { _, err := e.s.Grant(ctx, e.admin, AdminID, Grant{Role: RoleAccountant}); return err }, "may not grant itself"},
		{"take the admin role from oneself", func() error { _, err := e.s.Revoke(ctx, e.admin, AdminID, Grant{Role: RoleAdmin}); return err }, "from yourself"},
		{"reset by a non-admin", func() error { _, err := e.s.ResetPassword(ctx, clerk, "li.si"); return err }, "permission denied"},
		{"disable by a non-admin", func() error { _, err := e.s.Disable(ctx, clerk, "li.si", ""); return err }, "permission denied"},
		{"show another's account as a clerk", func() error { _, err := e.s.Show(ctx, clerk, AdminID); return err }, "not found"},
		{"show one's own", func() error { _, err := e.s.Show(ctx, clerk, "li.si"); return err }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("%v, want %q", err, tc.want)
			}
		})
	}
	if l, _ := e.s.List(ctx, clerk); len(l) != 1 || l[0].ID != "li.si" {
		t.Errorf("a clerk lists %v, want only itself", l)
	}
}

func TestEnsureAdmin(t *testing.T) {
	ctx := context.Background()
	t.Run("one-time password", func(t *testing.T) {
		e := newEnv(t) // EnsureAdmin ran; run a fresh one to see the password
		e.close()
		os.Remove(filepath.Join(e.dir, "ledger.db"))
		os.Remove(filepath.Join(e.dir, "credentials.db"))
		e.open()
		otp, created, err := e.s.EnsureAdmin(ctx, "")
		if err != nil || !created || len(otp) < 20 {
			t.Fatalf("EnsureAdmin: %q %v %v", otp, created, err)
		}
		a, err := e.s.Show(ctx, Principal{Account: AdminID}, AdminID)
		if err != nil || a.Org != village || !reflect.DeepEqual(a.Roles, []Role{RoleAdmin}) || a.CreatedBy != BootstrapAuthor {
			t.Fatalf("admin: %+v %v", a, err)
		}
		if _, err := e.s.Login(ctx, LoginRequest{Account: AdminID, Password: otp}); !errors.Is(err, ErrPasswordChangeRequired) {
			t.Fatalf("first sign-in without a new password: %v", err)
		}
		if _, err := e.s.Login(ctx, LoginRequest{Account: AdminID, Password: otp, NewPassword: "admin-chose-this"}); err != nil {
			t.Fatal(err)
		}
		if otp2, created, err := e.s.EnsureAdmin(ctx, ""); created || otp2 != "" || err != nil {
			t.Fatalf("second EnsureAdmin: %q %v %v", otp2, created, err)
		}
	})
	for _, tc := range []struct {
		name    string
		mode    os.FileMode
		content string
		want    error
		says    string
	}{
		{"file readable by others", 0o644, "a-long-password\n", keys.ErrExposed, "chmod 600"},
		{"password too short", 0o600, "short\n", nil, "at least"},
		{"file 0600", 0o600, "a-long-password\n", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.close()
			os.Remove(filepath.Join(e.dir, "ledger.db"))
			os.Remove(filepath.Join(e.dir, "credentials.db"))
			e.open()
			file := filepath.Join(t.TempDir(), "admin-password")
			if err := os.WriteFile(file, []byte(tc.content), tc.mode); err != nil {
				t.Fatal(err)
			}
			os.Chmod(file, tc.mode)
			otp, created, err := e.s.EnsureAdmin(ctx, file)
			if tc.says != "" {
				if err == nil || !strings.Contains(err.Error(), tc.says) || (tc.want != nil && !errors.Is(err, tc.want)) || created {
					t.Fatalf("EnsureAdmin: %v, want an error saying %q", err, tc.says)
				}
				return
			}
			if err != nil || !created || otp != "" {
				t.Fatalf("EnsureAdmin: %q %v %v", otp, created, err)
			}
			if _, err := e.s.Login(ctx, LoginRequest{Account: AdminID, Password: "a-long-password"}); !errors.Is(err, ErrPasswordChangeRequired) {
				t.Fatalf("password from the file must be changed at first sign-in: %v", err)
			}
		})
	}
}
