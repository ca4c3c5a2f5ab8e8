// Package api serves the village node's gRPC services over the books: it
// turns requests into calls of the domain packages and their errors into
// gRPC statuses. grpc-gateway serves the same services as REST/JSON.
package api

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"io"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/sanzi/sanzi/node/attach"
	"github.com/sanzi/sanzi/node/backtest"
	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/limits"
	"github.com/sanzi/sanzi/node/rules"
	"github.com/sanzi/sanzi/node/supervise"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Service implements every village-node service over one Books.
type Service struct {
	sanziv1.UnimplementedTransactionServiceServer
	sanziv1.UnimplementedContractServiceServer
	sanziv1.UnimplementedAssetServiceServer
	sanziv1.UnimplementedAttachmentServiceServer
	sanziv1.UnimplementedLedgerServiceServer
	sanziv1.UnimplementedAlertServiceServer
	sanziv1.UnimplementedRuleServiceServer
	sanziv1.UnimplementedWorkflowServiceServer
	sanziv1.UnimplementedCardServiceServer
	sanziv1.UnimplementedDirectiveServiceServer
	sanziv1.UnimplementedDisclosureServiceServer
	sanziv1.UnimplementedComplaintServiceServer
	sanziv1.UnimplementedBooksServiceServer

	b       *books.Books
	sup     *supervise.Supervisor
	streams *limits.Streams
	gate    backtest.Gate // one BacktestRules at a time

	// sheetLim bounds sheet imports, sheetSlots holds one token per
	// import under way (SetSheetLimits).
	sheetLim   SheetLimits
	sheetSlots chan struct{}
	desk       ComplaintDesk // a town's complaints desk (complaints.go)
}

// New returns the services over b and the supervision that follows it
// (procedures, decisions, rule sets; required).
func New(b *books.Books, sup *supervise.Supervisor) *Service {
	s := &Service{b: b, sup: sup}
	s.SetSheetLimits(SheetLimits{})
	return s
}

// LimitStreams caps the alert streams (WatchAlerts) by l, which the node
// shares with its other streams (SSE); without it streams are not capped.
func (s *Service) LimitStreams(l *limits.Streams) { s.streams = l }

// Register adds every service to a gRPC server.
func (s *Service) Register(g grpc.ServiceRegistrar) {
	sanziv1.RegisterTransactionServiceServer(g, s)
	sanziv1.RegisterContractServiceServer(g, s)
	sanziv1.RegisterAssetServiceServer(g, s)
	sanziv1.RegisterAttachmentServiceServer(g, s)
	sanziv1.RegisterLedgerServiceServer(g, s)
	sanziv1.RegisterAlertServiceServer(g, s)
	sanziv1.RegisterRuleServiceServer(g, s)
	sanziv1.RegisterWorkflowServiceServer(g, s)
	sanziv1.RegisterCardServiceServer(g, s)
	sanziv1.RegisterDirectiveServiceServer(g, s)
	sanziv1.RegisterDisclosureServiceServer(g, s)
	sanziv1.RegisterComplaintServiceServer(g, s)
	sanziv1.RegisterBooksServiceServer(g, s)
}

// ListAlerts implements AlertService.
func (s *Service) ListAlerts(ctx context.Context, r *sanziv1.ListAlertsRequest) (*sanziv1.ListAlertsResponse, error) {
	f := books.AlertFilter{Org: r.GetOrg(), RuleCode: r.GetRuleCode(), Severity: r.GetSeverity(), Status: r.GetStatus()}
	if r.GetSince() != nil {
		f.Since = r.GetSince().AsTime()
	}
	if r.GetUntil() != nil {
		f.Until = r.GetUntil().AsTime()
	}
	recs, next, total, err := s.b.ListAlerts(f,
		books.Page{Size: int(r.GetPageSize()), Token: r.GetPageToken()})
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.ListAlertsResponse{Alerts: recs, NextPageToken: next, TotalSize: total}, nil
}

// GetAlert implements AlertService.
func (s *Service) GetAlert(ctx context.Context, r *sanziv1.GetAlertRequest) (*sanziv1.GetAlertResponse, error) {
	rec, err := s.b.GetAlert(r.GetId())
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.GetAlertResponse{Alert: rec}, nil
}

// UpdateAlertStatus implements AlertService.
func (s *Service) UpdateAlertStatus(ctx context.Context, r *sanziv1.UpdateAlertStatusRequest) (*sanziv1.UpdateAlertStatusResponse, error) {
	e, err := s.sup.UpdateAlertStatus(ctx, r.GetAuthor(), r.GetTransition())
	if err != nil {
		return nil, toStatus(err)
	}
	rec, err := s.b.GetAlert(r.GetTransition().GetAlertId())
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.UpdateAlertStatusResponse{Entry: e.Meta(), Alert: rec}, nil
}

