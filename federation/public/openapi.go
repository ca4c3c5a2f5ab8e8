package public

import (
	_ "embed"
	"encoding/json"
	"fmt"
)

// openapi describes the site's JSON routes (written by hand: the site is
// not generated from a proto).
//
//go:embed openapi.json
var openapi []byte

// Describe adds the site's JSON routes and their tag to an OpenAPI
// (Swagger 2.0) document, so that the member's /openapi.json describes
// what it serves. The HTML pages are left out on purpose: they are for
// people and carry what the JSON routes carry.
func Describe(doc []byte) ([]byte, error) {
	var d, frag map[string]json.RawMessage
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("read the OpenAPI document: %w", err)
	}
	if err := json.Unmarshal(openapi, &frag); err != nil {
		return nil, fmt.Errorf("read the public site's OpenAPI: %w", err)
	}
	for _, key := range []string{"paths", "tags"} {
		merged, err := merge(d[key], frag[key])
		if err != nil {
			return nil, fmt.Errorf("merge the public site's %s: %w", key, err)
		}
		d[key] = merged
	}
	return json.Marshal(d)
}

// merge joins two JSON objects (paths) or two arrays (tags).
func merge(a, b json.RawMessage) (json.RawMessage, error) {
	if len(a) > 0 && a[0] == '[' || len(a) == 0 && len(b) > 0 && b[0] == '[' {
		var x, y []json.RawMessage
		if len(a) > 0 {
			if err := json.Unmarshal(a, &x); err != nil {
				return nil, err
			}
		}
		if err := json.Unmarshal(b, &y); err != nil {
			return nil, err
		}
		return json.Marshal(append(x, y...))
	}
	x, y := map[string]json.RawMessage{}, map[string]json.RawMessage{}
	if len(a) > 0 {
		if err := json.Unmarshal(a, &x); err != nil {
			return nil, err
		}
	}
	if err := json.Unmarshal(b, &y); err != nil {
		return nil, err
	}
	for k, v := range y {
		x[k] = v
	}
	return json.Marshal(x)
}
