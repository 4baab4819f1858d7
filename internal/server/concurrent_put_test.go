package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// TestConcurrentConditionalPutsOneWins fires N PUTs at one role at the same
// moment, all with If-Match on the same version, over real HTTP to a real
// pamd on SQLite. Exactly one may apply; every other must be refused with a
// 412 problem+json naming the version that won, and the role must hold the
// winner's body at version+1: no lost update, no double increment.
func TestConcurrentConditionalPutsOneWins(t *testing.T) {
	const n = 16
	e := start(t)
	role := e.createRole(api.RoleInput{Name: "concurrent-put"})

	type outcome struct {
		status  int
		ctype   string
		body    []byte
		desc    string
		sendErr error
	}
	results := make([]outcome, n)
	ready := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			desc := fmt.Sprintf("writer %d", i)
			body, _ := json.Marshal(api.RoleInput{Name: "concurrent-put", Description: desc})
			req, err := http.NewRequestWithContext(context.Background(), http.MethodPut, e.d.URL()+api.PathRoles+"/"+role.ID, bytes.NewReader(body))
			if err != nil {
				results[i] = outcome{sendErr: err}
				return
			}
			req.Header.Set("Authorization", "Bearer "+e.admin)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(api.HeaderIfMatch, api.FormatETag(role.Version))
			<-ready // release all writers together
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				results[i] = outcome{sendErr: err}
				return
			}
			defer res.Body.Close()
			b, err := io.ReadAll(res.Body)
			results[i] = outcome{status: res.StatusCode, ctype: res.Header.Get("Content-Type"), body: b, desc: desc, sendErr: err}
		}()
	}
	close(ready)
	wg.Wait()

	var winners []outcome
	refused := 0
	for i, o := range results {
		if o.sendErr != nil {
			t.Fatalf("writer %d: %v", i, o.sendErr)
		}
		switch o.status {
		case http.StatusOK:
			winners = append(winners, o)
		case http.StatusPreconditionFailed:
			if o.ctype != api.ContentTypeProblem {
				t.Errorf("writer %d: 412 with content type %q", i, o.ctype)
			}
			var p api.Problem
			if err := json.Unmarshal(o.body, &p); err != nil {
				t.Fatalf("writer %d: 412 body %s: %v", i, o.body, err)
			}
			if p.Code != api.CodeEtagMismatch || p.Status != http.StatusPreconditionFailed || p.CurrentVersion == nil || *p.CurrentVersion != role.Version+1 {
				t.Errorf("writer %d: 412 problem %+v, want %s with current_version %d", i, p, api.CodeEtagMismatch, role.Version+1)
			}
			refused++
		default:
			t.Errorf("writer %d: status %d: %s", i, o.status, o.body)
		}
	}
	if len(winners) != 1 || refused != n-1 {
		t.Fatalf("%d writers got 200 and %d got 412; want exactly 1 and %d", len(winners), refused, n-1)
	}
	var got api.Role
	e.do(http.MethodGet, api.PathRoles+"/"+role.ID, e.admin, nil).json(t, &got)
	if got.Version != role.Version+1 || got.Description != winners[0].desc {
		t.Fatalf("role after the race: version %d description %q; want version %d and the winner's %q",
			got.Version, got.Description, role.Version+1, winners[0].desc)
	}
	t.Logf("%d concurrent conditional PUTs at version %d: 1 applied (%q), %d refused with 412", n, role.Version, winners[0].desc, refused)
}
