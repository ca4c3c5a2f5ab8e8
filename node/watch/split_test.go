package watch

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/rules"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// splitOracle is SPLIT as it was before it kept only the open payments
// (issue 17): every dated expense of a payee in date order, walked from
// window_days before the entry to window_days after it on every entry. It
// is kept here as the reference the indexed rule must agree with.
type splitOracle struct {
	seq    int
	byID   map[string]*oraclePay
	payees map[string][]*oraclePay
}

type oraclePay struct {
	id              string
	seq             int
	date            day
	amount          int64
	reversed, split bool
}

func (o *splitOracle) reverse(id string) {
	if p := o.byID[id]; p != nil {
		p.reversed = true
	}
}

// observe is the old split on an expense, then the old state.add.
func (o *splitOracle) observe(id, payee string, date day, amount, thr int64, span day) (f *finding) {
	o.seq++
	cur := &oraclePay{id: id, seq: o.seq, date: date, amount: amount}
	o.byID[id] = cur
	if payee == "" || date == noDay {
		return nil
	}
	defer func() {
		i, _ := slices.BinarySearchFunc(o.payees[payee], cur, oracleByDate)
		o.payees[payee] = slices.Insert(o.payees[payee], i, cur)
	}()
	if amount >= thr || span < 0 { // a negative span found nothing (or, under a threshold of 0 or less, panicked)
		return nil
	}
	prior := o.payees[payee]
	from, _ := slices.BinarySearchFunc(prior, cur.date-span, func(p *oraclePay, d day) int { return cmp.Compare(p.date, d) })
	var cands []*oraclePay
	for _, p := range prior[from:] {
		if p.date > cur.date+span {
			break
		}
		if !p.reversed && !p.split && p.amount < thr {
			cands = append(cands, p)
		}
	}
	i, _ := slices.BinarySearchFunc(cands, cur, oracleByDate)
	cands = slices.Insert(cands, i, cur)
	var sum int64
	j := 0
	for i, s := range cands {
		if s.date > cur.date {
			break
		}
		for ; j < len(cands) && cands[j].date <= s.date+span; j++ {
			sum += cands[j].amount
		}
		if sum < thr {
			sum -= s.amount
			continue
		}
		ids := make([]string, 0, j-i)
		for _, p := range cands[i:j] {
			p.split = true
			ids = append(ids, p.id)
		}
		return &finding{subject: cur.id, key: "SPLIT/" + payee + "/" + s.id,
			detail: fmt.Sprintf("%d笔合计%s分", j-i, fen(sum)),
			ev: map[string]string{
				"payee": payee, "payments": strings.Join(ids, ","), "count": strconv.Itoa(j - i), "sum_fen": fen(sum),
				"first_date": s.date.String(), "last_date": cands[j-1].date.String(),
			}}
	}
	return nil
}

func oracleByDate(a, b *oraclePay) int {
	return cmp.Or(cmp.Compare(a.date, b.date), cmp.Compare(a.seq, b.seq))
}

