package books

import (
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sanzi/sanzi/node/backtest"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/rules"
)

// BacktestResult is what one rule would have raised over a node's history.
type BacktestResult = backtest.Result

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

// Backtest runs a draft rule set over every chain in the file read through
// tx, each in chain order (package backtest says how), and reports per
// rule what it would have raised, every rule of the set listed. It writes
// nothing: rule authors use it before publishing. A running node answers
// the same over its API (RuleService.BacktestRules) without stopping.
func Backtest(tx *bolt.Tx, e *rules.Engine, loc *time.Location) ([]BacktestResult, int, error) {
	tally := backtest.NewTally(e)
	var cur *backtest.Chain
	origin := ""
	err := ledger.Walk(tx, func(s *ledger.Stored) error {
		if cur == nil || s.Origin != origin {
			if cur != nil {
				tally.Add(cur)
			}
			var err error
			if cur, err = backtest.NewChain(e, loc); err != nil {
				return err
			}
			origin = s.Origin
		}
		return cur.Observe(s)
	})
	if err != nil {
		return nil, 0, err
	}
	if cur != nil {
		tally.Add(cur)
	}
	return tally.Results(), tally.Checked(), nil
}
