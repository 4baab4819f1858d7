package provider

import "os"

// EnvTFLog and EnvTFLogProvider are the variables with which a person asks
// Terraform or OpenTofu to show provider logs; the CLI passes its environment
// on to the provider process.
const (
	EnvTFLog         = "TF_LOG"
	EnvTFLogProvider = "TF_LOG_PROVIDER"
)

// quietLoggers are the level variables of the loggers inside the provider
// process: the plugin SDK root and its protocol and framework subsystems,
// the provider's own logger and the API client's subsystem.
var quietLoggers = []string{"TF_LOG_SDK", "TF_LOG_SDK_PROTO", "TF_LOG_SDK_FRAMEWORK", "TF_LOG_PROVIDER_PAM", "TF_LOG_PROVIDER_PAM_API"}

// QuietLogsUnlessRequested turns the provider process's loggers off when the
// CLI will not show provider logs anyway (neither TF_LOG nor TF_LOG_PROVIDER
// is set). Without a level the plugin SDK logs at TRACE: every RPC formats
// JSON log lines with caller locations, writes them to stderr, and the CLI
// parses and discards each one. `make bench` profiled a third of the
// provider's CPU in that logging during a plan of 1,000 assignments.
// A level set explicitly for any one logger is kept.
func QuietLogsUnlessRequested() {
	quietLogs(os.Getenv, os.Setenv)
}

func quietLogs(getenv func(string) string, setenv func(string, string) error) {
	if getenv(EnvTFLog) != "" || getenv(EnvTFLogProvider) != "" {
		return
	}
	for _, k := range quietLoggers {
		if getenv(k) == "" {
			_ = setenv(k, "off")
		}
	}
}
