package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/sanzi/sanzi/analytics/chserver"
	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/pki"
	"github.com/sanzi/sanzi/node/server"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

func newDemoCmd(g *globals) *cobra.Command {
	var cfg server.Config
	var withDistrict bool
	var chAddr string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a village node with sample records beside a 3-member district cluster, and print where to look",
		Long: `Start a village node for the sample village 350505100201 over --data
(default .demo/village), record a few sample transactions, a contract with a
payment and an asset with an appraisal when its chain is empty, print the
URLs and a few commands to try, and serve until Ctrl-C. With --district
(the default) it also runs a three-member district cluster and the town
350505100000 in between: the village syncs its chain and attachments to the
town over mutual TLS, the town to the district, and the district's rule
sets and the town's decisions come back down.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg.Orgs = []string{demoOrg}
			cfg.Logger = g.logger()
			out := cmd.OutOrStdout()
			root := filepath.Dir(cfg.DataDir)
			var district *demoDistrict
			var town *server.Node
			var err error
			townDone := make(chan error, 1)
			if withDistrict {
				if chAddr == "" {
					// A fresh server each run, under the system's temp folder
					// (the clickhouse user must reach it): the loader fills
					// it again from the district's chains, exactly once.
					ch, err := chserver.Start(cmd.Context(), chserver.Options{Logger: cfg.Logger})
					if err != nil {
						fmt.Fprintf(out, "analytics: no ClickHouse (%v); the district runs without its loader\n", err)
					} else {
						defer ch.Close()
						chAddr = ch.Addr()
						fmt.Fprintf(out, "analytics: clickhouse-server on %s (clickhouse-client --port %d)\n", chAddr, ch.TCPPort())
					}
				}
				district, err = startDemoDistrict(cmd.Context(), filepath.Join(root, "district"), 7500, chAddr, cfg.Logger, func(msg string) { fmt.Fprintln(out, "district:", msg) })
				if err != nil {
					return err
				}
				defer district.stop()
				// The town between them: its villages push to it over
				// mutual TLS, it forwards to the district and hands down
				// the district's chain and its own decisions.
				if err := district.issue(demoTown, pki.RoleTown); err != nil {
					return err
				}
				if err := district.issue(demoOrg, pki.RoleVillage); err != nil {
					return err
				}
				townData := filepath.Join(root, "town")
				townAdmin, err := demoAdminFile(townData)
				if err != nil {
					return err
				}
				town, err = server.Open(cmd.Context(), server.Config{DataDir: townData, Orgs: []string{demoTown},
					HTTPAddr: "127.0.0.1:7600", GRPCAddr: "127.0.0.1:7602", SyncAddr: demoTownSync, AdminPasswordFile: townAdmin,
					Parent: district.members[0].APIAddr(), TLSDir: district.caDir, Logger: cfg.Logger.With("node", "town")})
				if err != nil {
					return fmt.Errorf("start demo town node: %w", err)
				}
				if err := seedDemoAccounts(cmd.Context(), town.Accounts(), demoTown, demoTownPeople); err != nil {
					town.Close()
					return err
				}
				ctx, cancel := context.WithCancel(cmd.Context())
				defer func() { cancel(); <-townDone }()
				go func() { townDone <- town.Serve(ctx) }()
				fmt.Fprintln(out, "town: node 350505100000 up (REST http://127.0.0.1:7600, villages push to "+demoTownSync+")")
				cfg.Parent, cfg.TLSDir = demoTownSync, district.caDir
			}
			if cfg.AdminPasswordFile, err = demoAdminFile(cfg.DataDir); err != nil {
				return err
			}
			n, err := server.Open(cmd.Context(), cfg)
			if err != nil {
				return fmt.Errorf("start demo village node (a .demo folder from before the demo had certificates or accounts cannot be reused: remove it): %w", err)
			}
			if err := seedDemoAccounts(cmd.Context(), n.Accounts(), demoOrg, demoVillagePeople); err != nil {
				n.Close()
				return err
			}
			if n.Books().Ledger().Head(demoOrg).Seq <= uint64(len(demoVillagePeople)+1) { // only the accounts: no sample records yet
				if err := seedDemo(cmd.Context(), n.Books(), func(msg string) { fmt.Fprintln(out, "seeding:", msg) }); err != nil {
					n.Close()
					return fmt.Errorf("seed demo data: %w", err)
				}
			}
			h := n.HTTPAddr()
			fmt.Fprintf(out, `
Sanzi demo: village node for %[1]s (data in %[2]s)
  transactions  http://%[3]s/v1/transactions
  contracts     http://%[3]s/v1/contracts
  assets        http://%[3]s/v1/assets
  alerts        http://%[3]s/v1/alerts   (live: /v1/alerts/stream)
  chain head    http://%[3]s/v1/ledger/%[1]s/head
  chain entries http://%[3]s/v1/ledger/%[1]s/entries?from_seq=1
  OpenAPI       http://%[3]s/openapi.json
  metrics       http://%[3]s/metrics
  gRPC          %[4]s
Sign in first (every call is made as a person; demo accounts below):
  bin/sanzi login --server %[4]s --account kuaiji      (password %[5]s, DEMO ONLY)
Try:
  bin/sanzi whoami --server %[4]s
  bin/sanzi tx list --server %[4]s
  bin/sanzi alerts list --server %[4]s
  bin/sanzi tx record --server %[4]s --org %[1]s --kind expense --amount 86.40 --method village_card --counterparty 文具店 --summary 办公用品 --invoice-number 25350000000012345679
  bin/sanzi tx record --server %[4]s --org %[1]s --kind expense --amount 1500 --method cash --counterparty 某人 --summary 劳务费 --invoice-number 25350000000012345680
    (refused: rule CASH-PAY blocks cash payments over 1,000 yuan)
Ctrl-C stops the node; run again to continue with the same data.
`, demoOrg, cfg.DataDir, h, n.GRPCAddr(), demoPassword)
			printDemoPeople(out, "village "+demoOrg, n.GRPCAddr(), demoVillagePeople)
			if town != nil {
				fmt.Fprintf(out, `Town 350505100000 (the village syncs through it; its reviewers decide here):
  village alerts http://127.0.0.1:7600/v1/alerts?org=%[1]s
  procedures     http://127.0.0.1:7600/v1/workflow?org=%[1]s&status=open
  sync status    bin/sanzi sync status --http %[2]s
  approve the town's step of a procedure once the village has approved its own:
    bin/sanzi login --server 127.0.0.1:7602 --account zhen.shenhe
    bin/sanzi workflow approve <id> --step town_post --post town.agency_accountant --server 127.0.0.1:7602
`, demoOrg, h)
				printDemoPeople(out, "town "+demoTown, "127.0.0.1:7602", demoTownPeople)
			}
			if district != nil {
				fmt.Fprintf(out, `District cluster (3 Raft members; village → town → district by sync, attachments included;
REST and gRPC answer signed-in district accounts: add -H "Authorization: Bearer $SANZI_TOKEN" to curl):
  status        http://%[1]s/v1/district/status?all=true
  heads         http://%[1]s/v1/district/heads
  metrics       http://%[1]s/metrics
`, district.http)
				if chAddr != "" {
					fmt.Fprintf(out, `District statistics (ClickHouse %[1]s, loaded by the leader):
  totals        http://%[2]s/v1/stats/totals?scope.level=village
  risk          http://%[2]s/v1/stats/risk
  bin/sanzi stats totals --server %[3]s --tls-dir %[4]s
  bin/sanzi stats efficiency --server %[3]s --tls-dir %[4]s --by post
`, chAddr, district.http, district.members[0].APIAddr(), filepath.Join(filepath.Dir(cfg.DataDir), "district", "ca"))
				}
			}
			return n.Serve(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data", filepath.Join(".demo", "village"), "data folder of the demo node")
	f.StringVar(&cfg.GRPCAddr, "grpc-addr", "127.0.0.1:7401", "gRPC listen address")
	f.StringVar(&cfg.HTTPAddr, "http-addr", "127.0.0.1:7400", "REST listen address")
	f.BoolVar(&withDistrict, "district", true, "also run a 3-member district cluster on ports 7503-7532 and the town 350505100000 on 7600-7602, and sync the village through them")
	f.StringVar(&chAddr, "clickhouse", "", "ClickHouse native address for the district's analytics loader (default: start a private clickhouse-server under the demo folder)")
	return cmd
}

// demoOrg is the sample village: district 350505, town 100, village 201.
const demoOrg = "350505100201"

// demoTown is the sample village's town, and demoTownSync where it takes
// its villages' pushes.
const (
	demoTown     = "350505100000"
	demoTownSync = "127.0.0.1:7601"
)

// seedDemo records a small, believable month of a village's books.
func seedDemo(ctx context.Context, b *books.Books, progress func(string)) error {
	const author = demoAuthor
	day := func(back int) string { return time.Now().AddDate(0, 0, -back).Format(time.DateOnly) }
	firm := &sanziv1.Counterparty{Name: "福州某建材有限公司", IdNumber: "91350100M000100Y43", BankAccount: "6222020200112233445", BankName: "农商银行"}
	person := &sanziv1.Counterparty{Name: "林某某", IdNumber: "11010519491231002X", BankAccount: "6228480012345678"}
	txs := []*sanziv1.Transaction{
		{Kind: sanziv1.TransactionKind_TRANSACTION_KIND_INCOME, AmountFen: 1775000, PaymentMethod: sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER, Counterparty: person, BusinessDate: day(20), Summary: "收到鱼塘承包费", VoucherNumber: "记-001", Category: "发包及上交收入"},
		{Kind: sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE, AmountFen: 128050, PaymentMethod: sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER, Counterparty: firm, BusinessDate: day(15), Summary: "村部屋顶修缮材料费", VoucherNumber: "记-002", InvoiceCode: "035001900111", InvoiceNumber: "12345678", BudgetLine: "公益事业支出", Category: "公益支出"},
		{Kind: sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE, AmountFen: 8640, PaymentMethod: sanziv1.PaymentMethod_PAYMENT_METHOD_VILLAGE_CARD, Counterparty: &sanziv1.Counterparty{Name: "文具店"}, BusinessDate: day(10), Summary: "办公用品", VoucherNumber: "记-003", InvoiceNumber: "25350000000012345678", Category: "管理费用"},
		{Kind: sanziv1.TransactionKind_TRANSACTION_KIND_INCOME, AmountFen: 3600000, PaymentMethod: sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER, Counterparty: &sanziv1.Counterparty{Name: "区农业农村局"}, BusinessDate: day(8), Summary: "高标准农田建设补助", VoucherNumber: "记-004", Category: "补助收入"},
		// Paid to a person's own account: rule PRIVATE-ACCT warns, and the
		// warning becomes an alert for the town to review.
		{Kind: sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE, AmountFen: 240000, PaymentMethod: sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER, Counterparty: person, BusinessDate: day(6), Summary: "清理沟渠劳务费", VoucherNumber: "记-006", InvoiceNumber: "25350000000012345677", Category: "管理费用"},
		{Kind: sanziv1.TransactionKind_TRANSACTION_KIND_TRANSFER, AmountFen: 50000, PaymentMethod: sanziv1.PaymentMethod_PAYMENT_METHOD_CASH, Counterparty: &sanziv1.Counterparty{Name: "农商银行基本户"}, BusinessDate: day(5), Summary: "库存现金存入银行", VoucherNumber: "记-005"},
	}
	for i, t := range txs {
		t.Org = demoOrg
		if _, _, err := b.RecordTransaction(ctx, author, t); err != nil {
			return fmt.Errorf("transaction %d: %w", i+1, err)
		}
	}
	progress(fmt.Sprintf("%d transactions", len(txs)))
	start := time.Now().AddDate(0, -2, 0)
	c, _, err := b.RecordContract(ctx, author, &sanziv1.Contract{
		Org: demoOrg, Kind: sanziv1.ContractKind_CONTRACT_KIND_CONTRACTING_OUT, ContractNumber: "HT-2026-007", Counterparty: person,
		Object:    &sanziv1.ContractObject{Kind: sanziv1.ObjectKind_OBJECT_KIND_RESOURCE, ObjectId: "YT-03", AreaMu: 35.5, Location: "村东鱼塘"},
		TermStart: start.Format(time.DateOnly), TermEnd: start.AddDate(10, 0, -1).Format(time.DateOnly), AnnualAmountFen: 1775000,
		Schedule:    []*sanziv1.ScheduledPayment{{DueDate: start.AddDate(0, 1, 0).Format(time.DateOnly), AmountFen: 1775000}},
		AwardMethod: sanziv1.AwardMethod_AWARD_METHOD_TENDER, SignedDate: start.AddDate(0, 0, -10).Format(time.DateOnly), Summary: "鱼塘公开招标发包",
	})
	if err != nil {
		return fmt.Errorf("contract: %w", err)
	}
	if _, err := b.RecordContractPayment(ctx, author, &sanziv1.ContractPayment{
		Org: demoOrg, ContractId: c.ID(), AmountFen: 1775000, PaymentMethod: sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER, BusinessDate: day(20), Period: "第一年",
	}); err != nil {
		return fmt.Errorf("contract payment: %w", err)
	}
	progress("1 contract with 1 payment")
	report, err := b.Attachments().Put([]byte("资产评估报告（示例）：村部办公楼，评估价值 98 万元。"), "评估报告.txt", "text/plain; charset=utf-8", "")
	if err != nil {
		return fmt.Errorf("attachment: %w", err)
	}
	a, err := b.RegisterAsset(ctx, author, &sanziv1.AssetRegistration{
		Org: demoOrg, AssetCode: "ZC-2019-0001", Name: "村部办公楼", Category: "房屋建筑物", OriginalValueFen: 120000000, AcquiredDate: "2019-06-30", Location: "村委会",
	})
	if err != nil {
		return fmt.Errorf("asset: %w", err)
	}
	if _, err := b.AppraiseAsset(ctx, author, &sanziv1.AssetAppraisal{
		Org: demoOrg, AssetId: a.ID(), AppraisedValueFen: 98000000, Appraiser: "某资产评估事务所", AppraisalDate: day(3), ReportAttachment: report.GetSha256(),
	}); err != nil {
		return fmt.Errorf("appraisal: %w", err)
	}
	progress("1 asset with an appraisal (report attached and locked)")
	return nil
}
