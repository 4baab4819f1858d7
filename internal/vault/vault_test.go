package vault_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/vault"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// pointers returns "pointer=code" of every violation, sorted, for comparison.
func pointers(vs []api.Violation) []string {
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		out = append(out, v.Pointer+"="+v.Code)
	}
	slices.Sort(out)
	return out
}

func wantViolations(t *testing.T, vs []api.Violation, want ...string) {
	t.Helper()
	slices.Sort(want)
	if want == nil {
		want = []string{}
	}
	if got := pointers(vs); !slices.Equal(got, want) {
		t.Fatalf("violations:\n got %v\nwant %v\n(%+v)", got, want, vs)
	}
	for _, v := range vs {
		if v.Message == "" {
			t.Errorf("violation %s has no message", v.Pointer)
		}
	}
}

func member(typ, id string, perms ...string) api.SafeMember {
	return api.SafeMember{PrincipalType: typ, PrincipalID: id, Permissions: perms}
}

// ---------------------------------------------------------------- safes

func TestNormalizeSafeAccepts(t *testing.T) {
	in := api.SafeInput{
		Name: "prod-db.safe_1", Description: strings.Repeat("é", api.MaxDescriptionLength),
		Members: []api.SafeMember{
			member(api.PrincipalTypeUser, "zoe", api.SafePermissionRetrieve, api.SafePermissionCheckout, api.SafePermissionRetrieve),
			member(api.PrincipalTypeGroup, "dba", api.SafePermissionManage),
			member(api.PrincipalTypeUser, "alice", api.SafePermissionList),
			member(api.PrincipalTypeServiceAccount, "tf", api.SafePermissionApprove),
		},
	}
	got, vs := vault.NormalizeSafe(in)
	wantViolations(t, vs)
	var order []string
	for _, m := range got.Members {
		order = append(order, m.PrincipalType+":"+m.PrincipalID)
	}
	if want := []string{"group:dba", "service_account:tf", "user:alice", "user:zoe"}; !slices.Equal(order, want) {
		t.Errorf("member order = %v, want %v", order, want)
	}
	if p := got.Members[3].Permissions; !slices.Equal(p, []string{api.SafePermissionCheckout, api.SafePermissionRetrieve}) {
		t.Errorf("permissions not sorted and de-duplicated: %v", p)
	}
	if got.Labels == nil {
		t.Error("labels are nil, want an empty map")
	}
	// The input is not modified (its permissions keep their order).
	if in.Members[0].Permissions[0] != api.SafePermissionRetrieve || len(in.Members[0].Permissions) != 3 {
		t.Errorf("input mutated: %+v", in.Members[0])
	}
}

func TestNormalizeSafeEmptyMembersNeverNil(t *testing.T) {
	got, vs := vault.NormalizeSafe(api.SafeInput{Name: "s", Labels: map[string]string{"team": "dba"}})
	wantViolations(t, vs)
	if got.Members == nil || len(got.Members) != 0 {
		t.Errorf("members = %#v, want empty non-nil", got.Members)
	}
	if got.Labels["team"] != "dba" {
		t.Errorf("labels = %v", got.Labels)
	}
}

