package rotation

import (
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

var fuzzNow = time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC)

// FuzzParseCron: ParseCron and ValidateTrigger never panic; a fire time is
// never before now; an expression ValidateTrigger accepts has a next fire
// within the horizon, by both Next and Preview, in the requested zone.
func FuzzParseCron(f *testing.F) {
	for _, s := range []struct{ expr, zone string }{
		{"0 3 * * *", ""}, {"*/15 * * * *", "UTC"}, {"0 2 * * 0", "Europe/Berlin"}, {"30 2 * * *", "Europe/Berlin"},
		{"@daily", ""}, {"@hourly", "America/New_York"}, {"@every 1h", ""}, {"@yearly", "Asia/Kolkata"},
		{"CRON_TZ=Europe/Berlin 0 3 * * *", ""}, {"TZ=UTC 0 3 * * *", "UTC"}, {"CRON_TZ=Europe/Paris 0 3 * * *", "Europe/Berlin"},
		{"CRON_TZ=", ""}, {"TZ=Local 0 * * * *", ""}, {"0 0 30 2 *", ""}, {"0 0 31 4 *", ""}, {"0 0 29 2 *", ""},
		{"60 * * * *", ""}, {"* * * * * *", ""}, {"0-59/0 * * * *", ""}, {"1-0 * * * *", ""}, {"? * * * *", ""},
		{"0 0 L * *", ""}, {"0 0 * * MON-FRI", ""}, {"0 0 * JAN-DEC *", ""}, {"", ""}, {"   ", "Local"}, {"0 3 * * *", "Mars/Olympus"},
		{"0 3 * * *", "../../etc/passwd"}, {"0 3 * * *", " UTC"},
	} {
		f.Add(s.expr, s.zone)
	}
	f.Fuzz(func(t *testing.T, expr, zone string) {
		if tr, err := ParseCron(expr, zone); err == nil {
			if tr == nil {
				t.Fatalf("ParseCron(%q, %q) returned no trigger and no error", expr, zone)
			}
			if n := tr.Next(fuzzNow); !n.IsZero() && !n.After(fuzzNow) {
				t.Fatalf("ParseCron(%q, %q).Next(%s) = %s, not after now", expr, zone, fuzzNow, n)
			}
		}
		in := api.RotationScheduleInput{Name: "fuzz", Cron: &expr, TimeZone: zone}
		if vs := ValidateTrigger(in, fuzzNow); len(vs) > 0 {
			for _, v := range vs {
				if v.Pointer == "" || v.Code == "" || v.Message == "" {
					t.Fatalf("violation without pointer, code or message: %+v", v)
				}
			}
			return
		}
		n, err := Next(in, fuzzNow)
		if err != nil {
			t.Fatalf("ValidateTrigger accepted %q in %q but Next fails: %v", expr, zone, err)
		}
		if !n.After(fuzzNow) || n.Sub(fuzzNow) > api.CronHorizonSeconds*time.Second || n.Location() != time.UTC {
			t.Fatalf("accepted %q in %q fires at %s (now %s)", expr, zone, n, fuzzNow)
		}
		p, err := Preview(in, fuzzNow, 3)
		if err != nil || len(p) == 0 || !p[0].Equal(n) {
			t.Fatalf("Preview(%q, %q) = %v, %v; Next = %s", expr, zone, p, err, n)
		}
		for i := 1; i < len(p); i++ {
			if !p[i].After(p[i-1]) {
				t.Fatalf("Preview(%q, %q) not increasing: %v", expr, zone, p)
			}
		}
		// The full validation agrees on the trigger.
		for _, v := range ValidateSchedule(in, fuzzNow) {
			if v.Pointer == "/cron" || v.Pointer == "/time_zone" {
				t.Fatalf("ValidateSchedule disagrees with ValidateTrigger on %q in %q: %+v", expr, zone, v)
			}
		}
	})
}
