package api

import (
	"context"

	"github.com/sanzi/sanzi/node/authz"
	"github.com/sanzi/sanzi/node/books"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// The contract and asset registers: lists filtered and scoped to what the
// signed-in account covers, and records read whole for their detail
// pages, refused when out of scope.

// coverage is the test of the orgs the signed-in account may read, for a
// list that names no org (the interceptor checks one it names).
func coverage(ctx context.Context) (func(string) bool, error) {
	if _, err := authz.ScopeOrg(ctx, ""); err != nil {
		return nil, toStatus(err)
	}
	p, _ := authz.FromContext(ctx)
	return p.Covers, nil
}

// inScope refuses a record loaded by id whose org the account does not
// cover.
func inScope(ctx context.Context, meta *sanziv1.EntryMeta) error {
	if _, err := authz.ScopeOrg(ctx, meta.GetOrigin()); err != nil {
		return toStatus(err)
	}
	return nil
}

// ListContracts implements ContractService.
func (s *Service) ListContracts(ctx context.Context, r *sanziv1.ListContractsRequest) (*sanziv1.ListContractsResponse, error) {
	covers, err := coverage(ctx)
	if err != nil {
		return nil, err
	}
	f := books.ContractFilter{Org: r.GetOrg(), InScope: covers, Query: r.GetQuery(), Kind: r.GetKind(), Status: r.GetStatus(), ArrearsOnly: r.GetArrearsOnly()}
	recs, next, total, err := s.b.ListContracts(f, books.Page{Size: int(r.GetPageSize()), Token: r.GetPageToken()})
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.ListContractsResponse{Contracts: recs, NextPageToken: next, TotalSize: total}, nil
}

// GetContract implements ContractService: the contract with each payment.
func (s *Service) GetContract(ctx context.Context, r *sanziv1.GetContractRequest) (*sanziv1.GetContractResponse, error) {
	rec, pays, err := s.b.ContractDetail(r.GetId())
	if err != nil {
		return nil, toStatus(err)
	}
	if err := inScope(ctx, rec.GetEntry()); err != nil {
		return nil, err
	}
	return &sanziv1.GetContractResponse{Contract: rec, Payments: pays}, nil
}

// ListAssets implements AssetService.
func (s *Service) ListAssets(ctx context.Context, r *sanziv1.ListAssetsRequest) (*sanziv1.ListAssetsResponse, error) {
	covers, err := coverage(ctx)
	if err != nil {
		return nil, err
	}
	f := books.AssetFilter{Org: r.GetOrg(), InScope: covers, Query: r.GetQuery(), Status: r.GetStatus(), Category: r.GetCategory()}
	recs, next, total, err := s.b.ListAssets(f, books.Page{Size: int(r.GetPageSize()), Token: r.GetPageToken()})
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.ListAssetsResponse{Assets: recs, NextPageToken: next, TotalSize: total}, nil
}

// GetAsset implements AssetService: the asset with its appraisals and
// disposal.
func (s *Service) GetAsset(ctx context.Context, r *sanziv1.GetAssetRequest) (*sanziv1.GetAssetResponse, error) {
	rec, apps, disp, err := s.b.AssetDetail(r.GetId())
	if err != nil {
		return nil, toStatus(err)
	}
	if err := inScope(ctx, rec.GetEntry()); err != nil {
		return nil, err
	}
	return &sanziv1.GetAssetResponse{Asset: rec, Appraisals: apps, Disposal: disp}, nil
}
