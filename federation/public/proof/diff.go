package proof

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/sanzi/sanzi/node/disclosed"
)

// differences lists where the page's disclosure differs from the one
// recomputed from the chain, one line each, naming the field, both values
// and the entry the figure belongs to.
func differences(page, chain *disclosed.Disclosure) []string {
	a, b := flatten(page), flatten(chain)
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var out []string
	for _, k := range keys {
		va, ina := a[k]
		vb, inb := b[k]
		switch {
		case ina && inb && va == vb:
			continue
		case !inb:
			out = append(out, fmt.Sprintf("%s: the page says %s, the chain has nothing there%s", k, va, entryOf(a, k)))
		case !ina:
			out = append(out, fmt.Sprintf("%s: the page has nothing, the chain says %s%s", k, vb, entryOf(b, k)))
		default:
			out = append(out, fmt.Sprintf("%s: the page says %s, the chain says %s%s", k, va, vb, entryOf(b, k)))
		}
		if len(out) == 20 {
			out = append(out, "(and more)")
			break
		}
	}
	return out
}

// entryOf names the entry the field at path belongs to, from the
// entry.id beside it.
func entryOf(flat map[string]string, path string) string {
	for p := path; p != ""; {
		i := strings.LastIndexByte(p, '.')
		if i < 0 {
			break
		}
		p = p[:i]
		if id, ok := flat[p+".entry.id"]; ok {
			return " (entry " + strings.Trim(id, `"`) + ")"
		}
	}
	return ""
}

// flatten is v's JSON as path → value ("transactions[0].amountFen" →
// "1234500").
func flatten(v any) map[string]string {
	b, _ := json.Marshal(v)
	var x any
	json.Unmarshal(b, &x)
	out := map[string]string{}
	var walk func(p string, x any)
	walk = func(p string, x any) {
		switch x := x.(type) {
		case map[string]any:
			for k, v := range x {
				walk(join(p, k), v)
			}
		case []any:
			for i, v := range x {
				walk(fmt.Sprintf("%s[%d]", p, i), v)
			}
		default:
			b, _ := json.Marshal(x)
			out[p] = string(b)
		}
	}
	walk("", x)
	return out
}

func join(p, k string) string {
	if p == "" {
		return k
	}
	return p + "." + k
}
