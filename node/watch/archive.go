package watch

import (
	"bytes"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/sanzi/sanzi/node/checkpoint"
	"github.com/sanzi/sanzi/node/ledger"
)

// Archive keeps in the node's bbolt file, instead of its memory and its
// checkpoint, the entries of the history that no list or sum in memory
// needs (resident says which do): a start then neither reads nor indexes
// them again (issue 17). Today those are the procedures a record opens
// (one per business record, about half of what a village keeps): a rule
// finds one only by its id (a StepDecision or a Reversal naming it) or
// by its subject (EXPIRING's renewal), both one bbolt lookup.
//
// What it holds is written only with a checkpoint (Batch.Write, in the
// checkpoint's own bbolt transaction), as the workflow's archive is: the
// archived entries of the state the checkpoint encodes. An archived
// entry a later one changes (reversed, closed by a decision) is read
// into memory, changed there, and written again by the next checkpoint;
// a crash before that replays the change from the chain. A start that
// does not use the checkpoint clears the archive in the transaction that
// drops it (Clear), and the replay fills both again.
//
// Inside its bucket (ArchiveBucket):
//
//	r: entry key → the entry, as saveRec writes it
//	s: keyed(subject) + entry key → nothing (procedures by subject)
//	v: keyed(invoice) + entry key → entry id (transactions by invoice)
type Archive struct {
	db     *bolt.DB
	bucket []byte
	// procsOnly: only the procedures a record opens leave memory (see
	// ProceduresOnly).
	procsOnly bool
}

// ProceduresOnly makes a keep in memory every entry but the procedures a
// record opens, as before the sums were checkpointed (issue 17): a town's
// cross-village watcher, whose state a test compares as its checkpoint
// writes it (Town.Save), not whole (SaveFull).
// TODO(issue 17): let it archive what listed does not hold too, once
// the town's state compares whole.
func (a *Archive) ProceduresOnly() *Archive { a.procsOnly = true; return a }

// ArchiveBucket is the top-level bucket of the archive named name.
func ArchiveBucket(name string) []byte { return []byte("watch-archive/" + name) }

// NewArchive is the archive named name in db.
func NewArchive(db *bolt.DB, name string) *Archive {
	return &Archive{db: db, bucket: ArchiveBucket(name)}
}

// Clear forgets every entry archived, in tx: the caller drops the
// checkpoint the archive goes with in the same transaction.
func (a *Archive) Clear(tx *bolt.Tx) error {
	if tx.Bucket(a.bucket) == nil {
		return nil
	}
	if err := tx.DeleteBucket(a.bucket); err != nil {
		return fmt.Errorf("clear the rules' archive %s: %w", a.bucket, err)
	}
	return nil
}

var (
	subRecs     = []byte("r")
	subSubjects = []byte("s")
	subInvoices = []byte("v")
)

// keyed is the prefix of an index's entries under v: its length first,
// so that no value's prefix is another's.
func keyed(v string) []byte {
	return append([]byte{byte(len(v) >> 8), byte(len(v))}, v...)
}

// UseArchive keeps the entries resident does not keep in memory in a
// (nil: every entry in memory). The owner sets it before the first Observe, after New or Load,
// with the archive its checkpoints are written with.
func (w *Watcher) UseArchive(a *Archive) { w.st.arch = a }

// Archive is the archive UseArchive set, nil when none: an owner that
// makes a new Watcher in place of this one (a restore) hands it on.
func (w *Watcher) Archive() *Archive { return w.st.arch }

// resident says whether r stays in memory (and in the checkpoint's
// section) rather than in the archive: every entry without an archive;
// with one, only those a list of the rules holds (listed), the others
// being read only by id (decide, reverse), by subject (renewed) or by
// invoice (claimed), and counted in the sums the checkpoint keeps
// (saveSums). Once not resident, an entry never is again: what makes it
// listed (reversed, split) changes one way only.
func (s *state) resident(r *rec) bool {
	switch {
	case s.arch == nil:
		return true
	case s.arch.procsOnly:
		return r.proc == nil || r.proc.GetPeriod() != "" || r.proc.GetMatterCode() == "GOV-COMPLAINT"
	}
	return listed(r)
}

// touch notes that r changed: an archived entry is then kept in memory
// (fetched) until a checkpoint has written it again.
func (s *state) touch(r *rec) {
	r.gen++
	if r.archived && s.ids.added[r.id] != r && s.fetched[r.id] == nil {
		if s.fetched == nil {
			s.fetched = map[string]*rec{}
		}
		s.fetched[r.id] = r
	}
}

// lookup is the entry kept under id, in memory or in the archive, nil
// when none is. One read from the archive is not kept: the caller that
// changes it says so (touch).
func (s *state) lookup(id string) *rec {
	if r := s.ids.get(id); r != nil {
		return r
	}
	if r := s.fetched[id]; r != nil || s.arch == nil {
		return r
	}
	var r *rec
	err := s.arch.db.View(func(tx *bolt.Tx) error {
		var err error
		r, err = s.arch.get(tx, ledger.IDKey(id))
		return err
	})
	if err != nil || r == nil || r.id != id {
		// An archive that does not decode is a damaged file, which the
		// chains' check at start reports; the rules judge as if the
		// entry were not kept.
		return nil
	}
	return r
}

