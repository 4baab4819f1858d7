package server

import (
	"github.com/danielgtaylor/huma/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/testdb"
)

// postPutTargets is the audit target type that each POST/PUT operation's
// first successful audit event names (catalog and server code). A new
// POST/PUT endpoint fails TestIdempotencyTargetTable until it is listed here
// and its target type has a row in targetCollections.
var postPutTargets = map[string]string{
	"create-role": "role", "replace-role": "role",
	"create-activation-policy": "activation_policy", "replace-activation-policy": "activation_policy",
	"create-eligible-role-assignment": "eligible_role_assignment", "replace-eligible-role-assignment": "eligible_role_assignment",
	"create-elevation": "elevation", "approve-elevation": "elevation", "deny-elevation": "elevation",
	"withdraw-elevation": "elevation", "revoke-elevation": "elevation", "deactivate-elevation": "elevation",
	"extend-elevation":         "elevation",
	"create-rotation-schedule": api.TargetTypeRotationSchedule, "replace-rotation-schedule": api.TargetTypeRotationSchedule,
	"run-rotation-schedule": "operation", "rotate-vault-account": "operation", "verify-vault-account": "operation",
	"create-safe": "safe", "replace-safe": "safe",
	"create-vault-account": api.TargetTypeVaultAccount, "replace-vault-account": api.TargetTypeVaultAccount,
	"create-checkout": "checkout", "checkin-checkout": "checkout", "revoke-checkout": "checkout", "extend-checkout": "checkout",
	"create-session-policy": "session_policy", "replace-session-policy": "session_policy",
	"terminate-session": "session",
	"create-ssh-key":    "ssh_key",
	"enroll-totp":       auditTypeTOTP, "confirm-totp": auditTypeTOTP,
	"step-up": targetTypeToken,
}

func TestIdempotencyTargetTable(t *testing.T) {
	s, err := New(Config{Store: testdb.Open(t), PageTokenKey: []byte(strings.Repeat("k", 32))})
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for path, item := range s.OpenAPI().Paths {
		for _, op := range []struct {
			method string
			id     string
		}{{http.MethodPost, opID(item.Post)}, {http.MethodPut, opID(item.Put)}} {
			if op.id == "" {
				continue
			}
			seen++
			typ, ok := postPutTargets[op.id]
			if !ok {
				t.Errorf("%s %s (%s): which audit target type does it record? add it to postPutTargets", op.method, path, op.id)
				continue
			}
			coll, ok := targetCollections[typ]
			if !ok {
				t.Errorf("%s %s (%s): target type %q has no row in targetCollections", op.method, path, op.id, typ)
				continue
			}
			if coll != "" && s.operationFor(http.MethodGet, coll+"/x") == nil {
				t.Errorf("target type %q maps to %s/{id}, which has no GET", typ, coll)
			}
		}
	}
	if seen < len(postPutTargets) {
		t.Errorf("postPutTargets lists %d operations, the API has %d POST/PUT operations: remove stale rows", len(postPutTargets), seen)
	}
}

func opID(op *huma.Operation) string {
	if op == nil {
		return ""
	}
	return op.OperationID
}
