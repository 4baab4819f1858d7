package main

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzParseDurationSeconds: the CLI's --duration parser never panics, never
// returns a non-positive duration, returns 0 only for blank input, and agrees
// with strconv or time.ParseDuration on what it accepts.
func FuzzParseDurationSeconds(f *testing.F) {
	for _, s := range []string{"", " ", "3600", "90m", "1h30m", "1.5h", "0", "-5", "0s", "-1h", "1500ms", "1s500ms",
		"9223372036854775807", "9223372036854775808", "2562047h", "2562048h", "1e3", "+60", " 60 ", "60s ", "h", "1d", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		secs, err := parseDurationSeconds(s)
		if err != nil {
			if secs != 0 {
				t.Fatalf("parseDurationSeconds(%q) = %d with error %v", s, secs, err)
			}
			return
		}
		trimmed := strings.TrimSpace(s)
		if trimmed == "" {
			if secs != 0 {
				t.Fatalf("blank %q gave %d", s, secs)
			}
			return
		}
		if secs <= 0 {
			t.Fatalf("parseDurationSeconds(%q) accepted non-positive %d", s, secs)
		}
		if n, err := strconv.ParseInt(trimmed, 10, 64); err == nil {
			if n != secs {
				t.Fatalf("parseDurationSeconds(%q) = %d, want %d", s, secs, n)
			}
			return
		}
		d, err := time.ParseDuration(trimmed)
		if err != nil || d != time.Duration(secs)*time.Second {
			t.Fatalf("parseDurationSeconds(%q) = %d; time.ParseDuration says %v, %v", s, secs, d, err)
		}
	})
}