func TestNormalizeSafeRefuses(t *testing.T) {
	tooManyLabels := map[string]string{}
	for i := range api.MaxLabels + 1 {
		tooManyLabels[fmt.Sprintf("k%d", i)] = "v"
	}
	tooManyMembers := make([]api.SafeMember, api.MaxSafeMembers+1)
	for i := range tooManyMembers {
		tooManyMembers[i] = member(api.PrincipalTypeUser, fmt.Sprintf("u%d", i), api.SafePermissionList)
	}
	ok := member(api.PrincipalTypeUser, "alice", api.SafePermissionList)
	cases := []struct {
		name string
		in   api.SafeInput
		want []string
	}{
		{"missing name", api.SafeInput{}, []string{"/name=" + vault.CodeRequired}},
		{"bad name", api.SafeInput{Name: "-x"}, []string{"/name=" + vault.CodePattern}},
		{"name with space", api.SafeInput{Name: "a b"}, []string{"/name=" + vault.CodePattern}},
		{"name too long", api.SafeInput{Name: strings.Repeat("a", 129)}, []string{"/name=" + vault.CodePattern}},
		{"description too long", api.SafeInput{Name: "s", Description: strings.Repeat("x", api.MaxDescriptionLength+1)},
			[]string{"/description=" + vault.CodeTooLong}},
		{"too many members", api.SafeInput{Name: "s", Members: tooManyMembers}, []string{"/members=" + vault.CodeTooMany}},
		{"unknown principal type", api.SafeInput{Name: "s", Members: []api.SafeMember{member("robot", "r1", api.SafePermissionList)}},
			[]string{"/members/0/principal_type=" + vault.CodeEnum}},
		{"empty principal id", api.SafeInput{Name: "s", Members: []api.SafeMember{ok, member(api.PrincipalTypeUser, "", api.SafePermissionList)}},
			[]string{"/members/1/principal_id=" + vault.CodePattern}},
		{"principal id with colon", api.SafeInput{Name: "s", Members: []api.SafeMember{member(api.PrincipalTypeUser, "user:bob", api.SafePermissionList)}},
			[]string{"/members/0/principal_id=" + vault.CodePattern}},
		{"principal id with space", api.SafeInput{Name: "s", Members: []api.SafeMember{member(api.PrincipalTypeUser, "b ob", api.SafePermissionList)}},
			[]string{"/members/0/principal_id=" + vault.CodePattern}},
		{"principal id too long", api.SafeInput{Name: "s", Members: []api.SafeMember{member(api.PrincipalTypeUser, strings.Repeat("b", api.MaxPrincipalIDLength+1), api.SafePermissionList)}},
			[]string{"/members/0/principal_id=" + vault.CodePattern}},
		{"duplicate member", api.SafeInput{Name: "s", Members: []api.SafeMember{ok, member(api.PrincipalTypeGroup, "alice", api.SafePermissionList), ok}},
			[]string{"/members/2=" + vault.CodeDuplicate}},
		{"no permissions", api.SafeInput{Name: "s", Members: []api.SafeMember{member(api.PrincipalTypeUser, "alice")}},
			[]string{"/members/0/permissions=" + vault.CodeRequired}},
		{"unknown permission", api.SafeInput{Name: "s", Members: []api.SafeMember{member(api.PrincipalTypeUser, "alice", api.SafePermissionList, "admin")}},
			[]string{"/members/0/permissions/1=" + vault.CodeEnum}},
		{"too many labels", api.SafeInput{Name: "s", Labels: tooManyLabels}, []string{"/labels=" + vault.CodeTooMany}},
		{"bad label key escaped", api.SafeInput{Name: "s", Labels: map[string]string{"a/b~c": "v"}}, []string{"/labels/a~1b~0c=" + vault.CodePattern}},
		{"label value too long", api.SafeInput{Name: "s", Labels: map[string]string{"team": strings.Repeat("v", api.MaxLabelValueLength+1)}},
			[]string{"/labels/team=" + vault.CodeTooLong}},
		{"several at once", api.SafeInput{Name: "", Members: []api.SafeMember{member("x", "", "y")}},
			[]string{"/name=" + vault.CodeRequired, "/members/0/principal_type=" + vault.CodeEnum, "/members/0/principal_id=" + vault.CodePattern,
				"/members/0/permissions/0=" + vault.CodeEnum}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, vs := vault.NormalizeSafe(tc.in)
			wantViolations(t, vs, tc.want...)
			for _, v := range vs {
				if v.Rule != "" {
					t.Errorf("field violation %s has a rule %q (would be a 422)", v.Pointer, v.Rule)
				}
			}
			if got.Name != tc.in.Name || len(got.Members) != len(tc.in.Members) {
				t.Errorf("refused input not returned unchanged: %+v", got)
			}
		})
	}
}