// get reads the entry under key, nil when none.
func (a *Archive) get(tx *bolt.Tx, key []byte) (*rec, error) {
	root := tx.Bucket(a.bucket)
	if root == nil {
		return nil, nil
	}
	v := root.Bucket(subRecs).Get(key)
	if v == nil {
		return nil, nil
	}
	d := &histReader{s: string(v)}
	r := &rec{}
	var al allocs
	if err := d.rec(r, &al); err != nil {
		return nil, fmt.Errorf("archived entry %x: %w", key, err)
	}
	if err := d.done(); err != nil {
		return nil, fmt.Errorf("archived entry %x: %w", key, err)
	}
	r.archived, r.gen, r.saved = true, 1, 1
	return r, nil
}

// bySubject calls f on each entry the archive holds about subject, in
// entry-key order, the version in memory in place of an archived one
// that changed since, until f says stop; entries still in memory (not yet
// written, or written by a checkpoint whose Done has not run) are the
// caller's to look at.
func (s *state) bySubject(subject string, f func(*rec) bool) {
	if s.arch == nil {
		return
	}
	_ = s.arch.db.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(s.arch.bucket)
		if root == nil {
			return nil
		}
		prefix := keyed(subject)
		c := root.Bucket(subSubjects).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			r, err := s.arch.get(tx, k[len(prefix):])
			if err != nil || r == nil {
				continue // see lookup
			}
			if s.ids.added[r.id] != nil {
				continue // in memory, newer
			}
			if m := s.fetched[r.id]; m != nil {
				r = m
			}
			if !f(r) {
				return nil
			}
		}
		return nil
	})
}

// Batch is the entries a checkpoint leaves to the archive: Save staged
// them (Staged hands them over); the checkpoint writes them in its
// transaction (Write) and, once it committed, those not changed since
// leave the Watcher's memory (Done).
type Batch struct {
	a        *Archive
	s        *state
	recs     []staged
	invoices []invoiced
}

// invoiced is a transaction to index by its invoice.
type invoiced struct {
	r        *rec
	k        string
	key, val []byte
}

type staged struct {
	r        *rec
	gen      uint32
	key, val []byte
	subject  []byte // subject index key, nil when none
}

// Len is how many entries the batch archives (and indexes by invoice).
func (b *Batch) Len() int { return len(b.recs) + len(b.invoices) }

// stage makes the batch of the entries in memory that are not resident
// (out, those kept by id) and not written as they are now, in chain
// order.
func (s *state) stage(out []*rec) *Batch {
	if s.arch == nil {
		return nil
	}
	var rs []*rec
	for _, r := range out {
		if !r.archived || r.gen != r.saved {
			rs = append(rs, r)
		}
	}
	for _, r := range s.fetched {
		if r.gen != r.saved && s.ids.get(r.id) != r { // else in out
			rs = append(rs, r)
		}
	}
	slices.SortFunc(rs, func(a, b *rec) int { return a.seq - b.seq })
	b := &Batch{a: s.arch, s: s, recs: make([]staged, 0, len(rs))}
	for _, r := range rs {
		var e checkpoint.Encoder
		saveRec(&e, r)
		val, _ := e.Data() // saveRec writes no message: nothing can fail
		st := staged{r: r, gen: r.gen, key: ledger.IDKey(r.id), val: val}
		if sub := r.proc.GetSubjectId(); sub != "" {
			st.subject = append(keyed(sub), st.key...)
		}
		b.recs = append(b.recs, st)
	}
	for k, rs := range s.invoices {
		for _, r := range rs {
			b.invoices = append(b.invoices, invoiced{r: r, k: k, key: append(keyed(k), ledger.IDKey(r.id)...), val: []byte(r.id)})
		}
	}
	slices.SortFunc(b.invoices, func(x, y invoiced) int { return bytes.Compare(x.key, y.key) })
	return b
}

// Write puts the batch in the archive, in tx.
func (b *Batch) Write(tx *bolt.Tx) error {
	if b.Len() == 0 {
		return nil
	}
	root, err := tx.CreateBucketIfNotExists(b.a.bucket)
	if err != nil {
		return fmt.Errorf("archive the rules' entries: %w", err)
	}
	recs, err := root.CreateBucketIfNotExists(subRecs)
	if err != nil {
		return fmt.Errorf("archive the rules' entries: %w", err)
	}
	subjects, err := root.CreateBucketIfNotExists(subSubjects)
	if err != nil {
		return fmt.Errorf("archive the rules' entries: %w", err)
	}
	// Keys come mostly in order, after what the archive holds (a
	// chain's seqs only grow): pages filled rather than split half empty.
	recs.FillPercent, subjects.FillPercent = 0.95, 0.95
	var subs [][]byte
	for _, st := range b.recs {
		if err := recs.Put(st.key, st.val); err != nil {
			return fmt.Errorf("archive entry %s: %w", st.r.id, err)
		}
		if st.subject != nil {
			subs = append(subs, st.subject)
		}
	}
	slices.SortFunc(subs, bytes.Compare)
	for _, k := range subs {
		if err := subjects.Put(k, nil); err != nil {
			return fmt.Errorf("index archived entry by subject: %w", err)
		}
	}
	if len(b.invoices) == 0 {
		return nil
	}
	invoices, err := root.CreateBucketIfNotExists(subInvoices)
	if err != nil {
		return fmt.Errorf("archive the rules' entries: %w", err)
	}
	invoices.FillPercent = 0.95
	for _, v := range b.invoices {
		if err := invoices.Put(v.key, v.val); err != nil {
			return fmt.Errorf("index transaction %s by invoice: %w", v.r.id, err)
		}
	}
	return nil
}

