package api

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/sanzi/sanzi/node/authz"
	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/keys"
	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// maxTrailScan bounds the entries one trail looks through for references:
// a village's 100,000 entries are read in well under a second; past the
// bound the answer says it was cut short rather than keep the node busy.
const maxTrailScan = 2_000_000

// verifyEvery is how many entries a chain verification checks between two
// progress messages.
const verifyEvery = 2000

// GetEntryTrail implements LedgerService: the entry, the node's check of it
// (the chain up to it hashed and linked, its signature with the key in
// force) and the entries of chains in the caller's scope that name it —
// alerts and procedures about it (the body's subject), reversals, reviews,
// decisions, payments, notifications (a payload field holding its id).
func (s *Service) GetEntryTrail(ctx context.Context, r *sanziv1.GetEntryTrailRequest) (*sanziv1.GetEntryTrailResponse, error) {
	id := strings.TrimSpace(r.GetId())
	if len(id) > 64 {
		return nil, invalidField("id", "too long: an entry id is <origin>-<seq>")
	}
	origin, seq, err := ledger.ParseEntryID(id)
	if err != nil {
		return nil, invalidField("id", err.Error())
	}
	if _, err := authz.ScopeOrg(ctx, origin); err != nil {
		return nil, toStatus(err)
	}
	l := s.b.Ledger()
	chk, err := l.CheckEntry(ctx, origin, seq)
	if err != nil {
		return nil, toStatus(err)
	}
	out := &sanziv1.GetEntryTrailResponse{Check: entryCheck(chk.Problem, chk.Key, seq)}
	if chk.Stored != nil {
		le, err := books.LedgerEntry(chk.Stored)
		if err != nil {
			// Kept bytes the node cannot read: still shown as stored.
			le = &sanziv1.LedgerEntry{Meta: chk.Stored.Meta(), PrevHash: hex.EncodeToString(chk.Stored.PrevHash[:])}
			if e, derr := decodeEntry(chk.Stored.Raw); derr == nil {
				le.Entry = e
			}
		}
		out.Entry = le
	}
	p, _ := authz.FromContext(ctx)
	refs, scanned, truncated, err := referrers(ctx, l, id, origin, seq, p.Covers)
	if err != nil {
		return nil, toStatus(err)
	}
	out.ReferencedBy, out.Scanned, out.Truncated = refs, scanned, truncated
	return out, nil
}

// VerifyChain implements LedgerService: every entry of the chain checked
// (hash, link, signature), progress every verifyEvery entries, then the
// verdict. The interceptor has checked the origin is in scope.
func (s *Service) VerifyChain(r *sanziv1.VerifyChainRequest, stream grpc.ServerStreamingServer[sanziv1.VerifyChainResponse]) error {
	if r.GetOrigin() == "" {
		return invalidField("origin", "required")
	}
	ctx := stream.Context()
	p, err := s.b.Ledger().VerifyChain(ctx, r.GetOrigin(), verifyEvery, func(p ledger.VerifyProgress) error {
		return stream.Send(&sanziv1.VerifyChainResponse{Checked: p.Checked, Head: p.Head})
	})
	var ve *ledger.VerifyError
	if err != nil && !errors.As(err, &ve) {
		return toStatus(err)
	}
	return stream.Send(&sanziv1.VerifyChainResponse{Checked: p.Checked, Head: p.Head, Done: true, Check: entryCheck(ve, p.Key, 0)})
}

// entryCheck is the API form of a verdict; at is the entry asked about (0
// for a whole chain).
func entryCheck(problem *ledger.VerifyError, key []byte, at uint64) *sanziv1.EntryCheck {
	c := &sanziv1.EntryCheck{Ok: problem == nil, HashOk: true, ChainOk: true, SignatureOk: true}
	if len(key) > 0 {
		c.KeyFingerprint = keys.Fingerprint(key)
	}
	if problem == nil {
		return c
	}
	c.ProblemSeq, c.Failure, c.Problem = problem.Seq, string(problem.Failure), problem.Problem
	c.SignatureOk = false // not vouched for while anything up to it fails
	switch {
	case at != 0 && problem.Seq < at:
		c.ChainOk = false
	case problem.Failure == ledger.FailureHash || problem.Failure == ledger.FailureDecode:
		c.HashOk = false
	case problem.Failure == ledger.FailureSignature:
	default:
		c.ChainOk = false
	}
	return c
}

// referrers looks through the chains this node holds that covers accepts
// (the caller's scope) for entries naming id: in the body's subject or in
// any string field of the payload. A first pass over the raw bytes skips
// every entry not containing id at all.
func referrers(ctx context.Context, l *ledger.Ledger, id, origin string, seq uint64, covers func(string) bool) ([]*sanziv1.TrailRef, uint64, bool, error) {
	var out []*sanziv1.TrailRef
	var scanned uint64
	truncated := false
	needle := []byte(id)
	for _, o := range l.Origins() {
		if !covers(o) {
			continue
		}
		from := uint64(1)
		if o == origin {
			from = seq + 1 // an entry names only what was recorded before it
		}
		var decodeErr error
		err := l.Scan(o, from, func(_ uint64, raw []byte) bool {
			if scanned++; scanned > maxTrailScan {
				truncated = true
				return false
			}
			if scanned%65536 == 0 && ctx.Err() != nil {
				return false
			}
			if !bytes.Contains(raw, needle) {
				return true
			}
			st, err := ledger.Decode(append([]byte(nil), raw...))
			if err != nil {
				decodeErr = err
				return false
			}
			if field := refField(st, id); field != "" {
				out = append(out, &sanziv1.TrailRef{Entry: st.Meta(), Field: field})
			}
			return true
		})
		if err == nil {
			err = cmpErr(decodeErr, ctx.Err())
		}
		if err != nil {
			return nil, 0, false, err
		}
		if truncated {
			break
		}
	}
	return out, scanned, truncated, nil
}

func cmpErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// refField names where st names id: "subject", or the JSON path of the
// payload's string field holding exactly id; "" when it does not.
func refField(st *ledger.Stored, id string) string {
	if st.Subject == id {
		return "subject"
	}
	m, err := entries.Decode(st.Type, st.Payload)
	if err != nil || m == nil {
		return ""
	}
	return findString(m.ProtoReflect(), id, "", 0)
}

// findString walks m's fields (messages and lists, a few levels down) for
// a string equal to want and returns its path.
func findString(m protoreflect.Message, want, prefix string, depth int) string {
	if depth > 4 {
		return ""
	}
	found := ""
	m.Range(func(f protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		path := prefix + f.JSONName()
		switch {
		case f.IsMap():
			return true
		case f.IsList():
			list := v.List()
			for i := 0; i < list.Len() && found == ""; i++ {
				switch f.Kind() {
				case protoreflect.StringKind:
					if list.Get(i).String() == want {
						found = path
					}
				case protoreflect.MessageKind:
					found = findString(list.Get(i).Message(), want, path+".", depth+1)
				}
			}
		case f.Kind() == protoreflect.StringKind:
			if v.String() == want {
				found = path
			}
		case f.Kind() == protoreflect.MessageKind:
			found = findString(v.Message(), want, path+".", depth+1)
		}
		return found == ""
	})
	return found
}

func decodeEntry(raw []byte) (*sanziv1.Entry, error) {
	var e sanziv1.Entry
	if err := proto.Unmarshal(raw, &e); err != nil {
		return nil, err
	}
	return &e, nil
}
