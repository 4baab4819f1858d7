package catalog

import (
	"context"
	"fmt"
	"net/http"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/ids"
	"github.com/accessplane/terraform-provider-pam/internal/pim"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

func validatePolicy(in api.ActivationPolicyInput) (api.ActivationPolicyInput, error) {
	if vs := pim.ValidateActivationPolicy(in); len(vs) > 0 {
		return in, violationsProblem(fmt.Sprintf("%d field(s) are not valid", len(vs)), vs)
	}
	return pim.NormalizeActivationPolicy(in), nil
}

func (s *Service) policyNameConflict(tx store.Tx, name, selfID string) error {
	id, err := tx.GetActivationPolicyIDByName(name)
	switch {
	case isNotFound(err):
		return nil
	case err != nil:
		return err
	case id == selfID:
		return nil
	}
	return alreadyExists("activation policy", name, id)
}

// CreateActivationPolicy adds a policy (admin or security).
func (s *Service) CreateActivationPolicy(ctx context.Context, c Caller, in api.ActivationPolicyInput) (api.ActivationPolicy, error) {
	if !c.Principal.HasAnyRole(catalogWriters...) {
		return api.ActivationPolicy{}, s.denied(ctx, c, "activation_policy.created", policyKind, "")
	}
	norm, err := validatePolicy(in)
	if err != nil {
		return api.ActivationPolicy{}, err
	}
	now := s.now()
	actor := c.Principal.Actor()
	p := api.ActivationPolicy{
		Meta:                  api.Meta{ID: ids.New(api.PrefixActivationPolicy, now), Version: 1, CreatedAt: now, CreatedBy: actor, UpdatedAt: now, UpdatedBy: actor},
		ActivationPolicyInput: norm,
	}
	err = s.Store.Update(ctx, func(tx store.Tx) error {
		if err := s.policyNameConflict(tx, p.Name, ""); err != nil {
			return err
		}
		if err := tx.InsertActivationPolicy(p); err != nil {
			return err
		}
		return s.recordAny(tx, &c, "activation_policy.created", policyKind, p.ID, nil, p, 0, 1)
	})
	if err != nil {
		return api.ActivationPolicy{}, err
	}
	return p, nil
}

// GetActivationPolicy reads one policy; any authenticated caller may.
func (s *Service) GetActivationPolicy(ctx context.Context, id string) (api.ActivationPolicy, error) {
	var p api.ActivationPolicy
	err := s.Store.View(ctx, func(tx store.Tx) (err error) {
		p, err = tx.GetActivationPolicy(id)
		return err
	})
	if isNotFound(err) {
		return p, notFound("activation policy", id)
	}
	return p, err
}

// ListActivationPolicies returns a page of policies.
func (s *Service) ListActivationPolicies(ctx context.Context, f store.ActivationPolicyFilter) ([]api.ActivationPolicy, error) {
	var out []api.ActivationPolicy
	err := s.Store.View(ctx, func(tx store.Tx) (err error) {
		out, err = tx.ListActivationPolicies(f)
		return err
	})
	return out, err
}

// ReplaceActivationPolicy overwrites a policy. In-flight elevations keep their snapshot.
func (s *Service) ReplaceActivationPolicy(ctx context.Context, c Caller, id string, ifMatch *int64, in api.ActivationPolicyInput) (api.ActivationPolicy, error) {
	var out api.ActivationPolicy
	var deny bool
	err := s.Store.Update(ctx, func(tx store.Tx) error {
		cur, err := tx.GetActivationPolicy(id)
		if isNotFound(err) {
			return notFound("activation policy", id)
		} else if err != nil {
			return err
		}
		if !c.Principal.HasAnyRole(catalogWriters...) {
			deny = true
			return errDenied
		}
		norm, err := validatePolicy(in)
		if err != nil {
			return err
		}
		if ifMatch != nil && *ifMatch != cur.Version {
			return etagMismatch("activation policy", id, cur.Version)
		}
		if err := s.policyNameConflict(tx, norm.Name, id); err != nil {
			return err
		}
		out = cur
		out.ActivationPolicyInput = norm
		out.Version = cur.Version + 1
		out.UpdatedAt, out.UpdatedBy = s.now(), c.Principal.Actor()
		if err := tx.UpdateActivationPolicy(out, cur.Version); err != nil {
			return err
		}
		return s.recordAny(tx, &c, "activation_policy.updated", policyKind, id, cur, out, cur.Version, out.Version)
	})
	if deny {
		return api.ActivationPolicy{}, s.denied(ctx, c, "activation_policy.updated", policyKind, id)
	}
	return out, err
}

// DeleteActivationPolicy removes a policy no eligibility references.
func (s *Service) DeleteActivationPolicy(ctx context.Context, c Caller, id string, ifMatch *int64) error {
	var deny bool
	err := s.Store.Update(ctx, func(tx store.Tx) error {
		cur, err := tx.GetActivationPolicy(id)
		if isNotFound(err) {
			return notFound("activation policy", id)
		} else if err != nil {
			return err
		}
		if !c.Principal.HasAnyRole(catalogWriters...) {
			deny = true
			return errDenied
		}
		if ifMatch != nil && *ifMatch != cur.Version {
			return etagMismatch("activation policy", id, cur.Version)
		}
		n, example, err := tx.PolicyReferences(id)
		if err != nil {
			return err
		}
		if n > 0 {
			return api.NewProblem(http.StatusConflict, api.CodeInUse, fmt.Sprintf(
				"activation policy %q is used by %d eligible role assignment(s), for example %s; delete them or point them at another policy first", id, n, example))
		}
		if err := tx.DeleteActivationPolicy(id); err != nil {
			return err
		}
		return s.recordAny(tx, &c, "activation_policy.deleted", policyKind, id, cur, nil, cur.Version, 0)
	})
	if deny {
		return s.denied(ctx, c, "activation_policy.deleted", policyKind, id)
	}
	return err
}
