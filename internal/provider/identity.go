package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"
)

// idIdentity is the resource identity of every pam resource: its pamd id,
// which is immutable and enough to find the object again.
type idIdentity struct {
	ID types.String `tfsdk:"id"`
}

// removeGone handles a Read that finds the object deleted outside Terraform:
// it drops the resource so that the plan proposes to create it again.
func removeGone(ctx context.Context, kind string, id types.String, resp *resource.ReadResponse) {
	tflog.Debug(ctx, kind+" not found in pamd; removing it from state", map[string]any{"id": id.ValueString()})
	// framework v1.19 rejects a Read that returns a null identity even when
	// it removes the resource; on CLIs without identity support (Terraform
	// < 1.12) the identity is null at this point, so fill it from state.
	if resp.Identity != nil {
		resp.Diagnostics.Append(resp.Identity.Set(ctx, idIdentity{ID: id})...)
	}
	resp.State.RemoveResource(ctx)
}
