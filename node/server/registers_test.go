package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sanzi/sanzi/node/authz"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestRegistersScoped: the contract and asset registers answer what the
// signed-in account covers and nothing else. Over REST the filters reach
// the node; a list naming another village is 403; called as an account of
// another village, a list without an org is empty and a record by id is
// refused.
func TestRegistersScoped(t *testing.T) {
	n := startTestNode(t, nil)
	year := time.Now().Year()
	body := fmt.Sprintf(`{"contract":{"org":%q,"kind":"CONTRACT_KIND_LEASE","contractNumber":"HT-1","counterparty":{"name":"林某某"},`+
		`"object":{"kind":"OBJECT_KIND_LAND","objectId":"DK-1","areaMu":3},"termStart":"%d-01-01","termEnd":"%d-12-31",`+
		`"annualAmountFen":60000,"awardMethod":"AWARD_METHOD_TENDER","signedDate":"%d-12-01"}}`, testOrg, year, year+1, year-1)
	code, _, raw := n.call(t, n.client, "POST", "/v1/contracts", body, nil)
	if code != http.StatusOK {
		t.Fatalf("record: %d %s", code, raw)
	}
	var rec struct{ Entry struct{ ID string } }
	if err := json.Unmarshal([]byte(raw), &rec); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		query string
		code  int
		has   bool
	}{
		{"", http.StatusOK, true},
		{"?query=林&status=CONTRACT_STATUS_ACTIVE", http.StatusOK, true},
		{"?query=王", http.StatusOK, false},
		{"?status=CONTRACT_STATUS_ENDED", http.StatusOK, false},
		{"?org=350505100202", http.StatusForbidden, false},
		{"?status=OPEN", http.StatusBadRequest, false},
		{"?query=" + strings.Repeat("林", 65), http.StatusBadRequest, false},
	} {
		code, _, raw := n.call(t, n.client, "GET", "/v1/contracts"+tc.query, "", nil)
		if code != tc.code || strings.Contains(raw, "HT-1") != tc.has {
			t.Errorf("GET /v1/contracts%s: %d %.200s; want %d, HT-1 listed %v", tc.query, code, raw, tc.code, tc.has)
		}
	}

	other := authz.NewContext(context.Background(), authz.Principal{Account: "x", Org: "350505100202", Roles: []authz.Role{authz.RoleSupervisoryCommittee}})
	list, err := n.api.ListContracts(other, &sanziv1.ListContractsRequest{})
	if err != nil || len(list.GetContracts()) != 0 || list.GetTotalSize() != 0 {
		t.Errorf("another village's account lists %v (%v), want nothing", list.GetContracts(), err)
	}
	if _, err := n.api.GetContract(other, &sanziv1.GetContractRequest{Id: rec.Entry.ID}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("another village's account reads contract %s: %v, want PermissionDenied", rec.Entry.ID, err)
	}
	assets, err := n.api.ListAssets(other, &sanziv1.ListAssetsRequest{})
	if err != nil || assets.GetTotalSize() != 0 {
		t.Errorf("another village's account lists assets: %v %v", assets, err)
	}
	if _, err := n.api.ListContracts(context.Background(), &sanziv1.ListContractsRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("a list with nobody signed in: %v, want Unauthenticated", err)
	}
}
