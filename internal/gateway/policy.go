package gateway

import (
	"fmt"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/session"
)

// Decision is the command filter's verdict on one command line.
type Decision struct {
	// Action is allow, deny, alert or terminate_session.
	Action string
	// RuleIndex is the 0-based rule that decided, -1 for the default action.
	RuleIndex   int
	Description string
}

// Policy is the gateway's compiled view of a session policy.
type Policy struct {
	// ID and Name are "" and "builtin-default" for DefaultPolicy.
	ID, Name string
	Version  int64
	// Snapshot is the policy as stored, kept on the session.
	Snapshot api.SessionPolicyInput
	// MaxDuration and IdleTimeout: 0 means no limit.
	MaxDuration, IdleTimeout time.Duration
	// MaxConcurrent sessions per principal: 0 means unlimited.
	MaxConcurrent  int
	PortForwarding bool
	// Upload and Download switch scp in each direction; the sftp subsystem
	// needs either (its direction is not inspected).
	Upload, Download bool
	Recording        bool
	RecordingStrict  bool
	// Filter is nil when commands are not filtered.
	Filter *session.Filter
}

// Match decides one command; without a filter every command is allowed.
func (p *Policy) Match(cmd string) Decision {
	if p.Filter == nil {
		return Decision{Action: api.CommandActionAllow, RuleIndex: -1}
	}
	action, i, rule := p.Filter.Match(cmd)
	d := Decision{Action: action, RuleIndex: i}
	if rule != nil {
		d.Description = rule.Description
	}
	return d
}

// filtering reports whether interactive input must be held line by line.
func (p *Policy) filtering() bool {
	return p.Filter != nil && (p.Filter.Rules() > 0 || p.Filter.DefaultAction() != api.CommandActionAllow)
}

// DefaultPolicyName names the built-in policy of accounts without one.
const DefaultPolicyName = "builtin-default"

// DefaultPolicy governs accounts that have no session policy (neither their
// own session_policy_id nor their safe's default_session_policy_id). It is
// conservative: sessions last at most 8 hours, end after 15 idle minutes, a
// principal may hold at most 2 at once, every session is recorded in strict
// mode (no recording, no session), port forwarding and file transfer are off,
// and commands are not filtered (there are no rules to apply).
func DefaultPolicy() Policy {
	in := session.NormalizePolicy(api.SessionPolicyInput{
		Name: DefaultPolicyName, Protocols: []string{api.SessionProtocolSSH},
		MaxSessionDurationSeconds: 8 * 3600, IdleTimeoutSeconds: 15 * 60, MaxConcurrentSessionsPerPrincipal: 2,
		Recording: api.SessionRecordingPolicy{Enabled: true, Mode: api.RecordingModeStrict},
	})
	p, _ := CompilePolicy("", 0, in) // a constant policy always compiles
	return p
}

// CompilePolicy turns a stored session policy into the gateway's view.
func CompilePolicy(id string, version int64, in api.SessionPolicyInput) (Policy, error) {
	f, err := session.NewFilter(in.CommandFilter)
	if err != nil {
		return Policy{}, fmt.Errorf("session policy %s: %w", id, err)
	}
	mode := in.Recording.Mode
	return Policy{
		ID: id, Name: in.Name, Version: version, Snapshot: in,
		MaxDuration:     time.Duration(in.MaxSessionDurationSeconds) * time.Second,
		IdleTimeout:     time.Duration(in.IdleTimeoutSeconds) * time.Second,
		MaxConcurrent:   in.MaxConcurrentSessionsPerPrincipal,
		PortForwarding:  in.PortForwarding,
		Upload:          in.FileTransfer.Upload,
		Download:        in.FileTransfer.Download,
		Recording:       in.Recording.Enabled,
		RecordingStrict: mode == "" || mode == api.RecordingModeStrict,
		Filter:          f,
	}, nil
}
