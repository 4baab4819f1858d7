package gateway_test

import (
	"strings"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/auth"
	"github.com/accessplane/terraform-provider-pam/internal/catalog"
)

// pimEnv is a gateway env whose session policy requires an active elevation
// of role db-admin at /orgs/acme/prod, and an eligibility of alice for that
// role at /orgs/acme (no approval).
type pimEnv struct {
	*env
	pim    *catalog.Service
	roleID string
}

var aliceRequester = catalog.Caller{Principal: auth.Principal{Subject: "user:alice", ServerRoles: []string{api.ServerRoleRequester}}}

func newPIMEnv(t *testing.T) *pimEnv {
	t.Helper()
	pe := &pimEnv{}
	pol := &api.SessionPolicyInput{Name: "elevated", TerminateOnAuthorizationEnd: true, MaxSessionDurationSeconds: 7 * 24 * 3600}
	pe.env = newEnv(t, opts{policy: pol, setup: func(e *env, p *api.SessionPolicyInput) {
		pe.pim = &catalog.Service{Store: e.st, Clock: e.clk}
		role, err := pe.pim.CreateRole(e.ctx, admin, api.RoleInput{Name: "db-admin", AssignableScopes: []string{"/orgs"}})
		if err != nil {
			t.Fatal(err)
		}
		ap, err := pe.pim.CreateActivationPolicy(e.ctx, admin, api.ActivationPolicyInput{Name: "no-approval", ActivationRules: api.ActivationRules{
			MaxActivationSeconds: 3600, DefaultActivationSeconds: 3600, EligibilityConstraints: api.EligibilityConstraints{AllowPermanent: true}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pe.pim.CreateEligibility(e.ctx, admin, api.EligibleRoleAssignmentInput{PrincipalType: "user", PrincipalID: "alice",
			RoleID: role.ID, Scope: "/orgs/acme", ActivationPolicyID: ap.ID}, false); err != nil {
			t.Fatal(err)
		}
		pe.roleID = role.ID
		p.RequireElevation = &api.SessionElevationRequirement{RoleID: role.ID, Scope: "/orgs/acme/prod"}
	}})
	return pe
}

func (pe *pimEnv) elevate(t *testing.T) api.Elevation {
	t.Helper()
	res, err := pe.pim.RequestElevation(pe.ctx, aliceRequester, api.ElevationRequest{RoleID: pe.roleID, Scope: "/orgs/acme"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Elevation == nil || res.Elevation.State != api.StateActive {
		t.Fatalf("elevation: %+v", res.Elevation)
	}
	return *res.Elevation
}

func TestRequireElevationRefusesWithoutOne(t *testing.T) {
	pe := newPIMEnv(t)
	seen := &received{}
	if c, err := pe.dial(pe.user(), pe.alice, seen); err == nil {
		_ = c.Close()
		t.Fatal("admitted without an elevation")
	}
	want := "pamd: policy elevated requires an active elevation of role " + pe.roleID + " at scope /orgs/acme/prod"
	if !strings.Contains(seen.String(), want) || !strings.Contains(seen.String(), "pamd elevate --role "+pe.roleID+" --scope /orgs/acme/prod") {
		t.Fatalf("banner %q", seen.String())
	}
	d := pe.audits("session.denied")
	if len(d) == 0 || d[0].Actor.ID != "alice" || !strings.Contains(auditText(d[0]), "elevation_required") {
		t.Fatalf("denied audit: %+v", d)
	}
	if len(pe.target.Commands()) != 0 {
		t.Fatalf("the target saw %v", pe.target.Commands())
	}
}

func TestRequireElevationAdmitsAndEndsWithIt(t *testing.T) {
	for _, how := range []string{"deactivated", "revoked", "expired"} {
		t.Run(how, func(t *testing.T) {
			pe := newPIMEnv(t)
			el := pe.elevate(t)
			seen := &received{}
			c, err := pe.dial(pe.user(), pe.alice, seen)
			if err != nil {
				t.Fatalf("%v; banner %q", err, seen.String())
			}
			defer func() { _ = c.Close() }()
			if out, _, err := run(t, c, "echo elevated", seen); err != nil || out != "elevated\n" {
				t.Fatalf("exec: %q %v", out, err)
			}
			_, _, out := shell(t, c, seen)
			id := pe.waitLive(1)[0]
			if pe.gw.Tick() != 0 {
				t.Fatal("ended while the elevation is active")
			}
			switch how {
			case "deactivated":
				if _, err := pe.pim.ActOnElevation(pe.ctx, aliceRequester, el.ID, catalog.ElevationAction{Name: api.ActionDeactivate}); err != nil {
					t.Fatal(err)
				}
			case "revoked":
				if _, err := pe.pim.ActOnElevation(pe.ctx, admin, el.ID, catalog.ElevationAction{Name: api.ActionRevoke, Reason: "incident"}); err != nil {
					t.Fatal(err)
				}
			case "expired":
				pe.clk.Advance(59 * time.Minute)
				if pe.gw.Tick() != 0 {
					t.Fatal("ended before the elevation's end")
				}
				pe.clk.Advance(2 * time.Minute)
				if _, err := pe.pim.RunDue(pe.ctx, 10); err != nil {
					t.Fatal(err)
				}
			}
			if pe.gw.Tick() != 1 {
				t.Fatal("the end of the elevation did not end the session")
			}
			out.waitFor(t, "the elevation "+el.ID+" that authorised it has ended")
			s := pe.waitEnded(id)
			if s.EndReason != api.SessionEndAuthorizationEnded || s.ElevationID != el.ID {
				t.Fatalf("session: %+v", s)
			}
			st := pe.audits("session.started")
			if len(st) == 0 || !strings.Contains(auditText(st[0]), el.ID) {
				t.Fatalf("started audit: %+v", st)
			}
			// A new connection is refused now.
			seen2 := &received{}
			if c2, err := pe.dial(pe.user(), pe.alice, seen2); err == nil {
				_ = c2.Close()
				t.Fatal("admitted after the elevation ended")
			}
		})
	}
}
