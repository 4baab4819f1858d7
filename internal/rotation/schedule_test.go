package rotation

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

func ptr[T any](v T) *T { return &v }

func cronSchedule(expr, zone string) api.RotationScheduleInput {
	return api.RotationScheduleInput{Name: "s", Cron: ptr(expr), TimeZone: zone}
}

var now = time.Date(2026, 1, 15, 10, 30, 0, 0, time.UTC)

func mustNext(t *testing.T, in api.RotationScheduleInput, after time.Time) time.Time {
	t.Helper()
	n, err := Next(in, after)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return n
}

func TestNextInterval(t *testing.T) {
	in := api.RotationScheduleInput{Name: "s", IntervalSeconds: ptr[int64](3600)}
	if got, want := mustNext(t, in, now), now.Add(time.Hour); !got.Equal(want) {
		t.Fatalf("Next = %s, want %s", got, want)
	}
	got, err := Preview(in, now, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Time{now.Add(time.Hour), now.Add(2 * time.Hour), now.Add(3 * time.Hour)}
	if !slices.EqualFunc(got, want, time.Time.Equal) {
		t.Fatalf("Preview = %v, want %v", got, want)
	}
}

func TestNextCronUTCAndDescriptors(t *testing.T) {
	cases := []struct {
		expr string
		want time.Time
	}{
		{"0 2 * * *", time.Date(2026, 1, 16, 2, 0, 0, 0, time.UTC)},
		{"0 2 * * SUN", time.Date(2026, 1, 18, 2, 0, 0, 0, time.UTC)}, // 2026-01-18 is a Sunday
		{"@daily", time.Date(2026, 1, 16, 0, 0, 0, 0, time.UTC)},
		{"@monthly", time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)},
		{"*/15 * * * *", time.Date(2026, 1, 15, 10, 45, 0, 0, time.UTC)},
		{"0 0 29 2 *", time.Date(2028, 2, 29, 0, 0, 0, 0, time.UTC)}, // leap day: fires, rarely
	}
	for _, c := range cases {
		if got := mustNext(t, cronSchedule(c.expr, ""), now); !got.Equal(c.want) {
			t.Errorf("%q: Next = %s, want %s", c.expr, got, c.want)
		}
	}
}

func TestNextCronTimeZoneAndDST(t *testing.T) {
	ny := cronSchedule("0 9 * * *", "America/New_York")
	// Winter: EST is UTC-5.
	if got, want := mustNext(t, ny, now), time.Date(2026, 1, 15, 14, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("winter: %s, want %s", got, want)
	}
	// Summer: EDT is UTC-4.
	july := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	if got, want := mustNext(t, ny, july), time.Date(2026, 7, 1, 13, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("summer: %s, want %s", got, want)
	}
	// Across the spring-forward night (2026-03-08 in the US) the local time
	// stays 09:00 while the UTC offset moves by an hour.
	got, err := Preview(ny, time.Date(2026, 3, 7, 0, 0, 0, 0, time.UTC), 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Time{time.Date(2026, 3, 7, 14, 0, 0, 0, time.UTC), time.Date(2026, 3, 8, 13, 0, 0, 0, time.UTC)}
	if !slices.EqualFunc(got, want, time.Time.Equal) {
		t.Errorf("across DST: %v, want %v", got, want)
	}
	// 02:30 does not exist on 2026-03-08 in New York: that day is skipped,
	// never fired twice or at a shifted time.
	gap := cronSchedule("30 2 * * *", "America/New_York")
	got, err = Preview(gap, time.Date(2026, 3, 7, 12, 0, 0, 0, time.UTC), 2)
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := time.LoadLocation("America/New_York")
	for _, g := range got {
		if l := g.In(loc); l.Hour() != 2 || l.Minute() != 30 {
			t.Errorf("DST gap: fire at %s local, want 02:30", l)
		}
	}
	if len(got) != 2 || got[0].In(loc).Day() != 9 {
		t.Errorf("DST gap: %v, want 2026-03-09 02:30 first", got)
	}
	// A CRON_TZ prefix is the same as time_zone.
	inline := cronSchedule("CRON_TZ=America/New_York 0 9 * * *", "")
	if a, b := mustNext(t, inline, now), mustNext(t, ny, now); !a.Equal(b) {
		t.Errorf("CRON_TZ: %s, time_zone: %s", a, b)
	}
	// Berlin, to catch a zone accidentally ignored.
	berlin := cronSchedule("0 9 * * *", "Europe/Berlin")
	if got, want := mustNext(t, berlin, now), time.Date(2026, 1, 16, 8, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("Berlin: %s, want %s", got, want)
	}
}

func TestValidateScheduleTrigger(t *testing.T) {
	cases := []struct {
		name    string
		in      api.RotationScheduleInput
		pointer string
		code    string
		msg     string
	}{
		{"neither", api.RotationScheduleInput{Name: "s"}, "/interval_seconds", CodeRequired, "exactly one"},
		{"both", api.RotationScheduleInput{Name: "s", Cron: ptr("@daily"), IntervalSeconds: ptr[int64](3600)}, "/cron", CodeConflict, "not both"},
		{"interval too short", api.RotationScheduleInput{Name: "s", IntervalSeconds: ptr[int64](299)}, "/interval_seconds", CodeRange, "between 300"},
		{"garbage cron", cronSchedule("every day", ""), "/cron", CodeInvalidCron, "expected exactly 5 fields"},
		{"six fields", cronSchedule("0 0 2 * * *", ""), "/cron", CodeInvalidCron, "expected exactly 5 fields"},
		{"bad minute", cronSchedule("61 * * * *", ""), "/cron", CodeInvalidCron, "end of range (61) above maximum (59)"},
		{"feb 30 never fires", cronSchedule("0 0 30 2 *", ""), "/cron", CodeNeverFires, "never fires"},
		{"feb 31 never fires", cronSchedule("0 0 31 2 *", ""), "/cron", CodeNeverFires, "never fires"},
		{"@every", cronSchedule("@every 1h", ""), "/cron", CodeInvalidCron, "interval_seconds"},
		{"bad zone", cronSchedule("@daily", "Mars/Olympus"), "/time_zone", CodeInvalidZone, "Mars/Olympus"},
		{"zone mismatch", cronSchedule("CRON_TZ=Europe/Berlin @daily", "America/New_York"), "/cron", CodeInvalidCron, "differs"},
		{"zone on interval", api.RotationScheduleInput{Name: "s", IntervalSeconds: ptr[int64](3600), TimeZone: "Europe/Berlin"}, "/time_zone", CodeConflict, "only applies to cron"},
		{"jitter over window", api.RotationScheduleInput{Name: "s", Cron: ptr("@daily"), WindowSeconds: 600, JitterSeconds: 600}, "/jitter_seconds", CodeConflict, "smaller than window"},
		{"window too long", api.RotationScheduleInput{Name: "s", Cron: ptr("@daily"), WindowSeconds: 8 * 24 * 3600}, "/window_seconds", CodeRange, "between"},
		{"bad name", api.RotationScheduleInput{Name: "bad name", Cron: ptr("@daily")}, "/name", CodePattern, "not valid"},
		{"retry", api.RotationScheduleInput{Name: "s", Cron: ptr("@daily"), Retry: api.RotationRetry{MaxAttempts: 11}}, "/retry/max_attempts", CodeRange, "between 1 and 10"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vs := ValidateSchedule(c.in, now)
			if len(vs) == 0 {
				t.Fatalf("no violation, want %s", c.pointer)
			}
			v := vs[0]
			if v.Pointer != c.pointer || v.Code != c.code || !strings.Contains(v.Message, c.msg) {
				t.Fatalf("got %+v, want pointer %s code %s message containing %q", vs, c.pointer, c.code, c.msg)
			}
		})
	}
}

