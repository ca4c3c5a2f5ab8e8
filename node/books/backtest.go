package books

import (
	"cmp"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/rules"
	"github.com/sanzi/sanzi/node/watch"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// BacktestResult is what one rule would have raised over a node's history.
type BacktestResult struct {
	Code     string
	Severity rules.Severity
	Action   rules.Action
	// Hits counts entries the rule fires on; Reversed those of them that
	// were later reversed anyway.
	Hits, Reversed int
	// Examples are the ids of the first few entries it fires on.
	Examples []string
}

// BacktestFile is Backtest over the ledger file at path of a stopped node,
// opened read-only (ledger.View): `sanzi rules backtest` runs it.
func BacktestFile(path string, e *rules.Engine, loc *time.Location) ([]BacktestResult, int, error) {
	var results []BacktestResult
	var checked int
	err := ledger.View(path, func(tx *bolt.Tx) error {
		var err error
		results, checked, err = Backtest(tx, e, loc)
		return err
	})
	return results, checked, err
}

// Backtest runs a draft rule set over every transaction, contract and
// disposal in the file read through tx, in chain order (disposals see the
// appraisals recorded before them), and reports per rule what it would have
// raised. The stateful rules see the whole history in order, with their
// time-driven part swept at the end of every day that has entries (in loc)
// and at the last entry; the alerts already in the chain are not fed to
// them, so the draft raises afresh what it would have raised. It writes
// nothing: rule authors use it before publishing.
func Backtest(tx *bolt.Tx, e *rules.Engine, loc *time.Location) ([]BacktestResult, int, error) {
	type fired struct {
		id   string
		hits []rules.Hit
	}
	var all []fired
	w, err := watch.New(e, loc)
	if err != nil {
		return nil, 0, err
	}
	var lastDay string
	var last time.Time
	sweep := func(now time.Time) {
		for _, h := range w.Sweep(now) {
			all = append(all, fired{cmp.Or(h.Subject, "-"), []rules.Hit{h}})
		}
	}
	byCode := map[string]*BacktestResult{}
	appraised := map[string]int64{}
	reversed := map[string]bool{}
	checked := 0
	err = ledger.Walk(tx, func(s *ledger.Stored) error {
		m, err := entries.Decode(s.Type, s.Payload)
		if err != nil || m == nil {
			return err
		}
		if d := s.RecordedAt.In(loc).Format(time.DateOnly); lastDay != "" && d != lastDay {
			y, mo, dd := last.In(loc).Date()
			sweep(time.Date(y, mo, dd, 23, 59, 59, 0, loc))
		}
		lastDay, last = s.RecordedAt.In(loc).Format(time.DateOnly), s.RecordedAt
		if _, isAlert := m.(*sanziv1.Alert); !isAlert {
			for _, h := range w.Observe(watch.Event{ID: s.ID(), RecordedAt: s.RecordedAt, Subject: s.Subject, Msg: m}) {
				all = append(all, fired{s.ID(), []rules.Hit{h}})
			}
		}
		var hits []rules.Hit
		switch m := m.(type) {
		case *sanziv1.Transaction:
			// A recorded expense that names a resolution passed the
			// node's check of it when it was recorded (books refuse one
			// that does not stand), so the backtest takes it as approved.
			hits, err = e.CheckTransaction(m, rules.TxFacts{ResolutionApproved: m.GetResolutionProcedureId() != ""})
		case *sanziv1.Contract:
			hits, err = e.CheckContract(m)
		case *sanziv1.AssetAppraisal:
			appraised[m.GetAssetId()] = m.GetAppraisedValueFen()
			return nil
		case *sanziv1.AssetDisposal:
			hits, err = e.CheckAssetDisposal(m, appraised[m.GetAssetId()])
		case *sanziv1.Reversal:
			reversed[m.GetTargetId()] = true
			return nil
		default:
			return nil
		}
		checked++
		if err != nil {
			return fmt.Errorf("backtest %s: %w", s.ID(), err)
		}
		if len(hits) > 0 {
			all = append(all, fired{s.ID(), hits})
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	if !last.IsZero() {
		sweep(last)
	}
	for _, f := range all {
		for _, h := range f.hits {
			r := byCode[h.Code]
			if r == nil {
				r = &BacktestResult{Code: h.Code, Severity: h.Severity, Action: h.Action}
				byCode[h.Code] = r
			}
			r.Hits++
			if reversed[f.id] {
				r.Reversed++
			}
			if len(r.Examples) < 5 {
				r.Examples = append(r.Examples, f.id)
			}
		}
	}
	out := make([]BacktestResult, 0, len(byCode))
	for _, r := range byCode {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out, checked, nil
}
