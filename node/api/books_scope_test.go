package api_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sanzi/sanzi/node/api"
	"github.com/sanzi/sanzi/node/attach"
	"github.com/sanzi/sanzi/node/authz"
	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/chart"
	"github.com/sanzi/sanzi/node/keys"
	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

const (
	villageA = "350505100201"
	villageB = "350505100202"
	townA    = "350505100000"
	townC    = "350505110000"
)

// booksService is the API over books serving two villages of one town,
// its clock at 2026-06-15.
func booksService(t *testing.T) *api.Service {
	t.Helper()
	dir := t.TempDir()
	now := func() time.Time { return time.Date(2026, 6, 15, 10, 0, 0, 0, time.UTC) }
	ring, _, err := keys.Ensure(filepath.Join(dir, "keys"), []string{villageA, villageB, townA})
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(ledger.Config{Path: filepath.Join(dir, "ledger.db"), Keys: ring, Indexer: books.Indexer()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	att, err := attach.Open(filepath.Join(dir, "attachments"), l.DB(), 0, now)
	if err != nil {
		t.Fatal(err)
	}
	b, err := books.New(l, att, &books.Validator{Served: []string{villageA, villageB, townA}, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return api.New(b, nil)
}

func signedIn(account, org string) context.Context {
	return authz.NewContext(context.Background(), authz.Principal{Account: account, Org: org})
}

// TestBooksScopedByOrg: every BooksService call acts only on an org the
// signed-in account covers (a village its own, a town its villages), a
// reversal is refused on the id's org before the voucher is even read
// (so an unknown id of another village is PermissionDenied too, not
// NotFound), and what is recorded bears the signed-in account as author
// whatever the request says.
func TestBooksScopedByOrg(t *testing.T) {
	s := booksService(t)
	a := signedIn("acct.a", villageA)
	rec, err := s.RecordVoucher(a, &sanziv1.RecordVoucherRequest{Voucher: &sanziv1.Voucher{BusinessDate: "2026-03-02", Summary: "提现备用",
		Lines: []*sanziv1.VoucherLine{{Account: chart.Cash, DebitFen: 500}, {Account: chart.Bank, CreditFen: 500}}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.GetEntry(); got.GetOrigin() != villageA || got.GetAuthor() != "acct.a" {
		t.Fatalf("recorded at %s by %s, want %s by acct.a", got.GetOrigin(), got.GetAuthor(), villageA)
	}
	id := rec.GetEntry().GetId()
	voucherOf := func(org string) *sanziv1.Voucher {
		return &sanziv1.Voucher{Org: org, BusinessDate: "2026-03-03", Summary: "x",
			Lines: []*sanziv1.VoucherLine{{Account: chart.Cash, DebitFen: 1}, {Account: chart.Bank, CreditFen: 1}}}
	}
	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"RecordVoucher", func(ctx context.Context) error {
			_, err := s.RecordVoucher(ctx, &sanziv1.RecordVoucherRequest{Voucher: voucherOf(villageA), ValidateOnly: true})
			return err
		}},
		{"ReverseVoucher", func(ctx context.Context) error {
			_, err := s.ReverseVoucher(ctx, &sanziv1.ReverseVoucherRequest{Id: id, Reason: "x", BusinessDate: "2026-04-01"})
			return err
		}},
		{"ReverseVoucher of no voucher", func(ctx context.Context) error {
			_, err := s.ReverseVoucher(ctx, &sanziv1.ReverseVoucherRequest{Id: villageA + "-999", Reason: "x"})
			return err
		}},
		{"PreviewVoucher", func(ctx context.Context) error {
			_, err := s.PreviewVoucher(ctx, &sanziv1.PreviewVoucherRequest{Record: &sanziv1.PreviewVoucherRequest_Transaction{Transaction: &sanziv1.Transaction{Org: villageA}}})
			return err
		}},
		{"PreviewVoucher of a disposal", func(ctx context.Context) error {
			_, err := s.PreviewVoucher(ctx, &sanziv1.PreviewVoucherRequest{Record: &sanziv1.PreviewVoucherRequest_AssetDisposal{AssetDisposal: &sanziv1.AssetDisposal{Org: villageA}}})
			return err
		}},
		{"PreviewVoucher of an appraisal", func(ctx context.Context) error {
			_, err := s.PreviewVoucher(ctx, &sanziv1.PreviewVoucherRequest{Record: &sanziv1.PreviewVoucherRequest_AssetAppraisal{AssetAppraisal: &sanziv1.AssetAppraisal{Org: villageA}}})
			return err
		}},
		{"ListVouchers", func(ctx context.Context) error {
			_, err := s.ListVouchers(ctx, &sanziv1.ListVouchersRequest{Org: villageA})
			return err
		}},
		{"CloseMonth", func(ctx context.Context) error {
			_, err := s.CloseMonth(ctx, &sanziv1.CloseMonthRequest{Org: villageA, Month: "2026-03"})
			return err
		}},
		{"ReopenMonth", func(ctx context.Context) error {
			_, err := s.ReopenMonth(ctx, &sanziv1.ReopenMonthRequest{Org: villageA, Month: "2026-03", Reason: "x", ProcedureId: villageA + "-1"})
			return err
		}},
		{"ListMonths", func(ctx context.Context) error {
			_, err := s.ListMonths(ctx, &sanziv1.ListMonthsRequest{Org: villageA})
			return err
		}},
		{"GetStatement", func(ctx context.Context) error {
			_, err := s.GetStatement(ctx, &sanziv1.GetStatementRequest{Org: villageA, Period: "2026-03", Kind: sanziv1.StatementKind_STATEMENT_KIND_BALANCE_SHEET})
			return err
		}},
		{"ImportBooks", func(ctx context.Context) error {
			_, err := s.ImportBooks(ctx, &sanziv1.ImportBooksRequest{Org: villageA, Content: []byte("x"), ValidateOnly: true})
			return err
		}},
	}
	for _, who := range []struct {
		name string
		ctx  context.Context
	}{
		{"another village", signedIn("acct.b", villageB)},
		{"another town", signedIn("acct.c", townC)},
	} {
		for _, c := range calls {
			t.Run(who.name+"/"+c.name, func(t *testing.T) {
				if err := c.call(who.ctx); status.Code(err) != codes.PermissionDenied {
					t.Fatalf("%v, want PermissionDenied", err)
				}
			})
		}
	}
	town := signedIn("acct.town", townA)
	list, err := s.ListVouchers(town, &sanziv1.ListVouchersRequest{Org: villageA})
	if err != nil || len(list.GetVouchers()) != 1 {
		t.Fatalf("the town lists its village's vouchers: %v, %v", list, err)
	}
	red, err := s.ReverseVoucher(town, &sanziv1.ReverseVoucherRequest{Id: id, Reason: "记错", BusinessDate: "2026-04-01"})
	if err != nil {
		t.Fatal(err)
	}
	if got := red.GetEntry(); got.GetOrigin() != villageA || got.GetAuthor() != "acct.town" {
		t.Fatalf("reversal recorded at %s by %s, want %s by acct.town", got.GetOrigin(), got.GetAuthor(), villageA)
	}
}
