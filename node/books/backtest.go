package books

import (
	"fmt"
	"sort"

	bolt "go.etcd.io/bbolt"

	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/rules"
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

// Backtest runs a draft rule set over every transaction, contract and
// disposal in the file read through tx, in chain order (disposals see the
// appraisals recorded before them), and reports per rule what it would have
// raised. It writes nothing: rule authors use it before publishing.
func Backtest(tx *bolt.Tx, e *rules.Engine) ([]BacktestResult, int, error) {
	byCode := map[string]*BacktestResult{}
	appraised := map[string]int64{}
	reversed := map[string]bool{}
	type fired struct {
		id   string
		hits []rules.Hit
	}
	var all []fired
	checked := 0
	err := ledger.Walk(tx, func(s *ledger.Stored) error {
		m, err := Decode(s.Type, s.Payload)
		if err != nil || m == nil {
			return err
		}
		var hits []rules.Hit
		switch m := m.(type) {
		case *sanziv1.Transaction:
			hits, err = e.CheckTransaction(m)
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
