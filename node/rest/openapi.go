package rest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Document is the OpenAPI document openapi limited to the operations of
// services (operation ids "Service_Method") and their tags: what a server
// that registers only those serves at /openapi.json, so that the document
// never describes a route the server answers 404 (a district member serves
// DistrictService and AnalyticsService, not the village's API).
func Document(openapi []byte, services ...string) ([]byte, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(openapi, &doc); err != nil {
		return nil, fmt.Errorf("read the OpenAPI document: %w", err)
	}
	var paths map[string]map[string]json.RawMessage
	if err := json.Unmarshal(doc["paths"], &paths); err != nil {
		return nil, fmt.Errorf("read the OpenAPI paths: %w", err)
	}
	kept := map[string]map[string]json.RawMessage{}
	for pattern, ops := range paths {
		for method, raw := range ops {
			var op struct {
				OperationID string `json:"operationId"`
			}
			if json.Unmarshal(raw, &op) != nil || op.OperationID == "" {
				continue // path-level "parameters", not an operation
			}
			if svc, _, _ := strings.Cut(op.OperationID, "_"); !slices.Contains(services, svc) {
				continue
			}
			if kept[pattern] == nil {
				kept[pattern] = map[string]json.RawMessage{}
			}
			kept[pattern][method] = raw
		}
	}
	var tags []tag
	if err := json.Unmarshal(doc["tags"], &tags); err != nil {
		return nil, fmt.Errorf("read the OpenAPI tags: %w", err)
	}
	tags = slices.DeleteFunc(tags, func(t tag) bool { return !slices.Contains(services, t.Name) })
	var err error
	if doc["paths"], err = json.Marshal(kept); err != nil {
		return nil, err
	}
	if doc["tags"], err = json.Marshal(tags); err != nil {
		return nil, err
	}
	return json.Marshal(doc)
}

// tag is an OpenAPI tag: one per service.
type tag struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}
