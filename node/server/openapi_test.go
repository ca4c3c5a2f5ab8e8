package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestOpenAPIDescribesThisNode: a village's /openapi.json names the routes
// it serves and none of those only a district member serves (pushes,
// forks, statistics), which would answer 404 here.
func TestOpenAPIDescribesThisNode(t *testing.T) {
	n := startTestNode(t, nil)
	resp, err := http.Get(n.base + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/v1/transactions", "/v1/alerts", "/v1/workflow"} {
		found := false
		for p := range doc.Paths {
			found = found || strings.HasPrefix(p, want)
		}
		if !found {
			t.Errorf("/openapi.json lacks %s, which the node serves", want)
		}
	}
	for p := range doc.Paths {
		if strings.HasPrefix(p, "/v1/district") || strings.HasPrefix(p, "/v1/stats") {
			t.Errorf("/openapi.json describes %s, which only a district member serves", p)
		}
	}
	t.Logf("%d paths described", len(doc.Paths))
}
