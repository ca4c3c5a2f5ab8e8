// Package repair restores a node's own chain from its parent's verified
// copy (DESIGN.md: "restore from the parent's copy", issue 18), on the data
// folder of a stopped node, the way `sanzi verify` checks it. The local
// entries that differ from the parent's, and those the parent never
// received, are kept byte for byte in a quarantine folder and named in a
// TAMPER alert recorded after the restored head, so nothing is dropped
// silently, and the chain goes on from there.
package repair

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/keys"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/rules"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Puller reads a chain from the parent (SyncService.SyncPull).
type Puller interface {
	SyncPull(ctx context.Context, r *sanziv1.SyncPullRequest) ([][]byte, error)
}

// Config is one repair.
type Config struct {
	// DataDir is the stopped node's data folder (ledger.db, keys/).
	DataDir string
	// Origin is the chain to restore: the node's own.
	Origin string
	Parent Puller
	// Author is who repairs (recorded in the repair entry).
	Author string
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Result is what a repair did.
type Result struct {
	ledger.Restored
	// Quarantine is the folder the removed local entries were kept in
	// (empty when none were removed).
	Quarantine string `json:"quarantine,omitempty"`
	// Entry is the id of the repair's TAMPER alert.
	Entry string `json:"entry"`
}

// Run restores cfg.Origin's chain from the parent's copy and records the
// repair. With the local chain already equal to the parent's it removes
// nothing and records nothing.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.DataDir == "" || cfg.Origin == "" || cfg.Parent == nil || cfg.Author == "" {
		return nil, errors.New("repair: DataDir, Origin, Parent and Author are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ring, err := keys.Load(filepath.Join(cfg.DataDir, "keys"))
	if err != nil {
		return nil, err
	}
	pub, ok := ring.Public(cfg.Origin)
	if _, signs := ring.Private(cfg.Origin); !ok || !signs {
		return nil, fmt.Errorf("repair: %s has no signing key in %s: only a node's own chain is repaired here", cfg.Origin, filepath.Join(cfg.DataDir, "keys"))
	}
	var copyOf [][]byte
	for {
		page, err := cfg.Parent.SyncPull(ctx, &sanziv1.SyncPullRequest{Origin: cfg.Origin, FromSeq: uint64(len(copyOf)) + 1, Limit: 1000})
		if err != nil {
			return nil, fmt.Errorf("read the parent's copy of %s from seq %d: %w", cfg.Origin, len(copyOf)+1, err)
		}
		if len(page) == 0 {
			break
		}
		copyOf = append(copyOf, page...)
	}
	at := cfg.Now().UTC()
	quarantine := filepath.Join(cfg.DataDir, "quarantine", cfg.Origin+"-"+at.Format("20060102T150405Z"))
	keep := func(seq uint64, raw []byte, lost bool) error {
		if err := os.MkdirAll(quarantine, 0o700); err != nil {
			return err
		}
		name := fmt.Sprintf("%s-%d.entry", cfg.Origin, seq)
		if lost {
			name = fmt.Sprintf("%s-%d.lost.entry", cfg.Origin, seq)
		}
		return keys.WriteFile(filepath.Join(quarantine, name), raw, 0o600)
	}
	path := filepath.Join(cfg.DataDir, "ledger.db")
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no ledger in %s: %w", cfg.DataDir, err)
	}
	restored, err := ledger.Restore(path, cfg.Origin, pub, copyOf, books.Indexer(), keep)
	if err != nil {
		return nil, err
	}
	res := &Result{Restored: *restored}
	if len(restored.Replaced)+len(restored.Lost) == 0 {
		return res, nil
	}
	res.Quarantine = quarantine
	manifest, err := json.MarshalIndent(map[string]any{"restored": restored, "at": at, "by": cfg.Author,
		"note": "local entries removed by `sanzi repair --from-parent`, byte for byte as they were stored; *.lost.entry never reached the parent"}, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := keys.WriteFile(filepath.Join(quarantine, "manifest.json"), manifest, 0o600); err != nil {
		return nil, err
	}
	st, err := record(ctx, path, ring, cfg, res, at)
	if err != nil {
		return res, fmt.Errorf("the chain is restored and the removed entries are in %s, but the repair entry was not recorded: %w", quarantine, err)
	}
	res.Entry = st.ID()
	return res, nil
}

// record appends the repair's TAMPER alert after the restored head: who,
// when, which entries were replaced and which were lost.
func record(ctx context.Context, path string, ring *keys.Ring, cfg Config, res *Result, at time.Time) (*ledger.Stored, error) {
	l, err := ledger.Open(ledger.Config{Path: path, Keys: ring, Indexer: books.Indexer(), Split: entries.Masker{}, Now: cfg.Now})
	if err != nil {
		return nil, err
	}
	defer l.Close()
	if ve := l.ChainBroken(cfg.Origin); ve != nil {
		return nil, fmt.Errorf("the restored chain does not verify: %w", ve)
	}
	a := &sanziv1.Alert{Org: cfg.Origin, RuleCode: "TAMPER", Severity: string(rules.SeverityRed),
		Reason: fmt.Sprintf("账本修复：本村账链已按上级副本恢复至第 %d 条；本地被改动或上级未收到的第 %s 条已隔离保存，未收到的记账已丢失，请补录并核查", res.Head, seqs(append(res.Replaced, res.Lost...))),
		Key:    fmt.Sprintf("TAMPER/REPAIR/%s/%d/%d", cfg.Origin, res.Head, at.Unix()),
		Evidence: map[string]string{"repaired_by": cfg.Author, "repaired_at": at.Format(time.RFC3339), "restored_head": fmt.Sprint(res.Head),
			"replaced": seqs(res.Replaced), "lost": seqs(res.Lost), "quarantine": res.Quarantine}}
	payload, err := proto.Marshal(a)
	if err != nil {
		return nil, err
	}
	out, err := l.Append(ctx, ledger.Record{Origin: cfg.Origin, Author: cfg.Author, Type: sanziv1.EntryType_ENTRY_TYPE_ALERT, Payload: payload})
	if err != nil {
		return nil, fmt.Errorf("record the repair: %w", err)
	}
	return out[0], nil
}

func seqs(s []uint64) string {
	parts := make([]string, len(s))
	for i, n := range s {
		parts[i] = fmt.Sprint(n)
	}
	return strings.Join(parts, ",")
}
