package audit

import (
	"strings"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

func TestCanonicalIsRFC8785(t *testing.T) {
	in := map[string]any{
		"b":   []any{1, 2.5, "x<y>&z"},
		"a":   map[string]any{"z": true, "m": nil, "é": 1e21},
		"num": 100.0,
	}
	got, err := Canonical(in)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"a":{"m":null,"z":true,"é":1e+21},"b":[1,2.5,"x<y>&z"],"num":100}`
	if string(got) != want {
		t.Fatalf("Canonical:\n got %s\nwant %s", got, want)
	}
	// Key order of the input must not matter.
	again, _ := Canonical(map[string]any{"num": 100, "b": []any{1, 2.5, "x<y>&z"}, "a": map[string]any{"é": 1e21, "z": true, "m": nil}})
	if string(again) != want {
		t.Fatalf("canonical form depends on input order: %s", again)
	}
}

func event(i int) *api.AuditEvent {
	return &api.AuditEvent{
		ID:         "aud_" + strings.Repeat("A", 26),
		OccurredAt: FormatTime(time.Date(2025, 5, 3, 10, 5, 10, 412_000_000+i, time.UTC)),
		Action:     "role.created",
		Category:   "role",
		Outcome:    api.OutcomeSuccess,
		Actor:      api.AuditActor{Type: "user", ID: "alice"},
		Target:     api.AuditTarget{Type: "role", ID: "role_X"},
		Changes:    []api.AuditChange{{Op: "add", Path: "/name", Value: "db_admin"}},
	}
}

func chain(t *testing.T, n int) ([]Record, Head) {
	t.Helper()
	var head Head
	var recs []Record
	for i := range n {
		r, h, err := Seal(head, event(i))
		if err != nil {
			t.Fatal(err)
		}
		recs, head = append(recs, r), h
	}
	return recs, head
}

func TestSealLinksEvents(t *testing.T) {
	recs, head := chain(t, 3)
	ev, err := Decode(recs[0])
	if err != nil {
		t.Fatal(err)
	}
	if ev.Sequence != 1 || ev.PrevHash != Genesis || ev.Hash != recs[0].Hash || ev.OccurredAt != "2025-05-03T10:05:10.412Z" {
		t.Fatalf("first event wrong: %+v", ev)
	}
	second, _ := Decode(recs[1])
	if second.PrevHash != recs[0].Hash {
		t.Fatal("second event does not link to the first")
	}
	if strings.Contains(string(recs[0].Body), `"hash":`) {
		t.Fatal("hash must not be part of the hashed body")
	}
	if head.Sequence != 3 || head.Hash != recs[2].Hash {
		t.Fatalf("head = %+v", head)
	}
	if r := Verify(recs, &head); !r.OK() || r.Checked != 3 || r.String() != "ok: 3 events" {
		t.Fatalf("intact chain: %v", r)
	}
}

func TestVerifyFindsFirstBadSequence(t *testing.T) {
	tests := []struct {
		name    string
		tamper  func(recs []Record, head *Head) []Record
		wantBad int64
		reason  string
	}{
		{"modified body", func(r []Record, _ *Head) []Record {
			r[2].Body = []byte(strings.Replace(string(r[2].Body), "db_admin", "db_owner", 1))
			return r
		}, 3, "modified"},
		{"modified and rehashed", func(r []Record, _ *Head) []Record {
			r[2].Body = []byte(strings.Replace(string(r[2].Body), "db_admin", "db_owner", 1))
			r[2].Hash = HashBody(r[2].Body)
			return r
		}, 4, "chain broken"},
		{"deleted in the middle", func(r []Record, _ *Head) []Record {
			return append(r[:1], r[2:]...)
		}, 2, "deleted"},
		{"deleted at the end", func(r []Record, _ *Head) []Record {
			return r[:4]
		}, 5, "deleted"},
		{"reordered", func(r []Record, _ *Head) []Record {
			r[1].Body, r[2].Body = r[2].Body, r[1].Body
			r[1].Hash, r[2].Hash = r[2].Hash, r[1].Hash
			return r
		}, 2, "reordered"},
		{"head moved", func(r []Record, h *Head) []Record {
			h.Hash = Genesis
			return r
		}, 5, "head"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, head := chain(t, 5)
			recs = tt.tamper(recs, &head)
			r := Verify(recs, &head)
			if r.OK() {
				t.Fatalf("tampering not detected: %v", r)
			}
			if r.FirstBad != tt.wantBad || !strings.Contains(r.Reason, tt.reason) {
				t.Fatalf("got first bad %d (%s), want %d (%s)", r.FirstBad, r.Reason, tt.wantBad, tt.reason)
			}
			if tt.reason != "head" && r.Checked != tt.wantBad-1 {
				t.Fatalf("checked %d events before the failure, want %d", r.Checked, tt.wantBad-1)
			}
		})
	}
}

func TestDiff(t *testing.T) {
	before := map[string]any{"name": "a", "description": "x", "labels": map[string]any{"k": "v"}}
	after := map[string]any{"name": "b", "labels": map[string]any{"k": "v"}, "assignable_scopes": []any{"/"}}
	got := Diff(before, after)
	want := []api.AuditChange{
		{Op: "add", Path: "/assignable_scopes", Value: []any{"/"}},
		{Op: "remove", Path: "/description", From: "x"},
		{Op: "replace", Path: "/name", From: "a", Value: "b"},
	}
	if len(got) != len(want) {
		t.Fatalf("Diff = %+v", got)
	}
	for i := range want {
		if got[i].Op != want[i].Op || got[i].Path != want[i].Path {
			t.Fatalf("change %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if d := Diff(before, nil); len(d) != 1 || d[0].Op != "remove" {
		t.Fatalf("delete diff = %+v", d)
	}
}
