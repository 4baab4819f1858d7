package acctest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Workdir is an OpenTofu (or Terraform) working directory driven by the real
// CLI as a separate process, with the provider binary built from this tree
// installed through dev_overrides. terraform-plugin-testing runs one
// configuration per test case and owns the process; tests that need two
// working directories on one object, a saved plan applied later, or a CLI
// run that pamd dies under use a Workdir instead.
type Workdir struct {
	Dir string
	cli string
	env []string
}

// NewWorkdir creates an empty working directory in t.TempDir. Commands run
// with the test's environment (so PAM_ENDPOINT and PAM_TOKEN reach the
// provider) plus env, "NAME=value" entries that override it.
func NewWorkdir(t *testing.T, env ...string) *Workdir {
	t.Helper()
	info, err := CLI()
	if err != nil {
		t.Fatalf("acctest: %v", err)
	}
	dir := t.TempDir()
	provDir := filepath.Dir(ProviderBinary(t))
	// Both registry hosts: OpenTofu resolves "accessplane/pam" on
	// registry.opentofu.org, Terraform on registry.terraform.io. With
	// dev_overrides no `init` is needed.
	rc := fmt.Sprintf(`provider_installation {
  dev_overrides {
    "registry.opentofu.org/accessplane/pam" = %[1]q
    "registry.terraform.io/accessplane/pam" = %[1]q
  }
  direct {}
}
`, provDir)
	rcPath := filepath.Join(dir, ".cli.tfrc")
	if err := os.WriteFile(rcPath, []byte(rc), 0o600); err != nil {
		t.Fatal(err)
	}
	base := make([]string, 0, len(os.Environ())+8)
	for _, kv := range os.Environ() {
		// The harness's own plan/apply arguments must not leak into these runs
		// unless the test passes them explicitly.
		if strings.HasPrefix(kv, "TF_CLI_CONFIG_FILE=") || strings.HasPrefix(kv, "TF_CLI_ARGS") {
			continue
		}
		base = append(base, kv)
	}
	base = append(base, "TF_CLI_CONFIG_FILE="+rcPath, "TF_IN_AUTOMATION=1", "TF_INPUT=0", "CHECKPOINT_DISABLE=1")
	return &Workdir{Dir: dir, cli: info.Path, env: append(base, env...)}
}

// SetConfig writes main.tf: the required_providers block and body.
func (w *Workdir) SetConfig(t *testing.T, body string) {
	t.Helper()
	cfg := `terraform {
  required_providers {
    pam = { source = "accessplane/pam" }
  }
}
` + body
	if err := os.WriteFile(filepath.Join(w.Dir, "main.tf"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Command returns the CLI command for args in the working directory, for
// callers that start it in the background; stdout and stderr are unset.
func (w *Workdir) Command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, w.cli, args...) //nolint:gosec // the CLI under test with the test's own arguments
	cmd.Dir = w.Dir
	cmd.Env = w.env
	// A cancelled context interrupts the CLI first, as a person pressing
	// Ctrl-C would, so it can write its state; it is killed 30 s later.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second
	return cmd
}

// Run runs the CLI with args (bounded by timeout) and returns its combined
// output and the error of a non-zero exit.
func (w *Workdir) Run(t *testing.T, timeout time.Duration, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := w.Command(ctx, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// MustRun is Run that fails the test on a non-zero exit, showing the output.
func (w *Workdir) MustRun(t *testing.T, timeout time.Duration, args ...string) string {
	t.Helper()
	out, err := w.Run(t, timeout, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(w.cli), strings.Join(args, " "), err, out)
	}
	return out
}

// StateResource is one managed resource instance in the local state file.
type StateResource struct {
	Address    string
	Type       string
	ID         string
	Attributes map[string]any
}

// State reads terraform.tfstate (the local backend) without the CLI, so it
// can be read while no CLI runs, or after one was killed. No state file
// means no resources.
func (w *Workdir) State(t *testing.T) []StateResource {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(w.Dir, "terraform.tfstate"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Resources []struct {
			Mode      string `json:"mode"`
			Type      string `json:"type"`
			Name      string `json:"name"`
			Instances []struct {
				IndexKey   any            `json:"index_key"`
				Attributes map[string]any `json:"attributes"`
			} `json:"instances"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("acctest: decoding %s/terraform.tfstate: %v", w.Dir, err)
	}
	var out []StateResource
	for _, r := range st.Resources {
		if r.Mode != "managed" {
			continue
		}
		for _, in := range r.Instances {
			addr := r.Type + "." + r.Name
			if in.IndexKey != nil {
				addr += fmt.Sprintf("[%v]", in.IndexKey)
			}
			id, _ := in.Attributes["id"].(string)
			out = append(out, StateResource{Address: addr, Type: r.Type, ID: id, Attributes: in.Attributes})
		}
	}
	return out
}