// RecordTransaction implements TransactionService.
func (s *Service) RecordTransaction(ctx context.Context, r *sanziv1.RecordTransactionRequest) (*sanziv1.RecordTransactionResponse, error) {
	if r.GetValidateOnly() {
		hits, err := s.b.CheckTransaction(r.GetAuthor(), r.GetTransaction())
		if err != nil {
			return nil, toStatus(err)
		}
		return &sanziv1.RecordTransactionResponse{Hits: HitsProto(hits)}, nil
	}
	e, hits, err := s.b.RecordTransaction(ctx, r.GetAuthor(), r.GetTransaction())
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.RecordTransactionResponse{Entry: e.Meta(), Hits: HitsProto(hits)}, nil
}

// ListTransactions implements TransactionService.
func (s *Service) ListTransactions(ctx context.Context, r *sanziv1.ListTransactionsRequest) (*sanziv1.ListTransactionsResponse, error) {
	f := books.TransactionFilter{Org: r.GetOrg(), Kind: r.GetKind(), Query: r.GetQuery(), FromDate: r.GetFromDate(), ToDate: r.GetToDate(),
		MinFen: r.GetMinAmountFen(), MaxFen: r.GetMaxAmountFen(), Method: r.GetPaymentMethod()}
	if f.Org == "" {
		covers, err := coverage(ctx)
		if err != nil {
			return nil, err
		}
		f.InScope = covers
	}
	recs, next, total, err := s.b.ListTransactions(f, books.Page{Size: int(r.GetPageSize()), Token: r.GetPageToken()})
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.ListTransactionsResponse{Transactions: recs, NextPageToken: next, TotalSize: total}, nil
}

// GetTransaction implements TransactionService.
func (s *Service) GetTransaction(ctx context.Context, r *sanziv1.GetTransactionRequest) (*sanziv1.GetTransactionResponse, error) {
	rec, err := s.b.GetTransaction(r.GetId())
	if err != nil {
		return nil, toStatus(err)
	}
	if err := inScope(ctx, rec.GetEntry()); err != nil {
		return nil, err
	}
	return &sanziv1.GetTransactionResponse{Transaction: rec}, nil
}

// ImportTransactions implements TransactionService: each row is checked and
// staged as it arrives (books.Import), never all held at once; then all are
// recorded or none. The reply lists the first books.MaxRejectionsListed
// rejections and counts them all.
func (s *Service) ImportTransactions(stream grpc.ClientStreamingServer[sanziv1.ImportTransactionsRequest, sanziv1.ImportTransactionsResponse]) error {
	var im *books.Import
	defer func() {
		if im != nil {
			im.Close()
		}
	}()
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if im == nil {
			if im, err = s.b.StartImport(m.GetAuthor(), m.GetDryRun()); err != nil {
				return toStatus(err)
			}
		}
		if err := im.Add(books.ImportRow{Row: int(m.GetRow()), Transaction: m.GetTransaction()}); err != nil {
			return toStatus(err)
		}
	}
	if im == nil {
		return stream.SendAndClose(&sanziv1.ImportTransactionsResponse{})
	}
	res, err := im.Finish(stream.Context())
	if err != nil {
		return toStatus(err)
	}
	resp := &sanziv1.ImportTransactionsResponse{RowsReceived: int32(res.Rows), RowsRecorded: int32(res.Recorded),
		FirstId: res.FirstID, LastId: res.LastID, RejectedTotal: int32(res.RejectedTotal)}
	for _, r := range res.Rejections {
		resp.Rejections = append(resp.Rejections, &sanziv1.ImportRejection{Row: int32(r.Row), Field: r.Field, Reason: r.Reason})
	}
	return stream.SendAndClose(resp)
}

// RecordContract implements ContractService.
func (s *Service) RecordContract(ctx context.Context, r *sanziv1.RecordContractRequest) (*sanziv1.RecordContractResponse, error) {
	if r.GetValidateOnly() {
		hits, err := s.b.CheckContract(r.GetAuthor(), r.GetContract())
		if err != nil {
			return nil, toStatus(err)
		}
		return &sanziv1.RecordContractResponse{Hits: HitsProto(hits)}, nil
	}
	e, hits, err := s.b.RecordContract(ctx, r.GetAuthor(), r.GetContract())
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.RecordContractResponse{Entry: e.Meta(), Hits: HitsProto(hits)}, nil
}

