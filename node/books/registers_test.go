package books_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sanzi/sanzi/node/books"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// registerDay is the books' date in the register tests: contracts are
// due, active or ended as of it.
var registerDay = time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)

// pageAll lists every page of size, checking each states the total want,
// and returns the records in order.
func pageAll[R any](t *testing.T, size, want int, list func(books.Page) ([]R, string, int64, error)) []R {
	t.Helper()
	var out []R
	token := ""
	for page := 0; page <= want; page++ {
		recs, next, total, err := list(books.Page{Size: size, Token: token})
		if err != nil {
			t.Fatal(err)
		}
		if total != int64(want) {
			t.Fatalf("page %d: total %d, want %d", page, total, want)
		}
		out = append(out, recs...)
		if token = next; token == "" {
			return out
		}
	}
	t.Fatalf("more than %d pages of %d for %d records", want+1, size, want)
	return nil
}

// contractNumbers are the contract numbers of recs.
func contractNumbers(recs []*sanziv1.ContractRecord) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.GetContract().GetContractNumber())
	}
	return out
}

func TestContractRegister(t *testing.T) {
	ctx := context.Background()
	b := openBooksAt(t, t.TempDir(), func() time.Time { return registerDay })
	record := func(number, name, start, end string, kind sanziv1.ContractKind, schedule ...*sanziv1.ScheduledPayment) string {
		t.Helper()
		s, _, err := b.RecordContract(ctx, "t", &sanziv1.Contract{
			Org: benchOrg, Kind: kind, ContractNumber: number,
			Counterparty: &sanziv1.Counterparty{Name: name}, Object: &sanziv1.ContractObject{Kind: sanziv1.ObjectKind_OBJECT_KIND_LAND, ObjectId: "DK-" + number, AreaMu: 3, Location: "东洋村"},
			TermStart: start, TermEnd: end, AnnualAmountFen: 60000, AwardMethod: sanziv1.AwardMethod_AWARD_METHOD_AUCTION, SignedDate: "2023-12-01",
			Schedule: schedule,
		})
		if err != nil {
			t.Fatalf("record %s: %v", number, err)
		}
		return s.ID()
	}
	pay := func(contract string, amount int64) string {
		t.Helper()
		s, err := b.RecordContractPayment(ctx, "t", &sanziv1.ContractPayment{Org: benchOrg, ContractId: contract, AmountFen: amount,
			PaymentMethod: sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER, BusinessDate: "2026-04-01", Period: "2026"})
		if err != nil {
			t.Fatal(err)
		}
		return s.ID()
	}
	lease, out := sanziv1.ContractKind_CONTRACT_KIND_LEASE, sanziv1.ContractKind_CONTRACT_KIND_CONTRACTING_OUT
	// Active, 300 yuan due by July (the second instalment is in September),
	// 100 paid and 50 paid then reversed: 200 in arrears.
	active := record("HT-A1", "林某某", "2026-01-01", "2028-12-31", lease,
		&sanziv1.ScheduledPayment{DueDate: "2026-03-31", AmountFen: 30000}, &sanziv1.ScheduledPayment{DueDate: "2026-09-30", AmountFen: 30000})
	pay(active, 10000)
	bounced := pay(active, 5000)
	if _, err := b.RecordReversal(ctx, "t", &sanziv1.Reversal{Org: benchOrg, TargetId: bounced, Reason: "退票"}); err != nil {
		t.Fatal(err)
	}
	// Ended, paid in full.
	ended := record("HT-B2", "陈某", "2024-01-01", "2025-12-31", out, &sanziv1.ScheduledPayment{DueDate: "2025-06-30", AmountFen: 20000})
	pay(ended, 20000)
	// Not begun.
	record("HT-C3", "王某", "2027-01-01", "2027-12-31", lease, &sanziv1.ScheduledPayment{DueDate: "2027-03-31", AmountFen: 50000})
	// Reversed: never in arrears, whatever its schedule.
	voided := record("HT-D4", "林某某", "2025-01-01", "2026-12-31", lease, &sanziv1.ScheduledPayment{DueDate: "2025-03-31", AmountFen: 40000})
	if _, err := b.RecordReversal(ctx, "t", &sanziv1.Reversal{Org: benchOrg, TargetId: voided, Reason: "重复登记"}); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		f    books.ContractFilter
		want []string
	}{
		{"all", books.ContractFilter{}, []string{"HT-A1", "HT-B2", "HT-C3", "HT-D4"}},
		{"by counterparty", books.ContractFilter{Query: "林某"}, []string{"HT-A1", "HT-D4"}},
		{"by number, case folded", books.ContractFilter{Query: "ht-b"}, []string{"HT-B2"}},
		{"by object", books.ContractFilter{Query: "dk-ht-c3"}, []string{"HT-C3"}},
		{"by location", books.ContractFilter{Query: "东洋"}, []string{"HT-A1", "HT-B2", "HT-C3", "HT-D4"}},
		{"nothing", books.ContractFilter{Query: "no such"}, nil},
		{"active", books.ContractFilter{Status: sanziv1.ContractStatus_CONTRACT_STATUS_ACTIVE}, []string{"HT-A1"}},
		{"ended", books.ContractFilter{Status: sanziv1.ContractStatus_CONTRACT_STATUS_ENDED}, []string{"HT-B2"}},
		{"pending", books.ContractFilter{Status: sanziv1.ContractStatus_CONTRACT_STATUS_PENDING}, []string{"HT-C3"}},
		{"reversed", books.ContractFilter{Status: sanziv1.ContractStatus_CONTRACT_STATUS_REVERSED}, []string{"HT-D4"}},
		{"in arrears", books.ContractFilter{ArrearsOnly: true}, []string{"HT-A1"}},
		{"contracting-out", books.ContractFilter{Kind: out}, []string{"HT-B2"}},
		{"query and status", books.ContractFilter{Query: "林", Status: sanziv1.ContractStatus_CONTRACT_STATUS_REVERSED}, []string{"HT-D4"}},
		{"the org", books.ContractFilter{Org: benchOrg}, []string{"HT-A1", "HT-B2", "HT-C3", "HT-D4"}},
		{"another org", books.ContractFilter{Org: "350505100202"}, nil},
		{"out of scope", books.ContractFilter{InScope: func(string) bool { return false }}, nil},
		{"out of scope, with a query", books.ContractFilter{Query: "林", InScope: func(string) bool { return false }}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// One to a page: every match once, in order, the total on each.
			got := pageAll(t, 1, len(tc.want), func(p books.Page) ([]*sanziv1.ContractRecord, string, int64, error) { return b.ListContracts(tc.f, p) })
			if names := contractNumbers(got); !slices.Equal(names, tc.want) {
				t.Fatalf("listed %v, want %v", names, tc.want)
			}
		})
	}

	t.Run("figures", func(t *testing.T) {
		recs, _, _, err := b.ListContracts(books.ContractFilter{}, books.Page{})
		if err != nil {
			t.Fatal(err)
		}
		type fig struct {
			status             sanziv1.ContractStatus
			due, paid, arrears int64
		}
		want := map[string]fig{
			"HT-A1": {sanziv1.ContractStatus_CONTRACT_STATUS_ACTIVE, 30000, 10000, 20000},
			"HT-B2": {sanziv1.ContractStatus_CONTRACT_STATUS_ENDED, 20000, 20000, 0},
			"HT-C3": {sanziv1.ContractStatus_CONTRACT_STATUS_PENDING, 0, 0, 0},
			"HT-D4": {sanziv1.ContractStatus_CONTRACT_STATUS_REVERSED, 40000, 0, 0},
		}
		for _, r := range recs {
			got := fig{r.GetStatus(), r.GetDueFen(), r.GetPaidFen(), r.GetArrearsFen()}
			if w := want[r.GetContract().GetContractNumber()]; got != w {
				t.Errorf("%s: %+v, want %+v", r.GetContract().GetContractNumber(), got, w)
			}
		}
	})

	t.Run("detail", func(t *testing.T) {
		rec, pays, err := b.ContractDetail(active)
		if err != nil {
			t.Fatal(err)
		}
		if rec.GetArrearsFen() != 20000 || len(pays) != 2 {
			t.Fatalf("contract %s: arrears %d, %d payments", active, rec.GetArrearsFen(), len(pays))
		}
		if pays[0].GetPayment().GetAmountFen() != 10000 || pays[0].GetReversedBy() != "" || pays[1].GetEntry().GetId() != bounced || pays[1].GetReversedBy() == "" {
			t.Fatalf("payments %v: want 100 yuan, then the reversed 50", pays)
		}
		if _, _, err := b.ContractDetail(ended + "0"); !errors.Is(err, books.ErrNotFound) {
			t.Fatalf("a contract that does not exist: %v", err)
		}
	})

	t.Run("a query too long", func(t *testing.T) {
		var inv *books.InvalidError
		_, _, _, err := b.ListContracts(books.ContractFilter{Query: strings.Repeat("林", books.MaxQuery+1)}, books.Page{})
		if !errors.As(err, &inv) || inv.Violations[0].Field != "query" {
			t.Fatalf("a 65-character query: %v", err)
		}
	})
}

