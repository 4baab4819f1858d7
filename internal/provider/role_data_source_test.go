package provider_test

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/accessplane/terraform-provider-pam/internal/acctest"
)

func TestAccRoleDataSource(t *testing.T) {
	name := acctest.RandomName("tf-acc-role-ds")
	config := roleConfig(name, "looked up", `["/orgs/acme"]`, `{ team = "dba" }`) + `
data "pam_role" "by_id" {
  id = pam_role.test.id
}

data "pam_role" "by_name" {
  name = pam_role.test.name
}
`
	var checks []statecheck.StateCheck
	for _, ds := range []string{"data.pam_role.by_id", "data.pam_role.by_name"} {
		for _, attr := range []string{"id", "name", "description", "assignable_scopes", "labels", "version", "created_at", "updated_at"} {
			checks = append(checks, statecheck.CompareValuePairs(
				"pam_role.test", tfjsonpath.New(attr), ds, tfjsonpath.New(attr), compare.ValuesSame()))
		}
	}
	checks = append(checks,
		statecheck.ExpectKnownValue("data.pam_role.by_name", tfjsonpath.New("labels"),
			knownvalue.MapExact(map[string]knownvalue.Check{"team": knownvalue.StringExact("dba")})))

	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkRolesDestroyed(t),
		Steps: []resource.TestStep{
			{Config: config, ConfigStateChecks: checks},
		},
	})
}

func TestAccRoleDataSourceErrors(t *testing.T) {
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:      `data "pam_role" "x" {}`,
				ExpectError: regexp.MustCompile(`(?s)Missing Attribute Configuration.*Exactly one of these attributes must be configured`),
			},
			{
				Config:      "data \"pam_role\" \"x\" {\n  name = \"a\"\n  id   = \"role_01ABC\"\n}\n",
				ExpectError: regexp.MustCompile(`(?s)Invalid Attribute Combination`),
			},
			{
				Config:      fmt.Sprintf(`data "pam_role" "x" { name = %q }`, acctest.RandomName("tf-acc-missing")),
				ExpectError: regexp.MustCompile(`(?s)Role Not Found`),
			},
			{
				Config:      `data "pam_role" "x" { id = "safe_01ABC" }`,
				ExpectError: regexp.MustCompile(`(?s)must be a role id`),
			},
		},
	})
}