func TestHasPermission(t *testing.T) {
	safe := api.Safe{SafeInput: api.SafeInput{Members: []api.SafeMember{
		member(api.PrincipalTypeUser, "alice", api.SafePermissionCheckout, api.SafePermissionRetrieve),
		member(api.PrincipalTypeGroup, "dba", api.SafePermissionManage),
		member(api.PrincipalTypeServiceAccount, "tf", api.SafePermissionCheckout),
		member(api.PrincipalTypeUser, "ops", api.SafePermissionList), // a user named like a group
	}}}
	user := func(id string, groups ...string) vault.Identity {
		return vault.Identity{Actor: api.Actor{Type: api.PrincipalTypeUser, ID: id}, Groups: groups}
	}
	cases := []struct {
		name string
		id   vault.Identity
		perm string
		want bool
	}{
		{"direct member with permission", user("alice"), api.SafePermissionCheckout, true},
		{"direct member second permission", user("alice"), api.SafePermissionRetrieve, true},
		{"direct member without permission", user("alice"), api.SafePermissionManage, false},
		{"through group", user("bob", "dba"), api.SafePermissionManage, true},
		{"group lacks permission", user("bob", "dba"), api.SafePermissionCheckout, false},
		{"non member", user("carol", "devs"), api.SafePermissionList, false},
		{"service account", vault.Identity{Actor: api.Actor{Type: api.PrincipalTypeServiceAccount, ID: "tf"}}, api.SafePermissionCheckout, true},
		{"same id other type", vault.Identity{Actor: api.Actor{Type: api.PrincipalTypeServiceAccount, ID: "alice"}}, api.SafePermissionCheckout, false},
		{"group name is not a user", user("x", "ops"), api.SafePermissionList, false},
		{"user id is not a group", user("dba"), api.SafePermissionManage, false},
		{"admin bypasses", vault.Identity{Actor: api.Actor{Type: api.PrincipalTypeUser, ID: "root"}, Admin: true}, api.SafePermissionRetrieve, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := vault.HasPermission(safe, tc.id, tc.perm); got != tc.want {
				t.Fatalf("HasPermission = %v, want %v", got, tc.want)
			}
		})
	}
	if vault.HasPermission(api.Safe{}, user("alice"), api.SafePermissionList) {
		t.Error("empty safe granted a permission")
	}
}

// ---------------------------------------------------------------- accounts

func account(platform, secretType string) api.VaultAccountInput {
	return api.VaultAccountInput{Name: "db-admin", SafeID: "safe_1", Platform: platform, Address: "db.example.com", Port: 5432,
		Username: "postgres", SecretType: secretType}
}

func TestPlatformSecretTypeMatrix(t *testing.T) {
	for _, p := range api.Platforms {
		if len(api.PlatformSecretTypes[p]) == 0 {
			t.Errorf("platform %s has no secret type", p)
		}
		for _, st := range api.SecretTypes {
			accepted := slices.Contains(api.PlatformSecretTypes[p], st)
			t.Run(p+"/"+st, func(t *testing.T) {
				_, vs := vault.NormalizeAccount(account(p, st))
				if accepted {
					wantViolations(t, vs)
					return
				}
				wantViolations(t, vs, "/secret_type="+vault.CodeMismatch)
				if !strings.Contains(vs[0].Message, p) || !strings.Contains(vs[0].Message, st) {
					t.Errorf("mismatch message does not name platform and type: %q", vs[0].Message)
				}
			})
		}
	}
	// The table as documented in the issue: postgresql takes passwords only.
	if !slices.Equal(api.PlatformSecretTypes[api.PlatformPostgreSQL], []string{api.SecretTypePassword}) {
		t.Errorf("postgresql secret types = %v", api.PlatformSecretTypes[api.PlatformPostgreSQL])
	}
	if !slices.Contains(api.PlatformSecretTypes[api.PlatformUnixSSH], api.SecretTypeSSHKey) {
		t.Error("unix_ssh does not accept ssh_key")
	}
}

func TestNormalizeAccountDefaults(t *testing.T) {
	in := account(api.PlatformPostgreSQL, api.SecretTypePassword)
	in.Secret = "s3cret"
	got, vs := vault.NormalizeAccount(in)
	wantViolations(t, vs)
	if got.Secret != "" {
		t.Error("normalised account keeps the secret")
	}
	if in.Secret != "s3cret" {
		t.Error("input secret was cleared")
	}
	if got.ManagementMode != api.ManagementManual {
		t.Errorf("management mode = %q, want manual", got.ManagementMode)
	}
	if got.CheckoutPolicy.MaxDurationSeconds != api.DefaultCheckoutMaxSeconds || got.CheckoutPolicy.DefaultDurationSeconds != api.DefaultCheckoutDurationSeconds {
		t.Errorf("checkout policy defaults = %+v", got.CheckoutPolicy)
	}
	if got.Labels == nil {
		t.Error("labels nil")
	}
	// A generic account needs no address; port 0 is allowed.
	g := api.VaultAccountInput{Name: "api-token", SafeID: "safe_1", Platform: api.PlatformGeneric, Username: "svc", SecretType: api.SecretTypeToken,
		ManagementMode: api.ManagementAutomatic}
	got, vs = vault.NormalizeAccount(g)
	wantViolations(t, vs)
	if got.ManagementMode != api.ManagementAutomatic {
		t.Errorf("explicit management mode lost: %q", got.ManagementMode)
	}
}

