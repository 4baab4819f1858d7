package server

import (
	"context"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/catalog"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

type checkoutOutput struct {
	ETag     string `header:"ETag"`
	Location string `header:"Location"`
	Body     api.Checkout
}

type createCheckoutInput struct {
	ID             string `path:"id" doc:"Vault account id (acct_...)."`
	IdempotencyKey string `header:"Idempotency-Key" doc:"Required (400 idempotency_key_missing): a retry returns the same checkout."`
	Body           api.CheckoutRequest
}

type checkoutIDInput struct {
	ID string `path:"id" doc:"Checkout id (chk_...)."`
}

type checkoutActionInput struct {
	ID      string `path:"id" doc:"Checkout id (chk_...)."`
	IfMatch string `header:"If-Match" doc:"Optional version precondition."`
	Body    *api.CheckoutActionRequest
}

type checkoutExtendInput struct {
	ID      string `path:"id" doc:"Checkout id (chk_...)."`
	IfMatch string `header:"If-Match" doc:"Optional version precondition."`
	Body    api.CheckoutExtendRequest
}

type listCheckoutsInput struct {
	api.CheckoutListParams
}

type checkoutListOutput struct {
	Body api.Page[api.Checkout]
}

type checkoutSecretOutput struct {
	CacheControl string `header:"Cache-Control"`
	Pragma       string `header:"Pragma"`
	Body         api.CheckoutSecret
}

const checkoutItemPath = api.PathCheckouts + "/{id}"

func checkoutOut(c api.Checkout, withLocation bool) *checkoutOutput {
	out := &checkoutOutput{ETag: api.FormatETag(c.Version), Body: c}
	if withLocation {
		out.Location = api.PathCheckouts + "/" + c.ID
	}
	return out
}

func (s *Server) registerCheckouts(v *catalog.Vault) {
	tags := []string{"checkouts"}
	register(s, huma.Operation{
		OperationID: "create-checkout", Method: http.MethodPost, Path: accountItemPath + "/" + api.SegmentCheckouts, DefaultStatus: http.StatusCreated,
		Summary: "Check out a vault account", Tags: tags,
		Description: "Requires the checkout permission on the account's safe (directly, through a group, or admin/security) and an Idempotency-Key. " +
			"An exclusive account held by someone answers 409 account_locked with holder and expires_at. The response never holds the secret: " +
			"read it with GET /v1/checkouts/{id}/secret.",
	}, func(ctx context.Context, in *createCheckoutInput) (*checkoutOutput, error) {
		path := api.PathVaultAccounts + "/" + in.ID + "/" + api.SegmentCheckouts
		c, err := caller(ctx, http.MethodPost, path)
		if err != nil {
			return nil, err
		}
		if in.IdempotencyKey == "" {
			return nil, api.NewProblem(http.StatusBadRequest, api.CodeIdempotencyKeyMissing, "POST "+path+" requires an Idempotency-Key header")
		}
		out, err := v.CreateCheckout(ctx, c, in.ID, in.Body)
		if err != nil {
			return nil, err
		}
		return checkoutOut(out, true), nil
	})

	register(s, huma.Operation{
		OperationID: "list-checkouts", Method: http.MethodGet, Path: api.PathCheckouts, Summary: "List checkouts", Tags: tags,
		Description: "Holders see their own checkouts; admin, security and auditor see all. holder is \"type:id\"; state is comma-separated.",
	}, func(ctx context.Context, in *listCheckoutsInput) (*checkoutListOutput, error) {
		c, err := caller(ctx, http.MethodGet, api.PathCheckouts)
		if err != nil {
			return nil, err
		}
		size, err := pageSize(in.PageSize)
		if err != nil {
			return nil, err
		}
		f := store.CheckoutFilter{AccountID: in.AccountID}
		if in.Holder != "" {
			t, id, ok := strings.Cut(in.Holder, ":")
			if !ok || t == "" || id == "" {
				return nil, api.ValidationProblem("holder is not valid", api.Violation{Pointer: "query:holder", Code: "pattern", Message: `holder must be "type:id", e.g. "user:alice"`})
			}
			f.HolderType, f.HolderID = t, id
		}
		for _, st := range strings.Split(in.State, ",") {
			if st = strings.TrimSpace(st); st == "" {
				continue
			}
			if !contains(api.CheckoutStates, st) {
				return nil, api.ValidationProblem("state is not valid", api.Violation{Pointer: "query:state", Code: "invalid_enum",
					Message: "state must be one of " + strings.Join(api.CheckoutStates, ", ")})
			}
			f.States = append(f.States, st)
		}
		filter := "account_id=" + in.AccountID + "&holder=" + in.Holder + "&state=" + in.State
		if in.PageToken != "" {
			if f.AfterID, err = s.pages.decode(in.PageToken, "checkouts", filter); err != nil {
				return nil, invalidPageToken()
			}
		}
		f.Limit = size + 1
		items, err := v.ListCheckouts(ctx, c, f)
		if err != nil {
			return nil, err
		}
		page := api.Page[api.Checkout]{Items: items}
		if len(items) > size {
			page.Items = items[:size]
			page.NextPageToken = s.pages.encode("checkouts", filter, page.Items[size-1].ID)
		}
		return &checkoutListOutput{Body: page}, nil
	})

	register(s, huma.Operation{
		OperationID: "get-checkout", Method: http.MethodGet, Path: checkoutItemPath, Summary: "Read a checkout", Tags: tags,
	}, func(ctx context.Context, in *checkoutIDInput) (*checkoutOutput, error) {
		c, err := caller(ctx, http.MethodGet, api.PathCheckouts+"/"+in.ID)
		if err != nil {
			return nil, err
		}
		out, err := v.GetCheckout(ctx, c, in.ID)
		if err != nil {
			return nil, err
		}
		return checkoutOut(out, false), nil
	})

	register(s, huma.Operation{
		OperationID: "get-checkout-secret", Method: http.MethodGet, Path: checkoutItemPath + "/" + api.SegmentSecret,
		Summary: "Read the secret of an active checkout", Tags: tags,
		Description: "Holder only (others 403, audited); each read is audited as checkout.secret_read. Cache-Control: no-store. " +
			"410 secret_no_longer_available once the checkout has ended.",
	}, func(ctx context.Context, in *checkoutIDInput) (*checkoutSecretOutput, error) {
		c, err := caller(ctx, http.MethodGet, api.PathCheckouts+"/"+in.ID+"/"+api.SegmentSecret)
		if err != nil {
			return nil, err
		}
		out, err := v.CheckoutSecret(ctx, c, in.ID)
		if err != nil {
			return nil, err
		}
		return &checkoutSecretOutput{CacheControl: "no-store", Pragma: "no-cache", Body: out}, nil
	})

	action := func(name, summary, desc string, fn func(context.Context, catalog.Caller, string, *int64) (api.Checkout, error)) {
		register(s, huma.Operation{
			OperationID: name + "-checkout", Method: http.MethodPost, Path: checkoutItemPath + "/" + name, Summary: summary, Tags: tags, Description: desc,
		}, func(ctx context.Context, in *checkoutActionInput) (*checkoutOutput, error) {
			c, err := caller(ctx, http.MethodPost, api.PathCheckouts+"/"+in.ID+"/"+name)
			if err != nil {
				return nil, err
			}
			ver, err := ifMatch(in.IfMatch)
			if err != nil {
				return nil, err
			}
			out, err := fn(ctx, c, in.ID, ver)
			if err != nil {
				return nil, err
			}
			return checkoutOut(out, false), nil
		})
	}
	action(api.ActionCheckin, "Check a checkout in", "Holder only. With the policy's rotate_on_checkin the rotation engine is asked to rotate the secret.", v.Checkin)
	action(api.ActionRevoke, "Revoke a checkout", "Admin or security: force release.", v.Revoke)

	register(s, huma.Operation{
		OperationID: "extend-checkout", Method: http.MethodPost, Path: checkoutItemPath + "/" + api.ActionExtend, Summary: "Extend a checkout", Tags: tags,
		Description: "Holder only; the total duration may not exceed the policy's max_duration_seconds (422 policy_violation).",
	}, func(ctx context.Context, in *checkoutExtendInput) (*checkoutOutput, error) {
		c, err := caller(ctx, http.MethodPost, api.PathCheckouts+"/"+in.ID+"/"+api.ActionExtend)
		if err != nil {
			return nil, err
		}
		ver, err := ifMatch(in.IfMatch)
		if err != nil {
			return nil, err
		}
		out, err := v.Extend(ctx, c, in.ID, ver, in.Body)
		if err != nil {
			return nil, err
		}
		return checkoutOut(out, false), nil
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