// RecordContractPayment implements ContractService.
func (s *Service) RecordContractPayment(ctx context.Context, r *sanziv1.RecordContractPaymentRequest) (*sanziv1.RecordContractPaymentResponse, error) {
	e, err := s.b.RecordContractPayment(ctx, r.GetAuthor(), r.GetPayment())
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.RecordContractPaymentResponse{Entry: e.Meta()}, nil
}

// RegisterAsset implements AssetService.
func (s *Service) RegisterAsset(ctx context.Context, r *sanziv1.RegisterAssetRequest) (*sanziv1.RegisterAssetResponse, error) {
	e, err := s.b.RegisterAsset(ctx, r.GetAuthor(), r.GetAsset())
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.RegisterAssetResponse{Entry: e.Meta()}, nil
}

// AppraiseAsset implements AssetService.
func (s *Service) AppraiseAsset(ctx context.Context, r *sanziv1.AppraiseAssetRequest) (*sanziv1.AppraiseAssetResponse, error) {
	e, err := s.b.AppraiseAsset(ctx, r.GetAuthor(), r.GetAppraisal())
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.AppraiseAssetResponse{Entry: e.Meta()}, nil
}

// DisposeAsset implements AssetService.
func (s *Service) DisposeAsset(ctx context.Context, r *sanziv1.DisposeAssetRequest) (*sanziv1.DisposeAssetResponse, error) {
	if r.GetValidateOnly() {
		hits, err := s.b.CheckAssetDisposal(r.GetAuthor(), r.GetDisposal())
		if err != nil {
			return nil, toStatus(err)
		}
		return &sanziv1.DisposeAssetResponse{Hits: HitsProto(hits)}, nil
	}
	e, hits, err := s.b.DisposeAsset(ctx, r.GetAuthor(), r.GetDisposal())
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.DisposeAssetResponse{Entry: e.Meta(), Hits: HitsProto(hits)}, nil
}

// UploadAttachment implements AttachmentService.
func (s *Service) UploadAttachment(ctx context.Context, r *sanziv1.UploadAttachmentRequest) (*sanziv1.UploadAttachmentResponse, error) {
	if len(r.GetContent()) == 0 {
		return nil, errNoContent()
	}
	exp, err := expectedHash(r)
	if err != nil {
		return nil, err
	}
	a, err := s.b.Attachments().Put(r.GetContent(), r.GetFileName(), r.GetContentType(), exp)
	return uploaded(a, err)
}

// UploadAttachmentFrom is UploadAttachment with the content read from body
// instead of r.Content: REST uploads come this way, streamed to disk and
// never held whole (see attach.Store.PutFrom). Its answers and refusals are
// UploadAttachment's.
func (s *Service) UploadAttachmentFrom(ctx context.Context, r *sanziv1.UploadAttachmentRequest, body io.Reader) (*sanziv1.UploadAttachmentResponse, error) {
	exp, err := expectedHash(r)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReader(body)
	if _, err := br.Peek(1); errors.Is(err, io.EOF) {
		return nil, errNoContent()
	}
	a, err := s.b.Attachments().PutFrom(ctx, br, r.GetFileName(), r.GetContentType(), exp)
	return uploaded(a, err)
}

// errNoContent is the refusal of an upload of nothing.
func errNoContent() error {
	return invalidField("content", "required: the file's bytes (over REST, the request body)")
}

// expectedHash is the upload's expected SHA-256 in lowercase ("" for none),
// or the refusal of one that is not a SHA-256.
func expectedHash(r *sanziv1.UploadAttachmentRequest) (string, error) {
	exp := strings.ToLower(r.GetExpectedSha256())
	if exp != "" {
		if _, err := hex.DecodeString(exp); err != nil || len(exp) != 64 {
			return "", invalidField("expectedSha256", "not a SHA-256 in hex (64 characters)")
		}
	}
	return exp, nil
}

// uploaded is the answer to an upload that stored a, or the refusal of err.
func uploaded(a *sanziv1.Attachment, err error) (*sanziv1.UploadAttachmentResponse, error) {
	if errors.Is(err, attach.ErrHashMismatch) {
		return nil, fieldError(codes.InvalidArgument, "expectedSha256", err)
	}
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.UploadAttachmentResponse{Attachment: a}, nil
}

// GetAttachment implements AttachmentService.
func (s *Service) GetAttachment(ctx context.Context, r *sanziv1.GetAttachmentRequest) (*sanziv1.GetAttachmentResponse, error) {
	a, content, err := s.b.Attachments().Get(r.GetSha256())
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.GetAttachmentResponse{Attachment: a, Content: content}, nil
}

// DeleteAttachment implements AttachmentService.
func (s *Service) DeleteAttachment(ctx context.Context, r *sanziv1.DeleteAttachmentRequest) (*sanziv1.DeleteAttachmentResponse, error) {
	if err := s.b.Attachments().Delete(r.GetSha256()); err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.DeleteAttachmentResponse{}, nil
}