func TestCheckoutPolicyNormalisation(t *testing.T) {
	cases := []struct {
		name        string
		in          api.CheckoutPolicy
		def, max    int64
		want        []string
		keepsFields bool
	}{
		{name: "all defaults", in: api.CheckoutPolicy{}, def: api.DefaultCheckoutDurationSeconds, max: api.DefaultCheckoutMaxSeconds},
		{name: "max below default duration lowers the default", in: api.CheckoutPolicy{MaxDurationSeconds: 600}, def: 600, max: 600},
		{name: "explicit both", in: api.CheckoutPolicy{DefaultDurationSeconds: 120, MaxDurationSeconds: 7200}, def: 120, max: 7200},
		{name: "boundaries", in: api.CheckoutPolicy{DefaultDurationSeconds: api.MinCheckoutSeconds, MaxDurationSeconds: api.MaxCheckoutSeconds},
			def: api.MinCheckoutSeconds, max: api.MaxCheckoutSeconds},
		{name: "default equals max", in: api.CheckoutPolicy{DefaultDurationSeconds: 900, MaxDurationSeconds: 900}, def: 900, max: 900},
		{name: "flags kept", in: api.CheckoutPolicy{Exclusive: true, RotateOnCheckin: true, AllowRetrieve: true, RequireJustification: true},
			def: api.DefaultCheckoutDurationSeconds, max: api.DefaultCheckoutMaxSeconds, keepsFields: true},
		{name: "max above bound", in: api.CheckoutPolicy{DefaultDurationSeconds: 3600, MaxDurationSeconds: api.MaxCheckoutSeconds + 1},
			want: []string{"/checkout_policy/max_duration_seconds=" + vault.CodeRange}},
		{name: "max negative", in: api.CheckoutPolicy{DefaultDurationSeconds: 3600, MaxDurationSeconds: -1},
			want: []string{"/checkout_policy/max_duration_seconds=" + vault.CodeRange, "/checkout_policy/default_duration_seconds=" + vault.CodeRange}},
		{name: "default above max", in: api.CheckoutPolicy{DefaultDurationSeconds: 7201, MaxDurationSeconds: 7200},
			want: []string{"/checkout_policy/default_duration_seconds=" + vault.CodeRange}},
		{name: "default below minimum", in: api.CheckoutPolicy{DefaultDurationSeconds: api.MinCheckoutSeconds - 1},
			want: []string{"/checkout_policy/default_duration_seconds=" + vault.CodeRange}},
		{name: "default negative", in: api.CheckoutPolicy{DefaultDurationSeconds: -60},
			want: []string{"/checkout_policy/default_duration_seconds=" + vault.CodeRange}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := account(api.PlatformGeneric, api.SecretTypePassword)
			in.CheckoutPolicy = tc.in
			got, vs := vault.NormalizeAccount(in)
			wantViolations(t, vs, tc.want...)
			if len(tc.want) > 0 {
				if got.CheckoutPolicy != tc.in {
					t.Errorf("refused input changed: %+v", got.CheckoutPolicy)
				}
				return
			}
			p := got.CheckoutPolicy
			if p.DefaultDurationSeconds != tc.def || p.MaxDurationSeconds != tc.max {
				t.Errorf("policy = default %d max %d, want %d %d", p.DefaultDurationSeconds, p.MaxDurationSeconds, tc.def, tc.max)
			}
			if tc.keepsFields && (!p.Exclusive || !p.RotateOnCheckin || !p.AllowRetrieve || !p.RequireJustification) {
				t.Errorf("flags lost: %+v", p)
			}
		})
	}
}

