package provider

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

func fullSessionPolicy() *api.SessionPolicy {
	created := time.Date(2025, 5, 1, 9, 0, 0, 0, time.UTC)
	return &api.SessionPolicy{
		Meta: api.Meta{ID: "sesp_1", Version: 4, CreatedAt: created, UpdatedAt: created.Add(time.Hour)},
		SessionPolicyInput: api.SessionPolicyInput{
			Name: "prod-ssh", Description: "strict", Protocols: []string{"ssh", "postgresql"},
			MaxSessionDurationSeconds: 14400, IdleTimeoutSeconds: 900, MaxConcurrentSessionsPerPrincipal: 2,
			TerminateOnAuthorizationEnd: true, RequireMFA: true, MFAMaxAgeSeconds: 600, RequireJustification: true,
			CredentialDelivery: "injected",
			Recording:          api.SessionRecordingPolicy{Enabled: true, Mode: "best_effort", RetainDays: 365},
			CommandFilter: api.CommandFilter{DefaultAction: "deny", Rules: []api.CommandFilterRule{
				{Match: "regex", Pattern: `^rm\s+-rf\s+/`, Action: "deny", Description: "no root wipes"},
				{Match: "prefix", Pattern: "sudo su", Action: "terminate_session"},
				{Match: "glob", Pattern: "iptables *", Action: "alert", Description: "notify SOC"},
				{Match: "exact", Pattern: "ls", Action: "allow"},
			}},
			FileTransfer:     api.FileTransferPolicy{Download: true},
			PortForwarding:   true,
			Labels:           map[string]string{"env": "prod"},
			RequireElevation: &api.SessionElevationRequirement{RoleID: "role_1", Scope: "/orgs/acme"},
		},
	}
}

// A full policy survives pamd -> model -> request body unchanged, rules in
// their order (first match wins), protocols in pamd's sorted order.
func TestSessionPolicyMappingRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := fullSessionPolicy()
	m, d := sessionPolicyToModel(p)
	mustNoDiags(t, d)
	if m.ID.ValueString() != "sesp_1" || m.Version.ValueInt64() != 4 || m.CreatedAt.ValueString() != "2025-05-01T09:00:00Z" ||
		m.UpdatedAt.ValueString() != "2025-05-01T10:00:00Z" || m.MFAMaxAgeSeconds.ValueInt64() != 600 {
		t.Fatalf("model %+v", m)
	}
	in, unknown, d := sessionPolicyInput(ctx, m)
	mustNoDiags(t, d)
	if len(unknown) != 0 {
		t.Fatalf("unknown %v", unknown)
	}
	want := p.SessionPolicyInput
	want.Protocols = []string{"postgresql", "ssh"}
	if got, w := jsonOf(t, in), jsonOf(t, want); got != w {
		t.Fatalf("body\n got %s\nwant %s", got, w)
	}
	var rules []commandFilterRuleModel
	var f commandFilterModel
	mustNoDiags(t, m.CommandFilter.As(ctx, &f, objectAsOptions))
	mustNoDiags(t, f.Rules.ElementsAs(ctx, &rules, false))
	for i, r := range rules {
		if r.Pattern.ValueString() != p.CommandFilter.Rules[i].Pattern || r.Description.ValueString() != p.CommandFilter.Rules[i].Description {
			t.Errorf("rule %d = %+v, want %+v", i, r, p.CommandFilter.Rules[i])
		}
	}
}

// Reordering the rules changes the body in exactly that way: the order is
// the policy, never sorted away.
func TestSessionPolicyRuleOrderIsKept(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := fullSessionPolicy()
	rs := p.CommandFilter.Rules
	p.CommandFilter.Rules = []api.CommandFilterRule{rs[3], rs[2], rs[1], rs[0]}
	m, d := sessionPolicyToModel(p)
	mustNoDiags(t, d)
	in, _, d := sessionPolicyInput(ctx, m)
	mustNoDiags(t, d)
	var got []string
	for _, r := range in.CommandFilter.Rules {
		got = append(got, r.Pattern)
	}
	if strings.Join(got, "|") != `ls|iptables *|sudo su|^rm\s+-rf\s+/` {
		t.Fatalf("rules sent in order %q", got)
	}
}

