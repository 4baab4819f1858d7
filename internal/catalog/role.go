package catalog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/audit"
	"github.com/accessplane/terraform-provider-pam/internal/ids"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

const roleKind = "role"

// NormalizeRoleInput validates in and returns its stored form: scopes
// de-duplicated and sorted ("/" when empty), labels never nil.
func NormalizeRoleInput(in api.RoleInput) (api.RoleInput, []api.Violation) {
	var vs []api.Violation
	add := func(ptr, code, msg string) { vs = append(vs, api.Violation{Pointer: ptr, Code: code, Message: msg}) }

	switch {
	case in.Name == "":
		add("/name", "required", "name is required")
	case !api.NamePattern.MatchString(in.Name):
		add("/name", "pattern", "name must be "+api.NameRule)
	}
	if n := utf8.RuneCountInString(in.Description); n > api.MaxDescriptionLength {
		add("/description", "max_length", fmt.Sprintf("description is %d characters, at most %d allowed", n, api.MaxDescriptionLength))
	}
	if len(in.AssignableScopes) > api.MaxAssignableScopes {
		add("/assignable_scopes", "max_items", fmt.Sprintf("at most %d assignable scopes allowed", api.MaxAssignableScopes))
	}
	for i, sc := range in.AssignableScopes {
		if !api.ScopePattern.MatchString(sc) {
			add("/assignable_scopes/"+strconv.Itoa(i), "pattern", fmt.Sprintf("scope %q must be %s", sc, api.ScopeRule))
		}
	}
	if len(in.Labels) > api.MaxLabels {
		add("/labels", "max_items", fmt.Sprintf("at most %d labels allowed", api.MaxLabels))
	}
	keys := make([]string, 0, len(in.Labels))
	for k := range in.Labels {
		keys = append(keys, k)
	}
	slices.Sort(keys) // violations in a stable order
	for _, k := range keys {
		if !api.LabelKeyPattern.MatchString(k) {
			add("/labels/"+pointerEscape(k), "pattern", fmt.Sprintf("label key %q must be %s", k, api.LabelKeyRule))
		}
		if n := utf8.RuneCountInString(in.Labels[k]); n > api.MaxLabelValueLength {
			add("/labels/"+pointerEscape(k), "max_length", fmt.Sprintf("label value is %d characters, at most %d allowed", n, api.MaxLabelValueLength))
		}
	}
	vs = append(vs, validateWebhooks(in.Webhooks)...)
	if len(vs) > 0 {
		return in, vs
	}

	out := in
	out.AssignableScopes = slices.Compact(slices.Sorted(slices.Values(in.AssignableScopes)))
	if len(out.AssignableScopes) == 0 {
		out.AssignableScopes = []string{"/"}
	}
	out.Labels = make(map[string]string, len(in.Labels))
	for k, v := range in.Labels {
		out.Labels[k] = v
	}
	out.Webhooks = nil
	for _, h := range in.Webhooks {
		out.Webhooks = append(out.Webhooks, api.RoleWebhook{URL: h.URL, Secret: h.Secret, SecretVersion: h.SecretVersion})
	}
	return out, nil
}

// pointerEscape escapes a JSON object key as an RFC 6901 reference token.
func pointerEscape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func validate(in api.RoleInput) (api.RoleInput, error) {
	out, vs := NormalizeRoleInput(in)
	if len(vs) > 0 {
		return in, api.ValidationProblem(fmt.Sprintf("%d field(s) are not valid", len(vs)), vs...)
	}
	return out, nil
}

func (s *Service) conflictOnName(tx store.Tx, name, selfID string) error {
	id, err := tx.GetRoleIDByName(name)
	switch {
	case isNotFound(err):
		return nil
	case err != nil:
		return err
	case id == selfID:
		return nil
	}
	return alreadyExists(roleKind, name, id)
}

// CreateRole adds a role to the catalog.
func (s *Service) CreateRole(ctx context.Context, c Caller, in api.RoleInput) (api.Role, error) {
	if !c.Principal.HasAnyRole(catalogWriters...) {
		return api.Role{}, s.denied(ctx, c, "role.created", roleKind, "")
	}
	norm, err := validate(in)
	if err != nil {
		return api.Role{}, err
	}
	now := s.now()
	id := ids.New(api.PrefixRole, now)
	hooks, err := s.mergeWebhooks(id, norm.Webhooks, nil)
	if err != nil {
		return api.Role{}, err
	}
	actor := c.Principal.Actor()
	r := api.Role{
		Meta:      api.Meta{ID: id, Version: 1, CreatedAt: now, CreatedBy: actor, UpdatedAt: now, UpdatedBy: actor},
		RoleInput: norm,
	}
	// From here on r is what is stored, returned and audited: no secret.
	r.Webhooks = publicWebhooks(hooks)
	err = s.Store.Update(ctx, func(tx store.Tx) error {
		if err := s.conflictOnName(tx, r.Name, ""); err != nil {
			return err
		}
		if err := tx.InsertRole(r); err != nil {
			return err
		}
		if len(hooks) > 0 {
			if err := tx.PutRoleWebhooks(r.ID, hooks); err != nil {
				return err
			}
		}
		return s.record(tx, c, "role.created", nil, &r, 0, 1)
	})
	if err != nil {
		return api.Role{}, err
	}
	return r, nil
}