func TestNormalizeAccountRefuses(t *testing.T) {
	mod := func(f func(*api.VaultAccountInput)) api.VaultAccountInput {
		in := account(api.PlatformPostgreSQL, api.SecretTypePassword)
		f(&in)
		return in
	}
	cases := []struct {
		name string
		in   api.VaultAccountInput
		want []string
	}{
		{"missing name", mod(func(a *api.VaultAccountInput) { a.Name = "" }), []string{"/name=" + vault.CodeRequired}},
		{"bad name", mod(func(a *api.VaultAccountInput) { a.Name = "a/b" }), []string{"/name=" + vault.CodePattern}},
		{"missing safe", mod(func(a *api.VaultAccountInput) { a.SafeID = "" }), []string{"/safe_id=" + vault.CodeRequired}},
		{"unknown platform", mod(func(a *api.VaultAccountInput) { a.Platform = "oracle" }), []string{"/platform=" + vault.CodeEnum}},
		{"missing platform", mod(func(a *api.VaultAccountInput) { a.Platform = "" }), []string{"/platform=" + vault.CodeEnum}},
		{"unknown secret type", mod(func(a *api.VaultAccountInput) { a.SecretType = "certificate" }), []string{"/secret_type=" + vault.CodeEnum}},
		{"unknown platform and secret type: no mismatch on top", mod(func(a *api.VaultAccountInput) { a.Platform, a.SecretType = "x", "y" }),
			[]string{"/platform=" + vault.CodeEnum, "/secret_type=" + vault.CodeEnum}},
		{"mismatch", mod(func(a *api.VaultAccountInput) { a.SecretType = api.SecretTypeSSHKey }), []string{"/secret_type=" + vault.CodeMismatch}},
		{"address required off generic", mod(func(a *api.VaultAccountInput) { a.Address = "" }), []string{"/address=" + vault.CodeRequired}},
		{"address required for unix_ssh", mod(func(a *api.VaultAccountInput) { a.Platform, a.Address = api.PlatformUnixSSH, "" }),
			[]string{"/address=" + vault.CodeRequired}},
		{"address with space", mod(func(a *api.VaultAccountInput) { a.Address = "db host" }), []string{"/address=" + vault.CodePattern}},
		{"address with slash", mod(func(a *api.VaultAccountInput) { a.Address = "http://db" }), []string{"/address=" + vault.CodePattern}},
		{"address too long", mod(func(a *api.VaultAccountInput) { a.Address = strings.Repeat("a", api.MaxAddressLength+1) }),
			[]string{"/address=" + vault.CodePattern}},
		{"port negative", mod(func(a *api.VaultAccountInput) { a.Port = -1 }), []string{"/port=" + vault.CodeRange}},
		{"port too high", mod(func(a *api.VaultAccountInput) { a.Port = 65536 }), []string{"/port=" + vault.CodeRange}},
		{"missing username", mod(func(a *api.VaultAccountInput) { a.Username = "" }), []string{"/username=" + vault.CodeRequired}},
		{"username two lines", mod(func(a *api.VaultAccountInput) { a.Username = "a\nb" }), []string{"/username=" + vault.CodePattern}},
		{"username NUL", mod(func(a *api.VaultAccountInput) { a.Username = "a\x00" }), []string{"/username=" + vault.CodePattern}},
		{"username too long", mod(func(a *api.VaultAccountInput) { a.Username = strings.Repeat("u", api.MaxUsernameLength+1) }),
			[]string{"/username=" + vault.CodePattern}},
		{"secret too long", mod(func(a *api.VaultAccountInput) { a.Secret = strings.Repeat("s", api.MaxSecretLength+1) }),
			[]string{"/secret=" + vault.CodeTooLong}},
		{"secret with NUL", mod(func(a *api.VaultAccountInput) { a.Secret = "pa\x00ss" }), []string{"/secret=" + vault.CodePattern}},
		{"unknown management mode", mod(func(a *api.VaultAccountInput) { a.ManagementMode = "auto" }), []string{"/management_mode=" + vault.CodeEnum}},
		{"rotation schedule id with space", mod(func(a *api.VaultAccountInput) { a.RotationScheduleID = "rs 1" }),
			[]string{"/rotation_schedule_id=" + vault.CodePattern}},
		{"session policy id too long", mod(func(a *api.VaultAccountInput) { a.SessionPolicyID = strings.Repeat("x", 129) }),
			[]string{"/session_policy_id=" + vault.CodePattern}},
		{"bad label", mod(func(a *api.VaultAccountInput) { a.Labels = map[string]string{"Team": "x"} }), []string{"/labels/Team=" + vault.CodePattern}},
		{"bad checkout policy", mod(func(a *api.VaultAccountInput) { a.CheckoutPolicy.MaxDurationSeconds = 30 }),
			[]string{"/checkout_policy/max_duration_seconds=" + vault.CodeRange, "/checkout_policy/default_duration_seconds=" + vault.CodeRange}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, vs := vault.NormalizeAccount(tc.in)
			wantViolations(t, vs, tc.want...)
			for _, v := range vs {
				if v.Rule != "" {
					t.Errorf("field violation %s carries rule %q", v.Pointer, v.Rule)
				}
				if tc.in.Secret != "" && strings.Contains(v.Message, tc.in.Secret) {
					t.Errorf("violation echoes the secret: %q", v.Message)
				}
			}
			if got.Name != tc.in.Name || got.Secret != tc.in.Secret {
				t.Errorf("refused input not returned as given")
			}
		})
	}
	// Accepted edges: max lengths, IPv6 address, port 65535, a valid secret of max length.
	edge := mod(func(a *api.VaultAccountInput) {
		a.Address, a.Port = "::1", 65535
		a.Username = strings.Repeat("u", api.MaxUsernameLength)
		a.Secret = strings.Repeat("s", api.MaxSecretLength)
		a.RotationScheduleID, a.SessionPolicyID = strings.Repeat("r", 128), "sp_1"
	})
	_, vs := vault.NormalizeAccount(edge)
	wantViolations(t, vs)
}

