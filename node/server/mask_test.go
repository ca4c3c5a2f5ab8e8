package server

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/idcode"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestTownMasksVillagesPersonalData: a town's answers (unary and streamed)
// mask the ID numbers, bank accounts and alert evidence of its villages'
// records, keep its own whole, and never change the handler's message; a
// village answers everything whole.
func TestTownMasksVillagesPersonalData(t *testing.T) {
	const town, village = "350505100000", "350505100201"
	person := func() *sanziv1.Counterparty {
		return &sanziv1.Counterparty{Name: "林某某", IdNumber: "11010519491231002X", BankAccount: "6228480012345678", Phone: "13812345678"}
	}
	list := func() *sanziv1.ListTransactionsResponse {
		return &sanziv1.ListTransactionsResponse{Transactions: []*sanziv1.TransactionRecord{
			{Transaction: &sanziv1.Transaction{Org: village, Counterparty: person()}},
			{Transaction: &sanziv1.Transaction{Org: town, Counterparty: person()}},
		}}
	}
	alert := func() *sanziv1.WatchAlertsResponse {
		return &sanziv1.WatchAlertsResponse{Alert: &sanziv1.AlertRecord{Alert: &sanziv1.Alert{
			Org: village, RuleCode: "RELATIVE", Evidence: map[string]string{"id_number": "11010519491231002X", "across_villages": "true"},
		}}}
	}
	masked := &sanziv1.Counterparty{Name: "林某某", IdNumber: "1101**********002X", BankAccount: "6228********5678", Phone: "138****5678"}

	for _, tc := range []struct {
		level    idcode.Level
		orgs     []string
		villageP *sanziv1.Counterparty // what the answer shows of the village's counterparty
		evidence string
	}{
		{idcode.LevelTown, []string{town}, masked, "1101**********002X"},
		{idcode.LevelVillage, []string{village}, person(), "11010519491231002X"},
	} {
		t.Run(string(tc.level), func(t *testing.T) {
			mask := personalMask(tc.level, tc.orgs)
			if (mask == nil) != (tc.level == idcode.LevelVillage) {
				t.Fatalf("personalMask at a %s: %v", tc.level, mask)
			}
			stored := list()
			resp := any(stored)
			if mask != nil {
				var err error
				resp, err = mask.unary(context.Background(), nil, &grpc.UnaryServerInfo{}, func(context.Context, any) (any, error) { return stored, nil })
				if err != nil {
					t.Fatal(err)
				}
			}
			got := resp.(*sanziv1.ListTransactionsResponse).GetTransactions()
			if p := got[0].GetTransaction().GetCounterparty(); !proto.Equal(p, tc.villageP) {
				t.Errorf("the village's counterparty answered as %v, want %v", p, tc.villageP)
			}
			if p := got[1].GetTransaction().GetCounterparty(); !proto.Equal(p, person()) {
				t.Errorf("the town's own counterparty answered as %v, want it whole", p)
			}
			if !proto.Equal(stored, list()) {
				t.Errorf("the handler's message was changed: %v", stored)
			}

			ss := &sentStream{}
			send := func(srv any, s grpc.ServerStream) error { return s.SendMsg(alert()) }
			if mask != nil {
				if err := mask.stream(nil, ss, &grpc.StreamServerInfo{}, send); err != nil {
					t.Fatal(err)
				}
			} else if err := send(nil, ss); err != nil {
				t.Fatal(err)
			}
			ev := ss.sent[0].(*sanziv1.WatchAlertsResponse).GetAlert().GetAlert().GetEvidence()
			if ev["id_number"] != tc.evidence || ev["across_villages"] != "true" {
				t.Errorf("streamed evidence %v, want id_number %s", ev, tc.evidence)
			}
			if got := mask.answer(alert()).(*sanziv1.WatchAlertsResponse).GetAlert().GetAlert().GetEvidence()["id_number"]; got != tc.evidence {
				t.Errorf("SSE evidence %s, want %s", got, tc.evidence)
			}
		})
	}
}

// sentStream records what a server stream sends.
type sentStream struct {
	grpc.ServerStream
	sent []any
}

func (s *sentStream) SendMsg(m any) error {
	s.sent = append(s.sent, m)
	return nil
}
