package client

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/hashicorp/terraform-plugin-log/tflog"
)

// LogSubsystem is the tflog subsystem of every HTTP log line. Its level can be
// set on its own with TF_LOG_PROVIDER_PAM_API.
const LogSubsystem = "api"

// maskedFieldKeys are log fields whose whole value is secret.
var maskedFieldKeys = []string{"authorization", "request_header_authorization", "token", "password", "secret", "otpauth_uri"}

// Secret-looking material anywhere in a message or a string field: bearer
// credentials and the values of JSON members whose names say "secret". Request
// and response bodies are logged at TRACE only after these masks apply.
var secretPatterns = []*regexp.Regexp{
	regexp.MustCompile(`(?i)bearer\s+[^\s"]+`),
	regexp.MustCompile(`(?i)"[a-z0-9_]*(password|secret|token|private_key|passphrase|credential|value_wo)[a-z0-9_]*"\s*:\s*"(\\.|[^"\\])*"`),
	// TOTP: otpauth:// URIs carry the secret; a one-time code is a credential
	// for its 30 seconds (problem codes such as "invalid_mfa_code" stay visible).
	regexp.MustCompile(`(?i)otpauth://[^\s"]+`),
	regexp.MustCompile(`(?i)"code"\s*:\s*"\s*\d+\s*"`),
}

// logContext derives the context every log line of one call uses: the api
// subsystem with all masks installed. The token is masked literally too, so it
// cannot leak through a field or message that the patterns do not anticipate.
func (c *Client) logContext(ctx context.Context) context.Context {
	ctx = tflog.NewSubsystem(ctx, LogSubsystem, tflog.WithLevelFromEnv("TF_LOG_PROVIDER_PAM_API"))
	ctx = tflog.SubsystemMaskFieldValuesWithFieldKeys(ctx, LogSubsystem, maskedFieldKeys...)
	ctx = tflog.SubsystemMaskAllFieldValuesRegexes(ctx, LogSubsystem, secretPatterns...)
	ctx = tflog.SubsystemMaskMessageRegexes(ctx, LogSubsystem, secretPatterns...)
	if c.token != "" {
		ctx = tflog.SubsystemMaskAllFieldValuesStrings(ctx, LogSubsystem, c.token)
		ctx = tflog.SubsystemMaskMessageStrings(ctx, LogSubsystem, c.token)
	}
	return ctx
}

// leveledLogger bridges retryablehttp's logger to tflog. retryablehttp has no
// context of its own, so one bridge is built per call around the call's context.
type leveledLogger struct{ ctx context.Context }

func (l leveledLogger) Error(msg string, kv ...any) {
	// retryablehttp reports each failed attempt as an error even when it will
	// retry; the final outcome is reported by the caller, so warn here.
	tflog.SubsystemWarn(l.ctx, LogSubsystem, msg, kvFields(kv))
}

func (l leveledLogger) Warn(msg string, kv ...any) {
	tflog.SubsystemWarn(l.ctx, LogSubsystem, msg, kvFields(kv))
}

func (l leveledLogger) Info(msg string, kv ...any) {
	tflog.SubsystemInfo(l.ctx, LogSubsystem, msg, kvFields(kv))
}

func (l leveledLogger) Debug(msg string, kv ...any) {
	tflog.SubsystemDebug(l.ctx, LogSubsystem, msg, kvFields(kv))
}

// kvFields turns key/value pairs into tflog fields. Values become strings where
// they are errors or Stringers, because tflog masks only string values.
func kvFields(kv []any) map[string]any {
	fields := make(map[string]any, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		key := strings.ToLower(fmt.Sprint(kv[i]))
		switch v := kv[i+1].(type) {
		case error:
			fields[key] = v.Error()
		case fmt.Stringer:
			fields[key] = v.String()
		default:
			fields[key] = v
		}
	}
	if len(kv)%2 == 1 {
		fields["extra"] = fmt.Sprint(kv[len(kv)-1])
	}
	return fields
}
