package public

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sanzi/sanzi/federation/public/publictest"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// tenYears is a village with ten years of monthly disclosures, each month
// 20 transactions (half itemized above 1,000 yuan), signed.
func tenYears(b *testing.B) *publictest.World {
	w := publictest.New(b)
	bank := sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER
	for m := range 120 {
		for i := range 20 {
			kind := sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE
			if i%4 == 0 {
				kind = sanziv1.TransactionKind_TRANSACTION_KIND_INCOME
			}
			w.Tx(kind, int64(50_000+i*10_000), bank, fmt.Sprintf("科目%d", i%6), fmt.Sprintf("第%d月第%d笔", m, i), publictest.Person())
		}
		w.Disclose(time.Date(2016, time.Month(m+1), 1, 0, 0, 0, 0, time.UTC).Format("2006-01"))
	}
	w.Sign()
	return w
}

// BenchmarkVillagePage10Years: the village page of a village with ten
// years of monthly disclosures (120 months, 3,000 entries), cold (the
// disclosures computed from the chain, as after the chain grew) and
// cached; bytes/page is the page's size.
func BenchmarkVillagePage10Years(b *testing.B) {
	w := tenYears(b)
	newSite := func() *Site {
		s, err := New(Config{District: district, PublicKey: w.Public(), State: w.F, Proofs: true, Logger: quiet,
			Limits: Limits{PerSecond: 1e9, Burst: 1 << 30}, Now: func() time.Time { return time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC) }})
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	page := func(s *Site, path string) int {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != 200 {
			b.Fatalf("%s: %d %s", path, rec.Code, rec.Body.String()[:min(200, rec.Body.Len())])
		}
		return rec.Body.Len()
	}
	path := "/public/villages/" + village
	b.Run("cold", func(b *testing.B) {
		var size int
		for b.Loop() {
			size = page(newSite(), path)
		}
		b.ReportMetric(float64(size), "bytes/page")
	})
	b.Run("cached", func(b *testing.B) {
		s := newSite()
		size := page(s, path)
		for b.Loop() {
			page(s, path)
		}
		b.ReportMetric(float64(size), "bytes/page")
	})
	b.Run("month", func(b *testing.B) {
		s := newSite()
		size := page(s, path+"/2020-06")
		for b.Loop() {
			page(s, path+"/2020-06")
		}
		b.ReportMetric(float64(size), "bytes/page")
	})
}