// TestSplitAgainstOracle feeds generated histories (a few payees, dates
// back and forth over two months, amounts mostly under the threshold, some
// over, a few of zero or less, reversals, undated payments, the rule retuned
// and the watcher checkpointed on the way) to the watcher and to the old
// algorithm, and wants the same SPLIT hits, evidence and all.
func TestSplitAgainstOracle(t *testing.T) {
	base := bj(t, "2026-01-01")
	names := []string{"某建材公司", "另一公司", "张三"}
	type tune struct{ span, thr int64 }
	tunes := []tune{{30, 50_000}, {7, 50_000}, {0, 20_000}, {3, 100_000}, {30, 0}, {1, 5_000}}
	fired := 0
	for seed := range uint64(40) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rnd := rand.New(rand.NewPCG(seed, 17))
			cur := tunes[0]
			if seed%3 == 1 {
				cur = tunes[rnd.IntN(len(tunes))]
			}
			mods := func(c tune) mod {
				return params("SPLIT", map[string]int64{"window_days": c.span, "split_threshold_fen": c.thr})
			}
			w, _ := watcher(t, mods(cur))
			o := &splitOracle{byID: map[string]*oraclePay{}, payees: map[string][]*oraclePay{}}
			for n := 1; n <= 600; n++ {
				evID := id(n)
				var m proto.Message
				switch k := rnd.IntN(100); {
				case k < 5 && n > 1:
					target := id(1 + rnd.IntN(n-1))
					m = &sanziv1.Reversal{Org: org, TargetId: target}
					o.reverse(target)
				case k < 8:
					m = inc(int64(1+rnd.IntN(40_000)), "2026-01-10")
					o.seq++ // kept and numbered, no payment
				default:
					date := base.AddDate(0, 0, rnd.IntN(60)).Format("2006-01-02")
					if rnd.IntN(50) == 0 {
						date = "" // undated: no window
					}
					var amount int64
					switch a := rnd.IntN(100); {
					case a < 3:
						amount = -int64(rnd.IntN(3_000))
					case a < 5:
						amount = 0
					case a < 10:
						amount = cur.thr + int64(rnd.IntN(10_000))
					default:
						amount = 1 + int64(rnd.IntN(int(max(cur.thr/3, 1))))
					}
					tx := exp(amount, date, payee(names[rnd.IntN(len(names))], ""))
					m = tx
					var f *finding
					if date == "" {
						f = o.observe(evID, "", noDay, amount, cur.thr, day(cur.span))
					} else {
						f = o.observe(evID, payeeKey(tx.GetCounterparty()), parseDay(date), amount, cur.thr, day(cur.span))
					}
					hits := ofCode(w.Observe(Event{ID: evID, RecordedAt: base, Msg: m}), "SPLIT")
					switch {
					case f == nil && len(hits) != 0:
						t.Fatalf("entry %d: hit %s %v, the old rule found none", n, hits[0].Key, hits[0].Evidence)
					case f != nil && len(hits) != 1:
						t.Fatalf("entry %d: %d hits, the old rule found %s %v", n, len(hits), f.key, f.ev)
					case f != nil:
						fired++
						h := hits[0]
						if h.Key != f.key || h.Subject != f.subject || !strings.HasSuffix(h.Reason, "（"+f.detail+"）") {
							t.Fatalf("entry %d: hit %s %s %q, the old rule %s %s %q", n, h.Key, h.Subject, h.Reason, f.key, f.subject, f.detail)
						}
						for k, v := range f.ev {
							if h.Evidence[k] != v {
								t.Fatalf("entry %d: evidence %s = %q, the old rule %q", n, k, h.Evidence[k], v)
							}
						}
					}
					continue
				}
				w.Observe(Event{ID: evID, RecordedAt: base, Msg: m})
				switch r := rnd.IntN(100); {
				case r < 2: // the district retunes the rule
					cur = tunes[rnd.IntN(len(tunes))]
					if err := w.SetRules(engine(t, mods(cur))); err != nil {
						t.Fatal(err)
					}
				case r < 4: // a restart from a checkpoint
					w = reloaded(t, w, mods(cur))
				}
			}
		})
	}
	if fired < 200 {
		t.Errorf("only %d SPLIT hits over the generated histories: the comparison tested little", fired)
	}
}

func ofCode(hits []rules.Hit, code string) []rules.Hit {
	return slices.DeleteFunc(hits, func(h rules.Hit) bool { return h.Code != code })
}

// BenchmarkSplitOneSupplier is a town catching up on its villages: 7,500
// small payments to one supplier on one day (as TestSyncTwoTownsSixVillages
// records them): observed by a whole Watcher (every rule of the default
// set, SPLIT among them), and by the old SPLIT walk alone. ns/op is per
// history of n payments.
func BenchmarkSplitOneSupplier(b *testing.B) {
	const n = 7_500
	thr, span := int64(5_000_000), day(30)
	date := parseDay("2026-12-07")
	evs := make([]Event, n)
	for i := range evs {
		evs[i] = Event{ID: id(i + 1), RecordedAt: bj(b, "2026-12-07"), Msg: exp(int64(1000+i), "2026-12-07", payee("福州某建材有限公司", "91350100M000100Y43"))}
	}
	b.Run("open payments", func(b *testing.B) {
		for b.Loop() {
			w, _ := watcher(b)
			for _, ev := range evs {
				w.Observe(ev)
			}
		}
	})
	b.Run("old walk", func(b *testing.B) {
		for b.Loop() {
			o := &splitOracle{byID: map[string]*oraclePay{}, payees: map[string][]*oraclePay{}}
			for i, ev := range evs {
				o.observe(ev.ID, "91350100M000100Y43", date, int64(1000+i), thr, span)
			}
		}
	})
}
