package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/sanzi/sanzi/node/accounts"
)

// demoPassword is the password of every demo account, printed by `sanzi
// demo`. DEMO ONLY: it is public (it is in this file and in the README);
// never create accounts with it on a real node.
const demoPassword = "sanzi-demo-2026"

// demoArgon is the cost of the demo accounts' password hashes: 1 MiB, one
// pass, about a millisecond. The password is published, so a costly hash
// guards nothing, and the demo's seeding signs in thousands of times (the
// default cost took over half of the demo's time to ready). Only the
// accounts seedDemoAccounts makes get it (accounts.SetPasswordAtCost);
// the node's cost for every other account stays the default.
var demoArgon = accounts.Params{Time: 1, Memory: 1024, Threads: 1}

// demoPerson is one demo account: one per role a node of its tier has.
type demoPerson struct {
	id, name string
	roles    []accounts.Role
	posts    []string
}

// demoVillagePeople are the sample village's accounts, one per role.
var demoVillagePeople = []demoPerson{
	{"kuaiji", "会计 陈秀英 (demo)", []accounts.Role{accounts.RoleAccountant}, []string{"village.accountant"}},
	{"chuna", "出纳 李春生 (demo)", []accounts.Role{accounts.RoleAccountant}, []string{"village.accountant"}},
	{"cunwei", "村委 林国栋 (demo)", []accounts.Role{accounts.RoleVillageCommittee}, []string{"village.head", "village.party_branch",
		"village.committees", "village.party_members", "village.assembly"}},
	{"jiandu", "村务监督委员会 郑美华 (demo)", []accounts.Role{accounts.RoleSupervisoryCommittee}, []string{"village.finance_group"}},
	{"shenji", "审计 黄志强 (demo)", []accounts.Role{accounts.RoleAuditor}, nil},
}

// demoTownPeople are the sample town's accounts, one per role.
var demoTownPeople = []demoPerson{
	{"zhen.shenhe", "镇代理会计 王丽 (demo)", []accounts.Role{accounts.RoleTownReviewer}, []string{"town.agency_accountant", "town.reviewer"}},
	{"zhen.chuna", "镇代理中心出纳 郭敏 (demo)", []accounts.Role{accounts.RoleTownReviewer}, []string{"town.agency_cashier", "town.trading_service"}},
	{"zhen.lingdao", "镇分管领导 周海 (demo)", []accounts.Role{accounts.RoleTownReviewer}, []string{"town.leader"}},
	{"zhen.guanli", "镇管理员 吴建 (demo)", []accounts.Role{accounts.RoleTownAdmin}, nil},
	{"zhen.shenji", "镇审计 许军 (demo)", []accounts.Role{accounts.RoleAuditor}, nil},
}

// demoAuthor is the demo village's accountant: the author of the sample
// records, as the account that would have recorded them.
const demoAuthor = "kuaiji"

// demoAdminFile writes the first administrator's first password for a demo
// node under its data folder (mode 0600), for --admin-password-file: a
// one-time password replaced by demoPassword in seedDemoAccounts.
func demoAdminFile(dataDir string) (string, error) {
	if err := os.MkdirAll(filepath.Dir(dataDir), 0o700); err != nil {
		return "", err
	}
	p := filepath.Join(filepath.Dir(dataDir), filepath.Base(dataDir)+"-admin-first-password")
	return p, os.WriteFile(p, []byte(demoPassword+"-first\n"), 0o600)
}

// seedDemoAccounts gives the demo node's administrator demoPassword and
// creates people at org, each with demoPassword already set at demoArgon's
// cost (no change is asked at the demo's first sign-in). Accounts that
// exist (a demo run again) are left alone.
func seedDemoAccounts(ctx context.Context, svc *accounts.Service, org string, people []demoPerson) error {
	first := demoPassword + "-first"
	in, err := svc.Login(ctx, accounts.LoginRequest{Account: accounts.AdminID, Password: first, NewPassword: demoPassword, Label: "demo seeding"})
	switch {
	case err == nil:
		if err := svc.Logout(ctx, in.Secret); err != nil {
			return fmt.Errorf("demo administrator: %w", err)
		}
	case !errors.Is(err, accounts.ErrUnauthenticated): // refused: set on an earlier run
		return fmt.Errorf("demo administrator: %w", err)
	}
	admin := accounts.Principal{Account: accounts.AdminID, Org: org, Roles: []accounts.Role{accounts.RoleAdmin}}
	for _, p := range people {
		_, _, err := svc.Create(ctx, admin, accounts.NewAccount{ID: p.id, Name: p.name, Org: org, Roles: p.roles, Posts: p.posts, Password: first})
		if errors.Is(err, accounts.ErrExists) {
			continue
		}
		if err != nil {
			return fmt.Errorf("demo account %s: %w", p.id, err)
		}
		if err := svc.SetPasswordAtCost(ctx, p.id, demoPassword, demoArgon); err != nil {
			return fmt.Errorf("demo account %s: set the demo password: %w", p.id, err)
		}
	}
	return nil
}

// printDemoPeople lists the demo accounts of one node, one per role.
func printDemoPeople(w io.Writer, where, grpcAddr string, people []demoPerson) {
	fmt.Fprintf(w, "Demo accounts at %s (password %q for every one: DEMO ONLY, never on a real node):\n", where, demoPassword)
	fmt.Fprintf(w, "  %-12s %-22s %s\n", accounts.AdminID, string(accounts.RoleAdmin), "accounts only (sanzi accounts list)")
	for _, p := range people {
		roles := ""
		for i, r := range p.roles {
			if i > 0 {
				roles += ","
			}
			roles += string(r)
		}
		fmt.Fprintf(w, "  %-12s %-22s %s\n", p.id, roles, p.name)
	}
	fmt.Fprintf(w, "  sign in: bin/sanzi login --server %s --account %s\n", grpcAddr, people[0].id)
}