// A policy stored without optional blocks (zero values, nil rules and
// labels) maps to exactly the schema defaults, so a configuration without
// those blocks plans nothing after apply.
func TestSessionPolicyNilBlocksMapToDefaults(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, d := sessionPolicyToModel(&api.SessionPolicy{Meta: api.Meta{ID: "sesp_2", Version: 1},
		SessionPolicyInput: api.SessionPolicyInput{Name: "bare"}})
	mustNoDiags(t, d)
	defRecording, _ := sessionRecordingObject(api.SessionRecordingPolicy{})
	defFilter, _ := commandFilterObject(api.CommandFilter{})
	defTransfer, _ := fileTransferObject(api.FileTransferPolicy{})
	for name, pair := range map[string][2]attr.Value{
		"recording":      {m.Recording, defRecording},
		"command_filter": {m.CommandFilter, defFilter},
		"file_transfer":  {m.FileTransfer, defTransfer},
		"protocols":      {m.Protocols, types.SetValueMust(types.StringType, []attr.Value{types.StringValue("ssh")})},
		"labels":         {m.Labels, types.MapValueMust(types.StringType, map[string]attr.Value{})},
	} {
		if !pair[0].Equal(pair[1]) {
			t.Errorf("%s = %s, want the schema default %s", name, pair[0], pair[1])
		}
	}
	if !m.RequireElevation.IsNull() {
		t.Fatalf("require_elevation = %s, want null", m.RequireElevation)
	}
	if m.MaxSessionDurationSeconds.ValueInt64() != api.DefaultSessionDurationSeconds || m.CredentialDelivery.ValueString() != "injected" ||
		m.MFAMaxAgeSeconds.ValueInt64() != 0 || m.Description.IsNull() {
		t.Fatalf("model %+v", m)
	}
	if got := defFilter.String(); !strings.Contains(got, `"default_action":"allow"`) || !strings.Contains(got, `"rules":[]`) {
		t.Fatalf("default filter %s", got)
	}
	if got := defRecording.String(); !strings.Contains(got, `"mode":"strict"`) || !strings.Contains(got, `"retain_days":90`) {
		t.Fatalf("default recording %s", got)
	}

	// Null blocks (a configuration at validation) send empty collections,
	// never null: pamd replaces a whole policy on PUT.
	null := sessionPolicyModel{
		Name: types.StringValue("bare"), Protocols: types.SetNull(types.StringType),
		Recording: types.ObjectNull(sessionRecordingAttrTypes), CommandFilter: types.ObjectNull(commandFilterAttrTypes),
		FileTransfer: types.ObjectNull(fileTransferAttrTypes), Labels: types.MapNull(types.StringType),
		RequireElevation: types.ObjectNull(requireElevationAttrTypes),
	}
	in, unknown, d := sessionPolicyInput(ctx, null)
	mustNoDiags(t, d)
	if len(unknown) != 0 || in.CommandFilter.Rules == nil || in.Labels == nil {
		t.Fatalf("input %+v unknown %v", in, unknown)
	}
	if body := jsonOf(t, in); !strings.Contains(body, `"rules":[]`) || !strings.Contains(body, `"labels":{}`) {
		t.Fatalf("body %s", body)
	}
	// A command filter with rules left out keeps an empty list too.
	null.CommandFilter = types.ObjectValueMust(commandFilterAttrTypes, map[string]attr.Value{
		"default_action": types.StringValue("deny"),
		"rules":          types.ListNull(types.ObjectType{AttrTypes: commandFilterRuleAttrTypes}),
	})
	in, _, d = sessionPolicyInput(ctx, null)
	mustNoDiags(t, d)
	if in.CommandFilter.DefaultAction != "deny" || in.CommandFilter.Rules == nil || len(in.CommandFilter.Rules) != 0 {
		t.Fatalf("filter %+v", in.CommandFilter)
	}
}

// A malformed regex is a violation on the rule's pattern carrying the
// regexp package's message; what is not known yet is not judged.
func TestPlanTimeSessionPolicyViolations(t *testing.T) {
	t.Parallel()
	in := api.SessionPolicyInput{Name: "x", CommandFilter: api.CommandFilter{Rules: []api.CommandFilterRule{
		{Match: "exact", Pattern: "ls", Action: "allow"},
		{Match: "regex", Pattern: "(unclosed", Action: "deny"},
	}}}
	vs := planTimeSessionPolicyViolations(in, nil)
	if len(vs) != 1 || vs[0].Pointer != "/command_filter/rules/1/pattern" || !strings.Contains(vs[0].Message, "missing closing )") {
		t.Fatalf("violations %+v", vs)
	}
	p, ok := sessionPolicyPaths.pathFor(vs[0].Pointer)
	if !ok || p.String() != "command_filter.rules[1].pattern" {
		t.Fatalf("pointer maps to %s", p)
	}
	// The pattern of a rule whose match kind is unknown cannot be judged.
	if vs := planTimeSessionPolicyViolations(in, []string{"/command_filter/rules/1/match"}); len(vs) != 0 {
		t.Fatalf("judged a pattern of unknown kind: %+v", vs)
	}
	// An unknown name is not reported as missing.
	in.Name = ""
	in.CommandFilter.Rules = nil
	if vs := planTimeSessionPolicyViolations(in, []string{"/name"}); len(vs) != 0 {
		t.Fatalf("reported an unknown name: %+v", vs)
	}
	// The idle timeout is compared with the maximum duration only when both are known.
	in = api.SessionPolicyInput{Name: "x", MaxSessionDurationSeconds: 600, IdleTimeoutSeconds: 900}
	if vs := planTimeSessionPolicyViolations(in, nil); len(vs) != 1 || vs[0].Pointer != "/idle_timeout_seconds" {
		t.Fatalf("violations %+v", vs)
	}
	if vs := planTimeSessionPolicyViolations(in, []string{"/max_session_duration_seconds"}); len(vs) != 0 {
		t.Fatalf("judged against an unknown duration: %+v", vs)
	}
}

