package acctest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	goversion "github.com/hashicorp/go-version"
)

// Versions the project pins; keep in step with scripts/tools.sh.
const (
	TofuVersion      = "1.12.6"
	TerraformVersion = "1.5.7"
)

// toolsCacheDir mirrors the cache location of scripts/tools.sh, so a test run
// finds a CLI that `make tools` built without anything on PATH.
func toolsCacheDir() string {
	if d := os.Getenv("PAM_TOOLS_CACHE"); d != "" {
		return d
	}
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "terraform-provider-pam")
}

func executable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// prepareCLIEnv fixes the environment traps listed in TOOLCHAIN.md before the
// testing harness reads it. It returns the CLI path or "" when none was found;
// without one the harness would try to download Terraform and exit the whole
// test binary, so the caller must not run acceptance tests then.
func prepareCLIEnv() string {
	// A TF_CLI_CONFIG_FILE naming a missing file makes tofu print a warning on
	// stdout, which breaks the harness's version parsing.
	if f := os.Getenv("TF_CLI_CONFIG_FILE"); f != "" {
		if _, err := os.Stat(f); err != nil { //nolint:gosec // the path is the caller's own CLI config setting
			_ = os.Unsetenv("TF_CLI_CONFIG_FILE")
		}
	}
	// OpenTofu refuses the legacy "-" namespace the harness registers.
	if os.Getenv("TF_ACC_PROVIDER_NAMESPACE") == "" {
		_ = os.Setenv("TF_ACC_PROVIDER_NAMESPACE", "hashicorp")
	}
	path := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if path == "" {
		candidates := []string{filepath.Join(toolsCacheDir(), "tofu", TofuVersion, "tofu")}
		if p, err := exec.LookPath("tofu"); err == nil {
			candidates = append(candidates, p)
		}
		if p, err := exec.LookPath("terraform"); err == nil {
			candidates = append(candidates, p)
		}
		for _, c := range candidates {
			if executable(c) {
				path = c
				break
			}
		}
		if path != "" {
			_ = os.Setenv("TF_ACC_TERRAFORM_PATH", path)
		}
	}
	return path
}

// CLIInfo names the CLI the acceptance tests drive.
type CLIInfo struct {
	Path     string
	OpenTofu bool
	Version  *goversion.Version
}

func (c CLIInfo) String() string {
	name := "Terraform"
	if c.OpenTofu {
		name = "OpenTofu"
	}
	return fmt.Sprintf("%s %s (%s)", name, c.Version, c.Path)
}

var (
	cliOnce sync.Once
	cliInfo CLIInfo
	cliErr  error
)

var versionLine = regexp.MustCompile(`^(OpenTofu|Terraform) v(\S+)`)

// CLI reports which CLI and version the harness runs.
func CLI() (CLIInfo, error) {
	cliOnce.Do(func() {
		path := os.Getenv("TF_ACC_TERRAFORM_PATH")
		if path == "" {
			cliErr = fmt.Errorf("no CLI: TF_ACC_TERRAFORM_PATH is unset and no tofu or terraform was found; run `make tools`")
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, path, "version").Output() //nolint:gosec // the CLI under test, chosen by the person running the tests
		if err != nil {
			cliErr = fmt.Errorf("running %s version: %w", path, err)
			return
		}
		m := versionLine.FindStringSubmatch(strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0]))
		if m == nil {
			cliErr = fmt.Errorf("cannot read the version of %s from %q", path, out)
			return
		}
		v, err := goversion.NewVersion(m[2])
		if err != nil {
			cliErr = err
			return
		}
		cliInfo = CLIInfo{Path: path, OpenTofu: m[1] == "OpenTofu", Version: v.Core()}
	})
	return cliInfo, cliErr
}

// Feature names a CLI capability that not every supported CLI has.
type Feature string

// Features gated by CLI version.
const (
	FeatureIdentity  Feature = "resource identity"
	FeatureWriteOnly Feature = "write-only attributes"
	FeatureEphemeral Feature = "ephemeral resources"
	FeatureFunctions Feature = "provider functions"
)

// minimum versions per CLI: OpenTofu and Terraform number releases differently,
// so tfversion.SkipBelow (which knows only Terraform's numbers) is not enough.
var minimum = map[Feature]struct{ tofu, terraform string }{
	FeatureIdentity:  {tofu: "1.12.0", terraform: "1.12.0"},
	FeatureWriteOnly: {tofu: "1.11.0", terraform: "1.11.0"},
	FeatureEphemeral: {tofu: "1.11.0", terraform: "1.10.0"},
	FeatureFunctions: {tofu: "1.7.0", terraform: "1.8.0"},
}

// Supports reports whether the CLI under test has the feature.
func (c CLIInfo) Supports(f Feature) bool {
	m, ok := minimum[f]
	if !ok || c.Version == nil {
		return false
	}
	want := m.terraform
	if c.OpenTofu {
		want = m.tofu
	}
	return !c.Version.LessThan(goversion.Must(goversion.NewVersion(want)))
}

// SkipUnless skips the test, visibly, when the CLI lacks the feature.
func SkipUnless(t *testing.T, f Feature) {
	t.Helper()
	info, err := CLI()
	if err != nil {
		t.Fatalf("acceptance CLI: %v", err)
	}
	if !info.Supports(f) {
		t.Skipf("%s does not support %s", info, f)
	}
}
