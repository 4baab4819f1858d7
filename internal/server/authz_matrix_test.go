package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/accessplane/terraform-provider-pam/internal/store/engine"
	"github.com/accessplane/terraform-provider-pam/internal/testdb"
	"github.com/accessplane/terraform-provider-pam/internal/testkeys"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/clock"
	"github.com/accessplane/terraform-provider-pam/internal/daemon"
	"github.com/accessplane/terraform-provider-pam/internal/ids"
	"github.com/accessplane/terraform-provider-pam/internal/session"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

// The authorisation matrix (issue 6, item 5): every endpoint of the OpenAPI
// document x every server role, plus anonymous and an invalid token. Each
// cell runs against fresh objects where the request changes state, with a
// fresh token (its own subject, group "matrix", exactly one server role), so
// no cell depends on another. The expected outcome of each cell is written
// down from the documented rules (README, operation descriptions, handler and
// catalog code); an unexpected allow and an unexpected deny both fail.

// Outcome letters of a cell.
const (
	oAllow  = 'A' // authorised: 2xx, or a non-auth status listed in the row's alsoOK
	oDeny   = 'D' // 403
	oUnauth = 'U' // 401 unauthenticated
	oNF     = 'N' // 404 (the caller may not learn the object exists, or it is gone for them)
)

// matrixRoles are the server roles, in the order of a row's expect string.
var matrixRoles = []string{api.ServerRoleAdmin, api.ServerRoleSecurity, api.ServerRoleAuditor, api.ServerRoleRequester, api.ServerRoleApprover}

const (
	callerAnon    = "anonymous"
	callerInvalid = "invalid"
	// matrixGroup is every matrix token's group: the approval stages, the
	// eligibilities of the PIM fixtures name it, the safes do not.
	matrixGroup = "matrix"
	// holdersGroup may check out from the matrix safe; no matrix token is in it.
	holdersGroup = "holders"
)

type mxReq struct {
	path    string
	body    any
	headers []string
	// token overrides the caller's token (a prep that minted a step-up token).
	token string
}

type mxRow struct {
	method, tmpl string
	// expect holds one letter per matrixRoles entry; anonymous and invalid
	// tokens expect U, except on public routes (expect A for all).
	expect string
	public bool
	// alsoOK lists non-2xx statuses that prove authorisation passed.
	alsoOK []int
	// prep builds the request for one cell; tok is the cell's token ("" for
	// anonymous) and role its server role ("" for anonymous and invalid).
	prep func(f *mxFixture, role, tok string) mxReq
	why  string
	// hides names objects of other users in a filtered list: roles marked A
	// in sees must find them in the body, the others must not.
	hides func(f *mxFixture) []string
	sees  string
}

type mxFixture struct {
	*env
	n int
	// base objects, created once by the bootstrap admin
	role, policy, apprPolicy, elig      string
	safe, account, schedule, sessPolicy string
	checkout, operation, auditEvent     string
	sess, recording                     string
	activeElev, pendingElev             string
	checkoutSafe, sshKey                string
	// otherToken is the id of a token of a subject no matrix caller has.
	otherToken string
	dbPath     string
	// auditSeq is the last audit sequence deniedAudited has looked at.
	auditSeq int64
}

func (f *mxFixture) uniq(p string) string { f.n++; return fmt.Sprintf("%s-%d", p, f.n) }

// mint issues a fresh token with one server role (none for "").
func (f *mxFixture) mint(role string, groups ...string) (string, string) {
	subject := "user:" + f.uniq("m-"+role)
	var roles []string
	if role != "" {
		roles = []string{role}
	}
	tok, err := f.d.IssueToken(context.Background(), subject, groups, roles)
	if err != nil {
		f.t.Fatal(err)
	}
	return tok, subject
}

func (f *mxFixture) post(path, tok string, body any, status int, out any) {
	f.t.Helper()
	idemCounter++
	r := f.do(http.MethodPost, path, tok, body, "Idempotency-Key", fmt.Sprintf("mx-%d", idemCounter)).want(f.t, status)
	if out != nil {
		r.json(f.t, out)
	}
}

func (f *mxFixture) newRole() string {
	var r api.Role
	f.post(api.PathRoles, f.admin, api.RoleInput{Name: f.uniq("r"), AssignableScopes: []string{"/orgs"}}, 201, &r)
	return r.ID
}

func (f *mxFixture) newPolicy() string {
	var p api.ActivationPolicy
	f.post(api.PathActivationPolicies, f.admin, policyInput(f.uniq("p"), nil), 201, &p)
	return p.ID
}

func policyInput(name string, appr *api.Approval) api.ActivationPolicyInput {
	return api.ActivationPolicyInput{Name: name, ActivationRules: api.ActivationRules{
		MaxActivationSeconds: 3600, AllowExtension: true, MaxExtensions: 20, MaxTotalActivationSeconds: 86400,
		EligibilityConstraints: api.EligibilityConstraints{AllowPermanent: true}, Approval: appr}}
}

func (f *mxFixture) eligInput(scope, policy string) api.EligibleRoleAssignmentInput {
	return api.EligibleRoleAssignmentInput{PrincipalType: "group", PrincipalID: matrixGroup, RoleID: f.role, Scope: scope, ActivationPolicyID: policy}
}

func (f *mxFixture) newElig() string {
	var e api.EligibleRoleAssignment
	f.post(api.PathEligibleRoleAssignments, f.admin, f.eligInput("/orgs/"+f.uniq("e"), f.policy), 201, &e)
	return e.ID
}

// newElevation requests an elevation as a fresh requester (not a matrix
// caller): /orgs/acme is direct (active at once), /orgs/appr needs one
// approval from group matrix.
func (f *mxFixture) newElevation(scope string) string {
	tok, _ := f.mint(api.ServerRoleRequester, matrixGroup)
	var el api.Elevation
	f.post(api.PathElevations, tok, api.ElevationRequest{RoleID: f.role, Scope: scope, RequestedDurationSeconds: 900, Justification: "matrix"}, 201, &el)
	return el.ID
}

func (f *mxFixture) newSafe() string {
	var s api.Safe
	f.post(api.PathSafes, f.admin, api.SafeInput{Name: f.uniq("s")}, 201, &s)
	return s.ID
}

func (f *mxFixture) accountInput(name string) api.VaultAccountInput {
	return api.VaultAccountInput{Name: name, SafeID: f.checkoutSafe, Platform: api.PlatformGeneric, Username: "svc", SecretType: api.SecretTypePassword,
		Secret: "matrix-secret-" + name, CheckoutPolicy: api.CheckoutPolicy{DefaultDurationSeconds: 600, MaxDurationSeconds: 7200, AllowRetrieve: true}}
}

