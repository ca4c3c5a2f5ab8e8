package watch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/sanzi/sanzi/node/rules"
)

// ParseRuleSet reads a rule set from JSON, refusing unknown fields so a
// misspelt "parms" is not silently dropped, and compiles it with its
// stateful rules (each registered here, with the params it needs), so a
// draft that could not run is refused before anyone records it. The
// village's and town's own drafts (node/supervise) and the district's
// (federation/districtchain) pass here.
func ParseRuleSet(raw []byte) (*rules.Engine, error) {
	var rs rules.RuleSet
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rs); err != nil {
		return nil, fmt.Errorf("not a rule set: %w", err)
	}
	e, err := rules.Compile(rs)
	if err == nil {
		_, err = New(e, time.UTC)
	}
	if err != nil {
		return nil, err
	}
	return e, nil
}
