package provider

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// The state of pam_active_elevations is built as a tftypes.Value directly
// instead of through tfsdk.State.Set: for 1,000 elevations the framework's
// reflection (a model struct, then types.ObjectValue/ListValue, then
// ToTerraformValue) cost about 150 ms of CPU per read, this about 15 ms (see
// findings.md, "Provider: the data source's state built without reflection").
//
// The types are not declared here: they are taken from the schema the
// framework hands the Read (elevationsStateTypes), so the schema stays the one
// place that says what the state looks like. The attribute names below are
// checked by tftypes.NewValue against those types (a missing, extra or
// mistyped attribute is an error, never a silently different state), and
// TestActiveElevationsState builds every branch against the real schema.
//
// The values are those the attr.Value model produced: strings as they are
// (empty strings stay empty, not null), times as RFC 3339 in UTC or null when
// zero, requested_by as "type:id" or null, ticket null when absent, approvers
// an empty (not null) list when there are none.

// elevationsStateTypes are the object and list types of the data source's
// state, looked up by attribute name in the schema's type.
type elevationsStateTypes struct {
	state      tftypes.Object // the data source: filters and elevations
	elevations tftypes.List   // elevations
	elevation  tftypes.Object // elevations[*]
	ticket     tftypes.Object // elevations[*].ticket
	approvers  tftypes.List   // elevations[*].approvers
	approver   tftypes.Object // elevations[*].approvers[*]
}

// newElevationsStateTypes picks the nested types out of the state's type
// (resp.State.Schema.Type().TerraformType).
func newElevationsStateTypes(stateType tftypes.Type) (elevationsStateTypes, error) {
	var t elevationsStateTypes
	var ok [6]bool
	t.state, ok[0] = stateType.(tftypes.Object)
	t.elevations, ok[1] = t.state.AttributeTypes["elevations"].(tftypes.List)
	t.elevation, ok[2] = t.elevations.ElementType.(tftypes.Object)
	t.ticket, ok[3] = t.elevation.AttributeTypes["ticket"].(tftypes.Object)
	t.approvers, ok[4] = t.elevation.AttributeTypes["approvers"].(tftypes.List)
	t.approver, ok[5] = t.approvers.ElementType.(tftypes.Object)
	if slices.Contains(ok[:], false) {
		return t, fmt.Errorf("the schema's type %s has no elevations with ticket and approvers", stateType)
	}
	return t, nil
}

// activeElevationsState is the data source's new state: the configuration
// (the filters, echoed as they are, null or not) with elevations set to items.
// stateType is the schema's type of the whole data source.
func activeElevationsState(stateType tftypes.Type, config tftypes.Value, items []api.ActiveElevation) (state tftypes.Value, err error) {
	// tftypes.NewValue panics when a value does not fit its type; that can
	// only be a mismatch between this file and the schema, a provider bug to
	// report as an error rather than a crash of the provider.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the elevations do not fit the schema: %v", r)
		}
	}()
	t, err := newElevationsStateTypes(stateType)
	if err != nil {
		return tftypes.Value{}, err
	}

	var cfg map[string]tftypes.Value
	if err := config.As(&cfg); err != nil {
		return tftypes.Value{}, err
	}
	attrs := maps.Clone(cfg) // As shares config's map; config must stay unchanged
	if attrs == nil {
		attrs = map[string]tftypes.Value{}
	}

	elevations := make([]tftypes.Value, 0, len(items))
	for i := range items {
		elevations = append(elevations, t.elevationValue(&items[i]))
	}
	attrs["elevations"] = tftypes.NewValue(t.elevations, elevations)
	return tftypes.NewValue(t.state, attrs), nil
}

// elevationValue is one element of elevations.
func (t elevationsStateTypes) elevationValue(e *api.ActiveElevation) tftypes.Value {
	ticket := tftypes.NewValue(t.ticket, nil)
	if e.Ticket != nil {
		ticket = tftypes.NewValue(t.ticket, map[string]tftypes.Value{
			"system": tfString(e.Ticket.System),
			"number": tfString(e.Ticket.Number),
		})
	}
	requestedBy := tftypes.NewValue(tftypes.String, nil)
	if e.RequestedBy.Type != "" || e.RequestedBy.ID != "" {
		requestedBy = tfString(e.RequestedBy.Type + ":" + e.RequestedBy.ID)
	}
	approvers := make([]tftypes.Value, 0, len(e.Approvals))
	for _, a := range e.Approvals {
		approvers = append(approvers, tftypes.NewValue(t.approver, map[string]tftypes.Value{
			"stage_index":    tftypes.NewValue(tftypes.Number, int64(a.StageIndex)),
			"principal_type": tfString(a.Approver.Type),
			"principal_id":   tfString(a.Approver.ID),
			"decision":       tfString(a.Decision),
			"reason":         tfString(a.Reason),
			"via_group_id":   tfString(a.ViaGroupID),
			"decided_at":     tfTime(a.DecidedAt),
		}))
	}
	return tftypes.NewValue(t.elevation, map[string]tftypes.Value{
		"id":                          tfString(e.ID),
		"principal_type":              tfString(e.PrincipalType),
		"principal_id":                tfString(e.PrincipalID),
		"role_id":                     tfString(e.RoleID),
		"scope":                       tfString(e.Scope),
		"eligible_role_assignment_id": tfString(e.EligibleRoleAssignmentID),
		"source":                      tfString(e.Source),
		"started_at":                  tfTime(e.StartAt),
		"ends_at":                     tfTime(e.EndAt),
		"remaining_seconds":           tftypes.NewValue(tftypes.Number, e.RemainingSeconds),
		"justification":               tfString(e.Justification),
		"ticket":                      ticket,
		"requested_by":                requestedBy,
		"approvers":                   tftypes.NewValue(t.approvers, approvers),
		"extended":                    tftypes.NewValue(tftypes.Bool, e.Extended),
	})
}

// tfString is a known string, as types.StringValue(s) converts to.
func tfString(s string) tftypes.Value {
	return tftypes.NewValue(tftypes.String, s)
}

// tfTime is timeValue as a tftypes.Value: RFC 3339 in UTC, null when zero.
func tfTime(t time.Time) tftypes.Value {
	if t.IsZero() {
		return tftypes.NewValue(tftypes.String, nil)
	}
	return tfString(t.UTC().Format(time.RFC3339))
}
