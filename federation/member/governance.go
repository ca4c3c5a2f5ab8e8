package member

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sanzi/sanzi/node/authz"
	"github.com/sanzi/sanzi/node/catalog"
	"github.com/sanzi/sanzi/node/chart"
	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// The rules officer's catalogs and directives at the district (issue 14):
// the catalog versions of the district's chain as every node judges them
// (catalog.Published), and the directives it issued with the reports the
// addressed towns and villages recorded in their own chains and sent up.

// catalogs follows the catalog entries of the district's chain, read
// after everything the leader had committed.
func (m *Member) catalogs(ctx context.Context) (*catalog.Published, error) {
	if err := m.fresh(ctx); err != nil {
		return nil, status.Errorf(codes.Unavailable, "%v", err)
	}
	p := &catalog.Published{}
	err := m.node.FSM().Range(m.org, 1, 0, func(s *ledger.Stored) bool {
		if s.Type != sanziv1.EntryType_ENTRY_TYPE_CATALOG_VERSION {
			return true
		}
		if msg, err := entries.Decode(s.Type, s.Payload); err == nil {
			p.Observe(s.ID(), s.Author, s.Payload, msg.(*sanziv1.Catalog)) // an ignored one is listed as such
		}
		return true
	})
	if err != nil {
		return nil, status.Errorf(codes.Internal, "read the district's chain: %v", err)
	}
	return p, nil
}

func catalogSummary(st catalog.Status, cat *sanziv1.Catalog) *sanziv1.CatalogSummary {
	return &sanziv1.CatalogSummary{Version: st.Version, State: st.State, DraftedBy: st.DraftedBy, PublishedBy: st.PublishedBy,
		DraftId: st.DraftID, PublishedId: st.PublishedID, IgnoredReason: st.IgnoredReason,
		Matters: int32(len(cat.GetMatters())), Posts: int32(len(cat.GetPosts()))}
}

// ListCatalogs implements DistrictService.
func (d districtAPI) ListCatalogs(ctx context.Context, _ *sanziv1.ListCatalogsRequest) (*sanziv1.ListCatalogsResponse, error) {
	p, err := d.m.catalogs(ctx)
	if err != nil {
		return nil, err
	}
	out := &sanziv1.ListCatalogsResponse{}
	for _, st := range p.Versions() {
		cat, _ := p.Draft(st.Version)
		out.Catalogs = append(out.Catalogs, catalogSummary(st, cat))
		if st.State == catalog.StatusLive {
			out.Live = st.Version
		}
	}
	return out, nil
}

// GetCatalog implements DistrictService: one version as drafted (empty:
// the live one).
func (d districtAPI) GetCatalog(ctx context.Context, r *sanziv1.GetCatalogRequest) (*sanziv1.GetCatalogResponse, error) {
	p, err := d.m.catalogs(ctx)
	if err != nil {
		return nil, err
	}
	for _, st := range p.Versions() {
		if st.Version == r.GetVersion() || (r.GetVersion() == "" && st.State == catalog.StatusLive) {
			cat, ok := p.Draft(st.Version)
			if !ok {
				return nil, status.Errorf(codes.NotFound, "catalog %q has no draft in the district's chain (%s)", st.Version, st.IgnoredReason)
			}
			return &sanziv1.GetCatalogResponse{Summary: catalogSummary(st, cat), Catalog: cat}, nil
		}
	}
	if r.GetVersion() == "" {
		return nil, status.Error(codes.NotFound, "the district has no catalog in force yet")
	}
	return nil, status.Errorf(codes.NotFound, "catalog %q is not in the district's chain", r.GetVersion())
}

// reportIndex gathers the directive reports of the chains the district
// holds as they grow, so that listing the directives reads each entry of a
// village's chain once, not at every request. It is memory only: a member
// that restarts reads the chains again, a bounded share per request.
type reportIndex struct {
	mu      sync.Mutex
	upTo    map[string]uint64                           // origin → last seq read
	reports map[string][]*sanziv1.DirectiveReportRecord // directive id → its reports
}

// Bounds of one catch-up: a request never reads more, and says what is
// left (ListIssuedDirectivesResponse.complete).
const (
	reportsPerCall   = 200_000
	reportsCallLimit = 10 * time.Second
	reportsPage      = 1024
)

// catchUp reads origins' new entries (up to the bounds) and returns how
// many chains still have entries it did not read.
func (x *reportIndex) catchUp(ctx context.Context, src interface {
	Head(string) ledger.Head
	Range(string, uint64, int, func(*ledger.Stored) bool) error
}, origins []string) (int, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.upTo == nil {
		x.upTo, x.reports = map[string]uint64{}, map[string][]*sanziv1.DirectiveReportRecord{}
	}
	start, read := time.Now(), 0
	pending := 0
	for _, o := range origins {
		head := src.Head(o).Seq
		for x.upTo[o] < head {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
			if read >= reportsPerCall || time.Since(start) >= reportsCallLimit {
				break
			}
			n := 0
			err := src.Range(o, x.upTo[o]+1, reportsPage, func(s *ledger.Stored) bool {
				n++
				x.upTo[o] = s.Seq
				if s.Type != sanziv1.EntryType_ENTRY_TYPE_DIRECTIVE_REPORT {
					return true
				}
				if msg, err := entries.Decode(s.Type, s.Payload); err == nil {
					rep := msg.(*sanziv1.DirectiveReport)
					x.reports[rep.GetDirectiveId()] = append(x.reports[rep.GetDirectiveId()], &sanziv1.DirectiveReportRecord{Entry: s.Meta(), Report: rep})
				}
				return true
			})
			if err != nil {
				return 0, fmt.Errorf("read the chain of %s: %w", o, err)
			}
			read += n
			if n == 0 {
				break
			}
		}
		if x.upTo[o] < head {
			pending++
		}
	}
	return pending, nil
}

