package provider

import "testing"

func TestQuietLogs(t *testing.T) {
	run := func(env map[string]string) map[string]string {
		quietLogs(func(k string) string { return env[k] }, func(k, v string) error { env[k] = v; return nil })
		return env
	}
	got := run(map[string]string{"TF_LOG_SDK_PROTO": "debug"})
	for _, k := range quietLoggers {
		want := "off"
		if k == "TF_LOG_SDK_PROTO" {
			want = "debug" // an explicit level wins
		}
		if got[k] != want {
			t.Errorf("without TF_LOG: %s = %q, want %q", k, got[k], want)
		}
	}
	for _, asked := range []string{EnvTFLog, EnvTFLogProvider} {
		got := run(map[string]string{asked: "trace"})
		for _, k := range quietLoggers {
			if got[k] != "" {
				t.Errorf("with %s set: %s = %q, want it untouched", asked, k, got[k])
			}
		}
	}
}
