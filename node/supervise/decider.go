package supervise

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/authz"
	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/workflow"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Who may decide a step (issue 12, item 5): the signed-in account holding
// the step's post, at an org its scope covers, and never the account that
// recorded the matter the procedure is about. The server judges by what it
// knows (the account's posts, the chain's authors), not by the post a
// caller names.
//
// A call with no signed-in account in its context is the node's own work
// (the demo seeder, a test driving the books): it is checked as before, by
// the workflow alone. Every call from the network carries one: node/api
// refuses a decision without it.

// recorderHops is how far the subject links are followed from a
// procedure's entry to the entries the matter is about: the procedure's
// subject (the transaction, contract, disposal or payment that opened it)
// and that entry's own subject (the asset disposed of, the contract paid).
const recorderHops = 2

// CheckDecider checks the signed-in account in ctx, if any, against p's
// open step for decision d and returns d with its post filled in: a
// decision naming no post takes the step's post when the account holds it.
// It refuses, wrapping books.ErrPermissionDenied and naming the post or
// the entry, an account whose scope does not cover p's org, one that does
// not hold the post decided (or, naming none, the step's), and one that
// authored an entry the matter is about (see Recorders), and an author
// other than the account. d is not changed.
// A town calls it for the town's steps of its villages' procedures (l
// holds the villages' chains); the Supervisor for the node's own.
func CheckDecider(ctx context.Context, l *ledger.Ledger, p *workflow.Proc, author string, d *sanziv1.StepDecision) (*sanziv1.StepDecision, error) {
	who, ok := authz.FromContext(ctx)
	if !ok {
		return d, nil
	}
	if err := checkAuthor(who, author); err != nil {
		return nil, err
	}
	org := p.P.GetOrg()
	if !who.Covers(org) {
		return nil, fmt.Errorf("%w: account %s of %s may not decide the steps of procedure %s of %s", books.ErrPermissionDenied, who.Account, who.Org, p.ID, org)
	}
	post := d.GetPost()
	if step, _ := p.OpenStep(); step != nil && post == "" {
		post = step.GetPost()
		if !slices.Contains(who.Posts, post) {
			return nil, fmt.Errorf("%w: step %s of procedure %s is decided by post %s, which account %s does not hold (%s)",
				books.ErrPermissionDenied, step.GetCode(), p.ID, post, who.Account, postsOf(who))
		}
	}
	if post != "" && !slices.Contains(who.Posts, post) {
		return nil, fmt.Errorf("%w: account %s does not hold post %s (%s); a step is decided only by someone holding its post",
			books.ErrPermissionDenied, who.Account, post, postsOf(who))
	}
	recs, err := Recorders(l, p)
	if err != nil {
		return nil, fmt.Errorf("decide a step of procedure %s: %w", p.ID, err)
	}
	var own []string
	for _, r := range recs {
		if r.Author == who.Account {
			own = append(own, r.What+" "+r.Entry)
		}
	}
	// The first step prepares the matter (a voucher filled in by whoever
	// recorded it: capture, 填制凭证); every later step reviews, approves or
	// pays it, and those are someone else's.
	if len(own) > 0 && (p.Step > 0 || p.Status != workflow.StatusOpen) {
		return nil, fmt.Errorf("%w: account %s recorded this matter (%s); the steps of procedure %s are decided by someone else (four eyes)",
			books.ErrPermissionDenied, who.Account, strings.Join(own, ", "), p.ID)
	}
	if post == d.GetPost() {
		return d, nil
	}
	out := proto.CloneOf(d)
	out.Post = post
	return out, nil
}

// checkAuthor refuses an entry's author that is not the signed-in account
// (the interceptor binds the request's author; this holds for callers that
// did not come through it).
func checkAuthor(who authz.Principal, author string) error {
	if author != who.Account {
		return fmt.Errorf("%w: author %q is not the signed-in account %q", books.ErrPermissionDenied, author, who.Account)
	}
	return nil
}

// postsOf names the posts an account holds, for a refusal.
func postsOf(p authz.Principal) string {
	if len(p.Posts) == 0 {
		return "it holds no post"
	}
	return "it holds " + strings.Join(p.Posts, ", ")
}

// Recorder is an account that recorded an entry a procedure is about.
type Recorder struct {
	Entry  string // the entry's id
	Author string // the account that recorded it
	What   string // the entry's type, e.g. "transaction"
}

// Recorders lists who recorded the matter of procedure p: the author of
// the entry that opened it and, following subject links recorderHops deep,
// of the transaction, contract or asset it is about. A subject this node
// does not hold (a procedure opened about another node's entry) ends the
// walk; any other failure to read the chain is returned.
func Recorders(l *ledger.Ledger, p *workflow.Proc) ([]Recorder, error) {
	var out []Recorder
	id := p.ID
	for hop := 0; hop <= recorderHops && id != ""; hop++ {
		origin, seq, err := ledger.ParseEntryID(id)
		if err != nil {
			return nil, fmt.Errorf("subject %q: %w", id, err)
		}
		st, err := l.Get(origin, seq)
		if errors.Is(err, ledger.ErrNotFound) && hop > 0 {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("who recorded %s: %w", id, err)
		}
		out = append(out, Recorder{Entry: id, Author: st.Author, What: strings.ToLower(strings.TrimPrefix(st.Type.String(), "ENTRY_TYPE_"))})
		next := st.Subject
		if hop == 0 && p.P.GetSubjectId() != "" {
			next = p.P.GetSubjectId()
		}
		if next == id {
			break
		}
		id = next
	}
	return out, nil
}