func (s *Service) record(tx store.Tx, c Caller, action string, before, after *api.Role, vb, va int64) error {
	m := audit.Mutation{Now: s.Clock.Now(), Actor: c.auditActor(), Request: c.Request, Action: action,
		TargetType: roleKind, VersionBefore: vb, VersionAfter: va}
	// Typed nil pointers must not reach Fields as non-nil interfaces.
	if before != nil {
		m.Before, m.TargetID = before, before.ID
	}
	if after != nil {
		m.After, m.TargetID = after, after.ID
	}
	ev, err := audit.NewMutation(m)
	if err != nil {
		return err
	}
	return tx.AppendAudit(ev)
}

// GetRole reads one role. Any authenticated caller may read the catalog.
func (s *Service) GetRole(ctx context.Context, _ Caller, id string) (api.Role, error) {
	var r api.Role
	err := s.Store.View(ctx, func(tx store.Tx) (err error) {
		r, err = getRole(tx, id)
		return err
	})
	if isNotFound(err) {
		return r, notFound(roleKind, id)
	}
	return r, err
}

// ListRoles returns up to limit roles after afterID in id order.
func (s *Service) ListRoles(ctx context.Context, _ Caller, f store.RoleFilter) ([]api.Role, error) {
	var out []api.Role
	err := s.Store.View(ctx, func(tx store.Tx) (err error) {
		if out, err = tx.ListRoles(f); err != nil {
			return err
		}
		for i := range out {
			if err := withWebhooks(tx, &out[i]); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// ReplaceRole overwrites the writable fields of a role. ifMatch, when not nil,
// is the version the caller last saw.
func (s *Service) ReplaceRole(ctx context.Context, c Caller, id string, ifMatch *int64, in api.RoleInput) (api.Role, error) {
	var out api.Role
	var deny bool
	err := s.Store.Update(ctx, func(tx store.Tx) error {
		cur, err := getRole(tx, id)
		if isNotFound(err) {
			// 404 before authorisation: the id is unknown to everyone.
			return notFound(roleKind, id)
		} else if err != nil {
			return err
		}
		if !c.Principal.HasAnyRole(catalogWriters...) {
			deny = true
			return errDenied
		}
		norm, err := validate(in)
		if err != nil {
			return err
		}
		if ifMatch != nil && *ifMatch != cur.Version {
			return etagMismatch(roleKind, id, cur.Version)
		}
		if err := s.conflictOnName(tx, norm.Name, id); err != nil {
			return err
		}
		stored, err := tx.GetRoleWebhooks(id)
		if err != nil {
			return err
		}
		hooks, err := s.mergeWebhooks(id, norm.Webhooks, stored)
		if err != nil {
			return err
		}
		out = cur
		out.RoleInput = norm
		out.Webhooks = publicWebhooks(hooks)
		out.Version = cur.Version + 1
		out.UpdatedAt, out.UpdatedBy = s.now(), c.Principal.Actor()
		if err := tx.UpdateRole(out, cur.Version); err != nil {
			return err
		}
		if err := tx.PutRoleWebhooks(id, hooks); err != nil {
			return err
		}
		return s.record(tx, c, "role.updated", &cur, &out, cur.Version, out.Version)
	})
	if deny {
		return api.Role{}, s.denied(ctx, c, "role.updated", roleKind, id)
	}
	return out, err
}

// DeleteRole removes a role.
func (s *Service) DeleteRole(ctx context.Context, c Caller, id string, ifMatch *int64) error {
	var deny bool
	err := s.Store.Update(ctx, func(tx store.Tx) error {
		cur, err := getRole(tx, id)
		if isNotFound(err) {
			return notFound(roleKind, id)
		} else if err != nil {
			return err
		}
		if !c.Principal.HasAnyRole(catalogWriters...) {
			deny = true
			return errDenied
		}
		if ifMatch != nil && *ifMatch != cur.Version {
			return etagMismatch(roleKind, id, cur.Version)
		}
		if err := tx.DeleteRole(id); err != nil {
			return err
		}
		return s.record(tx, c, "role.deleted", &cur, nil, cur.Version, 0)
	})
	if deny {
		return s.denied(ctx, c, "role.deleted", roleKind, id)
	}
	return err
}

// errDenied aborts a transaction so that the denial is audited outside it.
var errDenied = errors.New("denied")
