package provider

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

func stringValue(s string) types.String { return types.StringValue(s) }
func int64Value(v int64) types.Int64    { return types.Int64Value(v) }

func TestRoleToModel(t *testing.T) {
	t.Parallel()
	created := time.Date(2025, 5, 1, 9, 12, 44, 123456789, time.FixedZone("CEST", 2*3600))
	r := &api.Role{
		Meta: api.Meta{ID: "role_01ABC", Version: 3, CreatedAt: created, UpdatedAt: created.Add(time.Hour)},
		RoleInput: api.RoleInput{
			Name: "db-admin", Description: "DBA", AssignableScopes: []string{"/orgs/b", "/orgs/a"},
			Labels: map[string]string{"team": "dba"},
		},
	}
	m, diags := roleToModel(r)
	if diags.HasError() {
		t.Fatal(diags)
	}
	want := roleModel{
		ID:               types.StringValue("role_01ABC"),
		Name:             types.StringValue("db-admin"),
		Description:      types.StringValue("DBA"),
		AssignableScopes: types.SetValueMust(types.StringType, []attr.Value{types.StringValue("/orgs/a"), types.StringValue("/orgs/b")}),
		Labels:           types.MapValueMust(types.StringType, map[string]attr.Value{"team": types.StringValue("dba")}),
		Version:          types.Int64Value(3),
		CreatedAt:        types.StringValue("2025-05-01T07:12:44Z"),
		UpdatedAt:        types.StringValue("2025-05-01T08:12:44Z"),
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("roleToModel =\n%+v\nwant\n%+v", m, want)
	}
}

// The schema defaults are ["/"] and {}: a role that pamd returns with nil or
// empty collections must map to exactly those, or every plan shows a diff.
func TestRoleToModelEmptyCollectionsMatchDefaults(t *testing.T) {
	t.Parallel()
	defaultScopes := types.SetValueMust(types.StringType, []attr.Value{types.StringValue("/")})
	emptyLabels := types.MapValueMust(types.StringType, map[string]attr.Value{})
	for name, in := range map[string]api.RoleInput{
		"nil":   {Name: "r"},
		"empty": {Name: "r", AssignableScopes: []string{}, Labels: map[string]string{}},
	} {
		m, diags := roleToModel(&api.Role{Meta: api.Meta{ID: "role_1", Version: 1}, RoleInput: in})
		if diags.HasError() {
			t.Fatal(diags)
		}
		if !m.AssignableScopes.Equal(defaultScopes) {
			t.Errorf("%s: scopes = %s, want the default [\"/\"]", name, m.AssignableScopes)
		}
		if !m.Labels.Equal(emptyLabels) || m.Labels.IsNull() {
			t.Errorf("%s: labels = %s, want an empty, non-null map", name, m.Labels)
		}
		if m.Description != types.StringValue("") {
			t.Errorf("%s: description = %s, want \"\" (the default)", name, m.Description)
		}
		if !m.CreatedAt.IsNull() {
			t.Errorf("%s: zero created_at = %s, want null", name, m.CreatedAt)
		}
	}
}

func TestRoleInputFromModel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := roleModel{
		Name:             types.StringValue("db-admin"),
		Description:      types.StringValue("DBA"),
		AssignableScopes: types.SetValueMust(types.StringType, []attr.Value{types.StringValue("/b"), types.StringValue("/a")}),
		Labels:           types.MapValueMust(types.StringType, map[string]attr.Value{"team": types.StringValue("dba")}),
		ID:               types.StringUnknown(),
		Version:          types.Int64Unknown(),
	}
	in, diags := roleInputFromModel(ctx, m)
	if diags.HasError() {
		t.Fatal(diags)
	}
	want := api.RoleInput{Name: "db-admin", Description: "DBA", AssignableScopes: []string{"/a", "/b"}, Labels: map[string]string{"team": "dba"}}
	if !reflect.DeepEqual(in, want) {
		t.Errorf("input = %+v, want %+v", in, want)
	}

	// Null or unknown collections are sent as the server's defaults, never null.
	in, diags = roleInputFromModel(ctx, roleModel{Name: types.StringValue("r"),
		AssignableScopes: types.SetNull(types.StringType), Labels: types.MapUnknown(types.StringType)})
	if diags.HasError() {
		t.Fatal(diags)
	}
	if !reflect.DeepEqual(in.AssignableScopes, []string{"/"}) || in.Labels == nil || len(in.Labels) != 0 {
		t.Errorf("input = %+v, want scopes [\"/\"] and empty labels", in)
	}
}

