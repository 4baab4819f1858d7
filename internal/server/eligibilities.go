package server

import (
	"context"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

// eligibilityWriteOutput is 201/200 with the assignment, or 200 with an
// api.ValidationResult for validate_only.
type eligibilityWriteOutput struct {
	Status   int
	ETag     string `header:"ETag"`
	Location string `header:"Location"`
	Body     any
}

type eligibilityOutput struct {
	ETag string `header:"ETag"`
	Body api.EligibleRoleAssignment
}

type createEligibilityInput struct {
	IdempotencyKey string `header:"Idempotency-Key" doc:"Makes the create safe to retry: a retry returns the first result."`
	ValidateOnly   bool   `query:"validate_only" doc:"Run every check and write nothing: 200 {\"valid\": true}, or the problem the real request would get."`
	Body           api.EligibleRoleAssignmentInput
}

type eligibilityIDInput struct {
	ID string `path:"id" doc:"Eligible role assignment id (era_...)."`
}

type replaceEligibilityInput struct {
	ID           string `path:"id" doc:"Eligible role assignment id (era_...)."`
	IfMatch      string `header:"If-Match" doc:"Version the change is based on, as returned in ETag; 412 if stale."`
	ValidateOnly bool   `query:"validate_only" doc:"Run every check and write nothing."`
	Body         api.EligibleRoleAssignmentInput
}

type deleteEligibilityInput struct {
	ID      string `path:"id" doc:"Eligible role assignment id (era_...)."`
	IfMatch string `header:"If-Match" doc:"Optional version precondition."`
	Force   bool   `query:"force" doc:"End the assignment's live elevations (withdrawn or revoked, end_reason eligibility_deleted) instead of refusing with 409."`
}

type listEligibilitiesInput struct {
	api.EligibleRoleAssignmentListParams
}

type eligibilityListOutput struct {
	Body api.Page[api.EligibleRoleAssignment]
}

const eligibilityItemPath = api.PathEligibleRoleAssignments + "/{id}"

var eligibilityStatuses = []string{api.EligibilityScheduled, api.EligibilityActive, api.EligibilityExpired}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func checkEnumList(param string, vals, allowed []string) error {
	for _, v := range vals {
		found := false
		for _, a := range allowed {
			found = found || a == v
		}
		if !found {
			return api.ValidationProblem(param+" is not valid", api.Violation{Pointer: "query:" + param, Code: "invalid_enum",
				Message: "\"" + v + "\" is not one of " + strings.Join(allowed, ", ")})
		}
	}
	return nil
}

func (s *Server) registerEligibilities() {
	tags := []string{"eligible_role_assignments"}
	register(s, huma.Operation{
		OperationID: "create-eligible-role-assignment", Method: http.MethodPost, Path: api.PathEligibleRoleAssignments, DefaultStatus: http.StatusCreated,
		Summary: "Create an eligible role assignment", Tags: tags,
		Description: "Requires admin or security. The role and the activation policy must exist, the scope must lie within the role's " +
			"assignable scopes and the window must satisfy the policy's eligibility_constraints. (principal_type, principal_id, role_id, scope) " +
			"is unique: 409 already_exists with existing_id. With ?validate_only=true every check runs and nothing is written: " +
			"200 {\"valid\": true}, or exactly the problem the real request would get.",
		Responses: s.bodies(map[int]any{http.StatusCreated: api.EligibleRoleAssignment{}, http.StatusOK: api.ValidationResult{}}),
	}, func(ctx context.Context, in *createEligibilityInput) (*eligibilityWriteOutput, error) {
		c, err := caller(ctx, http.MethodPost, api.PathEligibleRoleAssignments)
		if err != nil {
			return nil, err
		}
		e, err := s.catalog.CreateEligibility(ctx, c, in.Body, in.ValidateOnly)
		if err != nil {
			return nil, err
		}
		if in.ValidateOnly {
			return &eligibilityWriteOutput{Status: http.StatusOK, Body: api.ValidationResult{Valid: true}}, nil
		}
		return &eligibilityWriteOutput{Status: http.StatusCreated, ETag: api.FormatETag(e.Version),
			Location: api.PathEligibleRoleAssignments + "/" + e.ID, Body: e}, nil
	})

	register(s, huma.Operation{
		OperationID: "list-eligible-role-assignments", Method: http.MethodGet, Path: api.PathEligibleRoleAssignments,
		Summary: "List eligible role assignments", Tags: tags,
		Description: "Any valid token. Filters combine with AND; status is a comma-separated list of scheduled, active, expired " +
			"(derived from the clock). The natural key (principal_type, principal_id, role_id, scope) finds at most one.",
	}, func(ctx context.Context, in *listEligibilitiesInput) (*eligibilityListOutput, error) {
		size, err := pageSize(in.PageSize)
		if err != nil {
			return nil, err
		}
		statuses := splitList(in.Status)
		if err := checkEnumList("status", statuses, eligibilityStatuses); err != nil {
			return nil, err
		}
		if in.ScopePrefix != "" && !api.ScopePattern.MatchString(in.ScopePrefix) {
			return nil, api.ValidationProblem("scope_prefix is not valid", api.Violation{Pointer: "query:scope_prefix", Code: "pattern", Message: api.ScopeRule})
		}
		filter := strings.Join([]string{in.PrincipalType, in.PrincipalID, in.RoleID, in.Scope, in.ScopePrefix, in.ActivationPolicyID, in.Status}, "\x1f")
		after, err := s.after(in.PageToken, "eligible_role_assignments", filter)
		if err != nil {
			return nil, err
		}
		items, err := s.catalog.ListEligibilities(ctx, store.EligibilityFilter{
			PrincipalType: in.PrincipalType, PrincipalID: in.PrincipalID, RoleID: in.RoleID, Scope: in.Scope, ScopePrefix: in.ScopePrefix,
			ActivationPolicyID: in.ActivationPolicyID, Statuses: statuses, AfterID: after, Limit: size + 1,
		})
		if err != nil {
			return nil, err
		}
		return &eligibilityListOutput{Body: paginate(s, items, size, "eligible_role_assignments", filter,
			func(e api.EligibleRoleAssignment) string { return e.ID })}, nil
	})

	register(s, huma.Operation{
		OperationID: "get-eligible-role-assignment", Method: http.MethodGet, Path: eligibilityItemPath,
		Summary: "Read an eligible role assignment", Tags: tags,
		Description: "Any valid token. An expired assignment stays readable (status expired) until deleted.",
	}, func(ctx context.Context, in *eligibilityIDInput) (*eligibilityOutput, error) {
		e, err := s.catalog.GetEligibility(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		return &eligibilityOutput{ETag: api.FormatETag(e.Version), Body: e}, nil
	})

	register(s, huma.Operation{
		OperationID: "replace-eligible-role-assignment", Method: http.MethodPut, Path: eligibilityItemPath,
		Summary: "Replace an eligible role assignment", Tags: tags,
		Description: "Requires admin or security. principal_type, principal_id, role_id and scope are immutable (422 immutable_field). " +
			"?validate_only=true runs every check and writes nothing (200 {\"valid\": true}).",
		Responses: s.bodies(map[int]any{http.StatusOK: api.EligibleRoleAssignment{}}),
	}, func(ctx context.Context, in *replaceEligibilityInput) (*eligibilityWriteOutput, error) {
		c, err := caller(ctx, http.MethodPut, api.PathEligibleRoleAssignments+"/"+in.ID)
		if err != nil {
			return nil, err
		}
		v, err := ifMatch(in.IfMatch)
		if err != nil {
			return nil, err
		}
		e, err := s.catalog.ReplaceEligibility(ctx, c, in.ID, v, in.Body, in.ValidateOnly)
		if err != nil {
			return nil, err
		}
		if in.ValidateOnly {
			return &eligibilityWriteOutput{Status: http.StatusOK, Body: api.ValidationResult{Valid: true}}, nil
		}
		return &eligibilityWriteOutput{Status: http.StatusOK, ETag: api.FormatETag(e.Version), Body: e}, nil
	})

	register(s, huma.Operation{
		OperationID: "delete-eligible-role-assignment", Method: http.MethodDelete, Path: eligibilityItemPath, DefaultStatus: http.StatusNoContent,
		Summary: "Delete an eligible role assignment", Tags: tags,
		Description: "Requires admin or security. 409 active_elevations_exist while elevations of the assignment have not ended, unless ?force=true.",
	}, func(ctx context.Context, in *deleteEligibilityInput) (*struct{}, error) {
		c, err := caller(ctx, http.MethodDelete, api.PathEligibleRoleAssignments+"/"+in.ID)
		if err != nil {
			return nil, err
		}
		v, err := ifMatch(in.IfMatch)
		if err != nil {
			return nil, err
		}
		if err := s.catalog.DeleteEligibility(ctx, c, in.ID, v, in.Force); err != nil {
			return nil, err
		}
		return &struct{}{}, nil
	})
}
