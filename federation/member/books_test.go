package member

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"google.golang.org/grpc/codes"

	"github.com/sanzi/sanzi/analytics/chserver"
	"github.com/sanzi/sanzi/analytics/schema"
	"github.com/sanzi/sanzi/federation/cluster"
	"github.com/sanzi/sanzi/node/accounts"
	"github.com/sanzi/sanzi/node/catalog"
	"github.com/sanzi/sanzi/node/chart"
	"github.com/sanzi/sanzi/node/pki"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestDistrictServesStatementsOnly: a district member with ClickHouse
// serves BooksService's GetStatement over gRPC and at GET /v1/statements
// (on the live catalog's chart: here none is live, so the national one),
// the workbook too; the village's other books methods answer Unimplemented
// over gRPC and are no route over REST, and /openapi.json lists
// /v1/statements alone of the books' paths. (The figures themselves are
// checked against the villages' statements in analytics/loader's
// TestDistrictStatementsAreTheVillagesSums.)
func TestDistrictServesStatementsOnly(t *testing.T) {
	ctx := context.Background()
	srv, err := chserver.Start(ctx, chserver.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{srv.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := schema.Apply(ctx, conn); err != nil {
		t.Fatal(err)
	}
	ca, err := pki.NewCA("350505", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	iss, err := ca.Issue("350505000000", pki.RoleDistrict, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "admin-password")
	if err := os.WriteFile(pwFile, []byte(adminPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := Start(ctx, Config{APIListen: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Pool: ca.Pool(), Cert: iss.TLSCertificate(),
		ClickHouse: srv.Addr(), AdminPasswordFile: pwFile, Argon: cheap, FollowEvery: 20 * time.Millisecond,
		Cluster: cluster.Config{ID: "d1", RaftAddr: freeAddr(t), DataDir: filepath.Join(dir, "d1"), Bootstrap: true,
			HeartbeatTimeout: 300 * time.Millisecond, ElectionTimeout: 300 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Stop() })
	eventually(t, 10*time.Second, "d1 to lead", m.Node().IsLeader)
	c := person(t, ca, m)
	admin := signIn(t, c, accounts.AdminID, adminPassword, "admin-password-changed-1")
	analyst := createAndSignIn(t, c, admin, "zhao.read", "district_analyst")

	books := sanziv1.NewBooksServiceClient(c)
	resp, err := books.GetStatement(bearer(analyst), &sanziv1.GetStatementRequest{Kind: sanziv1.StatementKind_STATEMENT_KIND_BALANCE_SHEET, Org: "350505100000", Period: "2025-06"})
	if err != nil {
		t.Fatalf("GetStatement over gRPC: %v", err)
	}
	if s := resp.GetStatement(); s.GetOrg() != "350505100000" || s.GetOrgs() != 0 || len(s.GetRows()) == 0 {
		t.Errorf("GetStatement of a town with no books: org %s, %d orgs, %d rows", s.GetOrg(), s.GetOrgs(), len(s.GetRows()))
	}
	if _, err := books.GetStatement(bearer(analyst), &sanziv1.GetStatementRequest{Kind: sanziv1.StatementKind_STATEMENT_KIND_CASH_JOURNAL, Org: "350505100201", Period: "2025-06"}); code(err) != codes.InvalidArgument {
		t.Errorf("a cash journal at the district: %v, want InvalidArgument", err)
	}
	if _, err := books.ListMonths(bearer(analyst), &sanziv1.ListMonthsRequest{Org: "350505100201"}); code(err) != codes.Unimplemented {
		t.Errorf("ListMonths at the district: %v, want Unimplemented", err)
	}

	get := func(path string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+m.HTTPAddr()+path, nil)
		req.Header.Set("Authorization", "Bearer "+analyst)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return r.StatusCode, b
	}
	st, body := get("/v1/statements?kind=STATEMENT_KIND_TRIAL_BALANCE&org=350505000000&period=2025-06&xlsx=true")
	var out struct {
		Statement struct {
			Title string `json:"title"`
			Org   string `json:"org"`
		} `json:"statement"`
		Xlsx     []byte `json:"xlsx"`
		FileName string `json:"fileName"`
	}
	if st != http.StatusOK || json.Unmarshal(body, &out) != nil {
		t.Fatalf("GET /v1/statements: %d %s", st, body)
	}
	if out.Statement.Title != "科目余额表" || out.Statement.Org != "350505000000" || out.FileName != "350505000000-trial-balance-2025-06.xlsx" || len(out.Xlsx) == 0 {
		t.Errorf("GET /v1/statements: %s %s, file %q, %d bytes", out.Statement.Title, out.Statement.Org, out.FileName, len(out.Xlsx))
	}
	if st, body := get("/v1/statements?kind=STATEMENT_KIND_BALANCE_SHEET&org=350505000000&period=2025-6"); st != http.StatusBadRequest || !strings.Contains(string(body), "period") {
		t.Errorf("GET /v1/statements with a bad period: %d %s, want 400 naming period", st, body)
	}
	for _, path := range []string{"/v1/months?org=350505100201", "/v1/vouchers?org=350505100201"} {
		if st, body := get(path); st != http.StatusNotFound {
			t.Errorf("GET %s at the district: %d %s, want 404", path, st, body)
		}
	}

	codesOf := func() []string {
		resp, err := books.GetStatement(bearer(analyst), &sanziv1.GetStatementRequest{Kind: sanziv1.StatementKind_STATEMENT_KIND_TRIAL_BALANCE, Org: "350505000000", Period: "2025-06"})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range resp.GetStatement().GetRows() {
			out = append(out, r.GetCode())
		}
		return out
	}
	if got := codesOf(); slices.Contains(got, "10201") {
		t.Errorf("the trial balance on the national chart has a sub-account 10201: %v", got)
	}
	// A catalog carrying a chart with a sub-account goes live: the
	// statements are laid out on it at once.
	drafter := createAndSignIn(t, c, admin, "li.draft", "district_rules_officer")
	publisher := createAndSignIn(t, c, admin, "wang.pub", "district_rules_officer")
	cat := catalog.Default("350505")
	ch := chart.National()
	ch.Accounts = append(ch.Accounts, &sanziv1.LedgerAccount{Code: "10201", Name: "银行存款-农商行",
		Class: sanziv1.AccountClass_ACCOUNT_CLASS_ASSET, Side: sanziv1.BalanceSide_BALANCE_SIDE_DEBIT, Parent: "102"})
	for _, mp := range ch.GetMappings() {
		if mp.GetDebitAccount() == "102" {
			mp.DebitAccount = "10201"
		}
		if mp.GetCreditAccount() == "102" {
			mp.CreditAccount = "10201"
		}
	}
	cat.Chart = ch
	dc := sanziv1.NewDistrictServiceClient(c)
	if _, err := dc.DraftCatalog(bearer(drafter), &sanziv1.DraftCatalogRequest{Catalog: cat, Version: "2026-12"}); err != nil {
		t.Fatalf("draft a catalog with a chart: %v", err)
	}
	if _, err := dc.PublishCatalog(bearer(publisher), &sanziv1.PublishCatalogRequest{Version: "2026-12"}); err != nil {
		t.Fatalf("publish it: %v", err)
	}
	if got := codesOf(); !slices.Contains(got, "10201") {
		t.Errorf("the trial balance under the live catalog lacks its sub-account 10201: %v", got)
	}

	st, body = get("/openapi.json")
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
		} `json:"paths"`
	}
	if st != http.StatusOK || json.Unmarshal(body, &doc) != nil {
		t.Fatalf("GET /openapi.json: %d", st)
	}
	var booksOps []string
	for p, ops := range doc.Paths {
		for _, op := range ops {
			if strings.HasPrefix(op.OperationID, "BooksService_") {
				booksOps = append(booksOps, op.OperationID+" "+p)
			}
		}
	}
	if !slices.Equal(booksOps, []string{"BooksService_GetStatement /v1/statements"}) {
		t.Errorf("the district's OpenAPI describes of the books %v; want GetStatement at /v1/statements alone", booksOps)
	}
}
