package disclosure

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/keys"
	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

const village = "350505100201"

// chain is the village's chain in a real ledger (the one Compute reads at
// a node), written a record at a time; the ids are the ledger's.
type chain struct {
	t *testing.T
	l *ledger.Ledger
}

func newChain(t *testing.T) *chain {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ring := keys.NewRing()
	ring.Add(village, priv)
	at := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	l, err := ledger.Open(ledger.Config{Path: filepath.Join(t.TempDir(), "ledger.db"), Keys: ring, NoSync: true,
		Now: func() time.Time { return at }, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return &chain{t: t, l: l}
}

func (c *chain) add(t *testing.T, typ sanziv1.EntryType, m proto.Message) string {
	t.Helper()
	raw, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.l.Append(context.Background(), ledger.Record{Origin: village, Author: "test", Type: typ, Payload: raw})
	if err != nil {
		t.Fatal(err)
	}
	return st[0].ID()
}

func (c *chain) len() uint64 { return c.l.Head(village).Seq }

func txn(kind sanziv1.TransactionKind, fen int64, method sanziv1.PaymentMethod, date, category string) *sanziv1.Transaction {
	return &sanziv1.Transaction{Org: village, Kind: kind, AmountFen: fen, PaymentMethod: method, BusinessDate: date, Category: category,
		Summary: category + " " + date, Counterparty: &sanziv1.Counterparty{Name: "某单位", IdNumber: "11010519491231002X", BankAccount: "6228480012345678"}}
}

const (
	income   = sanziv1.TransactionKind_TRANSACTION_KIND_INCOME
	expense  = sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE
	transfer = sanziv1.TransactionKind_TRANSACTION_KIND_TRANSFER
	cash     = sanziv1.PaymentMethod_PAYMENT_METHOD_CASH
	bank     = sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER
	card     = sanziv1.PaymentMethod_PAYMENT_METHOD_VILLAGE_CARD
)

// books: October's opening money, then November's business, one expense
// reversed, and one December entry that November leaves out.
func books(t *testing.T) (*chain, map[string]string) {
	c := newChain(t)
	ids := map[string]string{}
	T := sanziv1.EntryType_ENTRY_TYPE_TRANSACTION
	c.add(t, T, txn(income, 10_000_000, bank, "2026-10-05", "经营收入"))               // bank +100,000 before November
	c.add(t, T, txn(income, 200_000, cash, "2026-10-06", "其他收入"))                  // cash +2,000 before November
	ids["rent"] = c.add(t, T, txn(income, 3_000_000, bank, "2026-11-03", "发包收入"))  // bank +30,000
	ids["office"] = c.add(t, T, txn(expense, 80_000, cash, "2026-11-04", "管理费用"))  // cash -800
	ids["road"] = c.add(t, T, txn(expense, 1_200_000, card, "2026-11-10", "公益支出")) // bank -12,000, large
	ids["wrong"] = c.add(t, T, txn(expense, 900_000, bank, "2026-11-11", "公益支出"))  // reversed
	c.add(t, sanziv1.EntryType_ENTRY_TYPE_REVERSAL, &sanziv1.Reversal{Org: village, TargetId: ids["wrong"], Reason: "重复"})
	c.add(t, T, txn(transfer, 100_000, cash, "2026-11-12", "现金存银行")) // cash -1,000, bank +1,000
	ids["contract"] = c.add(t, sanziv1.EntryType_ENTRY_TYPE_CONTRACT, &sanziv1.Contract{Org: village, ContractNumber: "HT-7",
		Counterparty: &sanziv1.Counterparty{Name: "张三", IdNumber: "11010519491231002X"}, SignedDate: "2026-11-15", AnnualAmountFen: 600_000,
		Object: &sanziv1.ContractObject{Kind: sanziv1.ObjectKind_OBJECT_KIND_LAND, AreaMu: 12.5}, TermStart: "2026-12-01", TermEnd: "2031-11-30"})
	ids["pay"] = c.add(t, sanziv1.EntryType_ENTRY_TYPE_CONTRACT_PAYMENT, &sanziv1.ContractPayment{Org: village, ContractId: ids["contract"],
		AmountFen: 300_000, PaymentMethod: cash, BusinessDate: "2026-11-20", Period: "2026H2"}) // cash +3,000
	ids["tractor"] = c.add(t, sanziv1.EntryType_ENTRY_TYPE_ASSET_REGISTRATION, &sanziv1.AssetRegistration{Org: village, AssetCode: "ZC-1",
		Name: "拖拉机", Category: "机械", OriginalValueFen: 4_000_000, AcquiredDate: "2026-11-21"})
	ids["sold"] = c.add(t, sanziv1.EntryType_ENTRY_TYPE_ASSET_DISPOSAL, &sanziv1.AssetDisposal{Org: village, AssetId: ids["tractor"],
		Method: sanziv1.DisposalMethod_DISPOSAL_METHOD_SALE, PriceFen: 3_500_000, DisposalDate: "2026-11-28", Counterparty: &sanziv1.Counterparty{Name: "李四"}})
	ids["december"] = c.add(t, T, txn(expense, 5_000_000, bank, "2026-12-01", "管理费用"))
	return c, ids
}

func TestCompute(t *testing.T) {
	ctx := context.Background()
	c, ids := books(t)
	d, err := Compute(ctx, c.l, village, "2026-11", Options{})
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, got, want any) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: %v, want %v", what, got, want)
		}
	}
	check("income", d.GetIncomeFen(), 3_000_000)
	check("expense (the reversed one left out)", d.GetExpenseFen(), 80_000+1_200_000)
	var cats []string
	for _, x := range d.GetCategories() {
		cats = append(cats, fmt.Sprintf("%s/%s/%d/%d", x.GetKind(), x.GetCategory(), x.GetAmountFen(), x.GetCount()))
	}
	check("categories", cats, []string{"TRANSACTION_KIND_INCOME/发包收入/3000000/1", "TRANSACTION_KIND_EXPENSE/公益支出/1200000/1",
		"TRANSACTION_KIND_EXPENSE/管理费用/80000/1", "TRANSACTION_KIND_TRANSFER/现金存银行/100000/1"})
	var large []string
	for _, x := range d.GetLarge() {
		large = append(large, x.GetEntryId())
	}
	check("large, by date", large, []string{ids["rent"], ids["road"]})
	check("reversed", len(d.GetReversed()), 1)
	check("reversed entry", d.GetReversed()[0].GetEntryId(), ids["wrong"])
	check("contracts", len(d.GetContracts()), 1)
	check("contract's counterparty, name only", d.GetContracts()[0].GetCounterparty(), "张三")
	check("payments", d.GetPaymentsFen(), 300_000)
	check("payment's contract", d.GetPayments()[0].GetContractNumber(), "HT-7")
	check("acquired", d.GetAssetsAcquired()[0].GetName(), "拖拉机")
	check("disposed", d.GetAssetsDisposed()[0].GetName()+"/"+d.GetAssetsDisposed()[0].GetCounterparty(), "拖拉机/李四")
	var bals []string
	for _, b := range d.GetBalances() {
		bals = append(bals, fmt.Sprintf("%s %d+%d-%d=%d", b.GetAccount(), b.GetOpeningFen(), b.GetInFen(), b.GetOutFen(), b.GetClosingFen()))
	}
	check("balances", bals, []string{"cash 200000+300000-180000=320000", "bank 10000000+3100000-1200000=11900000"})
	check("as of", d.GetAsOfSeq(), c.len())
	if raw, _, err := Encode(d); err != nil || containsAny(string(raw), "11010519491231002X", "6228480012345678") {
		t.Fatalf("personal data in the disclosure: %s %v", raw, err)
	}

	t.Run("as of an earlier seq", func(t *testing.T) {
		// Before the reversal: the wrong expense still counts.
		d, err := Compute(ctx, c.l, village, "2026-11", Options{AsOfSeq: 6})
		if err != nil || d.GetExpenseFen() != 80_000+1_200_000+900_000 || d.GetAsOfSeq() != 6 || len(d.GetReversed()) != 0 {
			t.Fatalf("as of 6: expense %d as of %d reversed %d, %v", d.GetExpenseFen(), d.GetAsOfSeq(), len(d.GetReversed()), err)
		}
	})
	t.Run("a threshold of 1 yuan lists every transaction", func(t *testing.T) {
		d, err := Compute(ctx, c.l, village, "2026-11", Options{LargeFromFen: 100})
		if err != nil || len(d.GetLarge()) != 4 || d.GetLargeFromFen() != 100 {
			t.Fatalf("large %d, %v", len(d.GetLarge()), err)
		}
	})
	t.Run("the encoding is stable and follows the books", func(t *testing.T) {
		_, a, _ := Encode(d)
		again, _ := Compute(ctx, c.l, village, "2026-11", Options{})
		_, b, _ := Encode(again)
		c.add(t, sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, txn(expense, 100, cash, "2026-11-30", "管理费用"))
		changed, _ := Compute(ctx, c.l, village, "2026-11", Options{})
		_, x, _ := Encode(changed)
		if a != b || a == x || len(a) != 64 {
			t.Fatalf("digests %s %s %s: want the first two equal, the third different", a, b, x)
		}
	})
	for _, bad := range []struct{ org, period string }{{village, "2026-13"}, {village, "2026-11-01"}, {village, ""}, {"3505", "2026-11"}} {
		t.Run("refused "+bad.org+" "+bad.period, func(t *testing.T) {
			_, err := Compute(ctx, c.l, bad.org, bad.period, Options{})
			if !errors.Is(err, ErrPeriod) && !errors.Is(err, ErrOrg) {
				t.Fatalf("%v, want ErrPeriod or ErrOrg", err)
			}
		})
	}
	t.Run("a cancelled request", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := Compute(cctx, c.l, village, "2026-11", Options{}); !errors.Is(err, context.Canceled) {
			t.Fatalf("%v, want context.Canceled", err)
		}
	})
}

func containsAny(s string, subs ...string) bool {
	return slices.ContainsFunc(subs, func(x string) bool { return strings.Contains(s, x) })
}
