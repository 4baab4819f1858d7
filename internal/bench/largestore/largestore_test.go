package largestore

import (
	"strings"
	"testing"
)

func TestShape(t *testing.T) {
	s := Shape{Elevations: 100000, PerEligibility: 10, TeamSize: 1000}
	if s.Eligibilities() != 10000 {
		t.Errorf("eligibilities = %d, want 10000", s.Eligibilities())
	}
	if s.Team(0) != s.Team(999) || s.Team(999) == s.Team(1000) {
		t.Errorf("teams: %s %s %s, want 1000 eligibilities per team", s.Team(0), s.Team(999), s.Team(1000))
	}
}

func TestStatusField(t *testing.T) {
	status := "Name:\tpamd\nVmHWM:\t   51234 kB\nVmRSS:\t   40000 kB\n"
	for field, want := range map[string]int64{"VmHWM": 51234, "VmRSS": 40000} {
		got, err := statusField(strings.NewReader(status), field)
		if err != nil || got != want {
			t.Errorf("%s = %d %v, want %d", field, got, err, want)
		}
	}
	if _, err := statusField(strings.NewReader(status), "VmSwap"); err == nil {
		t.Error("a missing field was found")
	}
}

func TestDataSourceConfig(t *testing.T) {
	cfg := dataSource("/orgs/big/teams/t000")
	if !strings.Contains(cfg, `scope_prefix = "/orgs/big/teams/t000"`) || !strings.Contains(cfg, "pam_active_elevations") {
		t.Errorf("config:\n%s", cfg)
	}
}
