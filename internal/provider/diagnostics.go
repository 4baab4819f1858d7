package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/client"
)

// operation names what Terraform was doing, for diagnostic summaries and
// details: {"Create", "role"} gives "Unable to Create Role".
type operation struct {
	verb  string // Title-Case verb: Create, Read, Update, Delete, Import
	thing string // lower-case noun: role
}

func (o operation) summary() string {
	return "Unable to " + o.verb + " " + titleCase(o.thing)
}

func (o operation) doing() string {
	return strings.ToLower(o.verb) + " the " + o.thing
}

// pointerKind says how a JSON pointer continues below an attribute.
type pointerKind int

const (
	pointerScalar pointerKind = iota // stop at the attribute
	pointerMap                       // next segment is a map key
	pointerList                      // next segment is a list index
	pointerSet                       // a set: elements have no stable index, stop at the set
	pointerObject                    // next segment is a member (see pointerNode.members)
)

// pathMapper turns an RFC 6901 pointer from a server violation into the
// Terraform attribute to blame.
type pathMapper interface {
	pathFor(pointer string) (path.Path, bool)
}

// attributePaths maps the top-level JSON members of a request body to their
// Terraform attributes, so server violations land on the attribute to blame.
type attributePaths map[string]pointerKind

// pathFor turns an RFC 6901 pointer ("/labels/team") into an attribute path.
// Set elements have no stable index in Terraform, so sets stop at the set.
func (a attributePaths) pathFor(pointer string) (path.Path, bool) {
	nested := make(nestedPaths, len(a))
	for k, kind := range a {
		nested[k] = pointerNode{kind: kind}
	}
	return nested.pathFor(pointer)
}

// pointerNode describes one attribute for nestedPaths: its kind and, for
// objects and lists of objects, the members below it.
type pointerNode struct {
	kind    pointerKind
	members nestedPaths
}

// nestedPaths maps request bodies with nested objects and lists of objects
// ("/approval/stages/0/approvals_needed") to attribute paths. The JSON member
// names must equal the Terraform attribute names, which is the house rule.
type nestedPaths map[string]pointerNode

func leafPath() pointerNode                       { return pointerNode{kind: pointerScalar} }
func setPath() pointerNode                        { return pointerNode{kind: pointerSet} }
func mapPath() pointerNode                        { return pointerNode{kind: pointerMap} }
func objectPath(m nestedPaths) pointerNode        { return pointerNode{kind: pointerObject, members: m} }
func listOfObjectsPath(m nestedPaths) pointerNode { return pointerNode{kind: pointerList, members: m} }
func listPath() pointerNode                       { return pointerNode{kind: pointerList} }

