package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestTransactionsSearchREST: the accountant's list searched and filtered
// through GET /v1/transactions's query parameters, the total counting the
// matches; a filter that cannot mean anything refused with 400 and its
// parameter named; another village's list refused whatever the filters.
func TestTransactionsSearchREST(t *testing.T) {
	n := startTestNode(t, nil)
	for i := 1; i <= 5; i++ {
		body := validTx(i)
		if i == 4 {
			body = strings.Replace(body, "福州某建材有限公司", "林某某", 1)
		}
		if code, _, e := n.do(t, "POST", "/v1/transactions", "application/json", strings.NewReader(body), 0); code != http.StatusOK {
			t.Fatalf("record %d: %d %s", i, code, e.Message)
		}
	}
	today := time.Now().Format(time.DateOnly)
	for _, tc := range []struct {
		name, query string
		status      int
		field       string
		vouchers    []string
	}{
		{"by counterparty", "query=" + url.QueryEscape("林某"), 200, "", []string{"记-4"}},
		{"by counterparty, the others", "query=" + url.QueryEscape("建材"), 200, "", []string{"记-1", "记-2", "记-3", "记-5"}},
		{"an amount range", "minAmountFen=1002&maxAmountFen=1004", 200, "", []string{"记-2", "记-3", "记-4"}},
		{"today's window", "fromDate=" + today + "&toDate=" + today + "&paymentMethod=PAYMENT_METHOD_BANK_TRANSFER", 200, "", []string{"记-1", "记-2", "记-3", "记-4", "记-5"}},
		{"no such day", "toDate=2001-01-01", 200, "", nil},
		{"all together", "kind=TRANSACTION_KIND_EXPENSE&query=" + url.QueryEscape("记-5") + "&fromDate=" + today + "&minAmountFen=1005&maxAmountFen=1005", 200, "", []string{"记-5"}},
		{"from after to", "fromDate=2026-05-02&toDate=2026-05-01", 400, "toDate", nil},
		{"not a date", "fromDate=yesterday", 400, "fromDate", nil},
		{"min above max", "minAmountFen=5&maxAmountFen=4", 400, "maxAmountFen", nil},
		// The gateway's own parse of a query parameter names the field in
		// its message only (as for every GET route's numbers).
		{"an amount not a number", "minAmountFen=abc", 400, "min_amount_fen", nil},
		{"a query too long", "query=" + strings.Repeat("x", 65), 400, "query", nil},
		{"another village, filtered", "org=350505100202&query=" + url.QueryEscape("建材"), 403, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, body := n.call(t, n.client, "GET", "/v1/transactions?"+tc.query, "", nil)
			if code != tc.status {
				t.Fatalf("GET ?%s: %d, want %d: %.300s", tc.query, code, tc.status, body)
			}
			if code != 200 {
				var e apiError
				if err := json.Unmarshal([]byte(body), &e); err != nil || e.field() != tc.field && !strings.Contains(e.Message, `"`+tc.field+`"`) {
					t.Fatalf("GET ?%s: field %q (%v), want %q: %.300s", tc.query, e.field(), err, tc.field, body)
				}
				return
			}
			var page struct {
				Transactions []struct {
					Transaction struct {
						VoucherNumber string `json:"voucherNumber"`
					} `json:"transaction"`
				} `json:"transactions"`
				TotalSize int64 `json:"totalSize,string"`
			}
			if err := json.Unmarshal([]byte(body), &page); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range page.Transactions {
				got = append(got, r.Transaction.VoucherNumber)
			}
			if strings.Join(got, ",") != strings.Join(tc.vouchers, ",") || page.TotalSize != int64(len(tc.vouchers)) {
				t.Fatalf("GET ?%s: %v of %d, want %v", tc.query, got, page.TotalSize, tc.vouchers)
			}
		})
	}
}