func TestValidateScheduleAcceptsGood(t *testing.T) {
	for _, in := range []api.RotationScheduleInput{
		{Name: "weekly", Cron: ptr("0 2 * * SUN"), TimeZone: "Europe/Berlin", WindowSeconds: 7200, JitterSeconds: 300,
			MaxSecretAgeSeconds: 90 * 24 * 3600, VerificationIntervalSeconds: 86400,
			PasswordPolicy: api.RotationPasswordPolicy{Length: 32, RequireLowercase: true, RequireUppercase: true, RequireDigits: true, RequireSymbols: true, Symbols: ptr("!#%+-=_"), ExcludeAmbiguous: true},
			Retry:          api.RotationRetry{MaxAttempts: 3, BackoffSeconds: 600}, Labels: map[string]string{"env": "prod"}},
		{Name: "hourly", IntervalSeconds: ptr[int64](3600)},
		{Name: "leap", Cron: ptr("0 0 29 2 *")},
		{Name: "inline-tz", Cron: ptr("CRON_TZ=Asia/Tokyo 0 3 * * *")},
	} {
		if vs := ValidateSchedule(in, now); len(vs) > 0 {
			t.Errorf("%s: unexpected violations %+v", in.Name, vs)
		}
	}
	n := NormalizeSchedule(api.RotationScheduleInput{Name: "d", Cron: ptr(" @daily ")})
	if *n.Cron != "@daily" || n.TimeZone != "UTC" || n.WindowSeconds != api.DefaultRotationWindowSeconds ||
		n.Retry.MaxAttempts != api.DefaultRotationRetryAttempts || n.PasswordPolicy.Length != api.DefaultPasswordLength ||
		n.PasswordPolicy.Symbols == nil || *n.PasswordPolicy.Symbols != api.DefaultPasswordSymbols || n.Labels == nil {
		t.Fatalf("normalised = %+v", n)
	}
}

func TestJitterDeterministicAndBounded(t *testing.T) {
	fire := time.Date(2026, 1, 1, 2, 0, 0, 0, time.UTC)
	seen := map[time.Duration]bool{}
	for i := range 200 {
		id := "acct_" + string(rune('A'+i%26)) + string(rune('a'+i/26))
		j := Jitter(id, fire, 300)
		if j < 0 || j >= 300*time.Second {
			t.Fatalf("jitter %s out of [0, 300s)", j)
		}
		if j != Jitter(id, fire, 300) {
			t.Fatal("jitter is not deterministic")
		}
		seen[j] = true
	}
	if len(seen) < 50 {
		t.Fatalf("jitter barely spreads: %d distinct values of 200", len(seen))
	}
	if Jitter("x", fire, 0) != 0 {
		t.Fatal("zero jitter must be zero")
	}
}

func TestRetryDelay(t *testing.T) {
	r := api.RotationRetry{MaxAttempts: 5, BackoffSeconds: 60}
	for attempt, want := range map[int]time.Duration{2: time.Minute, 3: 2 * time.Minute, 4: 4 * time.Minute} {
		if got := RetryDelay(r, attempt); got != want {
			t.Errorf("attempt %d: %s, want %s", attempt, got, want)
		}
	}
	if got := RetryDelay(api.RotationRetry{BackoffSeconds: 86400}, 9); got != api.MaxRotationRetryBackoff*time.Second {
		t.Errorf("cap: %s", got)
	}
}
