// Package provider implements the pam Terraform provider: the provider
// configuration and one file per Terraform type. It talks to pamd only through
// internal/client and shares the wire contract in internal/api.
package provider

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/accessplane/terraform-provider-pam/internal/client"
)

// Environment variables read when the matching attribute is not configured.
const (
	EnvEndpoint = "PAM_ENDPOINT"
	EnvToken    = "PAM_TOKEN"
)

var (
	_ provider.Provider                       = (*pamProvider)(nil)
	_ provider.ProviderWithEphemeralResources = (*pamProvider)(nil)
)

// New returns the provider factory for providerserver; version is the
// provider's release version ("dev" for local builds, "test" in tests).
func New(version string) func() provider.Provider {
	return func() provider.Provider {
		return &pamProvider{version: version}
	}
}

type pamProvider struct {
	version string
}

type pamProviderModel struct {
	Endpoint              types.String `tfsdk:"endpoint"`
	Token                 types.String `tfsdk:"token"`
	CACertPEM             types.String `tfsdk:"ca_cert_pem"`
	Insecure              types.Bool   `tfsdk:"insecure"`
	MaxRetries            types.Int64  `tfsdk:"max_retries"`
	RequestTimeoutSeconds types.Int64  `tfsdk:"request_timeout_seconds"`
}

func (p *pamProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "pam"
	resp.Version = p.version
}

func (p *pamProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Manages privileged access in [pamd](https://github.com/accessplane/terraform-provider-pam): " +
			"the role catalog, eligibility, vaulted credentials and session policies. " +
			"The provider does not contact pamd until the first resource or data source needs it, " +
			"so `terraform validate` and plans of unchanged configuration work offline.",
		Attributes: map[string]schema.Attribute{
			"endpoint": schema.StringAttribute{
				MarkdownDescription: "Base URL of pamd, for example `https://pamd.example.com` or `http://127.0.0.1:8443`. " +
					"May also be set with the `" + EnvEndpoint + "` environment variable; the attribute wins when both are set.",
				Optional:   true,
				Validators: []validator.String{endpointValidator{}},
			},
			"token": schema.StringAttribute{
				MarkdownDescription: "Bearer token pamd issued for Terraform (for example with `pamd token create`). " +
					"May also be set with the `" + EnvToken + "` environment variable, which keeps it out of configuration files. " +
					"The token is never logged.",
				Optional:  true,
				Sensitive: true,
			},
			"ca_cert_pem": schema.StringAttribute{
				MarkdownDescription: "PEM-encoded CA certificate trusted in addition to the system roots, for pamd behind a private CA.",
				Optional:            true,
			},
			"insecure": schema.BoolAttribute{
				MarkdownDescription: "Skip TLS certificate verification. Only for local development; defaults to `false`.",
				Optional:            true,
			},
			"max_retries": schema.Int64Attribute{
				MarkdownDescription: fmt.Sprintf("How many times a failed request is retried (429 and 503 always; other 5xx and "+
					"connection errors only for requests that are safe to repeat). `0` disables retries. Defaults to `%d`.",
					client.DefaultMaxRetries),
				Optional:   true,
				Validators: []validator.Int64{int64validator.Between(0, 100)},
			},
			"request_timeout_seconds": schema.Int64Attribute{
				MarkdownDescription: fmt.Sprintf("Timeout of each HTTP attempt, in seconds (retries get a fresh timeout). Defaults to `%d`.",
					int64(client.DefaultRequestTimeout/time.Second)),
				Optional:   true,
				Validators: []validator.Int64{int64validator.Between(1, 3600)},
			},
		},
	}
}

