package api

import (
	"strings"
	"testing"
)

// FuzzParseETag: never panics; an accepted tag names a positive version and
// round-trips through FormatETag; every formatted version parses back.
func FuzzParseETag(f *testing.F) {
	for _, s := range []string{`"1"`, `W/"7"`, ` "42" `, `"0"`, `"-1"`, `""`, `"`, `"9223372036854775807"`,
		`"9223372036854775808"`, `"+3"`, `"0x10"`, `"1 "`, `W/W/"1"`, "\"1\"\x00", `*`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tag string) {
		v, err := ParseETag(tag)
		if err != nil {
			if v != 0 {
				t.Fatalf("ParseETag(%q) = %d with error %v", tag, v, err)
			}
			if !strings.Contains(err.Error(), "entity tag") {
				t.Fatalf("ParseETag(%q): unhelpful error %v", tag, err)
			}
			return
		}
		if v < 1 {
			t.Fatalf("ParseETag(%q) accepted version %d", tag, v)
		}
		back, err := ParseETag(FormatETag(v))
		if err != nil || back != v {
			t.Fatalf("FormatETag(%d) = %q does not parse back: %d, %v", v, FormatETag(v), back, err)
		}
	})
}
