package api_test

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sanzi/sanzi/node/api"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestPersonsCallsNeedASignedInAccount: a decision or a rule-set call that
// reaches the API without a signed-in account in its context (a server
// wired without the interceptor) is refused before it reaches the
// supervision, which would take it for the node's own work.
func TestPersonsCallsNeedASignedInAccount(t *testing.T) {
	s := api.New(nil, nil) // never reached: the refusal comes first
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"DecideStep", func() error {
			_, err := s.DecideStep(ctx, &sanziv1.DecideStepRequest{Author: "someone", Decision: &sanziv1.StepDecision{Post: "village.head"}})
			return err
		}},
		{"SubmitRuleSet", func() error {
			_, err := s.SubmitRuleSet(ctx, &sanziv1.SubmitRuleSetRequest{Author: "someone", RulesJson: `{"version":"x","rules":[]}`})
			return err
		}},
		{"PublishRuleSet", func() error {
			_, err := s.PublishRuleSet(ctx, &sanziv1.PublishRuleSetRequest{Author: "someone", Version: "x"})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); status.Code(err) != codes.Unauthenticated {
				t.Fatalf("%v, want Unauthenticated", err)
			}
		})
	}
}
