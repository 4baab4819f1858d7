package provider

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
)

// TestPIMSchemasRegisteredAndDocumented checks that every PIM type is
// registered and that every attribute, nested ones included, has a markdown
// description (the generated docs are built from them).
func TestPIMSchemasRegisteredAndDocumented(t *testing.T) {
	t.Parallel()
	server, err := providerserver.NewProtocol6WithError(New("test")())()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := server.GetProviderSchema(context.Background(), &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range resp.Diagnostics {
		t.Errorf("schema diagnostic: %s: %s", d.Summary, d.Detail)
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
	want := map[string]map[string]*tfprotov6.Schema{
		"resource":           resp.ResourceSchemas,
		"data source":        resp.DataSourceSchemas,
		"ephemeral resource": resp.EphemeralResourceSchemas,
	}
	for kind, names := range map[string][]string{
		"resource":           {"pam_activation_policy", "pam_eligible_role_assignment"},
		"data source":        {"pam_activation_policy", "pam_active_elevations", "pam_eligible_role_assignments"},
		"ephemeral resource": {"pam_role_activation"},
	} {
		for _, name := range names {
			s, ok := want[kind][name]
			if !ok || s == nil || s.Block == nil {
				t.Errorf("%s %s is not registered", kind, name)
				continue
			}
			if s.Block.Description == "" || s.Block.DescriptionKind != tfprotov6.StringKindMarkdown {
				t.Errorf("%s %s has no markdown description", kind, name)
			}
			walk(kind+" "+name, s.Block.Attributes)
		}
	}

	ids, err := server.GetResourceIdentitySchemas(context.Background(), &tfprotov6.GetResourceIdentitySchemasRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"pam_activation_policy", "pam_eligible_role_assignment"} {
		if _, ok := ids.IdentitySchemas[name]; !ok {
			t.Errorf("%s has no identity schema", name)
		}
	}
}