// ---------------------------------------------------------------- checkouts

func TestCheckoutDuration(t *testing.T) {
	pol := api.CheckoutPolicy{DefaultDurationSeconds: 1800, MaxDurationSeconds: 7200}
	strict := pol
	strict.RequireJustification = true
	cases := []struct {
		name  string
		p     api.CheckoutPolicy
		req   api.CheckoutRequest
		wantD int64
		want  []string
		rules []string
	}{
		{name: "default applies", p: pol, wantD: 1800},
		{name: "explicit", p: pol, req: api.CheckoutRequest{DurationSeconds: 600}, wantD: 600},
		{name: "exactly max", p: pol, req: api.CheckoutRequest{DurationSeconds: 7200}, wantD: 7200},
		{name: "exactly min", p: pol, req: api.CheckoutRequest{DurationSeconds: api.MinCheckoutSeconds}, wantD: api.MinCheckoutSeconds},
		{name: "above max", p: pol, req: api.CheckoutRequest{DurationSeconds: 7201}, wantD: 7201,
			want: []string{"/duration_seconds=" + vault.RuleMaxDuration}, rules: []string{vault.RuleMaxDuration}},
		{name: "below min", p: pol, req: api.CheckoutRequest{DurationSeconds: api.MinCheckoutSeconds - 1}, wantD: api.MinCheckoutSeconds - 1,
			want: []string{"/duration_seconds=" + vault.RuleMinDuration}, rules: []string{vault.RuleMinDuration}},
		{name: "negative", p: pol, req: api.CheckoutRequest{DurationSeconds: -5}, wantD: -5,
			want: []string{"/duration_seconds=" + vault.RuleMinDuration}, rules: []string{vault.RuleMinDuration}},
		{name: "justification required and missing", p: strict, wantD: 1800,
			want: []string{"/justification=" + vault.RuleRequireJustification}, rules: []string{vault.RuleRequireJustification}},
		{name: "justification blank", p: strict, req: api.CheckoutRequest{Justification: " \t\n"}, wantD: 1800,
			want: []string{"/justification=" + vault.RuleRequireJustification}, rules: []string{vault.RuleRequireJustification}},
		{name: "justification given", p: strict, req: api.CheckoutRequest{Justification: "INC-42"}, wantD: 1800},
		{name: "justification too long", p: pol, req: api.CheckoutRequest{Justification: strings.Repeat("j", api.MaxJustificationLength+1)}, wantD: 1800,
			want: []string{"/justification=" + vault.CodeTooLong}, rules: []string{""}},
		{name: "justification max length in runes", p: pol, req: api.CheckoutRequest{Justification: strings.Repeat("é", api.MaxJustificationLength)}, wantD: 1800},
		{name: "several", p: strict, req: api.CheckoutRequest{DurationSeconds: 9999}, wantD: 9999,
			want:  []string{"/duration_seconds=" + vault.RuleMaxDuration, "/justification=" + vault.RuleRequireJustification},
			rules: []string{vault.RuleMaxDuration, vault.RuleRequireJustification}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, vs := vault.CheckoutDuration(tc.p, tc.req)
			if d != tc.wantD {
				t.Errorf("duration = %d, want %d", d, tc.wantD)
			}
			wantViolations(t, vs, tc.want...)
			var rules []string
			for _, v := range vs {
				rules = append(rules, v.Rule)
			}
			slices.Sort(rules)
			slices.Sort(tc.rules)
			if !slices.Equal(rules, tc.rules) {
				t.Errorf("rules = %q, want %q", rules, tc.rules)
			}
		})
	}
}

