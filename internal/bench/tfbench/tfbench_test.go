package tfbench

import (
	"fmt"
	"strings"
	"testing"
)

func planJSON(changes map[string]string) []byte {
	var rcs []string
	for addr, action := range changes {
		rcs = append(rcs, fmt.Sprintf(`{"address":%q,"type":"pam_eligible_role_assignment","change":{"actions":[%s]}}`, addr, action))
	}
	return []byte(`{"format_version":"1.2","resource_changes":[` + strings.Join(rcs, ",") + `]}`)
}

func TestCheckDrift(t *testing.T) {
	const typ = "pam_eligible_role_assignment"
	ok := planJSON(map[string]string{
		typ + ".a00000": `"update"`, typ + ".a00100": `"update"`, typ + ".a00001": `"no-op"`, "pam_role.r0000": `"no-op"`,
	})
	if err := CheckDrift(ok, typ, []int{0, 100}); err != nil {
		t.Errorf("exact drift refused: %v", err)
	}
	for name, tc := range map[string]struct {
		plan []byte
		idx  []int
	}{
		"one missing":   {ok, []int{0, 100, 200}},
		"one too many":  {ok, []int{0}},
		"a replacement": {planJSON(map[string]string{typ + ".a00000": `"delete","create"`}), []int{0}},
		"not JSON":      {[]byte("no"), []int{0}},
	} {
		if err := CheckDrift(tc.plan, typ, tc.idx); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