func (f *mxFixture) newAccount() string {
	var a api.VaultAccount
	f.post(api.PathVaultAccounts, f.admin, f.accountInput(f.uniq("a")), 201, &a)
	return a.ID
}

// newCheckout checks a fresh account out to a fresh holder (not a matrix caller).
func (f *mxFixture) newCheckout() string {
	acct := f.newAccount()
	tok, _ := f.mint("", holdersGroup)
	var co api.Checkout
	f.post(api.PathVaultAccounts+"/"+acct+"/"+api.SegmentCheckouts, tok, api.CheckoutRequest{Justification: "matrix"}, 201, &co)
	return co.ID
}

func (f *mxFixture) newSchedule() string {
	var s api.RotationSchedule
	f.post(api.PathRotationSchedules, f.admin, api.RotationScheduleInput{Name: f.uniq("rs"), Cron: strp("@daily")}, 201, &s)
	return s.ID
}

func (f *mxFixture) newSessionPolicy() string {
	var p api.SessionPolicy
	f.post(api.PathSessionPolicies, f.admin, strictPolicy(f.uniq("sp")), 201, &p)
	return p.ID
}

// newSession stores a live session of a fresh user "sess-owner-N" (the
// gateway's path: each within its policy's concurrency limit).
func (f *mxFixture) newSession() string {
	now := f.clock.Now().UTC().Truncate(time.Second)
	s := api.Session{ID: ids.New(api.PrefixSession, now), State: api.SessionActive, VaultAccountID: f.account,
		Principal: api.Actor{Type: "user", ID: f.uniq("sess-owner")}, SessionPolicyID: f.sessPolicy,
		PolicySnapshot: session.NormalizePolicy(strictPolicy("p")), PolicyVersion: 1, Protocol: "ssh",
		ClientIP: "192.0.2.1", StartedAt: now, ExpiresAt: now.Add(time.Hour), UpdatedAt: now}
	if err := f.d.Sessions().CreateSession(context.Background(), s); err != nil {
		f.t.Fatal(err)
	}
	return s.ID
}

func (f *mxFixture) newRecording(sessionID string) string {
	ctx := context.Background()
	ss := f.d.Sessions()
	now := f.clock.Now().UTC().Truncate(time.Second)
	var buf bytes.Buffer
	w, err := session.NewAsciicastWriter(&buf, session.AsciicastHeader{Width: 80, Height: 24}, now)
	if err != nil {
		f.t.Fatal(err)
	}
	_ = w.Event(now, session.EventOutput, "$ whoami\r\nroot\r\n")
	body := buf.Bytes()
	id := ids.New(api.PrefixSessionRecording, now)
	retain := now.Add(90 * 24 * time.Hour)
	meta := api.SessionRecording{ID: id, SessionID: sessionID, State: api.RecordingRecording, Format: api.RecordingFormatAsciicastV2,
		CreatedAt: now, UpdatedAt: now, RetainUntil: &retain}
	if err := ss.CreateRecording(ctx, meta); err != nil {
		f.t.Fatal(err)
	}
	sealed, err := ss.Keyring.SealString(body, session.RecordingAAD(id))
	if err != nil {
		f.t.Fatal(err)
	}
	meta.State, meta.Bytes, meta.SHA256, meta.DurationSeconds = api.RecordingAvailable, int64(len(body)), session.SHA256Hex(body), 1
	if err := ss.PutRecording(ctx, meta, sealed); err != nil {
		f.t.Fatal(err)
	}
	return id
}

// newToken issues a token to a fresh subject (not a matrix caller) and
// returns its id.
func (f *mxFixture) newToken() string {
	_, rec, err := daemon.CreateToken(context.Background(), f.d.Store(), f.clock, daemon.TokenRequest{
		Subject: "user:" + f.uniq("tok-owner"), ServerRoles: []string{api.ServerRoleRequester}, IssuedBy: api.AuditActor{Type: "system", ID: "test"}})
	if err != nil {
		f.t.Fatal(err)
	}
	return rec.ID
}

// newSSHKey registers a key for a fresh user without server roles.
func (f *mxFixture) newSSHKey() string {
	tok, _ := f.mint("")
	var k api.SSHKey
	f.post(api.PathSSHKeys, tok, api.SSHKeyInput{Name: f.uniq("k"), PublicKey: testkeys.SSHPublicKeyLine(f.t, "matrix")}, 201, &k)
	return k.ID
}

// enrolTOTP enrols tok's subject; with confirm it also confirms and moves
// the clock past the spent step. It returns the secret.
func (f *mxFixture) enrolTOTP(tok string, confirm bool) string {
	var en api.TOTPEnrollment
	f.do(http.MethodPost, api.PathMFATOTP, tok, nil).want(f.t, 201).json(f.t, &en)
	if confirm {
		f.do(http.MethodPost, api.PathMFATOTPConfirm, tok, api.MFACodeRequest{Code: totpCode(f.t, en.Secret, f.clock.Now())}).want(f.t, 200)
		f.clock.Advance(30 * time.Second)
	}
	return en.Secret
}