// Round trip: what Terraform sends is what it reads back, so apply never
// produces "inconsistent result" and the next plan is empty.
func TestRoleRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	in := api.RoleInput{Name: "n", Description: "d", AssignableScopes: []string{"/", "/x"}, Labels: map[string]string{"a": "1", "b": ""}}
	m, diags := roleToModel(&api.Role{Meta: api.Meta{ID: "role_1", Version: 1}, RoleInput: in})
	if diags.HasError() {
		t.Fatal(diags)
	}
	back, diags := roleInputFromModel(ctx, m)
	if diags.HasError() {
		t.Fatal(diags)
	}
	if !reflect.DeepEqual(back, in) {
		t.Errorf("round trip = %+v, want %+v", back, in)
	}
}

func TestRoleWebhooksToModel(t *testing.T) {
	t.Parallel()
	m, diags := roleResourceToModel(&api.Role{Meta: api.Meta{ID: "role_1", Version: 2}, RoleInput: api.RoleInput{Name: "r",
		Webhooks: []api.RoleWebhook{
			{URL: "https://b.example/hook", SecretVersion: 3, HasSecret: true},
			{URL: "https://a.example/hook", HasSecret: true},
		}}})
	if diags.HasError() {
		t.Fatal(diags)
	}
	var blocks []roleWebhookModel
	if d := m.Webhooks.ElementsAs(context.Background(), &blocks, false); d.HasError() {
		t.Fatal(d)
	}
	want := []roleWebhookModel{
		{URL: stringValue("https://b.example/hook"), SecretWO: types.StringNull(), SecretWOVersion: int64Value(3)},
		{URL: stringValue("https://a.example/hook"), SecretWO: types.StringNull(), SecretWOVersion: types.Int64Null()},
	}
	if !reflect.DeepEqual(blocks, want) {
		t.Errorf("webhooks = %+v, want %+v (order kept, secret null, version 0 as null)", blocks, want)
	}
	// No webhooks: an empty list, which is what an absent block plans to.
	m, diags = roleResourceToModel(&api.Role{Meta: api.Meta{ID: "role_1", Version: 1}, RoleInput: api.RoleInput{Name: "r"}})
	if diags.HasError() || m.Webhooks.IsNull() || len(m.Webhooks.Elements()) != 0 {
		t.Errorf("no webhooks = %v (%v), want an empty list", m.Webhooks, diags)
	}
}

func TestRoleResourceInputTakesSecretsFromConfig(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	block := func(url string, secret types.String, version types.Int64) attr.Value {
		return types.ObjectValueMust(roleWebhookAttrTypes, map[string]attr.Value{
			"url": stringValue(url), "secret_wo": secret, "secret_wo_version": version})
	}
	plan := roleResourceModel{
		roleModel: roleModel{Name: stringValue("r"), Description: stringValue("d"),
			AssignableScopes: types.SetValueMust(types.StringType, []attr.Value{stringValue("/")}),
			Labels:           types.MapValueMust(types.StringType, map[string]attr.Value{})},
		// Write-only values are always null in the plan.
		Webhooks: types.ListValueMust(roleWebhookObjectType, []attr.Value{block("https://a.example/h", types.StringNull(), int64Value(2))}),
	}
	config := roleResourceModel{
		Webhooks: types.ListValueMust(roleWebhookObjectType, []attr.Value{
			block("https://a.example/h", stringValue("0123456789abcdef0123"), int64Value(2)),
			block("https://b.example/h", types.StringNull(), types.Int64Null()),
		}),
	}
	in, diags := roleResourceInput(ctx, plan, config)
	if diags.HasError() {
		t.Fatal(diags)
	}
	want := []api.RoleWebhook{
		{URL: "https://a.example/h", Secret: "0123456789abcdef0123", SecretVersion: 2},
		{URL: "https://b.example/h"},
	}
	if in.Name != "r" || in.Description != "d" || !reflect.DeepEqual(in.Webhooks, want) {
		t.Errorf("input = %+v, want webhooks %+v", in, want)
	}
	// No blocks: no webhooks sent (the role has none).
	config.Webhooks = types.ListValueMust(roleWebhookObjectType, []attr.Value{})
	if in, _ = roleResourceInput(ctx, plan, config); len(in.Webhooks) != 0 {
		t.Errorf("webhooks = %+v, want none", in.Webhooks)
	}
}