// Done drops from memory the entries of a batch its checkpoint committed
// that did not change since it was staged: they are read from the
// archive from now on. The caller holds what serialises the Watcher.
func (b *Batch) Done() {
	s := b.s
	for _, st := range b.recs {
		r := st.r
		r.archived = true
		if r.saved < st.gen {
			r.saved = st.gen
		}
		if r.gen != st.gen {
			continue // changed since: the next checkpoint writes it again
		}
		if s.fetched[r.id] == r {
			delete(s.fetched, r.id)
		}
		if s.ids.added[r.id] == r {
			delete(s.ids.added, r.id)
			if sub := r.proc.GetSubjectId(); sub != "" {
				l := slices.DeleteFunc(s.subjects[sub], func(o *rec) bool { return o == r })
				if len(l) == 0 {
					delete(s.subjects, sub)
				} else {
					s.subjects[sub] = l
				}
			}
		}
	}
	for _, v := range b.invoices {
		l := slices.DeleteFunc(s.invoices[v.k], func(o *rec) bool { return o == v.r })
		if len(l) == 0 {
			delete(s.invoices, v.k)
		} else {
			s.invoices[v.k] = l
		}
	}
}

// claimed are the transactions kept under invoice key k, in chain order:
// with an archive, those it indexes and those in memory not yet written.
func (s *state) claimed(k string) []*rec {
	mem := s.invoices[k]
	if s.arch == nil {
		return mem
	}
	var out []*rec
	_ = s.arch.db.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(s.arch.bucket)
		if root == nil || root.Bucket(subInvoices) == nil {
			return nil
		}
		prefix := keyed(k)
		c := root.Bucket(subInvoices).Cursor()
		for key, id := c.Seek(prefix); key != nil && bytes.HasPrefix(key, prefix); key, id = c.Next() {
			// In memory by id, else in the archive (not listed).
			r := s.ids.get(string(id))
			if r == nil {
				r = s.fetched[string(id)]
			}
			if r == nil {
				var err error
				if r, err = s.arch.get(tx, key[len(prefix):]); err != nil || r == nil {
					continue // see lookup
				}
			}
			if !slices.Contains(mem, r) {
				out = append(out, r)
			}
		}
		return nil
	})
	if out == nil {
		return mem
	}
	out = append(out, mem...)
	slices.SortFunc(out, func(a, b *rec) int { return a.seq - b.seq })
	return out
}

// Staged hands over what the last Save left to the archive (nil without
// an archive), for the checkpoint to write in its transaction; Done then
// drops it from memory.
func (w *Watcher) Staged() *Batch {
	b := w.staged
	w.staged = nil
	return b
}

// SaveFull writes what Save writes, with every entry kept, in memory or
// in the archive, in the checkpoint's section: the history whichever way
// it is kept, so that two Watchers, one with an archive and one without,
// compare (a node restored from its checkpoint beside one that replayed
// its chains). It stages nothing.
func (w *Watcher) SaveFull(e *checkpoint.Encoder) error {
	w.wait()
	s := &w.st
	byID := map[string]*rec{}
	if s.arch != nil {
		err := s.arch.db.View(func(tx *bolt.Tx) error {
			root := tx.Bucket(s.arch.bucket)
			if root == nil {
				return nil
			}
			return root.Bucket(subRecs).ForEach(func(k, _ []byte) error {
				r, err := s.arch.get(tx, k)
				if r != nil {
					byID[r.id] = r
				}
				return err
			})
		})
		if err != nil {
			return fmt.Errorf("read the rules' archive: %w", err)
		}
	}
	for id, r := range s.fetched {
		byID[id] = r
	}
	for _, r := range s.ids.all() {
		byID[r.id] = r
	}
	recs := make([]*rec, 0, len(byID))
	for _, r := range byID {
		recs = append(recs, r)
	}
	slices.SortFunc(recs, func(a, b *rec) int { return a.seq - b.seq })
	e.Section(func(e *checkpoint.Encoder) {
		e.Set(w.raised)
		e.Int(int64(s.seq))
		e.Int(int64(s.first))
		saveSums(e, s)
		e.Uint(uint64(len(recs)))
		for _, r := range recs {
			saveRec(e, r)
		}
	})
	return nil
}
