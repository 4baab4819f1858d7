package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/accessplane/terraform-provider-pam/internal/vault"
)

// host_keys are written as operators copy them (with a comment) and returned
// by pamd normalised (type and base64). The state keeps what the
// configuration says whenever pamd's value is the same key, so that a
// comment never causes a perpetual diff; a changed key shows in the plan.

// hostKeyValidator parses one host key with pamd's own parser
// (vault.ParseHostKey), so that a bad key fails at plan with its index.
type hostKeyValidator struct{}

func (hostKeyValidator) Description(context.Context) string {
	return "must be an SSH public key in authorized_keys form (\"ssh-ed25519 AAAA... comment\")"
}

func (v hostKeyValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (hostKeyValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, _, err := vault.ParseHostKey(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Host Key",
			fmt.Sprintf("%s %s. Copy the public key line from the target (for example /etc/ssh/ssh_host_ed25519_key.pub), "+
				"after checking its fingerprint there with ssh-keygen -lf.", req.Path, err.Error()))
	}
}

// distinctHostKeysValidator refuses the same key twice, comments ignored,
// as pamd does.
type distinctHostKeysValidator struct{}

func (distinctHostKeysValidator) Description(context.Context) string {
	return "must not list the same key twice (comments are ignored)"
}

func (v distinctHostKeysValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (distinctHostKeysValidator) ValidateList(_ context.Context, req validator.ListRequest, resp *validator.ListResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	seen := map[string]int{}
	for i, el := range req.ConfigValue.Elements() {
		norm, ok := normalizedHostKey(el)
		if !ok {
			continue
		}
		if j, dup := seen[norm]; dup {
			resp.Diagnostics.AddAttributeError(req.Path.AtListIndex(i), "Duplicate Host Key",
				fmt.Sprintf("host_keys[%d] is the same key as host_keys[%d] (comments are ignored). Remove one of them.", i, j))
			continue
		}
		seen[norm] = i
	}
}

// normalizedHostKey is pamd's stored form of a known, valid key element.
func normalizedHostKey(v attr.Value) (string, bool) {
	s, ok := v.(types.String)
	if !ok || s.IsNull() || s.IsUnknown() {
		return "", false
	}
	_, norm, err := vault.ParseHostKey(s.ValueString())
	return norm, err == nil
}

// hostKeysValue maps pamd's host keys to state: element by element, the
// prior value (plan or state, as the user wrote it) is kept where it is the
// same key as pamd's; pamd's normalised value is taken everywhere else.
func hostKeysValue(prior types.List, fromServer []string) (types.List, diag.Diagnostics) {
	var priorElems []attr.Value
	if !prior.IsNull() && !prior.IsUnknown() {
		priorElems = prior.Elements()
	}
	out := make([]attr.Value, len(fromServer))
	for i, k := range fromServer {
		out[i] = types.StringValue(k)
		if len(priorElems) != len(fromServer) {
			continue
		}
		if norm, ok := normalizedHostKey(priorElems[i]); ok && norm == k {
			out[i] = priorElems[i]
		}
	}
	return types.ListValue(types.StringType, out)
}
