package books_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/chart"
	"github.com/sanzi/sanzi/node/voucher"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// line is a voucher line as the tests compare it: account, debit, credit.
type line struct {
	account       string
	debit, credit int64
}

func linesOf(v *sanziv1.Voucher) []line {
	var out []line
	for _, l := range v.GetLines() {
		out = append(out, line{l.GetAccount(), l.GetDebitFen(), l.GetCreditFen()})
	}
	return out
}

// bookedBy is the voucher in force that names source, nil if none.
func bookedBy(t *testing.T, b *books.Books, source string) *sanziv1.Voucher {
	t.Helper()
	recs, _, _, err := b.ListVouchers(benchOrg, "", books.Page{Size: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.GetVoucher().GetSourceEntryId() == source && r.GetReversedBy() == "" {
			return r.GetVoucher()
		}
	}
	return nil
}

// unbooked are the reasons ListMonths gives for month that name a record
// without its voucher.
func unbooked(t *testing.T, b *books.Books, month string) []string {
	t.Helper()
	months, err := b.ListMonths(benchOrg, month[:4])
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range months {
		for _, why := range m.GetBlockers() {
			if m.GetMonth() == month && strings.Contains(why, "has no voucher") {
				out = append(out, why)
			}
		}
	}
	return out
}

// TestAssetVouchers registers an asset of 1,000.00 yuan, appraises it
// (or not), and disposes of it: each appraisal that changes the book value
// and the disposal are appended with their vouchers, the disposal taking
// the asset off at the value the booked appraisals left, the preview
// showing the same voucher before, and the months list neither as
// unbooked.
func TestAssetVouchers(t *testing.T) {
	const original = 100000
	sale, scrap := sanziv1.DisposalMethod_DISPOSAL_METHOD_SALE, sanziv1.DisposalMethod_DISPOSAL_METHOD_SCRAP
	cash, bank := sanziv1.PaymentMethod_PAYMENT_METHOD_CASH, sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER
	type appraisal struct {
		value    int64
		reversed bool
		want     []line // nil: no voucher
	}
	cases := []struct {
		name       string
		appraisals []appraisal
		method     sanziv1.DisposalMethod
		pay        sanziv1.PaymentMethod
		price      int64
		want       []line
	}{
		{"gain, price to the bank", nil, sale, 0, 120000,
			[]line{{chart.Bank, 120000, 0}, {chart.FixedAssets, 0, original}, {chart.OtherIncome, 0, 20000}}},
		{"loss in cash after an appraisal down", []appraisal{{80000, false, []line{{chart.Reserve, 20000, 0}, {chart.FixedAssets, 0, 20000}}}}, sale, cash, 70000,
			[]line{{chart.Cash, 70000, 0}, {chart.OtherExpense, 10000, 0}, {chart.FixedAssets, 0, 80000}}},
		{"at book value after an appraisal up", []appraisal{{130000, false, []line{{chart.FixedAssets, 30000, 0}, {chart.Reserve, 0, 30000}}}}, sale, bank, 130000,
			[]line{{chart.Bank, 130000, 0}, {chart.FixedAssets, 0, 130000}}},
		{"two appraisals, the second down from the first", []appraisal{
			{130000, false, []line{{chart.FixedAssets, 30000, 0}, {chart.Reserve, 0, 30000}}},
			{110000, false, []line{{chart.Reserve, 20000, 0}, {chart.FixedAssets, 0, 20000}}}}, sale, bank, 100000,
			[]line{{chart.Bank, 100000, 0}, {chart.OtherExpense, 10000, 0}, {chart.FixedAssets, 0, 110000}}},
		{"an appraisal at book value books nothing; scrapped for nothing", []appraisal{{original, false, nil}}, scrap, 0, 0,
			[]line{{chart.OtherExpense, original, 0}, {chart.FixedAssets, 0, original}}},
		{"a reversed appraisal no longer counts", []appraisal{{60000, true, []line{{chart.Reserve, 40000, 0}, {chart.FixedAssets, 0, 40000}}}}, sale, bank, original,
			[]line{{chart.Bank, original, 0}, {chart.FixedAssets, 0, original}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			b := booksAt(t)
			report, err := b.Attachments().Put([]byte("评估报告"), "r.txt", "text/plain", "")
			if err != nil {
				t.Fatal(err)
			}
			asset, err := b.RegisterAsset(ctx, "t", &sanziv1.AssetRegistration{Org: benchOrg, AssetCode: "ZC-1", Name: "拖拉机", Category: "机器设备",
				OriginalValueFen: original, AcquiredDate: "2020-01-01"})
			if err != nil {
				t.Fatal(err)
			}
			if v := bookedBy(t, b, asset.ID()); v != nil {
				t.Fatalf("the registration booked %v: want none (an asset bought is the expense that paid for it)", v)
			}
			for i, a := range c.appraisals {
				s, err := b.AppraiseAsset(ctx, "t", &sanziv1.AssetAppraisal{Org: benchOrg, AssetId: asset.ID(), AppraisedValueFen: a.value,
					Appraiser: "某评估所", AppraisalDate: fmt.Sprintf("2026-02-%02d", 5+i), ReportAttachment: report.GetSha256()})
				if err != nil {
					t.Fatal(err)
				}
				v := bookedBy(t, b, s.ID())
				if fmt.Sprint(linesOf(v)) != fmt.Sprint(a.want) {
					t.Fatalf("appraisal %d at %d: voucher %v, want %v", i, a.value, linesOf(v), a.want)
				}
				if a.reversed {
					if _, err := b.RecordReversal(ctx, "t", &sanziv1.Reversal{Org: benchOrg, TargetId: s.ID(), Reason: "评估报告有误"}); err != nil {
						t.Fatal(err)
					}
					if v := bookedBy(t, b, s.ID()); v != nil {
						t.Fatalf("the reversed appraisal's voucher is still in force: %v", v)
					}
				}
			}
			d := &sanziv1.AssetDisposal{Org: benchOrg, AssetId: asset.ID(), Method: c.method, PriceFen: c.price, PaymentMethod: c.pay,
				Counterparty: &sanziv1.Counterparty{Name: "张三"}, DisposalDate: "2026-03-10", Reason: "闲置"}
			preview, err := b.PreviewVoucher(d)
			if err != nil {
				t.Fatalf("preview: %v", err)
			}
			disposal, _, err := b.DisposeAsset(ctx, "t", d)
			if err != nil {
				t.Fatal(err)
			}
			v := bookedBy(t, b, disposal.ID())
			if fmt.Sprint(linesOf(v)) != fmt.Sprint(c.want) {
				t.Fatalf("disposal voucher %v, want %v", linesOf(v), c.want)
			}
			if fmt.Sprint(linesOf(preview)) != fmt.Sprint(c.want) || preview.GetNumber() != v.GetNumber() {
				t.Fatalf("preview %v (number %d), recorded %v (number %d)", linesOf(preview), preview.GetNumber(), linesOf(v), v.GetNumber())
			}
			for _, month := range []string{"2026-02", "2026-03"} {
				if why := unbooked(t, b, month); len(why) > 0 {
					t.Fatalf("%s: %v", month, why)
				}
			}
		})
	}
}

// TestUnmappedDisposalIsUnbooked: on a chart that maps no disposal, the
// disposal is recorded without a voucher, its month lists it as unbooked
// and no preview is shown, until a hand voucher names it.
func TestUnmappedDisposalIsUnbooked(t *testing.T) {
	ctx := context.Background()
	b := booksAt(t)
	c := chart.National()
	var kept []*sanziv1.VoucherMapping
	for _, m := range c.Mappings {
		if m.GetSource() != sanziv1.EntryType_ENTRY_TYPE_ASSET_DISPOSAL {
			kept = append(kept, m)
		}
	}
	c.Mappings = kept
	b.SetChart(func() (*sanziv1.ChartOfAccounts, string) { return c, "7" })
	asset, err := b.RegisterAsset(ctx, "t", &sanziv1.AssetRegistration{Org: benchOrg, AssetCode: "ZC-2", Name: "水泵", OriginalValueFen: 50000, AcquiredDate: "2020-01-01"})
	if err != nil {
		t.Fatal(err)
	}
	d := &sanziv1.AssetDisposal{Org: benchOrg, AssetId: asset.ID(), Method: sanziv1.DisposalMethod_DISPOSAL_METHOD_SCRAP, DisposalDate: "2026-03-10"}
	if _, err := b.PreviewVoucher(d); !errors.Is(err, voucher.ErrNoVoucher) {
		t.Fatalf("preview on a chart without disposals: %v, want ErrNoVoucher", err)
	}
	disposal, _, err := b.DisposeAsset(ctx, "t", d)
	if err != nil {
		t.Fatal(err)
	}
	if why := unbooked(t, b, "2026-03"); len(why) != 1 || !strings.Contains(why[0], disposal.ID()) {
		t.Fatalf("2026-03 unbooked: %v, want the disposal %s", why, disposal.ID())
	}
	if _, _, _, err := b.RecordVoucher(ctx, "t", &sanziv1.Voucher{Org: benchOrg, BusinessDate: "2026-03-10", Summary: "报废水泵", SourceEntryId: disposal.ID(),
		Lines: []*sanziv1.VoucherLine{{Account: chart.OtherExpense, DebitFen: 50000}, {Account: chart.FixedAssets, CreditFen: 50000, AssetCode: "ZC-2"}}}); err != nil {
		t.Fatalf("hand voucher naming the disposal: %v", err)
	}
	if why := unbooked(t, b, "2026-03"); len(why) != 0 {
		t.Fatalf("2026-03 after the hand voucher: %v", why)
	}
}
