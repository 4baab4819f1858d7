package main

import (
	"context"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

func newRoles(stdout io.Writer) *cobra.Command {
	roles := &cobra.Command{Use: "roles", Short: "Read the privileged role catalog of a running pamd"}
	var r remote
	list := &cobra.Command{
		Use:   "list",
		Short: "List roles (all pages)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			var all []api.Role
			params := api.RoleListParams{PageSize: api.MaxPageSize}
			for {
				page, err := c.ListRoles(ctx, params)
				if err != nil {
					return err
				}
				all = append(all, page.Items...)
				if page.NextPageToken == "" {
					break
				}
				params.PageToken = page.NextPageToken
			}
			if r.json {
				return printJSON(stdout, all)
			}
			rows := [][]string{{"ID", "NAME", "ASSIGNABLE SCOPES", "LABELS", "VERSION"}}
			for _, role := range all {
				rows = append(rows, []string{role.ID, role.Name, strings.Join(role.AssignableScopes, ","), formatLabels(role.Labels), formatInt(role.Version)})
			}
			return table(stdout, rows)
		},
	}
	r.bind(list)
	roles.AddCommand(list)
	return roles
}

func formatLabels(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+labels[k])
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ",")
}