func startMatrix(t *testing.T) *mxFixture {
	t.Helper()
	fc := clock.NewFake(pimT0)
	dbPath := testdb.Target(t)
	d, err := daemon.Start(context.Background(), daemon.Config{
		Listen: "127.0.0.1:0", DB: dbPath, MasterKeyFile: testdb.KeyFile(t), BootstrapToken: adminToken, Clock: fc, Version: "test", WorkerInterval: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	f := &mxFixture{env: &env{t: t, d: d, clock: fc, admin: adminToken}, dbPath: dbPath}
	// First, so that it is on the first page of GET /v1/tokens.
	f.otherToken = f.newToken()
	f.role = f.newRole()
	f.policy = f.newPolicy()
	var pa api.ActivationPolicy
	f.post(api.PathActivationPolicies, f.admin, policyInput("approved", &api.Approval{Stages: []api.ApprovalStage{
		{Approvers: []api.Principal{{Type: "group", ID: matrixGroup}}, ApprovalsNeeded: 1, TimeoutSeconds: 3600}}}), 201, &pa)
	f.apprPolicy = pa.ID
	var el api.EligibleRoleAssignment
	f.post(api.PathEligibleRoleAssignments, f.admin, f.eligInput("/orgs/acme", f.policy), 201, &el)
	f.elig = el.ID
	f.post(api.PathEligibleRoleAssignments, f.admin, f.eligInput("/orgs/appr", f.apprPolicy), 201, nil)
	f.activeElev = f.newElevation("/orgs/acme")
	f.pendingElev = f.newElevation("/orgs/appr")

	f.sessPolicy = f.newSessionPolicy()
	f.schedule = f.newSchedule()
	f.safe = f.newSafe()
	var cs api.Safe
	f.post(api.PathSafes, f.admin, api.SafeInput{Name: "checkout-safe", Members: []api.SafeMember{{PrincipalType: "group", PrincipalID: holdersGroup,
		Permissions: []string{api.SafePermissionList, api.SafePermissionCheckout, api.SafePermissionRetrieve}}}}, 201, &cs)
	f.checkoutSafe = cs.ID
	f.account = f.newAccount()
	f.checkout = f.newCheckout()
	var op api.Operation
	f.post(api.PathRotationSchedules+"/"+f.schedule+"/"+api.ActionRun, f.admin, nil, 202, &op)
	f.operation = op.ID
	f.sess = f.newSession()
	f.recording = f.newRecording(f.sess)
	f.sshKey = f.newSSHKey()
	var evs api.Page[api.AuditEvent]
	f.do(http.MethodGet, api.PathAuditEvents+"?page_size=1", f.admin, nil).want(t, 200).json(t, &evs)
	f.auditEvent = evs.Items[0].ID
	return f
}

// newEvents returns the audit events appended since the last call.
func (f *mxFixture) newEvents() []api.AuditEvent {
	var evs []api.AuditEvent
	err := f.d.Store().View(context.Background(), func(tx store.Tx) (err error) {
		evs, err = tx.ListAudit(store.AuditFilter{AfterSequence: f.auditSeq, Limit: 100000})
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	for _, ev := range evs {
		f.auditSeq = max(f.auditSeq, ev.Sequence)
	}
	return evs
}

// deniedAudited reports whether a denied event appended since the last call
// names subject as its actor.
func (f *mxFixture) deniedAudited(subject string) bool {
	_, id, _ := strings.Cut(subject, ":")
	found := false
	for _, ev := range f.newEvents() {
		if ev.Outcome == api.OutcomeDenied && ev.Actor.ID == id {
			found = true
		}
	}
	return found
}

// authDenials returns the reasons of the auth.denied events appended since
// the last call.
func (f *mxFixture) authDenials() []string {
	var reasons []string
	for _, ev := range f.newEvents() {
		if ev.Action == "auth.denied" && ev.Outcome == api.OutcomeDenied {
			reasons = append(reasons, auditReason(ev))
		}
	}
	return reasons
}

// auditReason is the reason recorded in a refusal event's changes.
func auditReason(ev api.AuditEvent) string {
	for _, c := range ev.Changes {
		if c.Path == "/reason" {
			r, _ := c.Value.(string)
			return r
		}
	}
	return ""
}

// fixed returns a prep that sends the same request every time.
func fixed(path string, body any) func(*mxFixture, string, string) mxReq {
	return func(*mxFixture, string, string) mxReq { return mxReq{path: path, body: body} }
}

func idem(r mxReq) mxReq {
	idemCounter++
	r.headers = append(r.headers, "Idempotency-Key", fmt.Sprintf("mxc-%d", idemCounter))
	return r
}

// matrixRows is the expected matrix. Columns: admin security auditor requester approver.
func matrixRows(f *mxFixture) []mxRow {
	const (
		everyone  = "AAAAA"
		writers   = "AADDD" // admin, security (catalogWriters)
		readers   = "AAADD" // admin, security, auditor
		nobody    = "DDDDD"
		deciders  = "AADDA" // approver, admin, security (and named in the stage via group matrix)
		elevators = "ADDAD" // requester, admin
	)
	return []mxRow{
		{method: "GET", tmpl: "/v1/health", expect: everyone, public: true, prep: fixed(api.PathHealth, nil)},
		{method: "GET", tmpl: "/v1/openapi.json", expect: everyone, public: true, prep: fixed(api.PathOpenAPI, nil)},
		{method: "GET", tmpl: "/v1/openapi.yaml", expect: everyone, public: true, prep: fixed(api.PathPrefix+"/openapi.yaml", nil)},

		// --- roles: any valid token reads; admin/security write
		{method: "POST", tmpl: "/v1/roles", expect: writers, prep: func(f *mxFixture, _, _ string) mxReq {
			return idem(mxReq{path: api.PathRoles, body: api.RoleInput{Name: f.uniq("r"), AssignableScopes: []string{"/orgs"}}})
		}},
		{method: "GET", tmpl: "/v1/roles", expect: everyone, prep: fixed(api.PathRoles, nil)},
		{method: "GET", tmpl: "/v1/roles/{id}", expect: everyone, prep: func(f *mxFixture, _, _ string) mxReq { return mxReq{path: api.PathRoles + "/" + f.role} }},
		{method: "PUT", tmpl: "/v1/roles/{id}", expect: writers, prep: func(f *mxFixture, _, _ string) mxReq {
			id := f.newRole()
			var r api.Role
			f.do(http.MethodGet, api.PathRoles+"/"+id, f.admin, nil).want(f.t, 200).json(f.t, &r)
			return mxReq{path: api.PathRoles + "/" + id, body: api.RoleInput{Name: r.Name, Description: "changed", AssignableScopes: []string{"/orgs"}}}
		}},
		{method: "DELETE", tmpl: "/v1/roles/{id}", expect: writers, prep: func(f *mxFixture, _, _ string) mxReq { return mxReq{path: api.PathRoles + "/" + f.newRole()} }},

		// --- activation policies
		{method: "POST", tmpl: "/v1/activation_policies", expect: writers, prep: func(f *mxFixture, _, _ string) mxReq {
			return idem(mxReq{path: api.PathActivationPolicies, body: policyInput(f.uniq("p"), nil)})
		}},
		{method: "GET", tmpl: "/v1/activation_policies", expect: everyone, prep: fixed(api.PathActivationPolicies, nil)},
		{method: "GET", tmpl: "/v1/activation_policies/{id}", expect: everyone, prep: func(f *mxFixture, _, _ string) mxReq {
			return mxReq{path: api.PathActivationPolicies + "/" + f.policy}
		}},
		{method: "PUT", tmpl: "/v1/activation_policies/{id}", expect: writers, prep: func(f *mxFixture, _, _ string) mxReq {
			var p api.ActivationPolicy
			f.post(api.PathActivationPolicies, f.admin, policyInput(f.uniq("p"), nil), 201, &p)
			in := p.ActivationPolicyInput
			in.Description = "changed"
			return mxReq{path: api.PathActivationPolicies + "/" + p.ID, body: in}
		}},
		{method: "DELETE", tmpl: "/v1/activation_policies/{id}", expect: writers, prep: func(f *mxFixture, _, _ string) mxReq {
			return mxReq{path: api.PathActivationPolicies + "/" + f.newPolicy()}
		}},

		// --- eligible role assignments
		{method: "POST", tmpl: "/v1/eligible_role_assignments", expect: writers, prep: func(f *mxFixture, _, _ string) mxReq {
			return idem(mxReq{path: api.PathEligibleRoleAssignments, body: f.eligInput("/orgs/"+f.uniq("e"), f.policy)})
		}},
		{method: "GET", tmpl: "/v1/eligible_role_assignments", expect: everyone, prep: fixed(api.PathEligibleRoleAssignments, nil)},
		{method: "GET", tmpl: "/v1/eligible_role_assignments/{id}", expect: everyone, prep: func(f *mxFixture, _, _ string) mxReq {
			return mxReq{path: api.PathEligibleRoleAssignments + "/" + f.elig}
		}},
		{method: "PUT", tmpl: "/v1/eligible_role_assignments/{id}", expect: writers, prep: func(f *mxFixture, _, _ string) mxReq {
			var e api.EligibleRoleAssignment
			in := f.eligInput("/orgs/"+f.uniq("e"), f.policy)
			f.post(api.PathEligibleRoleAssignments, f.admin, in, 201, &e)
			in.Justification = "changed"
			return mxReq{path: api.PathEligibleRoleAssignments + "/" + e.ID, body: in}
		}},
		{method: "DELETE", tmpl: "/v1/eligible_role_assignments/{id}", expect: writers, prep: func(f *mxFixture, _, _ string) mxReq {
			return mxReq{path: api.PathEligibleRoleAssignments + "/" + f.newElig()}
		}},

		// --- elevations
		{method: "POST", tmpl: "/v1/elevations", expect: elevators, why: "requester or admin, holding the eligibility (group matrix)",
			prep: func(f *mxFixture, _, _ string) mxReq {
				return idem(mxReq{path: api.PathElevations, body: api.ElevationRequest{RoleID: f.role, Scope: "/orgs/acme", RequestedDurationSeconds: 900, Justification: "matrix"}})
			}},
		{method: "GET", tmpl: "/v1/elevations", expect: everyone, why: "list is filtered to what the caller may see", prep: fixed(api.PathElevations, nil),
			hides: func(f *mxFixture) []string { return []string{f.activeElev} }, sees: readers},
		{method: "GET", tmpl: "/v1/elevations/{id}", expect: readers, why: "another user's direct (no-approval) elevation: admin, security, auditor only",
			prep: func(f *mxFixture, _, _ string) mxReq { return mxReq{path: api.PathElevations + "/" + f.activeElev} }},
		{method: "POST", tmpl: "/v1/elevations/{id}/approve", expect: deciders, why: "pending elevation of another user; stage approvers = group matrix",
			prep: func(f *mxFixture, _, _ string) mxReq {
				return mxReq{path: api.PathElevations + "/" + f.newElevation("/orgs/appr") + "/approve", body: api.ElevationActionRequest{Reason: "ok"}}
			}},
		{method: "POST", tmpl: "/v1/elevations/{id}/deny", expect: deciders, why: "same rule as approve",
			prep: func(f *mxFixture, _, _ string) mxReq {
				return mxReq{path: api.PathElevations + "/" + f.newElevation("/orgs/appr") + "/deny", body: api.ElevationActionRequest{Reason: "no"}}
			}},
		{method: "POST", tmpl: "/v1/elevations/{id}/withdraw", expect: nobody, why: "requester only; the matrix callers did not request it",
			prep: func(f *mxFixture, _, _ string) mxReq {
				return mxReq{path: api.PathElevations + "/" + f.newElevation("/orgs/appr") + "/withdraw", body: api.ElevationActionRequest{Reason: "x"}}
			}},
		{method: "POST", tmpl: "/v1/elevations/{id}/deactivate", expect: nobody, why: "requester only",
			prep: func(f *mxFixture, _, _ string) mxReq {
				return mxReq{path: api.PathElevations + "/" + f.newElevation("/orgs/acme") + "/deactivate", body: api.ElevationActionRequest{Reason: "x"}}
			}},
		{method: "POST", tmpl: "/v1/elevations/{id}/revoke", expect: writers, why: "admin or security",
			prep: func(f *mxFixture, _, _ string) mxReq {
				return mxReq{path: api.PathElevations + "/" + f.newElevation("/orgs/acme") + "/revoke", body: api.ElevationActionRequest{Reason: "x"}}
			}},
		{method: "POST", tmpl: "/v1/elevations/{id}/extend", expect: nobody, why: "requester only",
			prep: func(f *mxFixture, _, _ string) mxReq {
				return mxReq{path: api.PathElevations + "/" + f.newElevation("/orgs/acme") + "/extend", body: api.ElevationExtendRequest{AdditionalSeconds: 300, Justification: "more"}}
			}},
		{method: "GET", tmpl: "/v1/active_elevations", expect: everyone, prep: fixed(api.PathActiveElevations, nil)},
		{method: "GET", tmpl: "/v1/active_elevations/{id}", expect: everyone, prep: func(f *mxFixture, _, _ string) mxReq {
			return mxReq{path: api.PathActiveElevations + "/" + f.activeElev}
		}},
		{method: "GET", tmpl: "/v1/approval_requests", expect: everyone, why: "empty without a deciding role", prep: fixed(api.PathApprovalRequests, nil),
			hides: func(f *mxFixture) []string { return []string{f.pendingElev} }, sees: deciders},

		// --- audit
		{method: "GET", tmpl: "/v1/audit_events", expect: readers, prep: fixed(api.PathAuditEvents, nil)},
		{method: "GET", tmpl: "/v1/audit_events/{id}", expect: readers, prep: func(f *mxFixture, _, _ string) mxReq {
			return mxReq{path: api.PathAuditEvents + "/" + f.auditEvent}
		}},

		// --- MFA: every caller manages their own enrollment
		{method: "POST", tmpl: "/v1/mfa/totp", expect: everyone, prep: fixed(api.PathMFATOTP, nil)},
		{method: "POST", tmpl: "/v1/mfa/totp/confirm", expect: everyone, prep: func(f *mxFixture, role, tok string) mxReq {
			if role == "" {
				return mxReq{path: api.PathMFATOTPConfirm, body: api.MFACodeRequest{Code: "123456"}}
			}
			sec := f.enrolTOTP(tok, false)
			return mxReq{path: api.PathMFATOTPConfirm, body: api.MFACodeRequest{Code: totpCode(f.t, sec, f.clock.Now())}}
		}},
		{method: "DELETE", tmpl: "/v1/mfa/totp", expect: everyone, why: "an unconfirmed enrollment needs no step-up", prep: func(f *mxFixture, role, tok string) mxReq {
			if role != "" {
				f.enrolTOTP(tok, false)
			}
			return mxReq{path: api.PathMFATOTP}
		}},
		{method: "POST", tmpl: "/v1/auth/step_up", expect: everyone, prep: func(f *mxFixture, role, tok string) mxReq {
			if role == "" {
				return mxReq{path: api.PathAuthStepUp, body: api.StepUpRequest{Code: "123456"}}
			}
			sec := f.enrolTOTP(tok, true)
			return mxReq{path: api.PathAuthStepUp, body: api.StepUpRequest{Code: totpCode(f.t, sec, f.clock.Now())}}
		}},

		// --- safes
		{method: "POST", tmpl: "/v1/safes", expect: writers, prep: func(f *mxFixture, _, _ string) mxReq {
			return idem(mxReq{path: api.PathSafes, body: api.SafeInput{Name: f.uniq("s")}})
		}},
		{method: "GET", tmpl: "/v1/safes", expect: everyone, prep: fixed(api.PathSafes, nil)},
		{method: "GET", tmpl: "/v1/safes/{id}", expect: everyone, prep: func(f *mxFixture, _, _ string) mxReq { return mxReq{path: api.PathSafes + "/" + f.safe} }},
		{method: "PUT", tmpl: "/v1/safes/{id}", expect: writers, prep: func(f *mxFixture, _, _ string) mxReq {
			var s api.Safe
			f.post(api.PathSafes, f.admin, api.SafeInput{Name: f.uniq("s")}, 201, &s)
			return mxReq{path: api.PathSafes + "/" + s.ID, body: api.SafeInput{Name: s.Name, Description: "changed"}}
		}},
		{method: "DELETE", tmpl: "/v1/safes/{id}", expect: writers, prep: func(f *mxFixture, _, _ string) mxReq { return mxReq{path: api.PathSafes + "/" + f.newSafe()} }},

		// --- vault accounts (matrix callers are not safe members)
		{method: "POST", tmpl: "/v1/vault_accounts", expect: writers, prep: func(f *mxFixture, _, _ string) mxReq {
			return idem(mxReq{path: api.PathVaultAccounts, body: f.accountInput(f.uniq("a"))})
		}},
		{method: "GET", tmpl: "/v1/vault_accounts", expect: everyone, prep: fixed(api.PathVaultAccounts, nil)},
		{method: "GET", tmpl: "/v1/vault_accounts/{id}", expect: everyone, prep: func(f *mxFixture, _, _ string) mxReq {
			return mxReq{path: api.PathVaultAccounts + "/" + f.account}
		}},
		{method: "PUT", tmpl: "/v1/vault_accounts/{id}", expect: writers, prep: func(f *mxFixture, _, _ string) mxReq {
			name := f.uniq("a")
			var a api.VaultAccount
			f.post(api.PathVaultAccounts, f.admin, f.accountInput(name), 201, &a)
			in := f.accountInput(name)
			in.Secret, in.Labels = "", map[string]string{"changed": "yes"}
			return mxReq{path: api.PathVaultAccounts + "/" + a.ID, body: in}
		}},
		{method: "DELETE", tmpl: "/v1/vault_accounts/{id}", expect: writers, prep: func(f *mxFixture, _, _ string) mxReq {
			return mxReq{path: api.PathVaultAccounts + "/" + f.newAccount()}
		}},
		{method: "GET", tmpl: "/v1/vault_accounts/{id}/secret_versions", expect: everyone, prep: func(f *mxFixture, _, _ string) mxReq {
			return mxReq{path: api.PathVaultAccounts + "/" + f.account + "/" + api.SegmentSecretVersions}
		}},
		{method: "POST", tmpl: "/v1/vault_accounts/{id}/checkouts", expect: writers, why: "checkout permission on the safe, or admin/security",
			prep: func(f *mxFixture, _, _ string) mxReq {
				return idem(mxReq{path: api.PathVaultAccounts + "/" + f.newAccount() + "/" + api.SegmentCheckouts, body: api.CheckoutRequest{Justification: "matrix"}})
			}},
		{method: "POST", tmpl: "/v1/vault_accounts/{id}/rotate", expect: writers, alsoOK: []int{409}, why: "409 not_rotatable (generic platform) proves authorisation passed",
			prep: func(f *mxFixture, _, _ string) mxReq {
				return idem(mxReq{path: api.PathVaultAccounts + "/" + f.newAccount() + "/" + api.ActionRotate})
			}},
		{method: "POST", tmpl: "/v1/vault_accounts/{id}/verify", expect: writers, alsoOK: []int{409}, why: "409 not_rotatable (generic platform) proves authorisation passed",
			prep: func(f *mxFixture, _, _ string) mxReq {
				return mxReq{path: api.PathVaultAccounts + "/" + f.newAccount() + "/" + api.ActionVerify}
			}},

		// --- checkouts (held by a fresh holder, never a matrix caller)
		{method: "GET", tmpl: "/v1/checkouts", expect: everyone, why: "filtered to the holder's own unless admin/security/auditor", prep: fixed(api.PathCheckouts, nil),
			hides: func(f *mxFixture) []string { return []string{f.checkout} }, sees: readers},
		{method: "GET", tmpl: "/v1/checkouts/{id}", expect: readers, prep: func(f *mxFixture, _, _ string) mxReq { return mxReq{path: api.PathCheckouts + "/" + f.checkout} }},
		{method: "GET", tmpl: "/v1/checkouts/{id}/secret", expect: nobody, why: "holder only, even for admin",
			prep: func(f *mxFixture, _, _ string) mxReq {
				return mxReq{path: api.PathCheckouts + "/" + f.checkout + "/" + api.SegmentSecret}
			}},
		{method: "POST", tmpl: "/v1/checkouts/{id}/checkin", expect: nobody, why: "holder only",
			prep: func(f *mxFixture, _, _ string) mxReq {
				return mxReq{path: api.PathCheckouts + "/" + f.newCheckout() + "/" + api.ActionCheckin}
			}},
		{method: "POST", tmpl: "/v1/checkouts/{id}/revoke", expect: writers,
			prep: func(f *mxFixture, _, _ string) mxReq {
				return mxReq{path: api.PathCheckouts + "/" + f.newCheckout() + "/" + api.ActionRevoke}
			}},
		{method: "POST", tmpl: "/v1/checkouts/{id}/extend", expect: nobody, why: "holder only",
			prep: func(f *mxFixture, _, _ string) mxReq {
				return mxReq{path: api.PathCheckouts + "/" + f.newCheckout() + "/" + api.ActionExtend, body: api.CheckoutExtendRequest{AdditionalSeconds: 60, Justification: "more"}}
			}},

		// --- rotation schedules and operations
		{method: "POST", tmpl: "/v1/rotation_schedules", expect: writers, prep: func(f *mxFixture, _, _ string) mxReq {
			return idem(mxReq{path: api.PathRotationSchedules, body: api.RotationScheduleInput{Name: f.uniq("rs"), Cron: strp("@daily")}})
		}},
		{method: "GET", tmpl: "/v1/rotation_schedules", expect: everyone, prep: fixed(api.PathRotationSchedules, nil)},
		{method: "GET", tmpl: "/v1/rotation_schedules/{id}", expect: everyone, prep: func(f *mxFixture, _, _ string) mxReq {
			return mxReq{path: api.PathRotationSchedules + "/" + f.schedule}
		}},
		{method: "PUT", tmpl: "/v1/rotation_schedules/{id}", expect: writers, prep: func(f *mxFixture, _, _ string) mxReq {
			var s api.RotationSchedule
			name := f.uniq("rs")
			f.post(api.PathRotationSchedules, f.admin, api.RotationScheduleInput{Name: name, Cron: strp("@daily")}, 201, &s)
			return mxReq{path: api.PathRotationSchedules + "/" + s.ID, body: api.RotationScheduleInput{Name: name, Cron: strp("@weekly")}}
		}},
		{method: "DELETE", tmpl: "/v1/rotation_schedules/{id}", expect: writers, prep: func(f *mxFixture, _, _ string) mxReq {
			return mxReq{path: api.PathRotationSchedules + "/" + f.newSchedule()}
		}},
		{method: "GET", tmpl: "/v1/rotation_schedules/{id}/preview", expect: everyone, prep: func(f *mxFixture, _, _ string) mxReq {
			return mxReq{path: api.PathRotationSchedules + "/" + f.schedule + "/" + api.SubPreview}
		}},
		{method: "POST", tmpl: "/v1/rotation_schedules/{id}/run", expect: writers, prep: func(f *mxFixture, _, _ string) mxReq {
			return mxReq{path: api.PathRotationSchedules + "/" + f.newSchedule() + "/" + api.ActionRun}
		}},
		{method: "GET", tmpl: "/v1/operations/{id}", expect: everyone, prep: func(f *mxFixture, _, _ string) mxReq { return mxReq{path: api.PathOperations + "/" + f.operation} }},

		// --- session policies
		{method: "POST", tmpl: "/v1/session_policies", expect: writers, prep: func(f *mxFixture, _, _ string) mxReq {
			return idem(mxReq{path: api.PathSessionPolicies, body: strictPolicy(f.uniq("sp"))})
		}},
		{method: "GET", tmpl: "/v1/session_policies", expect: everyone, prep: fixed(api.PathSessionPolicies, nil)},
		{method: "GET", tmpl: "/v1/session_policies/{id}", expect: everyone, prep: func(f *mxFixture, _, _ string) mxReq {
			return mxReq{path: api.PathSessionPolicies + "/" + f.sessPolicy}
		}},
		{method: "PUT", tmpl: "/v1/session_policies/{id}", expect: writers, prep: func(f *mxFixture, _, _ string) mxReq {
			name := f.uniq("sp")
			var p api.SessionPolicy
			f.post(api.PathSessionPolicies, f.admin, strictPolicy(name), 201, &p)
			in := strictPolicy(name)
			in.Description = "changed"
			return mxReq{path: api.PathSessionPolicies + "/" + p.ID, body: in}
		}},
		{method: "DELETE", tmpl: "/v1/session_policies/{id}", expect: writers, prep: func(f *mxFixture, _, _ string) mxReq {
			return mxReq{path: api.PathSessionPolicies + "/" + f.newSessionPolicy()}
		}},

		// --- sessions and recordings (each session belongs to a user:sess-owner-N)
		{method: "GET", tmpl: "/v1/sessions", expect: everyone, why: "filtered to the caller's own unless admin/security/auditor", prep: fixed(api.PathSessions, nil),
			hides: func(f *mxFixture) []string { return []string{f.sess} }, sees: readers},
		{method: "GET", tmpl: "/v1/sessions/{id}", expect: readers, prep: func(f *mxFixture, _, _ string) mxReq { return mxReq{path: api.PathSessions + "/" + f.sess} }},
		{method: "POST", tmpl: "/v1/sessions/{id}/terminate", expect: writers, prep: func(f *mxFixture, _, _ string) mxReq {
			return mxReq{path: api.PathSessions + "/" + f.newSession() + "/" + api.ActionTerminate, body: api.SessionTerminateRequest{Reason: "matrix"}}
		}},
		{method: "GET", tmpl: "/v1/session_recordings", expect: readers, prep: fixed(api.PathSessionRecordings, nil)},
		{method: "GET", tmpl: "/v1/session_recordings/{id}", expect: readers, prep: func(f *mxFixture, _, _ string) mxReq {
			return mxReq{path: api.PathSessionRecordings + "/" + f.recording}
		}},
		// --- registered SSH keys (the base key belongs to a user without server roles)
		{method: "POST", tmpl: "/v1/ssh_keys", expect: everyone, why: "any valid token registers keys for itself", prep: func(f *mxFixture, _, _ string) mxReq {
			return idem(mxReq{path: api.PathSSHKeys, body: api.SSHKeyInput{Name: f.uniq("k"), PublicKey: testkeys.SSHPublicKeyLine(f.t, "matrix")}})
		}},
		{method: "GET", tmpl: "/v1/ssh_keys", expect: everyone, why: "own keys; admin and security see all", prep: fixed(api.PathSSHKeys, nil),
			hides: func(f *mxFixture) []string { return []string{f.sshKey} }, sees: writers},
		{method: "DELETE", tmpl: "/v1/ssh_keys/{id}", expect: "AANNN", why: "owner, admin or security; 404 for others",
			prep: func(f *mxFixture, _, _ string) mxReq { return mxReq{path: api.PathSSHKeys + "/" + f.newSSHKey()} }},
		{method: "GET", tmpl: "/v1/session_recordings/{id}/download", expect: readers, prep: func(f *mxFixture, _, _ string) mxReq {
			return mxReq{path: api.PathSessionRecordings + "/" + f.recording + "/" + api.SegmentDownload}
		}},
		// --- tokens (the base token belongs to a subject no caller has)
		{method: "GET", tmpl: "/v1/tokens", expect: everyone, why: "own tokens; admin sees all", prep: fixed(api.PathTokens, nil),
			hides: func(f *mxFixture) []string { return []string{f.otherToken} }, sees: "ADDDD"},
		{method: "DELETE", tmpl: "/v1/tokens/{id}", expect: "ADDDD", why: "admin, or the token's own subject (not the case here)",
			prep: func(f *mxFixture, _, _ string) mxReq { return mxReq{path: api.PathTokens + "/" + f.newToken()} }},
	}
}

// openAPIRoutes lists "METHOD /path" of every operation the server describes.
func openAPIRoutes(t *testing.T, e *env) []string {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	e.do(http.MethodGet, api.PathOpenAPI, "", nil).want(t, 200).json(t, &doc)
	var out []string
	for p, ops := range doc.Paths {
		for m := range ops {
			switch strings.ToUpper(m) {
			case "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD":
				out = append(out, strings.ToUpper(m)+" "+p)
			}
		}
	}
	sort.Strings(out)
	return out
}

// classify maps a response to an outcome letter for a row.
func classify(row mxRow, r resp) byte {
	switch {
	case r.status >= 200 && r.status < 300:
		return oAllow
	case r.status == http.StatusUnauthorized:
		var p api.Problem
		if json.Unmarshal(r.body, &p) == nil && p.Code != api.CodeUnauthenticated {
			break // 401 step_up_required or invalid_mfa_code: authenticated, see alsoOK
		}
		return oUnauth
	case r.status == http.StatusForbidden:
		return oDeny
	case r.status == http.StatusNotFound:
		return oNF
	}
	if slices.Contains(row.alsoOK, r.status) {
		return oAllow
	}
	return '?'
}

func TestAuthorisationMatrix(t *testing.T) {
	started := time.Now()
	f := startMatrix(t)
	rows := matrixRows(f)

	// Every described route is in the table, and the table names no route
	// the server does not have: a new endpoint must be added here.
	covered := map[string]bool{}
	for _, r := range rows {
		k := r.method + " " + r.tmpl
		if covered[k] {
			t.Errorf("row %s appears twice", k)
		}
		covered[k] = true
	}
	served := openAPIRoutes(t, f.env)
	for _, k := range served {
		if !covered[k] {
			t.Errorf("endpoint %s is served but not in the authorisation matrix: add a row", k)
		}
		delete(covered, k)
	}
	for k := range covered {
		if k != "GET /v1/openapi.json" && k != "GET /v1/openapi.yaml" { // huma serves these outside the document
			t.Errorf("matrix row %s names no served endpoint", k)
		}
	}

	invalid := "pamd_" + strings.Repeat("x", 40)
	callers := append(slices.Clone(matrixRoles), callerAnon, callerInvalid)
	counts := map[string][2]int{} // caller -> allow, deny
	deniedCells, auditedDenials, authDenied := 0, 0, 0
	var summary strings.Builder
	fmt.Fprintf(&summary, "%-50s %s\n", "endpoint", "adm sec aud req apr ano inv")
	for _, row := range rows {
		if len(row.expect) != len(matrixRoles) {
			t.Fatalf("%s %s: expect %q has %d letters", row.method, row.tmpl, row.expect, len(row.expect))
		}
		line := fmt.Sprintf("%-50s", row.method+" "+row.tmpl)
		for i, c := range callers {
			var role, tok, subject string
			want := byte(oUnauth)
			switch c {
			case callerAnon:
			case callerInvalid:
				tok = invalid
			default:
				role = c
				tok, subject = f.mint(role, matrixGroup)
				want = row.expect[i]
			}
			if row.public {
				want = oAllow
			}
			rq := row.prep(f, role, tok)
			if rq.token != "" {
				tok = rq.token
			}
			res := f.do(row.method, rq.path, tok, rq.body, rq.headers...)
			got := classify(row, res)
			if got != want {
				kind := "unexpected deny"
				if got == oAllow {
					kind = "UNEXPECTED ALLOW"
				}
				t.Errorf("%s: %s %s (%s) as %s: got %c (%d), want %c: %s", kind, row.method, row.tmpl, rq.path, c, got, res.status, want, res.body)
			}
			if got == oAllow && row.hides != nil && role != "" {
				for _, id := range row.hides(f) {
					if seen := bytes.Contains(res.body, []byte(id)); seen != (row.sees[i] == oAllow) {
						t.Errorf("%s %s as %s: object %s visible=%v, want %v", row.method, rq.path, c, id, seen, !seen)
					}
				}
			}
			mark := got
			if !row.public && (c == callerAnon || c == callerInvalid) {
				// A refused credential is audited (auth.denied, reason
				// unknown); no credential at all is not.
				want := []string{}
				if c == callerInvalid {
					want = []string{"unknown"}
				}
				if got := f.authDenials(); !slices.Equal(append([]string{}, got...), want) {
					t.Errorf("%s %s as %s: auth.denied reasons %q, want %q", row.method, rq.path, c, got, want)
				} else if c == callerInvalid {
					authDenied++
				}
			}
			if got == oDeny {
				deniedCells++
				if f.deniedAudited(subject) {
					auditedDenials++
				} else {
					mark = 'd'
					t.Errorf("%s %s as %s: 403 without a denied audit event", row.method, rq.path, c)
				}
			}
			n := counts[c]
			if got == oAllow {
				n[0]++
			} else {
				n[1]++
			}
			counts[c] = n
			line += fmt.Sprintf("  %c ", mark)
		}
		summary.WriteString(line + "\n")
	}
	total := 0
	var tally []string
	for _, c := range callers {
		n := counts[c]
		total += n[0] + n[1]
		tally = append(tally, fmt.Sprintf("%s %d allow/%d deny", c, n[0], n[1]))
	}
	t.Logf("authorisation matrix: %d endpoints x %d callers = %d cells in %s\n"+
		"A allowed, D 403 (audited as denied), d 403 (not audited), U 401, N 404\n%s%s\n403s audited: %d of %d; invalid-token 401s audited as auth.denied: %d",
		len(rows), len(callers), total, time.Since(started).Round(time.Millisecond), summary.String(), strings.Join(tally, "; "),
		auditedDenials, deniedCells, authDenied)
}

// deniedEvents returns the denied audit events of action on target by actor id.
func (f *mxFixture) deniedEvents(action, target, actorID string) int {
	n := 0
	for _, ev := range f.auditEvents() {
		if ev.Outcome == api.OutcomeDenied && ev.Action == action && ev.Target.ID == target && ev.Actor.ID == actorID {
			n++
		}
	}
	return n
}

// TestAuthorisationRefusalsAudited covers the refusals issue 6 names: each is
// refused with its own problem code and leaves a denied audit event.
func TestAuthorisationRefusalsAudited(t *testing.T) {
	f := startMatrix(t)
	ctx := context.Background()
	idOf := func(subject string) string { _, id, _ := strings.Cut(subject, ":"); return id }

	// Self-approval: alice is a requester and an approver of the stage (group
	// matrix), and still may not approve her own request.
	aliceSub := "user:alice"
	aliceTok, err := f.d.IssueToken(ctx, aliceSub, []string{matrixGroup}, []string{api.ServerRoleRequester, api.ServerRoleApprover})
	if err != nil {
		t.Fatal(err)
	}
	var el api.Elevation
	f.post(api.PathElevations, aliceTok, api.ElevationRequest{RoleID: f.role, Scope: "/orgs/appr", RequestedDurationSeconds: 900, Justification: "self"}, 201, &el)
	f.act(aliceTok, el.ID, api.ActionApprove, api.ElevationActionRequest{Reason: "me"}).problem(t, 403, api.CodeSelfApprovalForbidden)
	f.act(aliceTok, el.ID, api.ActionDeny, api.ElevationActionRequest{Reason: "me"}).problem(t, 403, api.CodeSelfApprovalForbidden)
	if n := f.deniedEvents("elevation.approve", el.ID, idOf(aliceSub)); n != 1 {
		t.Errorf("self-approval: %d denied audit events, want 1", n)
	}
	if got := f.getElevation(el.ID); got.State != api.StatePendingApproval {
		t.Errorf("self-approval changed the elevation: %s", got.State)
	}

	// Approving outside one's stage: an approver (server role) who is not
	// named in the current stage, directly or through a group.
	outsider, outsiderSub := f.mint(api.ServerRoleApprover, "other")
	f.act(outsider, el.ID, api.ActionApprove, api.ElevationActionRequest{Reason: "x"}).problem(t, 403, api.CodeNotAnApprover)
	if n := f.deniedEvents("elevation.approve", el.ID, idOf(outsiderSub)); n != 1 {
		t.Errorf("not_an_approver: %d denied audit events, want 1", n)
	}
	// An admin outside the stage is no approver either.
	adm, admSub := f.mint(api.ServerRoleAdmin)
	f.act(adm, el.ID, api.ActionApprove, api.ElevationActionRequest{Reason: "x"}).problem(t, 403, api.CodeNotAnApprover)
	if n := f.deniedEvents("elevation.approve", el.ID, idOf(admSub)); n != 1 {
		t.Errorf("admin not_an_approver: %d denied audit events, want 1", n)
	}
	// A stage approver may.
	insider, _ := f.mint(api.ServerRoleApprover, matrixGroup)
	f.act(insider, el.ID, api.ActionApprove, api.ElevationActionRequest{Reason: "ok"}).want(t, 200)

	// Another holder's checkout secret: refused for a fellow safe member and
	// for admin, each audited; the holder reads it.
	acct := f.newAccount()
	holder, _ := f.mint("", holdersGroup)
	var co api.Checkout
	f.post(api.PathVaultAccounts+"/"+acct+"/"+api.SegmentCheckouts, holder, api.CheckoutRequest{Justification: "mine"}, 201, &co)
	secretPath := api.PathCheckouts + "/" + co.ID + "/" + api.SegmentSecret
	other, otherSub := f.mint("", holdersGroup)
	for _, c := range []struct{ tok, sub string }{{other, otherSub}, {adm, admSub}} {
		r := f.do(http.MethodGet, secretPath, c.tok, nil).want(t, 403)
		if bytes.Contains(r.body, []byte("matrix-secret")) {
			t.Errorf("refusal leaks the secret: %s", r.body)
		}
		if n := f.deniedEvents("checkout.secret_read", co.ID, idOf(c.sub)); n != 1 {
			t.Errorf("secret read by %s: %d denied audit events, want 1", c.sub, n)
		}
	}
	var sec api.CheckoutSecret
	f.do(http.MethodGet, secretPath, holder, nil).want(t, 200).json(t, &sec)
	if !strings.HasPrefix(sec.Secret, "matrix-secret-") {
		t.Errorf("holder's secret = %q", sec.Secret)
	}

	// An expired token: accepted until its expiry, then 401 like any unknown
	// token, and audited as auth.denied with its id and reason.
	expiring, expRec, err := daemon.CreateToken(ctx, f.d.Store(), f.clock, daemon.TokenRequest{Subject: "user:short", ServerRoles: []string{api.ServerRoleAdmin}, TTL: time.Minute,
		IssuedBy: api.AuditActor{Type: "system", ID: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	f.do(http.MethodGet, api.PathRoles, expiring, nil).want(t, 200)
	f.clock.Advance(time.Minute)
	f.newEvents()
	f.do(http.MethodGet, api.PathRoles, expiring, nil).problem(t, 401, api.CodeUnauthenticated)
	f.do(http.MethodPost, api.PathRoles, expiring, api.RoleInput{Name: "late", AssignableScopes: []string{"/orgs"}}).problem(t, 401, api.CodeUnauthenticated)
	if n := f.authDeniedFor("expired", expRec.ID); n != 2 {
		t.Errorf("expired token: %d auth.denied events naming it, want 2", n)
	}

	// A revoked token (DELETE /v1/tokens/{id} by an admin) is refused at
	// its next request, with no cache in between; its record is gone, so the
	// refusal is audited as an unknown token.
	revoked, rec, err := daemon.CreateToken(ctx, f.d.Store(), f.clock, daemon.TokenRequest{Subject: "user:gone", ServerRoles: []string{api.ServerRoleAdmin},
		IssuedBy: api.AuditActor{Type: "system", ID: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	f.do(http.MethodGet, api.PathRoles, revoked, nil).want(t, 200)
	f.do(http.MethodDelete, api.PathTokens+"/"+rec.ID, f.admin, nil).want(t, 204)
	f.newEvents()
	f.do(http.MethodGet, api.PathRoles, revoked, nil).problem(t, 401, api.CodeUnauthenticated)
	if n := f.authDeniedFor("unknown", ""); n != 1 {
		t.Errorf("revoked token: %d auth.denied events, want 1", n)
	}
	// A token removed from the store behind pamd's back is refused too.
	removed, rec2, err := daemon.CreateToken(ctx, f.d.Store(), f.clock, daemon.TokenRequest{Subject: "user:removed",
		IssuedBy: api.AuditActor{Type: "system", ID: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	f.do(http.MethodGet, api.PathRoles, removed, nil).want(t, 200)
	deleteTokenRow(t, f.dbPath, rec2.ID)
	f.do(http.MethodGet, api.PathRoles, removed, nil).problem(t, 401, api.CodeUnauthenticated)

	f.verifyAudit()
}

// authDeniedFor counts the auth.denied events with reason and target token
// id appended since the last newEvents call.
func (f *mxFixture) authDeniedFor(reason, tokenID string) int {
	n := 0
	for _, ev := range f.newEvents() {
		if ev.Action == "auth.denied" && ev.Outcome == api.OutcomeDenied && auditReason(ev) == reason && ev.Target.ID == tokenID {
			n++
		}
	}
	return n
}

// deleteTokenRow removes a token record behind pamd's back (what revocation
// would do) through a second connection to the database (SQLite file or
// PostgreSQL URL).
func deleteTokenRow(t *testing.T, db, id string) {
	t.Helper()
	st, err := engine.Open(context.Background(), db, engine.Options{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	if err := st.Update(context.Background(), func(tx store.Tx) error { return tx.DeleteToken(id) }); err != nil {
		t.Fatalf("delete token row: %v", err)
	}
}
