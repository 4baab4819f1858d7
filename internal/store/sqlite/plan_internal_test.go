package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/accessplane/terraform-provider-pam/internal/store/sqlstore"
)

// Reading an eligibility counts its active elevations through the
// elevations_eligibility index, not by walking every active elevation of the
// store (elevations_state_end), which made each eligibility read cost in
// proportion to the active elevations of all principals.
func TestEligibilityActiveCountPlan(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "pamd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	rows, err := s.read.Query(`EXPLAIN QUERY PLAN `+sqlstore.GetEligibilitySQL, "2026-01-01", "era_1")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(plan, "\n")
	if !strings.Contains(got, "USING INDEX elevations_eligibility (eligible_role_assignment_id=? AND state=?)") {
		t.Errorf("plan of GetEligibility:\n%s\nwant the active count served by elevations_eligibility", got)
	}
}
