package accounts

import (
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Status is whether an account may sign in.
type Status string

// Account statuses.
const (
	StatusActive   Status = "active"
	StatusDisabled Status = "disabled"
)

// Account is one person's account as the node's chain says it is.
type Account struct {
	ID     string
	Name   string
	Org    string
	Roles  []Role
	Posts  []string
	Status Status
	// DisabledReason is why it was disabled ("" while active).
	DisabledReason string
	// CreatedBy is the author of the entry that created it; CreatedEntry
	// that entry's id.
	CreatedBy    string
	CreatedAt    time.Time
	CreatedEntry string
	// ChangedBy, ChangedAt and LastEntry are of its newest entry.
	ChangedBy string
	ChangedAt time.Time
	LastEntry string
}

// Principal is the account as the authorizer sees it.
func (a Account) Principal() Principal {
	return Principal{Account: a.ID, Name: a.Name, Org: a.Org, Roles: slices.Clone(a.Roles), Posts: slices.Clone(a.Posts)}
}

func (a *Account) clone() Account {
	c := *a
	c.Roles, c.Posts = slices.Clone(a.Roles), slices.Clone(a.Posts)
	return c
}

// accountTypes are the entry types the state is made of.
func isAccountType(t sanziv1.EntryType) bool {
	return t >= sanziv1.EntryType_ENTRY_TYPE_ACCOUNT_CREATED && t <= sanziv1.EntryType_ENTRY_TYPE_ACCOUNT_PASSWORD_RESET
}

// state is every account of the node, made by applying the chain's account
// entries in order. It is only ever changed by apply, so replaying the
// chain from seq 1 gives the same state as the writes that made it.
type state struct {
	accounts map[string]*Account
	seen     uint64 // newest seq of the home chain applied
	hash     [ledger.HashSize]byte
}

// apply changes the state by one entry of the home chain. An entry that
// does not fit (a grant to an account the chain never created) is
// returned as an error for the caller to log and is otherwise skipped:
// the service never writes one, and refusing to start over it would lock
// every person out of the node.
func (st *state) apply(e *ledger.Stored) error {
	st.seen, st.hash = e.Seq, e.Hash
	if !isAccountType(e.Type) {
		return nil
	}
	touch := func(a *Account) {
		a.ChangedBy, a.ChangedAt, a.LastEntry = e.Author, e.RecordedAt, e.ID()
	}
	switch e.Type {
	case sanziv1.EntryType_ENTRY_TYPE_ACCOUNT_CREATED:
		var m sanziv1.AccountCreated
		if err := proto.Unmarshal(e.Payload, &m); err != nil {
			return fmt.Errorf("entry %s: %w", e.ID(), err)
		}
		if _, ok := st.accounts[m.Account]; ok {
			return fmt.Errorf("entry %s creates account %s again", e.ID(), m.Account)
		}
		a := &Account{ID: m.Account, Name: m.Name, Org: m.Org, Posts: slices.Clone(m.Posts), Status: StatusActive,
			CreatedBy: e.Author, CreatedAt: e.RecordedAt, CreatedEntry: e.ID()}
		for _, r := range m.Roles {
			a.Roles = append(a.Roles, Role(r))
		}
		touch(a)
		st.accounts[a.ID] = a
	case sanziv1.EntryType_ENTRY_TYPE_ACCOUNT_GRANTED, sanziv1.EntryType_ENTRY_TYPE_ACCOUNT_REVOKED:
		var m sanziv1.AccountGrant
		if err := proto.Unmarshal(e.Payload, &m); err != nil {
			return fmt.Errorf("entry %s: %w", e.ID(), err)
		}
		a, ok := st.accounts[m.Account]
		if !ok {
			return fmt.Errorf("entry %s names account %s, which the chain never created", e.ID(), m.Account)
		}
		grant := e.Type == sanziv1.EntryType_ENTRY_TYPE_ACCOUNT_GRANTED
		if m.Role != "" {
			a.Roles = setMember(a.Roles, Role(m.Role), grant)
		}
		if m.Post != "" {
			a.Posts = setMember(a.Posts, m.Post, grant)
		}
		touch(a)
	case sanziv1.EntryType_ENTRY_TYPE_ACCOUNT_DISABLED:
		var m sanziv1.AccountDisabled
		if err := proto.Unmarshal(e.Payload, &m); err != nil {
			return fmt.Errorf("entry %s: %w", e.ID(), err)
		}
		a, ok := st.accounts[m.Account]
		if !ok {
			return fmt.Errorf("entry %s names account %s, which the chain never created", e.ID(), m.Account)
		}
		a.Status, a.DisabledReason = StatusDisabled, m.Reason
		touch(a)
	case sanziv1.EntryType_ENTRY_TYPE_ACCOUNT_PASSWORD_RESET:
		var m sanziv1.AccountPasswordReset
		if err := proto.Unmarshal(e.Payload, &m); err != nil {
			return fmt.Errorf("entry %s: %w", e.ID(), err)
		}
		a, ok := st.accounts[m.Account]
		if !ok {
			return fmt.Errorf("entry %s names account %s, which the chain never created", e.ID(), m.Account)
		}
		touch(a)
	}
	return nil
}

// setMember adds v to set (in) or removes it, keeping the order of grants.
func setMember[T comparable](set []T, v T, in bool) []T {
	i := slices.Index(set, v)
	switch {
	case in && i < 0:
		return append(set, v)
	case !in && i >= 0:
		return slices.Delete(set, i, i+1)
	}
	return set
}
