package entries

import (
	"errors"
	"fmt"
	"strings"
	"time"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// The checks on what the district publishes down its chain. The district's
// writer (federation/districtchain) runs them before it writes, and every
// node that applies a publication runs them again: a writer that skipped
// them (an older binary, a hand-made entry signed with a district key) must
// not put in force what the rules say nobody may.

// ErrFourEyes refuses a rule-set publication by an account that drafted
// the set (DOMAIN.md: publishing by a second person).
var ErrFourEyes = errors.New("publishing needs a second person (four eyes)")

// FourEyes returns ErrFourEyes when publisher, the account that publishes
// a rule set, is one of drafters, the accounts its draft names (the draft's
// drafted_by and its entry's author); nil otherwise.
func FourEyes(publisher string, drafters ...string) error {
	for _, d := range drafters {
		if d == publisher {
			return ErrFourEyes
		}
	}
	return nil
}

// FieldError says which field of an entry fails its check and why.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// CheckDirective says why a directive cannot be issued or acted on, or nil:
// it needs addressees (org codes or their prefixes, 6 to 12 digits), a
// title, a task and a deadline that is a date.
func CheckDirective(d *sanziv1.Directive) error {
	switch {
	case len(d.GetAddressees()) == 0:
		return &FieldError{"addressees", "required: the org codes (or prefixes) it is for"}
	case strings.TrimSpace(d.GetTitle()) == "":
		return &FieldError{"title", "required"}
	case strings.TrimSpace(d.GetTask()) == "":
		return &FieldError{"task", "required: what must be done"}
	}
	if _, err := time.Parse(time.DateOnly, d.GetDeadline()); err != nil {
		return &FieldError{"deadline", fmt.Sprintf("%q is not a date, YYYY-MM-DD", d.GetDeadline())}
	}
	for _, a := range d.GetAddressees() {
		if strings.Trim(a, "0123456789") != "" || len(a) < 6 || len(a) > 12 {
			return &FieldError{"addressees", fmt.Sprintf("%q is not an org code or its prefix (6 to 12 digits)", a)}
		}
	}
	return nil
}
