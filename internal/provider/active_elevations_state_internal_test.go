package provider

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// activeElevationsSchema is the data source's schema as the framework sees it.
func activeElevationsSchema(t *testing.T) datasource.SchemaResponse {
	t.Helper()
	var resp datasource.SchemaResponse
	(&activeElevationsDataSource{}).Schema(context.Background(), datasource.SchemaRequest{}, &resp)
	if resp.Diagnostics.HasError() {
		t.Fatalf("schema: %v", resp.Diagnostics)
	}
	return resp
}

// stateFromJSON parses a state written as Terraform would store it; attributes
// left out are null.
func stateFromJSON(t *testing.T, typ tftypes.Type, js string) tftypes.Value {
	t.Helper()
	v, err := (&tfprotov6.RawState{JSON: []byte(js)}).Unmarshal(typ)
	if err != nil {
		t.Fatalf("parsing %s: %v", js, err)
	}
	return v
}

// The hand-built state is checked against the schema: every branch of the
// builder (ticket or none, approvers or none, zero times, no requester) is
// built with the schema's own types, compared with the state written out in
// full, and read back through the framework's reflection into the model. A
// builder that names an attribute the schema does not have, misses one, or
// gives one another type fails here.
func TestActiveElevationsState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	schema := activeElevationsSchema(t).Schema
	stateType := schema.Type().TerraformType(ctx)

	config := stateFromJSON(t, stateType, `{"principal_id": "alice", "ends_before": "2026-05-01T12:00:00+02:00"}`)
	configBefore := config.Copy()
	started := time.Date(2026, 4, 30, 9, 0, 0, 0, time.FixedZone("CEST", 2*3600))
	items := []api.ActiveElevation{
		{
			ID: "elv_1", PrincipalType: "user", PrincipalID: "alice", RoleID: "role_1", Scope: "/orgs/acme",
			EligibleRoleAssignmentID: "era_1", Source: "self_activation",
			StartAt: started, EndAt: started.Add(time.Hour), RemainingSeconds: 1800,
			Justification: "INC-1", Ticket: &api.Ticket{System: "jira", Number: "INC-1"},
			RequestedBy: api.Actor{Type: "user", ID: "alice"},
			Approvals: []api.ApprovalDecision{{
				StageIndex: 1, Approver: api.Actor{Type: "user", ID: "bob"}, Decision: "approved",
				Reason: "ok", ViaGroupID: "apg_1", DecidedAt: started.Add(-time.Minute),
			}},
			Extended: true,
		},
		{ID: "elv_2"}, // no ticket, no approvals (nil), zero times, no requester, empty strings
	}

	got, err := activeElevationsState(stateType, config, items)
	if err != nil {
		t.Fatal(err)
	}
	want := stateFromJSON(t, stateType, `{
	  "principal_id": "alice", "role_id": null, "scope": null, "scope_prefix": null,
	  "ends_before": "2026-05-01T12:00:00+02:00",
	  "elevations": [
	    {
	      "id": "elv_1", "principal_type": "user", "principal_id": "alice", "role_id": "role_1", "scope": "/orgs/acme",
	      "eligible_role_assignment_id": "era_1", "source": "self_activation",
	      "started_at": "2026-04-30T07:00:00Z", "ends_at": "2026-04-30T08:00:00Z", "remaining_seconds": 1800,
	      "justification": "INC-1", "ticket": {"system": "jira", "number": "INC-1"}, "requested_by": "user:alice",
	      "approvers": [{
	        "stage_index": 1, "principal_type": "user", "principal_id": "bob", "decision": "approved",
	        "reason": "ok", "via_group_id": "apg_1", "decided_at": "2026-04-30T06:59:00Z"
	      }],
	      "extended": true
	    },
	    {
	      "id": "elv_2", "principal_type": "", "principal_id": "", "role_id": "", "scope": "",
	      "eligible_role_assignment_id": "", "source": "",
	      "started_at": null, "ends_at": null, "remaining_seconds": 0,
	      "justification": "", "ticket": null, "requested_by": null, "approvers": [], "extended": false
	    }
	  ]
	}`)
	if !got.Equal(want) {
		diffs, _ := got.Diff(want)
		for _, d := range diffs {
			t.Errorf("%s: got %s, want %s", d.Path, d.Value1, d.Value2)
		}
		t.Fatalf("state differs from the expected one")
	}
	if !config.Equal(configBefore) {
		t.Errorf("the configuration was changed: %s", config)
	}

	// The framework reads it back as the model it was built for.
	var m activeElevationsDataSourceModel
	if d := (tfsdk.State{Schema: schema, Raw: got}).Get(ctx, &m); d.HasError() {
		t.Fatalf("reading the state back: %v", d)
	}
	if m.PrincipalID.ValueString() != "alice" || !m.RoleID.IsNull() || len(m.Elevations.Elements()) != 2 {
		t.Errorf("read back: %+v", m)
	}

	// No elevations are an empty list, not null.
	empty, err := activeElevationsState(stateType, config, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := stateFromJSON(t, stateType, `{"principal_id": "alice", "ends_before": "2026-05-01T12:00:00+02:00", "elevations": []}`); !empty.Equal(want) {
		t.Errorf("no elevations: got %s, want %s", empty, want)
	}
}

// A schema the builder does not match is an error, not a panic of the
// provider.
func TestActiveElevationsStateSchemaMismatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	stateType := activeElevationsSchema(t).Schema.Type().TerraformType(ctx).(tftypes.Object)

	// An approver attribute the builder does not know about.
	elevations := stateType.AttributeTypes["elevations"].(tftypes.List)
	elevation := elevations.ElementType.(tftypes.Object)
	approver := elevation.AttributeTypes["approvers"].(tftypes.List).ElementType.(tftypes.Object)
	approverAttrs := map[string]tftypes.Type{"new_attribute": tftypes.String}
	for k, v := range approver.AttributeTypes {
		approverAttrs[k] = v
	}
	elevationAttrs := map[string]tftypes.Type{}
	for k, v := range elevation.AttributeTypes {
		elevationAttrs[k] = v
	}
	elevationAttrs["approvers"] = tftypes.List{ElementType: tftypes.Object{AttributeTypes: approverAttrs}}
	stateAttrs := map[string]tftypes.Type{}
	for k, v := range stateType.AttributeTypes {
		stateAttrs[k] = v
	}
	stateAttrs["elevations"] = tftypes.List{ElementType: tftypes.Object{AttributeTypes: elevationAttrs}}
	changed := tftypes.Object{AttributeTypes: stateAttrs}

	config := tftypes.NewValue(changed, nil)
	items := []api.ActiveElevation{{ID: "elv_1", Approvals: []api.ApprovalDecision{{Decision: "approved"}}}}
	_, err := activeElevationsState(changed, config, items)
	if err == nil || !strings.Contains(err.Error(), "new_attribute") {
		t.Fatalf("err = %v, want one naming new_attribute", err)
	}
}

// tfTime formats as timeValue does, the function the other data sources use.
func TestTfTimeIsTimeValue(t *testing.T) {
	t.Parallel()
	for _, tm := range []time.Time{{}, time.Date(2026, 4, 30, 9, 0, 0, 123, time.FixedZone("X", -5*3600))} {
		want, err := timeValue(tm).ToTerraformValue(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if got := tfTime(tm); !got.Equal(want) {
			t.Errorf("tfTime(%v) = %s, want %s", tm, got, want)
		}
	}
}
