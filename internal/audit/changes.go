package audit

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// Fields converts a value into the map of its top-level JSON fields, dropping
// those named in omit (envelope fields that every change touches, or secrets).
func Fields(v any, omit ...string) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("audit fields: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("audit fields: %w", err)
	}
	for _, k := range omit {
		delete(m, k)
	}
	return m, nil
}

// Diff lists top-level changes from before to after as RFC 6902-style
// operations, in key order so the list is deterministic. A nil before is a
// create (all "add"), a nil after a delete (one "remove" of the root).
func Diff(before, after map[string]any) []api.AuditChange {
	if after == nil {
		return []api.AuditChange{{Op: "remove", Path: ""}}
	}
	keys := make([]string, 0, len(before)+len(after))
	seen := map[string]bool{}
	for k := range before {
		keys, seen[k] = append(keys, k), true
	}
	for k := range after {
		if !seen[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var out []api.AuditChange
	for _, k := range keys {
		b, inB := before[k]
		a, inA := after[k]
		path := "/" + k
		switch {
		case inB && !inA:
			out = append(out, api.AuditChange{Op: "remove", Path: path, From: b})
		case !inB && inA:
			out = append(out, api.AuditChange{Op: "add", Path: path, Value: a})
		case !reflect.DeepEqual(a, b):
			out = append(out, api.AuditChange{Op: "replace", Path: path, From: b, Value: a})
		}
	}
	return out
}
