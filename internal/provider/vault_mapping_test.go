package provider

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

func TestSafeMappingRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	created := time.Date(2025, 5, 1, 9, 0, 0, 0, time.UTC)
	s := &api.Safe{
		Meta: api.Meta{ID: "safe_1", Version: 3, CreatedAt: created, UpdatedAt: created},
		SafeInput: api.SafeInput{Name: "prod", Description: "d", DefaultRotationScheduleID: "rot_1",
			Members: []api.SafeMember{
				{PrincipalType: "user", PrincipalID: "alice", Permissions: []string{"manage"}},
				{PrincipalType: "group", PrincipalID: "dba", Permissions: []string{"retrieve", "checkout"}},
			},
			Labels: map[string]string{"env": "prod"}},
		AccountCount: 2,
	}
	m, d := safeToModel(s)
	mustNoDiags(t, d)
	if !m.DefaultSessionPolicyID.IsNull() || m.DefaultRotationScheduleID.ValueString() != "rot_1" || m.AccountCount.ValueInt64() != 2 ||
		m.CreatedAt.ValueString() != "2025-05-01T09:00:00Z" || len(m.Members.Elements()) != 2 {
		t.Fatalf("model %+v", m)
	}
	in, d := safeInputFromModel(ctx, m)
	mustNoDiags(t, d)
	// Sent in pamd's order (type, id), permissions sorted: the same plan
	// always makes the same body.
	got := jsonOf(t, in)
	want := `{"name":"prod","description":"d","default_rotation_schedule_id":"rot_1","default_session_policy_id":"",` +
		`"members":[{"principal_type":"group","principal_id":"dba","permissions":["checkout","retrieve"]},` +
		`{"principal_type":"user","principal_id":"alice","permissions":["manage"]}],"labels":{"env":"prod"}}`
	if got != want {
		t.Fatalf("input\n got %s\nwant %s", got, want)
	}
	empty, d := safeToModel(&api.Safe{Meta: api.Meta{ID: "safe_2"}, SafeInput: api.SafeInput{Name: "x"}})
	mustNoDiags(t, d)
	if empty.Members.IsNull() || len(empty.Members.Elements()) != 0 || empty.Labels.IsNull() || !empty.CreatedAt.IsNull() {
		t.Fatalf("empty safe model %+v", empty)
	}
}

func TestVaultAccountMapping(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	at := time.Date(2025, 5, 3, 10, 0, 0, 0, time.UTC)
	a := &api.VaultAccount{
		Meta: api.Meta{ID: "acct_1", Version: 7},
		VaultAccountInput: api.VaultAccountInput{Name: "pg", SafeID: "safe_1", Platform: "postgresql", Address: "db", Port: 5432,
			Username: "admin", SecretType: "password", ManagementMode: "automatic", RotationScheduleID: "rot_1",
			CheckoutPolicy: api.CheckoutPolicy{Exclusive: true, DefaultDurationSeconds: 600, MaxDurationSeconds: 1200, AllowRetrieve: true}},
		SecretVersion: 14,
		Status: api.VaultAccountStatus{CheckedOutBy: &api.Actor{Type: "user", ID: "alice"}, CheckoutID: "chk_1",
			CheckoutExpiresAt: &at, LastRotationResult: api.RotationResultSucceeded},
	}
	m, d := vaultAccountToModel(a)
	mustNoDiags(t, d)
	if m.CheckedOutBy.ValueString() != "user:alice" || m.CheckoutExpiresAt.ValueString() != "2025-05-03T10:00:00Z" ||
		m.Port.ValueInt64() != 5432 || !m.SessionPolicyID.IsNull() || !m.NextRotationAt.IsNull() || m.SecretVersion.ValueInt64() != 14 ||
		!m.StatusNote.IsNull() || m.LastRotationResult.ValueString() != "succeeded" {
		t.Fatalf("model %+v", m)
	}
	in, d := vaultAccountInputFromModel(ctx, m)
	mustNoDiags(t, d)
	if in.Secret != "" || in.CheckoutPolicy != a.CheckoutPolicy || in.Port != 5432 || in.SessionPolicyID != "" || in.RotationScheduleID != "rot_1" {
		t.Fatalf("input %+v", in)
	}
	if strings.Contains(jsonOf(t, in), `"secret"`) {
		t.Fatal("an input built from the model carries a secret member")
	}
	// A zero port and an empty mode come back as null and pamd's default.
	bare, d := vaultAccountToModel(&api.VaultAccount{VaultAccountInput: api.VaultAccountInput{Name: "x"}})
	mustNoDiags(t, d)
	if !bare.Port.IsNull() || bare.ManagementMode.ValueString() != api.ManagementManual || !bare.CheckedOutBy.IsNull() {
		t.Fatalf("bare model %+v", bare)
	}
	// secret_wo_version is Terraform's own: kept from the prior state, and
	// secret_wo is never set in state.
	rm, d := vaultAccountResourceToModel(a, vaultAccountResourceModel{SecretWO: types.StringValue("x"), SecretWOVersion: types.Int64Value(3)})
	mustNoDiags(t, d)
	if !rm.SecretWO.IsNull() || rm.SecretWOVersion.ValueInt64() != 3 {
		t.Fatalf("resource model %+v", rm)
	}
}