func activeCheckout(d int64, exts int) api.Checkout {
	c := api.Checkout{AccountID: "acct_1", Holder: api.Actor{Type: "user", ID: "alice"}, State: api.CheckoutActive,
		DurationSeconds: d, ExpiresAt: t0.Add(time.Duration(d) * time.Second)}
	for range exts {
		c.Extensions = append(c.Extensions, api.CheckoutExtension{AdditionalSeconds: 1})
	}
	return c
}

func TestExtend(t *testing.T) {
	pol := api.CheckoutPolicy{DefaultDurationSeconds: 1800, MaxDurationSeconds: 3600}
	cases := []struct {
		name    string
		c       api.Checkout
		req     api.CheckoutExtendRequest
		wantExp time.Time
		want    []string
	}{
		{name: "within max", c: activeCheckout(1800, 0), req: api.CheckoutExtendRequest{AdditionalSeconds: 600}, wantExp: t0.Add(2400 * time.Second)},
		{name: "up to max exactly", c: activeCheckout(1800, 0), req: api.CheckoutExtendRequest{AdditionalSeconds: 1800}, wantExp: t0.Add(3600 * time.Second)},
		{name: "beyond max", c: activeCheckout(1800, 0), req: api.CheckoutExtendRequest{AdditionalSeconds: 1801}, wantExp: t0.Add(3601 * time.Second),
			want: []string{"/additional_seconds=" + vault.RuleMaxDuration}},
		{name: "zero", c: activeCheckout(1800, 0), req: api.CheckoutExtendRequest{}, wantExp: t0.Add(1800 * time.Second),
			want: []string{"/additional_seconds=" + vault.CodeRange}},
		{name: "negative does not shorten", c: activeCheckout(1800, 0), req: api.CheckoutExtendRequest{AdditionalSeconds: -600}, wantExp: t0.Add(1800 * time.Second),
			want: []string{"/additional_seconds=" + vault.CodeRange}},
		{name: "extension count at limit", c: activeCheckout(600, api.MaxCheckoutExtensions), req: api.CheckoutExtendRequest{AdditionalSeconds: 60},
			wantExp: t0.Add(660 * time.Second), want: []string{"=" + vault.RuleMaxExtensions}},
		{name: "one below extension limit", c: activeCheckout(600, api.MaxCheckoutExtensions-1), req: api.CheckoutExtendRequest{AdditionalSeconds: 60},
			wantExp: t0.Add(660 * time.Second)},
		{name: "justification too long", c: activeCheckout(600, 0), req: api.CheckoutExtendRequest{AdditionalSeconds: 60, Justification: strings.Repeat("j", api.MaxJustificationLength+1)},
			wantExp: t0.Add(660 * time.Second), want: []string{"/justification=" + vault.CodeTooLong}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			exp, vs := vault.Extend(pol, tc.c, tc.req)
			wantViolations(t, vs, tc.want...)
			if !exp.Equal(tc.wantExp) {
				t.Errorf("expiry = %s, want %s", exp, tc.wantExp)
			}
			for _, v := range vs {
				if (v.Code == vault.RuleMaxDuration || v.Code == vault.RuleMaxExtensions) && v.Rule != v.Code {
					t.Errorf("policy violation without rule: %+v", v)
				}
			}
		})
	}
}

