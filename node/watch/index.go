package watch

import (
	"cmp"
	"slices"
	"strings"
)

// recIndex finds a kept entry by id, for a Reversal or a StepDecision
// naming it. The entries a checkpoint held are found without a map: a
// history of a million entries spent a third of its build inserting
// them into one (issue 17), each insert a cache miss, while they come in
// chain order already, so that a sorted list of them per origin costs one
// pass. Entries observed since go in a map.
type recIndex struct {
	loaded   []rec              // from the checkpoint (build), in chain order
	byOrigin map[string][]int32 // loaded, by origin, sorted by seq
	odd      map[string]*rec    // loaded whose id is not <origin>-<seq>
	added    map[string]*rec    // observed since
}

func newRecIndex() recIndex { return recIndex{added: map[string]*rec{}} }

// load indexes recs, the entries a checkpoint held: in one pass when
// each origin's come in seq order, as a chain's do.
func (x *recIndex) load(recs []rec) {
	x.loaded, x.byOrigin, x.odd = recs, map[string][]int32{}, map[string]*rec{}
	unsorted := map[string]bool{}
	var cur string
	var list []int32
	var prev uint64
	have := false
	for i := range recs {
		origin, seq, ok := splitID(recs[i].id)
		if !ok {
			x.odd[recs[i].id] = &recs[i]
			continue
		}
		if !have || origin != cur {
			if have {
				x.byOrigin[cur] = list
			}
			cur, list, prev, have = origin, x.byOrigin[origin], 0, true
			if n := len(list); n > 0 {
				prev = x.seqOf(list[n-1])
			}
		}
		if seq <= prev {
			unsorted[origin] = true
		}
		prev = seq
		list = append(list, int32(i))
	}
	if have {
		x.byOrigin[cur] = list
	}
	for origin := range unsorted {
		slices.SortFunc(x.byOrigin[origin], func(a, b int32) int { return cmp.Compare(x.seqOf(a), x.seqOf(b)) })
	}
}

func (x *recIndex) seqOf(i int32) uint64 { _, seq, _ := splitID(x.loaded[i].id); return seq }

// add keeps r, observed after the load.
func (x *recIndex) add(r *rec) { x.added[r.id] = r }

// get is the entry kept under id, nil when none is.
func (x *recIndex) get(id string) *rec {
	if r := x.added[id]; r != nil || len(x.loaded) == 0 {
		return r
	}
	origin, seq, ok := splitID(id)
	if !ok {
		return x.odd[id]
	}
	list := x.byOrigin[origin]
	i, found := slices.BinarySearchFunc(list, seq, func(i int32, seq uint64) int { return cmp.Compare(x.seqOf(i), seq) })
	if !found || x.loaded[list[i]].id != id {
		return nil
	}
	return &x.loaded[list[i]]
}

// len is how many entries are kept.
func (x *recIndex) len() int { return len(x.loaded) + len(x.added) }

// all is every entry kept, in chain order.
func (x *recIndex) all() []*rec {
	out := make([]*rec, 0, x.len())
	for i := range x.loaded {
		out = append(out, &x.loaded[i])
	}
	for _, r := range x.added {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *rec) int { return cmp.Compare(a.seq, b.seq) })
	return out
}

// splitID splits an entry id "<origin>-<seq>" (ledger.EntryID); ok is
// false for any other form, a seq with a leading zero included, so that
// the two parts make the id again.
func splitID(id string) (origin string, seq uint64, ok bool) {
	i := strings.LastIndexByte(id, '-')
	digits := id[i+1:]
	if i < 0 || len(digits) == 0 || len(digits) > 19 || digits[0] == '0' {
		return "", 0, false
	}
	for j := 0; j < len(digits); j++ {
		c := digits[j]
		if c < '0' || c > '9' {
			return "", 0, false
		}
		seq = seq*10 + uint64(c-'0')
	}
	return id[:i], seq, true
}