// GetHead implements LedgerService.
func (s *Service) GetHead(ctx context.Context, r *sanziv1.GetHeadRequest) (*sanziv1.GetHeadResponse, error) {
	if r.GetOrigin() == "" {
		return nil, invalidField("origin", "required")
	}
	h := s.b.Ledger().Head(r.GetOrigin())
	out := &sanziv1.Head{Origin: r.GetOrigin(), Seq: h.Seq}
	if h.Seq > 0 {
		out.Hash = hex.EncodeToString(h.Hash[:])
	}
	return &sanziv1.GetHeadResponse{Head: out}, nil
}

// ListEntries implements LedgerService.
func (s *Service) ListEntries(ctx context.Context, r *sanziv1.ListEntriesRequest) (*sanziv1.ListEntriesResponse, error) {
	if r.GetOrigin() == "" {
		return nil, invalidField("origin", "required")
	}
	limit := int(r.GetLimit())
	if limit <= 0 {
		limit = 100
	}
	if limit > 1000 {
		limit = 1000
	}
	from := r.GetFromSeq()
	if from == 0 {
		from = 1
	}
	resp := &sanziv1.ListEntriesResponse{}
	var decodeErr error
	err := s.b.Ledger().Range(r.GetOrigin(), from, limit, func(e *ledger.Stored) bool {
		le, err := books.LedgerEntry(e)
		if err != nil {
			decodeErr = err
			return false
		}
		resp.Entries = append(resp.Entries, le)
		return true
	})
	if err == nil {
		err = decodeErr
	}
	if err != nil {
		return nil, toStatus(err)
	}
	if n := len(resp.Entries); n > 0 {
		if last := resp.Entries[n-1].GetMeta().GetSeq(); last < s.b.Ledger().Head(r.GetOrigin()).Seq {
			resp.NextSeq = last + 1
		}
	}
	return resp, nil
}

// RecordReversal implements LedgerService.
func (s *Service) RecordReversal(ctx context.Context, r *sanziv1.RecordReversalRequest) (*sanziv1.RecordReversalResponse, error) {
	e, err := s.b.RecordReversal(ctx, r.GetAuthor(), r.GetReversal())
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.RecordReversalResponse{Entry: e.Meta()}, nil
}

// HitsProto turns rule hits into their API form.
func HitsProto(hits []rules.Hit) []*sanziv1.RuleHit {
	out := make([]*sanziv1.RuleHit, 0, len(hits))
	for _, h := range hits {
		out = append(out, &sanziv1.RuleHit{Code: h.Code, Severity: string(h.Severity), Action: string(h.Action),
			Reason: h.Reason, RuleSetVersion: h.RuleSetVersion, Evidence: h.Evidence})
	}
	return out
}

// WatchAlerts implements AlertService: it streams alerts as they are raised.
func (s *Service) WatchAlerts(r *sanziv1.WatchAlertsRequest, stream grpc.ServerStreamingServer[sanziv1.WatchAlertsResponse]) error {
	if s.streams != nil {
		release, err := s.streams.Acquire(streamClient(stream.Context()))
		if err != nil {
			return toStatus(err)
		}
		defer release()
	}
	ch, stop := s.b.SubscribeAlerts()
	defer stop()
	// Headers tell the client the subscription is live: nothing raised
	// from now on is missed.
	if err := stream.SendHeader(metadata.MD{}); err != nil {
		return err
	}
	for {
		select {
		case <-stream.Context().Done():
			return nil
		case a, ok := <-ch:
			if !ok {
				if s.b.FeedClosed() {
					return status.Error(codes.Unavailable, "the node is shutting down; reconnect later")
				}
				return status.Error(codes.ResourceExhausted, "fell too far behind the alert stream; reconnect and list what was missed")
			}
			if !AlertMatches(a, r.GetOrg(), r.GetSeverity()) {
				continue
			}
			if err := stream.Send(&sanziv1.WatchAlertsResponse{Alert: a}); err != nil {
				return err
			}
		}
	}
}

// streamClient names the peer of a stream for the per-client cap.
func streamClient(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return ""
	}
	var certs []*x509.Certificate
	if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok {
		certs = ti.State.PeerCertificates
	}
	return limits.ClientKey(p.Addr.String(), certs)
}

// AlertMatches applies a stream's filter (empty matches all).
func AlertMatches(a *sanziv1.AlertRecord, org, severity string) bool {
	return (org == "" || a.GetAlert().GetOrg() == org) && (severity == "" || a.GetAlert().GetSeverity() == severity)
}
