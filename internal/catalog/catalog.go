// Package catalog holds the rules of the privileged role catalog: validation
// and normalisation of roles, who may change them, and the audit event that
// every change appends in the same transaction. It speaks api types and
// *api.Problem errors and persists through store.Store; it knows nothing of
// HTTP. (Elevation rules live in package pim.)
package catalog

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/audit"
	"github.com/accessplane/terraform-provider-pam/internal/auth"
	"github.com/accessplane/terraform-provider-pam/internal/clock"
	"github.com/accessplane/terraform-provider-pam/internal/keys"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

// Service is the role catalog.
type Service struct {
	Store store.Store
	Clock clock.Clock
	// Provisioner makes activations take effect; nil means SyncProvisioner.
	Provisioner Provisioner
	// Keyring seals webhook secrets at rest; without one, roles cannot be
	// given webhook targets (fail closed rather than store plaintext).
	Keyring *keys.Keyring
}

// New returns a Service.
func New(s store.Store, c clock.Clock) *Service {
	if c == nil {
		c = clock.Real{}
	}
	return &Service{Store: s, Clock: c}
}

// Caller is who is asking and through which request, for authorisation and audit.
type Caller struct {
	Principal auth.Principal
	Request   api.AuditRequest
}

func (c Caller) auditActor() api.AuditActor {
	a := c.Principal.Actor()
	return api.AuditActor{Type: a.Type, ID: a.ID, TokenID: c.Principal.TokenID}
}

// now is truncated to seconds: objects show RFC 3339 timestamps without
// fractions, and what is returned must equal what is read back later.
func (s *Service) now() time.Time { return s.Clock.Now().UTC().Truncate(time.Second) }

// catalogWriters may change catalog configuration (roles, policies).
var catalogWriters = []string{api.ServerRoleAdmin, api.ServerRoleSecurity}

// denied records a refused mutation in the audit chain (its own transaction:
// there is no change to commit with it) and returns the 403 problem.
func (s *Service) denied(ctx context.Context, c Caller, action, targetType, targetID string) error {
	ev := audit.NewDenied(s.Clock.Now(), c.auditActor(), c.Request, action, targetType, targetID)
	if err := s.Store.Update(ctx, func(tx store.Tx) error { return tx.AppendAudit(ev) }); err != nil {
		// Fail closed: a refusal that cannot be audited is still a refusal,
		// but the caller learns the server is unhealthy.
		return err
	}
	return api.NewProblem(http.StatusForbidden, api.CodeForbidden,
		fmt.Sprintf("%s requires server role %s", action, strings.Join(catalogWriters, " or ")))
}

// AuditDenied records a refusal decided outside the catalog (the HTTP layer's
// own checks, such as reading the audit log) in its own transaction; an error
// means the refusal could not be recorded.
func (s *Service) AuditDenied(ctx context.Context, c Caller, action, targetType, targetID string) error {
	return s.auditDenied(ctx, c, action, targetType, targetID)
}

func notFound(kind, id string) error {
	return api.NewProblem(http.StatusNotFound, api.CodeNotFound, fmt.Sprintf("%s %q does not exist", kind, id))
}

func etagMismatch(kind, id string, current int64) error {
	p := api.NewProblem(http.StatusPreconditionFailed, api.CodeEtagMismatch,
		fmt.Sprintf("%s %q is at version %d; it changed since you read it", kind, id, current))
	p.CurrentVersion = &current
	return p
}

func alreadyExists(kind, name, id string) error {
	p := api.NewProblem(http.StatusConflict, api.CodeAlreadyExists, fmt.Sprintf("a %s named %q already exists (%s)", kind, name, id))
	p.ExistingID = id
	return p
}

// isNotFound reports a store miss.
func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
