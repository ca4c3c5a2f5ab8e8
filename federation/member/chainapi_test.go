package member

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sanzi/sanzi/federation/districtchain"
	"github.com/sanzi/sanzi/node/catalog"
	"github.com/sanzi/sanzi/node/entries"
)

// TestChainStatusNamesFields: a refused draft names every field at fault
// in BadRequest details, for the console to mark each next to its input;
// a refusal about no field carries none.
func TestChainStatusNamesFields(t *testing.T) {
	bad := catalog.Default("350505")
	bad.Version = "x"
	bad.Matters[0].Steps[1].Limit.Amount = 0
	bad.Matters[1].ThresholdFen = -1
	invalid := catalog.Validate(bad)
	if invalid == nil {
		t.Fatal("the broken catalog validates")
	}
	for _, tc := range []struct {
		name   string
		err    error
		code   codes.Code
		fields []string
	}{
		{"catalog", fmt.Errorf("%w: the catalog does not validate:\n%w", districtchain.ErrInvalid, invalid), codes.InvalidArgument,
			[]string{"matters[0].steps[1].limit.amount", "matters[1].threshold_fen"}},
		{"directive", &entries.FieldError{Field: "title", Reason: "required"}, codes.InvalidArgument, []string{"title"}},
		{"four eyes", fmt.Errorf("drafted by a: %w", entries.ErrFourEyes), codes.PermissionDenied, nil},
		{"exists, no field", fmt.Errorf("rule set v: %w", districtchain.ErrExists), codes.AlreadyExists, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, _ := status.FromError(chainStatus(tc.err))
			if st.Code() != tc.code || st.Message() != tc.err.Error() {
				t.Fatalf("status %v %q, want %v %q", st.Code(), st.Message(), tc.code, tc.err.Error())
			}
			var got []string
			for _, d := range st.Details() {
				if br, ok := d.(*errdetails.BadRequest); ok {
					for _, v := range br.GetFieldViolations() {
						got = append(got, v.GetField())
						if v.GetDescription() == "" {
							t.Errorf("%s named without a reason", v.GetField())
						}
					}
				}
			}
			if !slices.Equal(got, tc.fields) {
				t.Fatalf("fields %q, want %q", got, tc.fields)
			}
		})
	}
	var fe *entries.FieldError
	if !errors.As(invalid, &fe) {
		t.Fatal("catalog.Validate's problems are not FieldErrors")
	}
}