func TestSecretToSend(t *testing.T) {
	t.Parallel()
	model := func(secret string, version int64) *vaultAccountResourceModel {
		m := &vaultAccountResourceModel{SecretWO: types.StringNull(), SecretWOVersion: types.Int64Null()}
		if secret != "" {
			m.SecretWO = types.StringValue(secret)
		}
		if version != 0 {
			m.SecretWOVersion = types.Int64Value(version)
		}
		return m
	}
	for _, tc := range []struct {
		name                string
		config, plan, state *vaultAccountResourceModel
		want                string
	}{
		{"create sends", model("s", 1), model("", 1), nil, "s"},
		{"create without version sends", model("s", 0), model("", 0), nil, "s"},
		{"create without secret", model("", 0), model("", 0), nil, ""},
		{"update, same version: not sent", model("s2", 1), model("", 1), model("", 1), ""},
		{"update, version bumped: sent", model("s2", 2), model("", 2), model("", 1), "s2"},
		{"update, version set after import: sent", model("s", 1), model("", 1), model("", 0), "s"},
		{"update, version removed: sent", model("s", 0), model("", 0), model("", 4), "s"},
	} {
		if got := secretToSend(tc.config, tc.plan, tc.state); got != tc.want {
			t.Errorf("%s: sent %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestRotationScheduleMapping(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cron := "0 2 * * SUN"
	// Zero values are pamd's "default": shown as the defaults, so the
	// schema defaults and a stored object agree.
	s := &api.RotationSchedule{Meta: api.Meta{ID: "rot_1"}, RotationScheduleInput: api.RotationScheduleInput{Name: "weekly", Cron: &cron}}
	m, d := rotationScheduleToModel(s)
	mustNoDiags(t, d)
	if m.TimeZone.ValueString() != "UTC" || m.WindowSeconds.ValueInt64() != api.DefaultRotationWindowSeconds || !m.IntervalSeconds.IsNull() ||
		m.Cron.ValueString() != cron {
		t.Fatalf("model %+v", m)
	}
	var pp passwordPolicyModel
	mustNoDiags(t, m.PasswordPolicy.As(ctx, &pp, objectAsOptions))
	if pp.Length.ValueInt64() != api.DefaultPasswordLength || pp.Symbols.ValueString() != api.DefaultPasswordSymbols {
		t.Fatalf("password policy %+v", pp)
	}
	in, unknown, d := rotationScheduleInput(ctx, m)
	mustNoDiags(t, d)
	if len(unknown) != 0 || in.Cron == nil || *in.Cron != cron || in.IntervalSeconds != nil || in.PasswordPolicy.Symbols == nil ||
		in.Retry.MaxAttempts != api.DefaultRotationRetryAttempts {
		t.Fatalf("input %+v unknown %v", in, unknown)
	}
}

func TestPlanTimeScheduleViolations(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	bad := "61 * * * *"
	interval := int64(3600)
	// The parser's message is passed through on /cron.
	vs := planTimeScheduleViolations(api.RotationScheduleInput{Name: "x", Cron: &bad}, nil, now)
	if len(vs) != 1 || vs[0].Pointer != "/cron" || !strings.Contains(vs[0].Message, "above maximum") {
		t.Fatalf("violations %+v", vs)
	}
	// A cron whose zone is not known yet cannot be judged.
	if vs := planTimeScheduleViolations(api.RotationScheduleInput{Name: "x", Cron: &bad}, []string{"/time_zone"}, now); len(vs) != 0 {
		t.Fatalf("judged an unknown zone: %+v", vs)
	}
	// Both or neither trigger: left to the schema's ExactlyOneOf.
	if vs := planTimeScheduleViolations(api.RotationScheduleInput{Name: "x", Cron: &bad, IntervalSeconds: &interval}, nil, now); len(vs) != 0 {
		t.Fatalf("reported the trigger rule twice: %+v", vs)
	}
	if vs := planTimeScheduleViolations(api.RotationScheduleInput{}, nil, now); len(vs) != 0 {
		t.Fatalf("reported a missing trigger or name: %+v", vs)
	}
	// An unsatisfiable password policy is reported below password_policy.
	empty := ""
	vs = planTimeScheduleViolations(api.RotationScheduleInput{Name: "x", IntervalSeconds: &interval,
		PasswordPolicy: api.RotationPasswordPolicy{RequireSymbols: true, Symbols: &empty}}, nil, now)
	if len(vs) == 0 || !strings.HasPrefix(vs[0].Pointer, "/password_policy") {
		t.Fatalf("violations %+v", vs)
	}
	if p, ok := rotationSchedulePaths.pathFor(vs[0].Pointer); !ok || !strings.HasPrefix(p.String(), "password_policy") {
		t.Fatalf("pointer %s maps to %s", vs[0].Pointer, p)
	}
}

func TestVaultSchemasRegisteredAndDocumented(t *testing.T) {
	t.Parallel()
	server, err := providerserver.NewProtocol6WithError(New("test")())()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := server.GetProviderSchema(context.Background(), &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var walk func(where string, attrs []*tfprotov6.SchemaAttribute)
	walk = func(where string, attrs []*tfprotov6.SchemaAttribute) {
		for _, a := range attrs {
			if strings.TrimSpace(a.Description) == "" || a.DescriptionKind != tfprotov6.StringKindMarkdown {
				t.Errorf("%s: attribute %q has no markdown description", where, a.Name)
			}
			if a.NestedType != nil {
				walk(where+"."+a.Name, a.NestedType.Attributes)
			}
		}
	}
	kinds := map[string]map[string]*tfprotov6.Schema{
		"resource": resp.ResourceSchemas, "data source": resp.DataSourceSchemas, "ephemeral resource": resp.EphemeralResourceSchemas,
	}
	for kind, names := range map[string][]string{
		"resource":           {"pam_safe", "pam_vault_account", "pam_rotation_schedule"},
		"data source":        {"pam_safe", "pam_vault_account"},
		"ephemeral resource": {"pam_credential_checkout"},
	} {
		for _, name := range names {
			s := kinds[kind][name]
			if s == nil || s.Block == nil {
				t.Errorf("%s %s is not registered", kind, name)
				continue
			}
			walk(kind+" "+name, s.Block.Attributes)
		}
	}
	// The secret is write-only and sensitive; the checkout's secret sensitive.
	for _, a := range resp.ResourceSchemas["pam_vault_account"].Block.Attributes {
		if a.Name == "secret_wo" && (!a.WriteOnly || !a.Sensitive) {
			t.Errorf("secret_wo: write-only %v, sensitive %v", a.WriteOnly, a.Sensitive)
		}
	}
	for _, a := range resp.EphemeralResourceSchemas["pam_credential_checkout"].Block.Attributes {
		if a.Name == "secret" && !a.Sensitive {
			t.Error("the checkout's secret is not sensitive")
		}
	}
	ids, err := server.GetResourceIdentitySchemas(context.Background(), &tfprotov6.GetResourceIdentitySchemasRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"pam_safe", "pam_vault_account", "pam_rotation_schedule"} {
		if _, ok := ids.IdentitySchemas[name]; !ok {
			t.Errorf("%s has no identity schema", name)
		}
	}
}
