package audit

import (
	"strings"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/ids"
)

// envelopeFields change on every write or identify the object already, so
// change lists leave them out and record the version move instead.
var envelopeFields = []string{"id", "version", "created_at", "created_by", "updated_at", "updated_by"}

// Mutation describes a successful change to one object, for NewMutation.
type Mutation struct {
	Now     time.Time
	Actor   api.AuditActor
	Request api.AuditRequest
	// Action is "<category>.<verb>", e.g. "role.created".
	Action     string
	TargetType string
	TargetID   string
	// Before and After are the object (nil for create and delete respectively);
	// they must not contain secrets: only their non-envelope fields are kept.
	Before, After               any
	VersionBefore, VersionAfter int64
}

// NewMutation builds the unsealed event for m; the store seals it.
func NewMutation(m Mutation) (*api.AuditEvent, error) {
	var before, after map[string]any
	var err error
	if m.Before != nil {
		if before, err = Fields(m.Before, envelopeFields...); err != nil {
			return nil, err
		}
	}
	if m.After != nil {
		if after, err = Fields(m.After, envelopeFields...); err != nil {
			return nil, err
		}
	}
	category, _, _ := strings.Cut(m.Action, ".")
	return &api.AuditEvent{
		ID:              ids.New(api.PrefixAudit, m.Now),
		ChainID:         DefaultChain,
		OccurredAt:      FormatTime(m.Now),
		Action:          m.Action,
		Category:        category,
		Outcome:         api.OutcomeSuccess,
		Actor:           m.Actor,
		Target:          api.AuditTarget{Type: m.TargetType, ID: m.TargetID},
		Request:         m.Request,
		Changes:         Diff(before, after),
		ResourceVersion: &api.VersionChange{Before: m.VersionBefore, After: m.VersionAfter},
	}, nil
}

// NewDenied builds the event for a refused attempt, which is audited too.
func NewDenied(now time.Time, actor api.AuditActor, req api.AuditRequest, action, targetType, targetID string) *api.AuditEvent {
	category, _, _ := strings.Cut(action, ".")
	return &api.AuditEvent{
		ID:         ids.New(api.PrefixAudit, now),
		ChainID:    DefaultChain,
		OccurredAt: FormatTime(now),
		Action:     action,
		Category:   category,
		Outcome:    api.OutcomeDenied,
		Actor:      actor,
		Target:     api.AuditTarget{Type: targetType, ID: targetID},
		Request:    req,
	}
}
