package authz

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// txServer is a fake TransactionService that echoes what it was given, so
// the test sees what the interceptor let through and filled in.
type txServer struct {
	sanziv1.UnimplementedTransactionServiceServer
}

func (txServer) RecordTransaction(ctx context.Context, req *sanziv1.RecordTransactionRequest) (*sanziv1.RecordTransactionResponse, error) {
	return &sanziv1.RecordTransactionResponse{Entry: &sanziv1.EntryMeta{Author: req.GetAuthor()}}, nil
}

func (txServer) ListTransactions(ctx context.Context, req *sanziv1.ListTransactionsRequest) (*sanziv1.ListTransactionsResponse, error) {
	org, err := ScopeOrg(ctx, req.GetOrg())
	if err != nil {
		return nil, status.Error(codes.PermissionDenied, err.Error())
	}
	return listOf(org), nil
}

func (txServer) ImportTransactions(s grpc.ClientStreamingServer[sanziv1.ImportTransactionsRequest, sanziv1.ImportTransactionsResponse]) error {
	n := int32(0)
	for {
		_, err := s.Recv()
		if err == io.EOF {
			return s.SendAndClose(&sanziv1.ImportTransactionsResponse{RowsRecorded: n})
		}
		if err != nil {
			return err
		}
		n++
	}
}

// TestOverGRPC runs the interceptors on a real gRPC server: the credential
// travels as metadata, the author is filled, answers are masked, and a
// client stream is refused at its first row of another village.
func TestOverGRPC(t *testing.T) {
	lis := bufconn.Listen(1 << 20)
	x := NewInterceptor(testAuth(), slog.New(slog.DiscardHandler))
	srv := grpc.NewServer(x.ServerOptions()...)
	sanziv1.RegisterTransactionServiceServer(srv, txServer{})
	go srv.Serve(lis)
	defer srv.Stop()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := sanziv1.NewTransactionServiceClient(conn)
	as := func(tok string) context.Context {
		return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
	}
	rec := &sanziv1.RecordTransactionRequest{Transaction: &sanziv1.Transaction{Org: "350505100201"}}

	t.Run("no credential is 401", func(t *testing.T) {
		_, err := c.RecordTransaction(context.Background(), rec)
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("got %v", err)
		}
	})
	t.Run("author is the signed-in account", func(t *testing.T) {
		resp, err := c.RecordTransaction(as("tok-accountant"), rec)
		if err != nil || resp.GetEntry().GetAuthor() != "acct-accountant" {
			t.Errorf("got %v, %v", resp, err)
		}
	})
	t.Run("wrong role is 403 with reason", func(t *testing.T) {
		_, err := c.RecordTransaction(as("tok-auditor"), rec)
		if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "role auditor may not record") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("list scoped and masked", func(t *testing.T) {
		resp, err := c.ListTransactions(as("tok-supervisory_committee"), &sanziv1.ListTransactionsRequest{})
		tx := resp.GetTransactions()[0].GetTransaction()
		if err != nil || tx.GetOrg() != "350505100201" || tx.GetCounterparty().GetIdNumber() != "3505**********1234" {
			t.Errorf("got %v, %v", resp, err)
		}
		resp, err = c.ListTransactions(as("tok-accountant"), &sanziv1.ListTransactionsRequest{})
		if err != nil || resp.GetTransactions()[0].GetTransaction().GetCounterparty().GetIdNumber() != resident {
			t.Errorf("accountant: got %v, %v", resp, err)
		}
	})
	t.Run("import stream refused at a row of another village", func(t *testing.T) {
		s, err := c.ImportTransactions(as("tok-accountant"))
		if err != nil {
			t.Fatal(err)
		}
		for _, org := range []string{"350505100201", "350505100202"} {
			if err := s.Send(&sanziv1.ImportTransactionsRequest{Transaction: &sanziv1.Transaction{Org: org}}); err != nil && err != io.EOF {
				t.Fatal(err)
			}
		}
		_, err = s.CloseAndRecv()
		if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "may not act on 350505100202") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("import stream of its village", func(t *testing.T) {
		s, err := c.ImportTransactions(as("tok-accountant"))
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if err := s.Send(&sanziv1.ImportTransactionsRequest{Transaction: &sanziv1.Transaction{Org: "350505100201"}}); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := s.CloseAndRecv()
		if err != nil || resp.GetRowsRecorded() != 3 {
			t.Errorf("got %v, %v", resp, err)
		}
	})
}
