package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/sanzi/sanzi/node/accounts"
	"github.com/sanzi/sanzi/node/authz"
	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// benchOrg is the village the benchmark records for.
const benchOrg = "350505100201"

// benchAccount is the accountant the benchmark records as.
const benchAccount = "bench-accountant"

// benchCreds send a bearer token over plain loopback.
type benchCreds string

func (c benchCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(c)}, nil
}

func (benchCreds) RequireTransportSecurity() bool { return false }

// benchNode opens and serves a village node on loopback, fsync on (NoSync
// false, as in production), with or without the authz interceptor, and
// returns a gRPC client signed in as an accountant. The setup is the same
// either way: the account exists, and its token goes with every call
// (without the interceptor nothing reads it).
func benchNode(b *testing.B, withAuthz bool) (*Node, sanziv1.TransactionServiceClient) {
	b.Helper()
	cfg := Config{
		DataDir: b.TempDir(), Orgs: []string{benchOrg}, GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		MaxAttachment: 64 << 10, Logger: slog.New(slog.DiscardHandler), Stdout: io.Discard,
		AccountArgon: accounts.Params{Time: 1, Memory: 8, Threads: 1}, withoutAuthz: !withAuthz,
	}
	n, token := serveSignedIn(b, cfg)
	conn, err := grpc.NewClient(n.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(benchCreds(token)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	return n, sanziv1.NewTransactionServiceClient(conn)
}

// serveSignedIn opens and serves a node on cfg until the benchmark ends,
// and signs in an accountant of benchOrg: it returns the node and the
// accountant's bearer token.
func serveSignedIn(b *testing.B, cfg Config) (*Node, string) {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	n, err := Open(ctx, cfg)
	if err != nil {
		cancel()
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Serve(ctx) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("serve: %v", err)
		}
	})
	admin := authz.Principal{Account: accounts.AdminID, Org: benchOrg, Roles: []authz.Role{authz.RoleAdmin}}
	if _, _, err := n.Accounts().Create(ctx, admin, accounts.NewAccount{ID: benchAccount, Name: benchAccount, Org: benchOrg,
		Roles: []authz.Role{authz.RoleAccountant}, Password: "bench-first-password"}); err != nil {
		b.Fatal(err)
	}
	in, err := n.Accounts().Login(ctx, accounts.LoginRequest{Account: benchAccount, Password: "bench-first-password", NewPassword: "bench-password-2"})
	if err != nil {
		b.Fatal(err)
	}
	return n, in.Secret
}

// benchTx is the i-th transaction recorded: distinct invoice and voucher
// numbers, a few hundred counterparties.
func benchTx(i int) *sanziv1.Transaction {
	return &sanziv1.Transaction{
		Org: benchOrg, Kind: sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE, AmountFen: int64(1000 + i%100_000),
		PaymentMethod: sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER,
		Counterparty:  &sanziv1.Counterparty{Name: fmt.Sprintf("供应商%d", i%500), BankAccount: fmt.Sprintf("622202020011%07d", i%500)},
		BusinessDate:  time.Now().Format(time.DateOnly), Summary: fmt.Sprintf("材料费 第%d笔", i), VoucherNumber: fmt.Sprintf("记-%07d", i),
		InvoiceCode: "035001900111", InvoiceNumber: fmt.Sprintf("%08d", i), BudgetLine: "公益事业支出", Category: "公益支出",
	}
}

// BenchmarkRecord records transactions through a village node's real gRPC
// API (RecordTransaction over loopback; validation, the default rule set,
// the ledger with fsync on and group commit, the indexes), with the sign-in
// checks on (bearer token authenticated per call, the permission table,
// author and org bound to the account, the answer masked) and off (the
// same node without the authz interceptor), with 1 and 16 concurrent
// recorders. It reports records/s, the p50 and p99 latency of one call and
// the signatures one record costs in the chain (sigs/record);
// the on/off ratio of records/s is the cost of sign-in (issue 12 asks
// ≥ 90 %). Each sub-benchmark opens a fresh node.
func BenchmarkRecord(b *testing.B) {
	for _, recorders := range []int{1, 16} {
		for _, auth := range []string{"off", "on"} {
			b.Run(fmt.Sprintf("recorders=%d/auth=%s", recorders, auth), func(b *testing.B) {
				node, client := benchNode(b, auth == "on")
				lat := make([][]time.Duration, recorders)
				var wg sync.WaitGroup
				b.ResetTimer()
				start := time.Now()
				for r := range recorders {
					n := b.N / recorders
					if r < b.N%recorders {
						n++
					}
					wg.Add(1)
					go func(r, n int) {
						defer wg.Done()
						for i := range n {
							t0 := time.Now()
							req := &sanziv1.RecordTransactionRequest{Author: benchAccount, Transaction: benchTx(r*1_000_000 + i)}
							if _, err := client.RecordTransaction(context.Background(), req); err != nil {
								b.Error(err)
								return
							}
							lat[r] = append(lat[r], time.Since(t0))
						}
					}(r, n)
				}
				wg.Wait()
				elapsed := time.Since(start)
				b.StopTimer()
				all := slices.Concat(lat...)
				if len(all) == 0 {
					return
				}
				slices.Sort(all)
				q := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))].Microseconds()) / 1000 }
				b.ReportMetric(float64(len(all))/elapsed.Seconds(), "records/s")
				b.ReportMetric(q(0.50), "p50-ms")
				b.ReportMetric(q(0.99), "p99-ms")
				// Signatures per record in the stored chain: one per
				// atomic append (issue 17), whatever the record opens.
				signed := 0
				if err := node.Books().Ledger().Scan(benchOrg, 1, func(_ uint64, raw []byte) bool {
					s, err := ledger.Peek(raw)
					if err == nil && s.Signed() {
						signed++
					}
					return err == nil
				}); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(signed)/float64(len(all)), "sigs/record")
			})
		}
	}
}
