package town

import (
	bolt "go.etcd.io/bbolt"

	"github.com/sanzi/sanzi/node/watch"
)

// useCrossArchive gives t's cross-village watcher the archive its
// Supervisor would (supervise's useArchives).
func useCrossArchive(t *Town, db *bolt.DB) {
	t.HeldHistory().UseArchive(watch.NewArchive(db, "supervise-held"))
}

// writeCrossArchive writes what t's last Save left to the archive, as
// the Supervisor's checkpoint does in its transaction, and drops it from
// memory once written.
func writeCrossArchive(t *Town, db *bolt.DB) error {
	b := t.HeldHistory().Staged()
	if b == nil {
		return nil
	}
	if err := db.Update(b.Write); err != nil {
		return err
	}
	b.Done()
	return nil
}
