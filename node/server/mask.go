package server

import (
	"context"
	"slices"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/authz"
	"github.com/sanzi/sanzi/node/idcode"
)

// villageMask masks, in a town's answers, the personal data (resident ID
// numbers, bank accounts, phones, alert evidence: see authz.MaskedUnless) of
// the records of its villages: a town holds its villages' chains, and no one
// signed in at the town may read villagers' data whole (issue 12, item 10).
// The town's own records (its orgs) are answered whole, as a village answers
// its own: they are the town's own books, which its agency accountant keeps.
// A value with no org around it is masked.
//
// It masks answers only: the stored entries, and the town's rules across
// villages (RELATIVE matches on ID numbers and bank accounts), read the books,
// never the API, and see everything whole.
//
// TODO(issue 12): once accounts are wired, the accountant and auditor of a
// village (and the town's roles that need it) get its data whole: this gives
// way to authz.Interceptor, which masks by the signed-in account (Masked).
type villageMask struct {
	own []string // the orgs the town serves itself
}

// personalMask is how the node masks its answers: nil at a village (its
// accountant needs the data; accounts will scope it), a villageMask at a town.
func personalMask(level idcode.Level, orgs []string) *villageMask {
	if level != idcode.LevelTown {
		return nil
	}
	return &villageMask{own: slices.Clone(orgs)}
}

// answer is m as the town answers it: m itself when nothing in it is a
// village's personal data, else a masked copy (m, which may be the books'
// shared state, is never changed). A nil mask answers m.
func (v *villageMask) answer(m proto.Message) proto.Message {
	if v == nil {
		return m
	}
	return authz.MaskedUnless(m, func(org string) bool { return org != "" && slices.Contains(v.own, org) })
}

// unary masks every answer of the node's gRPC API, and so of REST, whose
// gateway calls it (and of uploads, which run the node's unary chain).
func (v *villageMask) unary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	resp, err := h(ctx, req)
	if m, ok := resp.(proto.Message); ok && err == nil {
		return v.answer(m), nil
	}
	return resp, err
}

// stream masks every message a stream sends (WatchAlerts).
func (v *villageMask) stream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	return h(srv, maskedStream{ServerStream: ss, v: v})
}

type maskedStream struct {
	grpc.ServerStream
	v *villageMask
}

func (s maskedStream) SendMsg(m any) error {
	if pm, ok := m.(proto.Message); ok {
		m = s.v.answer(pm)
	}
	return s.ServerStream.SendMsg(m)
}
