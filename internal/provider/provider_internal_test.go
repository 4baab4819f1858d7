package provider

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/accessplane/terraform-provider-pam/internal/client"
)

// TestProviderSchemas runs the framework's own schema validation (what
// Terraform would report on its first GetProviderSchema call) and checks the
// house rule that every attribute is documented.
func TestProviderSchemas(t *testing.T) {
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
	check := func(kind, name string, s *tfprotov6.Schema) {
		if s == nil || s.Block == nil {
			t.Errorf("%s %s has no schema", kind, name)
			return
		}
		if s.Block.Description == "" || s.Block.DescriptionKind != tfprotov6.StringKindMarkdown {
			t.Errorf("%s %s has no markdown description", kind, name)
		}
		for _, a := range s.Block.Attributes {
			if strings.TrimSpace(a.Description) == "" || a.DescriptionKind != tfprotov6.StringKindMarkdown {
				t.Errorf("%s %s: attribute %q has no markdown description", kind, name, a.Name)
			}
		}
	}
	check("provider", "pam", resp.Provider)
	for name, s := range resp.ResourceSchemas {
		check("resource", name, s)
	}
	for name, s := range resp.DataSourceSchemas {
		check("data source", name, s)
	}
	if _, ok := resp.ResourceSchemas["pam_role"]; !ok {
		t.Error("pam_role resource missing")
	}
	if _, ok := resp.DataSourceSchemas["pam_role"]; !ok {
		t.Error("pam_role data source missing")
	}
	tokenSensitive := false
	for _, a := range resp.Provider.Block.Attributes {
		if a.Name == "token" {
			tokenSensitive = a.Sensitive
		}
	}
	if !tokenSensitive {
		t.Error("provider token must be Sensitive")
	}

	ids, err := server.GetResourceIdentitySchemas(context.Background(), &tfprotov6.GetResourceIdentitySchemasRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ids.Diagnostics {
		t.Errorf("identity schema diagnostic: %s: %s", d.Summary, d.Detail)
	}
	if s := ids.IdentitySchemas["pam_role"]; s == nil || len(s.IdentityAttributes) != 1 || s.IdentityAttributes[0].Name != "id" {
		t.Errorf("pam_role identity schema = %+v, want one attribute id", s)
	}
}

// configureWith runs the provider's Configure with the given attribute values
// (nil for null, tftypes.UnknownValue for unknown).
func configureWith(t *testing.T, attrs map[string]any) *provider.ConfigureResponse {
	t.Helper()
	ctx := context.Background()
	p := New("test")()
	var sresp provider.SchemaResponse
	p.Schema(ctx, provider.SchemaRequest{}, &sresp)
	objType, ok := sresp.Schema.Type().TerraformType(ctx).(tftypes.Object)
	if !ok {
		t.Fatal("provider schema is not an object")
	}
	vals := map[string]tftypes.Value{}
	for name, typ := range objType.AttributeTypes {
		v, set := attrs[name]
		switch {
		case !set || v == nil:
			vals[name] = tftypes.NewValue(typ, nil)
		default:
			vals[name] = tftypes.NewValue(typ, v)
		}
	}
	cfg := tfsdk.Config{Schema: sresp.Schema, Raw: tftypes.NewValue(objType, vals)}
	resp := &provider.ConfigureResponse{}
	p.Configure(ctx, provider.ConfigureRequest{Config: cfg, TerraformVersion: "1.12.6"}, resp)
	return resp
}

func attrErrors(resp *provider.ConfigureResponse) map[string]string {
	out := map[string]string{}
	for _, d := range resp.Diagnostics.Errors() {
		key := ""
		if wp, ok := d.(interface{ Path() path.Path }); ok {
			key = wp.Path().String()
		}
		out[key] += d.Summary() + ": " + d.Detail()
	}
	return out
}

// Configure tests use t.Setenv, so they cannot run in parallel.
func TestProviderConfigure(t *testing.T) {
	t.Run("missing endpoint and token name the attributes and env vars", func(t *testing.T) {
		t.Setenv(EnvEndpoint, "")
		t.Setenv(EnvToken, "")
		errs := attrErrors(configureWith(t, nil))
		if e := errs["endpoint"]; !strings.Contains(e, "Missing pamd Endpoint") || !strings.Contains(e, EnvEndpoint) {
			t.Errorf("endpoint error = %q", e)
		}
		if e := errs["token"]; !strings.Contains(e, "Missing pamd Token") || !strings.Contains(e, EnvToken) {
			t.Errorf("token error = %q", e)
		}
	})
	t.Run("unknown values are rejected per attribute", func(t *testing.T) {
		t.Setenv(EnvEndpoint, "http://127.0.0.1:1")
		t.Setenv(EnvToken, "tok")
		errs := attrErrors(configureWith(t, map[string]any{
			"endpoint": tftypes.UnknownValue, "token": tftypes.UnknownValue, "max_retries": tftypes.UnknownValue,
		}))
		for _, a := range []string{"endpoint", "token", "max_retries"} {
			if !strings.Contains(errs[a], "Unknown pamd") {
				t.Errorf("%s error = %q", a, errs[a])
			}
		}
	})
	t.Run("environment supplies defaults", func(t *testing.T) {
		t.Setenv(EnvEndpoint, "http://127.0.0.1:8443")
		t.Setenv(EnvToken, "tok")
		resp := configureWith(t, nil)
		if resp.Diagnostics.HasError() {
			t.Fatalf("diagnostics: %v", resp.Diagnostics)
		}
		c, ok := resp.ResourceData.(*client.Client)
		if !ok || c.Endpoint() != "http://127.0.0.1:8443" {
			t.Fatalf("ResourceData = %#v", resp.ResourceData)
		}
		if resp.DataSourceData != resp.ResourceData || resp.EphemeralResourceData != resp.ResourceData {
			t.Error("data sources and ephemeral resources must get the same client")
		}
	})
	t.Run("configuration overrides environment", func(t *testing.T) {
		t.Setenv(EnvEndpoint, "http://from-env:1")
		t.Setenv(EnvToken, "")
		resp := configureWith(t, map[string]any{
			"endpoint": "https://pamd.example.com", "token": "tok", "max_retries": int64(0),
			"request_timeout_seconds": int64(5), "insecure": true,
		})
		if resp.Diagnostics.HasError() {
			t.Fatalf("diagnostics: %v", resp.Diagnostics)
		}
		c, ok := resp.ResourceData.(*client.Client)
		if !ok || c.Endpoint() != "https://pamd.example.com" {
			t.Fatalf("ResourceData = %#v", resp.ResourceData)
		}
	})
	t.Run("bad CA certificate blames ca_cert_pem", func(t *testing.T) {
		t.Setenv(EnvEndpoint, "https://pamd.example.com")
		t.Setenv(EnvToken, "tok")
		errs := attrErrors(configureWith(t, map[string]any{"ca_cert_pem": "not a certificate"}))
		if !strings.Contains(errs["ca_cert_pem"], "Invalid pamd CA Certificate") {
			t.Errorf("errors = %v", errs)
		}
	})
	t.Run("bad endpoint from env blames endpoint", func(t *testing.T) {
		t.Setenv(EnvEndpoint, "pamd.example.com:8443")
		t.Setenv(EnvToken, "tok")
		errs := attrErrors(configureWith(t, nil))
		if !strings.Contains(errs["endpoint"], "Invalid pamd Endpoint") {
			t.Errorf("errors = %v", errs)
		}
	})
}

func TestProviderDataHelper(t *testing.T) {
	t.Parallel()
	var diags diag.Diagnostics
	if c := clientFromProviderData(nil, &diags); c != nil || diags.HasError() {
		t.Error("nil provider data must be accepted silently (provider not configured yet)")
	}
	if c := clientFromProviderData("wrong", &diags); c != nil || !diags.HasError() {
		t.Error("wrong provider data type must be an error")
	}
}