// of returns the reports on directive id from orgs keep accepts.
func (x *reportIndex) of(id string, keep func(org string) bool) []*sanziv1.DirectiveReportRecord {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []*sanziv1.DirectiveReportRecord
	for _, r := range x.reports[id] {
		if keep(r.GetEntry().GetOrigin()) {
			out = append(out, r)
		}
	}
	return out
}

// addressed says whether org is one that addressee (a code prefix, or a
// whole 12-digit code) names.
func addressed(addressee, org string) bool {
	if len(addressee) == 12 {
		return org == addressee
	}
	return strings.HasPrefix(org, addressee)
}

// ListIssuedDirectives implements DistrictService: the district's
// directives, newest first, each with the reports of the orgs in the
// account's scope and where every addressee stands.
func (d districtAPI) ListIssuedDirectives(ctx context.Context, _ *sanziv1.ListIssuedDirectivesRequest) (*sanziv1.ListIssuedDirectivesResponse, error) {
	p, ok := authz.FromContext(ctx)
	if !ok {
		return nil, status.Error(codes.Unauthenticated, "sign in to read the district's directives")
	}
	if err := d.m.fresh(ctx); err != nil {
		return nil, status.Errorf(codes.Unavailable, "%v", err)
	}
	fsm := d.m.node.FSM()
	var dirs []*sanziv1.IssuedDirective
	err := fsm.Range(d.m.org, 1, 0, func(s *ledger.Stored) bool {
		if s.Type != sanziv1.EntryType_ENTRY_TYPE_DIRECTIVE {
			return true
		}
		if msg, err := entries.Decode(s.Type, s.Payload); err == nil {
			dirs = append(dirs, &sanziv1.IssuedDirective{Entry: s.Meta(), Directive: msg.(*sanziv1.Directive)})
		}
		return true
	})
	if err != nil {
		return nil, status.Errorf(codes.Internal, "read the district's chain: %v", err)
	}
	// The chains that may hold reports: those of orgs a directive
	// addresses, in the account's scope.
	var origins []string
	for _, o := range slices.Sorted(maps.Keys(fsm.Heads())) {
		if o == d.m.org || !p.Covers(o) {
			continue
		}
		if slices.ContainsFunc(dirs, func(x *sanziv1.IssuedDirective) bool {
			return slices.ContainsFunc(x.GetDirective().GetAddressees(), func(a string) bool { return addressed(a, o) })
		}) {
			origins = append(origins, o)
		}
	}
	pending, err := d.m.reports.catchUp(ctx, fsm, origins)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "gather the directives' reports: %v", err)
	}
	today := time.Now().In(districtZone()).Format(time.DateOnly)
	out := &sanziv1.ListIssuedDirectivesResponse{Complete: pending == 0, ChainsPending: int32(pending)}
	for i := len(dirs) - 1; i >= 0; i-- {
		x := dirs[i]
		adds := x.GetDirective().GetAddressees()
		x.Reports = d.m.reports.of(x.GetEntry().GetId(), func(org string) bool {
			return p.Covers(org) && slices.ContainsFunc(adds, func(a string) bool { return addressed(a, org) })
		})
		x.Done = len(adds) > 0
		for _, a := range adds {
			st := "none"
			for _, r := range x.Reports {
				if !addressed(a, r.GetEntry().GetOrigin()) {
					continue
				}
				if r.GetReport().GetDone() {
					st = "done"
					break
				}
				st = "reported"
			}
			if st != "done" && x.GetDirective().GetDeadline() != "" && today > x.GetDirective().GetDeadline() {
				st = "overdue"
			}
			x.Done = x.Done && st == "done"
			x.Addressees = append(x.Addressees, &sanziv1.AddresseeStatus{Addressee: a, Status: st})
		}
		out.Directives = append(out.Directives, x)
	}
	return out, nil
}

// liveChart is the chart of accounts of the district's live catalog, which
// the district's statements are laid out on (issue 19): the national chart
// when no catalog is live or the live one carries none.
func (m *Member) liveChart(ctx context.Context) (*chart.Chart, error) {
	p, err := m.catalogs(ctx)
	if err != nil {
		return nil, err
	}
	var live *sanziv1.ChartOfAccounts
	for _, st := range p.Versions() {
		if st.State != catalog.StatusLive {
			continue
		}
		if cat, ok := p.Draft(st.Version); ok {
			live = cat.GetChart()
		}
	}
	ch, err := chart.New(live)
	if err != nil {
		return nil, fmt.Errorf("the live catalog's chart of accounts: %w", err)
	}
	return ch, nil
}
