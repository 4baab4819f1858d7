package provider_test

import (
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/accessplane/terraform-provider-pam/internal/acctest"
)

func TestAccActivationPolicyDataSource(t *testing.T) {
	name := acctest.RandomName("tf-acc-actp-ds")
	config := fullPolicyConfig(name, "looked up", 1) + `
data "pam_activation_policy" "by_name" {
  name = pam_activation_policy.test.name
}

data "pam_activation_policy" "by_id" {
  id = pam_activation_policy.test.id
}
`
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkActivationPoliciesDestroyed(t),
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.CompareValuePairs("pam_activation_policy.test", tfjsonpath.New("approval"),
						"data.pam_activation_policy.by_name", tfjsonpath.New("approval"), compare.ValuesSame()),
					statecheck.CompareValuePairs("pam_activation_policy.test", tfjsonpath.New("max_total_activation_seconds"),
						"data.pam_activation_policy.by_id", tfjsonpath.New("max_total_activation_seconds"), compare.ValuesSame()),
					statecheck.ExpectKnownValue("data.pam_activation_policy.by_id", tfjsonpath.New("name"), knownvalue.StringExact(name)),
					statecheck.ExpectKnownValue("data.pam_activation_policy.by_name", tfjsonpath.New("description"), knownvalue.StringExact("looked up")),
				},
			},
			{
				Config:      `data "pam_activation_policy" "x" { name = "no-such-policy-anywhere" }`,
				ExpectError: regexp.MustCompile(`Activation Policy Not Found`),
			},
		},
	})
}