func TestAssetRegister(t *testing.T) {
	ctx := context.Background()
	b := openBooksAt(t, t.TempDir(), func() time.Time { return registerDay })
	report, err := b.Attachments().Put([]byte("评估报告"), "r.txt", "text/plain", "")
	if err != nil {
		t.Fatal(err)
	}
	reg := func(code, name, category string) string {
		t.Helper()
		s, err := b.RegisterAsset(ctx, "t", &sanziv1.AssetRegistration{Org: benchOrg, AssetCode: code, Name: name, Category: category, OriginalValueFen: 100000, AcquiredDate: "2020-01-01", Location: "村部"})
		if err != nil {
			t.Fatal(err)
		}
		return s.ID()
	}
	appraise := func(id string, value int64) string {
		t.Helper()
		s, err := b.AppraiseAsset(ctx, "t", &sanziv1.AssetAppraisal{Org: benchOrg, AssetId: id, AppraisedValueFen: value, Appraiser: "某评估所", AppraisalDate: "2026-01-05", ReportAttachment: report.GetSha256()})
		if err != nil {
			t.Fatal(err)
		}
		return s.ID()
	}
	pump := reg("ZC-1", "水泵", "机器设备")
	hall := reg("ZC-2", "村部礼堂", "房屋建筑物")
	shed := reg("ZC-3", "农机棚", "农业设施")
	appraise(pump, 80000)
	second := appraise(pump, 70000)
	if _, err := b.RecordReversal(ctx, "t", &sanziv1.Reversal{Org: benchOrg, TargetId: second, Reason: "评估有误"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.DisposeAsset(ctx, "t", &sanziv1.AssetDisposal{Org: benchOrg, AssetId: pump, Method: sanziv1.DisposalMethod_DISPOSAL_METHOD_SCRAP, DisposalDate: "2026-02-01", Reason: "报废"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.RecordReversal(ctx, "t", &sanziv1.Reversal{Org: benchOrg, TargetId: shed, Reason: "重复登记"}); err != nil {
		t.Fatal(err)
	}

	names := func(recs []*sanziv1.AssetRecord) []string {
		var out []string
		for _, r := range recs {
			out = append(out, r.GetAsset().GetAssetCode())
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    books.AssetFilter
		want []string
	}{
		{"all", books.AssetFilter{}, []string{"ZC-1", "ZC-2", "ZC-3"}},
		{"by name", books.AssetFilter{Query: "礼堂"}, []string{"ZC-2"}},
		{"by code, case folded", books.AssetFilter{Query: "zc-3"}, []string{"ZC-3"}},
		{"by location", books.AssetFilter{Query: "村部"}, []string{"ZC-1", "ZC-2", "ZC-3"}},
		{"held", books.AssetFilter{Status: sanziv1.AssetStatus_ASSET_STATUS_HELD}, []string{"ZC-2"}},
		{"disposed", books.AssetFilter{Status: sanziv1.AssetStatus_ASSET_STATUS_DISPOSED}, []string{"ZC-1"}},
		{"reversed", books.AssetFilter{Status: sanziv1.AssetStatus_ASSET_STATUS_REVERSED}, []string{"ZC-3"}},
		{"category", books.AssetFilter{Category: "机器设备"}, []string{"ZC-1"}},
		{"category is exact", books.AssetFilter{Category: "机器"}, nil},
		{"out of scope", books.AssetFilter{InScope: func(string) bool { return false }}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := pageAll(t, 2, len(tc.want), func(p books.Page) ([]*sanziv1.AssetRecord, string, int64, error) { return b.ListAssets(tc.f, p) })
			if codes := names(got); !slices.Equal(codes, tc.want) {
				t.Fatalf("listed %v, want %v", codes, tc.want)
			}
		})
	}

	t.Run("detail", func(t *testing.T) {
		rec, apps, disp, err := b.AssetDetail(pump)
		if err != nil {
			t.Fatal(err)
		}
		if rec.GetStatus() != sanziv1.AssetStatus_ASSET_STATUS_DISPOSED || len(apps) != 2 || apps[1].GetReversedBy() == "" || apps[0].GetAppraisal().GetAppraisedValueFen() != 80000 {
			t.Fatalf("pump: status %v, appraisals %v", rec.GetStatus(), apps)
		}
		if disp == nil || disp.GetDisposal().GetReason() != "报废" || disp.GetReversedBy() != "" {
			t.Fatalf("pump's disposal: %v", disp)
		}
		if _, _, d, err := b.AssetDetail(hall); err != nil || d != nil {
			t.Fatalf("the hall, never disposed: disposal %v, %v", d, err)
		}
	})
}