func TestPlannedMFAMaxAge(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   types.Bool
		want types.Int64
	}{
		{types.BoolValue(true), types.Int64Value(api.DefaultSessionMFAMaxAgeSeconds)},
		{types.BoolValue(false), types.Int64Value(0)},
		{types.BoolUnknown(), types.Int64Unknown()},
	} {
		if got := plannedMFAMaxAge(tc.in); !got.Equal(tc.want) {
			t.Errorf("require_mfa %s: planned %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestSessionsValue(t *testing.T) {
	t.Parallel()
	started := time.Date(2025, 5, 1, 9, 0, 0, 0, time.UTC)
	ended := started.Add(time.Hour)
	list, d := sessionsValue([]api.Session{
		{ID: "ses_1", State: "active", VaultAccountID: "acct_1", Principal: api.Actor{Type: "user", ID: "alice"},
			SessionPolicyID: "sesp_1", Protocol: "ssh", StartedAt: started, ExpiresAt: started.Add(8 * time.Hour),
			CommandFilterHits: []api.CommandFilterHit{{Command: "rm -rf /", RuleIndex: 0, Action: "deny"}, {Command: "x", RuleIndex: -1}}},
		{ID: "ses_2", State: "terminated", VaultAccountID: "acct_1", Principal: api.Actor{Type: "user", ID: "bob"},
			StartedAt: started, EndedAt: &ended, EndReason: "terminated_by_admin", EndedBy: &api.Actor{Type: "user", ID: "root"},
			RecordingID: "rec_1"},
	})
	mustNoDiags(t, d)
	if len(list.Elements()) != 2 {
		t.Fatalf("list %s", list)
	}
	first := list.Elements()[0].(types.Object).Attributes()  //nolint:forcetypeassert // built above
	second := list.Elements()[1].(types.Object).Attributes() //nolint:forcetypeassert // built above
	for name, c := range map[string]struct{ got, want attr.Value }{
		"principal":            {first["principal"], types.StringValue("user:alice")},
		"hit count":            {first["command_filter_hit_count"], types.Int64Value(2)},
		"ended_at (running)":   {first["ended_at"], types.StringNull()},
		"end_reason (running)": {first["end_reason"], types.StringNull()},
		"ended_by (running)":   {first["ended_by"], types.StringNull()},
		"recording (none)":     {first["recording_id"], types.StringNull()},
		"checkout (none)":      {first["checkout_id"], types.StringNull()},
		"ended_at":             {second["ended_at"], types.StringValue("2025-05-01T10:00:00Z")},
		"ended_by":             {second["ended_by"], types.StringValue("user:root")},
		"recording_id":         {second["recording_id"], types.StringValue("rec_1")},
		"session_policy_id":    {second["session_policy_id"], types.StringNull()},
	} {
		if !c.got.Equal(c.want) {
			t.Errorf("%s = %s, want %s", name, c.got, c.want)
		}
	}
}

func TestSessionSchemasRegisteredAndDocumented(t *testing.T) {
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
	for where, s := range map[string]*tfprotov6.Schema{
		"resource pam_session_policy":    resp.ResourceSchemas["pam_session_policy"],
		"data source pam_session_policy": resp.DataSourceSchemas["pam_session_policy"],
		"data source pam_sessions":       resp.DataSourceSchemas["pam_sessions"],
	} {
		if s == nil || s.Block == nil {
			t.Errorf("%s is not registered", where)
			continue
		}
		walk(where, s.Block.Attributes)
	}
	ids, err := server.GetResourceIdentitySchemas(context.Background(), &tfprotov6.GetResourceIdentitySchemasRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ids.IdentitySchemas["pam_session_policy"]; !ok {
		t.Error("pam_session_policy has no identity schema")
	}
}