func TestEnded(t *testing.T) {
	c := activeCheckout(600, 0)
	exp := c.ExpiresAt
	cases := []struct {
		name  string
		state string
		now   time.Time
		want  bool
	}{
		{"active before expiry", api.CheckoutActive, exp.Add(-time.Nanosecond), false},
		{"active at expiry", api.CheckoutActive, exp, true},
		{"active after expiry", api.CheckoutActive, exp.Add(time.Hour), true},
		{"checked in before expiry", api.CheckoutCheckedIn, t0, true},
		{"revoked", api.CheckoutRevoked, t0, true},
		{"expired", api.CheckoutExpired, t0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c.State = tc.state
			if got := vault.Ended(c, tc.now); got != tc.want {
				t.Fatalf("Ended = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestEnd(t *testing.T) {
	c := activeCheckout(600, 2)
	by := &api.Actor{Type: "user", ID: "root"}
	late := c.ExpiresAt.Add(5 * time.Minute)
	early := c.ExpiresAt.Add(-5 * time.Minute)
	cases := []struct {
		name, state, reason string
		by                  *api.Actor
		now, wantAt         time.Time
	}{
		{"checked in early", api.CheckoutCheckedIn, api.CheckoutEndCheckedIn, &c.Holder, early, early},
		{"revoked", api.CheckoutRevoked, api.CheckoutEndRevoked, by, early, early},
		{"expired noticed late ends at expiry", api.CheckoutExpired, api.CheckoutEndExpired, nil, late, c.ExpiresAt},
		{"expired noticed on time", api.CheckoutExpired, api.CheckoutEndExpired, nil, c.ExpiresAt, c.ExpiresAt},
		{"revoked late ends now", api.CheckoutRevoked, api.CheckoutEndRevoked, by, late, late},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := vault.End(c, tc.state, tc.reason, tc.by, tc.now)
			if out.State != tc.state || out.EndReason != tc.reason || out.EndedBy != tc.by {
				t.Errorf("end = state %q reason %q by %v", out.State, out.EndReason, out.EndedBy)
			}
			if out.EndedAt == nil || !out.EndedAt.Equal(tc.wantAt) {
				t.Errorf("ended at %v, want %s", out.EndedAt, tc.wantAt)
			}
			if c.State != api.CheckoutActive || c.EndedAt != nil {
				t.Error("End modified its input")
			}
			if len(out.Extensions) != 2 {
				t.Fatalf("extensions lost: %v", out.Extensions)
			}
			out.Extensions[0].AdditionalSeconds = 99
			if c.Extensions[0].AdditionalSeconds == 99 {
				t.Error("End shares the extensions slice with its input")
			}
			if !vault.Ended(out, tc.now.Add(-time.Hour)) {
				t.Error("an ended checkout is not Ended")
			}
		})
	}
}

// ---------------------------------------------------------------- AAD and rotator

func TestSecretAAD(t *testing.T) {
	base := vault.SecretAAD("acct_1", 1)
	if !bytes.Equal(base, vault.SecretAAD("acct_1", 1)) {
		t.Fatal("SecretAAD is not deterministic")
	}
	if !bytes.HasPrefix(base, []byte("pamd vault secret v1\x00")) {
		t.Errorf("AAD lacks its domain prefix: %q", base)
	}
	distinct := map[string][2]any{}
	for _, c := range []struct {
		id string
		v  int64
	}{{"acct_1", 1}, {"acct_1", 2}, {"acct_2", 1}, {"acct_1", 11}, {"acct_11", 1}, {"acct_", 11}, {"", 0}, {"acct_1", -1}} {
		k := string(vault.SecretAAD(c.id, c.v))
		if prev, dup := distinct[k]; dup {
			t.Errorf("SecretAAD(%q, %d) collides with %v", c.id, c.v, prev)
		}
		distinct[k] = [2]any{c.id, c.v}
	}
}

func TestNoopRotator(t *testing.T) {
	var r vault.Rotator = vault.NoopRotator{}
	if err := r.RotateAfterCheckin(context.Background(), "acct_1"); !errors.Is(err, vault.ErrNoRotationEngine) {
		t.Fatalf("NoopRotator = %v, want ErrNoRotationEngine", err)
	}
}