// Configure follows the HashiCups order: reject unknown values, apply
// environment defaults, report missing settings, then build the client. It
// never calls pamd, so configuration problems that need the server (a wrong
// token, an unreachable endpoint) surface on the first API call instead.
func (p *pamProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var cfg pamProviderModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}

	unknown := func(attr, what string) {
		resp.Diagnostics.AddAttributeError(path.Root(attr), "Unknown pamd "+what,
			fmt.Sprintf("The provider cannot create the pamd client because %q is not known until apply "+
				"(it depends on a resource that does not exist yet). Set it to a literal or a variable, "+
				"or remove it and use the environment variable where there is one.", attr))
	}
	if cfg.Endpoint.IsUnknown() {
		unknown("endpoint", "Endpoint")
	}
	if cfg.Token.IsUnknown() {
		unknown("token", "Token")
	}
	if cfg.CACertPEM.IsUnknown() {
		unknown("ca_cert_pem", "CA Certificate")
	}
	if cfg.Insecure.IsUnknown() {
		unknown("insecure", "Insecure Setting")
	}
	if cfg.MaxRetries.IsUnknown() {
		unknown("max_retries", "Max Retries")
	}
	if cfg.RequestTimeoutSeconds.IsUnknown() {
		unknown("request_timeout_seconds", "Request Timeout")
	}
	if resp.Diagnostics.HasError() {
		return
	}

	endpoint := strings.TrimSpace(os.Getenv(EnvEndpoint))
	if !cfg.Endpoint.IsNull() {
		endpoint = strings.TrimSpace(cfg.Endpoint.ValueString())
	}
	token := strings.TrimSpace(os.Getenv(EnvToken))
	if !cfg.Token.IsNull() {
		token = strings.TrimSpace(cfg.Token.ValueString())
	}

	if endpoint == "" {
		resp.Diagnostics.AddAttributeError(path.Root("endpoint"), "Missing pamd Endpoint",
			"The provider cannot create the pamd client because the pamd endpoint is not set. "+
				"Set the \"endpoint\" attribute in the provider block (for example \"https://pamd.example.com\") "+
				"or the "+EnvEndpoint+" environment variable.")
	}
	if token == "" {
		resp.Diagnostics.AddAttributeError(path.Root("token"), "Missing pamd Token",
			"The provider cannot create the pamd client because the API token is not set. "+
				"Set the "+EnvToken+" environment variable (recommended: it keeps the token out of configuration) "+
				"or the \"token\" attribute in the provider block. pamd prints a bootstrap admin token on first start; "+
				"`pamd token create` issues more.")
	}
	if resp.Diagnostics.HasError() {
		return
	}

	ccfg := client.Config{
		Endpoint:  endpoint,
		Token:     token,
		UserAgent: userAgent(p.version, req.TerraformVersion),
		CACertPEM: cfg.CACertPEM.ValueString(),
		Insecure:  cfg.Insecure.ValueBool(),
	}
	if !cfg.MaxRetries.IsNull() {
		ccfg.MaxRetries = int(cfg.MaxRetries.ValueInt64())
		if ccfg.MaxRetries == 0 {
			// The client reads 0 as "use the default"; the user asked for none.
			ccfg.MaxRetries = -1
		}
	}
	if !cfg.RequestTimeoutSeconds.IsNull() {
		ccfg.RequestTimeout = time.Duration(cfg.RequestTimeoutSeconds.ValueInt64()) * time.Second
	}

	c, err := client.New(ccfg)
	switch {
	case errors.Is(err, client.ErrInvalidCACert):
		resp.Diagnostics.AddAttributeError(path.Root("ca_cert_pem"), "Invalid pamd CA Certificate",
			"The provider cannot create the pamd client because ca_cert_pem holds no usable certificate. "+
				"Provide a PEM block starting with \"-----BEGIN CERTIFICATE-----\". Error: "+err.Error())
		return
	case errors.Is(err, client.ErrInvalidEndpoint):
		resp.Diagnostics.AddAttributeError(path.Root("endpoint"), "Invalid pamd Endpoint",
			"The provider cannot create the pamd client because the endpoint (from the \"endpoint\" attribute or "+
				EnvEndpoint+") is not a usable URL. Use a URL such as \"https://pamd.example.com\". Error: "+err.Error())
		return
	case err != nil:
		resp.Diagnostics.AddError("Unable to Create pamd Client",
			"The provider could not build its pamd client. Check the provider configuration. Error: "+err.Error())
		return
	}

	tflog.Debug(ctx, "Configured pamd client", map[string]any{"endpoint": c.Endpoint()})
	resp.DataSourceData = c
	resp.ResourceData = c
	resp.EphemeralResourceData = c
}

func (p *pamProvider) Resources(_ context.Context) []func() resource.Resource {
	return []func() resource.Resource{
		NewRoleResource,
		NewActivationPolicyResource,
		NewEligibleRoleAssignmentResource,
		NewSafeResource,
		NewVaultAccountResource,
		NewRotationScheduleResource,
		NewSessionPolicyResource,
	}
}

func (p *pamProvider) DataSources(_ context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{
		NewRoleDataSource,
		NewActivationPolicyDataSource,
		NewEligibleRoleAssignmentsDataSource,
		NewActiveElevationsDataSource,
		NewSafeDataSource,
		NewVaultAccountDataSource,
		NewSessionPolicyDataSource,
		NewSessionsDataSource,
	}
}

func (p *pamProvider) EphemeralResources(_ context.Context) []func() ephemeral.EphemeralResource {
	return []func() ephemeral.EphemeralResource{
		NewRoleActivationEphemeralResource,
		NewCredentialCheckoutEphemeralResource,
	}
}

func userAgent(version, terraformVersion string) string {
	ua := "terraform-provider-pam/" + version
	if terraformVersion != "" {
		ua += " terraform/" + terraformVersion
	}
	return ua
}

// clientFromProviderData is the one place that turns ProviderData into a
// client. Nil data is not an error: the framework calls Configure on resources
// and data sources before the provider itself is configured (validation, and
// plans where the provider configuration is unknown).
func clientFromProviderData(data any, diags *diag.Diagnostics) *client.Client {
	if data == nil {
		return nil
	}
	c, ok := data.(*client.Client)
	if !ok {
		diags.AddError("Unexpected Provider Data",
			fmt.Sprintf("Expected *client.Client, got %T. This is a bug in the provider; please report it.", data))
		return nil
	}
	return c
}

// endpointValidator rejects an endpoint that is not an http(s) URL at plan
// time, with the same rule the client applies.
type endpointValidator struct{}

func (endpointValidator) Description(context.Context) string {
	return "must be an http:// or https:// URL with a host and no credentials, query or fragment"
}

func (v endpointValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v endpointValidator) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := client.ValidateEndpoint(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid pamd Endpoint",
			fmt.Sprintf("The endpoint %s. Use a URL such as \"https://pamd.example.com\". Error: %s", v.Description(ctx), err))
	}
}