func (n nestedPaths) pathFor(pointer string) (path.Path, bool) {
	if !strings.HasPrefix(pointer, "/") {
		return path.Empty(), false
	}
	segs := strings.Split(pointer[1:], "/")
	for i, s := range segs {
		segs[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	node, ok := n[segs[0]]
	if !ok {
		return path.Empty(), false
	}
	p := path.Root(segs[0])
	segs = segs[1:]
	for len(segs) > 0 {
		switch node.kind {
		case pointerMap:
			return p.AtMapKey(segs[0]), true
		case pointerList:
			var idx int
			if _, err := fmt.Sscanf(segs[0], "%d", &idx); err != nil || idx < 0 {
				return p, true
			}
			p = p.AtListIndex(idx)
			segs = segs[1:]
			if len(segs) == 0 || node.members == nil {
				return p, true
			}
			child, ok := node.members[segs[0]]
			if !ok {
				return p, true
			}
			p, node, segs = p.AtName(segs[0]), child, segs[1:]
		case pointerObject:
			child, ok := node.members[segs[0]]
			if !ok {
				return p, true
			}
			p, node, segs = p.AtName(segs[0]), child, segs[1:]
		default:
			return p, true
		}
	}
	return p, true
}

// addClientError turns a client error into diagnostics that say what happened
// and what to do, ending with the server's own message. Callers handle the
// codes that need resource knowledge (already_exists, etag_mismatch) first.
func addClientError(diags *diag.Diagnostics, c *client.Client, op operation, attrs pathMapper, err error) {
	var (
		pe *client.ProblemError
		ce *client.ConnectionError
	)
	switch {
	case errors.As(err, &ce):
		diags.AddError("Cannot Reach pamd",
			fmt.Sprintf("Terraform could not %s because pamd at %s did not answer (%d attempt(s)). "+
				"Check that the provider's endpoint (or %s) is correct, that pamd is running and reachable from this machine, "+
				"and, for https, that its certificate is trusted (ca_cert_pem) or insecure is set for a development server. "+
				"Error: %s", op.doing(), ce.Endpoint, ce.Attempts, EnvEndpoint, ce.Err))
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		diags.AddError(op.summary(),
			fmt.Sprintf("Terraform could not %s because the operation was cancelled or timed out before pamd answered. "+
				"Run the command again; if it keeps timing out, check pamd's health and raise request_timeout_seconds. Error: %s",
				op.doing(), err))
	case errors.As(err, &pe):
		addProblem(diags, c, op, attrs, pe)
	default:
		diags.AddError(op.summary(), fmt.Sprintf("Terraform could not %s. Error: %s", op.doing(), err))
	}
}

func addProblem(diags *diag.Diagnostics, c *client.Client, op operation, attrs pathMapper, pe *client.ProblemError) {
	p := pe.Problem
	server := serverMessage(p)
	switch {
	case errors.Is(pe, client.ErrUnauthorized):
		diags.AddAttributeError(path.Root("token"), "pamd Rejected the Token",
			fmt.Sprintf("Terraform could not %s because pamd at %s did not accept the API token. "+
				"Check that the provider's token (or %s) is a current pamd token for this server; it may have expired or been revoked. %s",
				op.doing(), endpointOf(c), EnvToken, server))
		return
	case errors.Is(pe, client.ErrForbidden):
		diags.AddError("Permission Denied",
			fmt.Sprintf("Terraform could not %s because the API token is not allowed to. "+
				"Use a token whose server roles permit this (managing the catalog needs the admin role), or ask a pamd administrator. %s",
				op.doing(), server))
		return
	case p.Code == api.CodeRateLimited || p.Status == 503:
		diags.AddError(op.summary(),
			fmt.Sprintf("Terraform could not %s because pamd stayed busy or unavailable through every retry. "+
				"Wait and run the command again, or raise max_retries. %s", op.doing(), server))
		return
	}

	// Field violations go on their attributes; anything left over is reported once.
	var unplaced []api.Violation
	for _, v := range p.Violations {
		if at, ok := attrs.pathFor(v.Pointer); ok {
			diags.AddAttributeError(at, "Invalid Attribute Value",
				fmt.Sprintf("pamd rejected this value when Terraform tried to %s: %s. Correct the configuration and apply again. (%s)",
					op.doing(), v.Message, requestRef(p)))
			continue
		}
		unplaced = append(unplaced, v)
	}
	if len(p.Violations) > 0 && len(unplaced) == 0 {
		return
	}
	detail := fmt.Sprintf("Terraform could not %s: pamd answered %d %s.", op.doing(), p.Status, p.Code)
	if hint := codeHint(p); hint != "" {
		detail += " " + hint
	}
	for _, v := range unplaced {
		where := v.Pointer
		if where == "" {
			where = v.Rule
		}
		detail += fmt.Sprintf("\n  - %s: %s", where, v.Message)
	}
	diags.AddError(op.summary(), detail+"\n\n"+server)
}

func codeHint(p api.Problem) string {
	switch {
	case p.Code == api.CodeValidationFailed:
		return "Correct the configuration and apply again."
	case p.Code == api.CodeIdempotencyKeyReused:
		return "This is a bug in the provider (a retried create changed its body); please report it."
	case p.Code == api.CodeIdempotencyOutcomeLost:
		return "pamd applied the change, but its response was lost (pamd restarted mid-request) and the object cannot be shown, " +
			"so Terraform could not record it in state. Do not apply again, which would try to create it a second time: " +
			"import the object named in the server message (terraform import, or an import block) and then plan."
	case p.Status >= 500:
		return "This is a server-side failure; nothing was changed by the failed request. Run the command again, and check pamd's log for the request id if it persists."
	}
	return ""
}

func serverMessage(p api.Problem) string {
	msg := p.Title
	if p.Detail != "" {
		msg += ": " + p.Detail
	}
	return fmt.Sprintf("Server message: %s (%s)", msg, requestRef(p))
}

func requestRef(p api.Problem) string {
	if p.RequestID == "" {
		return fmt.Sprintf("status %d, code %s", p.Status, p.Code)
	}
	return fmt.Sprintf("status %d, code %s, request id %s", p.Status, p.Code, p.RequestID)
}

func endpointOf(c *client.Client) string {
	if c == nil {
		return "the configured endpoint"
	}
	return c.Endpoint()
}

func titleCase(s string) string {
	words := strings.Fields(s)
	for i, w := range words {
		words[i] = strings.ToUpper(w[:1]) + w[1:]
	}
	return strings.Join(words, " ")
}

// addViolations reports violations found before anything is written (the
// provider's own checks with internal/pim, or a pamd validate_only answer) on
// the attributes they point at; violations without a usable pointer are
// reported once, attached to no attribute. source says who found them.
func addViolations(diags *diag.Diagnostics, attrs pathMapper, summary, source string, vs []api.Violation) {
	var unplaced []string
	for _, v := range vs {
		msg := v.Message
		if v.Rule != "" {
			msg += " (policy rule " + v.Rule + ")"
		}
		if at, ok := attrs.pathFor(v.Pointer); ok {
			// The path is repeated in the detail: CLIs cannot point into an
			// object expression, so for nested attributes it is the only hint.
			diags.AddAttributeError(at, summary, fmt.Sprintf("%s (%s): %s. Correct the configuration; nothing was changed.", source, at, msg))
			continue
		}
		where := v.Pointer
		if where == "" {
			where = v.Rule
		}
		if where != "" {
			msg = where + ": " + msg
		}
		unplaced = append(unplaced, msg)
	}
	if len(unplaced) > 0 {
		diags.AddError(summary, fmt.Sprintf("%s:\n  - %s\n\nCorrect the configuration; nothing was changed.",
			source, strings.Join(unplaced, "\n  - ")))
	}
}

// staleDetail explains a 412 etag_mismatch.
func staleDetail(verb, thing, id string, version int64, p api.Problem) string {
	current := ""
	if p.CurrentVersion != nil {
		current = fmt.Sprintf(" (now version %d)", *p.CurrentVersion)
	}
	return fmt.Sprintf("Terraform did not %s %s %s because it changed outside Terraform since the last refresh: "+
		"Terraform knew version %d, pamd has a newer one%s. Nothing was changed. "+
		"Run `terraform plan` (or `terraform apply -refresh-only` to accept the outside change) to see the difference, then apply again. %s",
		verb, thing, id, version, current, serverMessage(p))
}

// addStale reports a 412: the object changed since Terraform last read it.
// title is the kind in Title Case ("Vault Account").
func addStale(diags *diag.Diagnostics, title, verb, id string, version int64, p api.Problem) {
	diags.AddError(title+" Changed Outside Terraform", staleDetail(verb, strings.ToLower(title), id, version, p))
}

// addGoneOnUpdate reports an update of an object deleted outside Terraform.
func addGoneOnUpdate(diags *diag.Diagnostics, title, id string, p api.Problem) {
	diags.AddError(title+" Deleted Outside Terraform",
		fmt.Sprintf("Terraform could not update %s %s because it no longer exists in pamd. "+
			"Run `terraform plan` again: the refresh notices the deletion and proposes to create it. %s",
			strings.ToLower(title), id, serverMessage(p)))
}
