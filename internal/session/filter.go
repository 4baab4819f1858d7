package session

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// NormalizeCommand is the form of a command line that filter rules see:
// leading and trailing white space trimmed and every run of white space
// (spaces, tabs, newlines, any Unicode space) collapsed to one ASCII space.
//
// Why: the shell treats "rm  -rf /", "rm\t-rf /" and "  rm -rf /" alike, so
// a filter comparing raw bytes could be dodged by padding a command with
// extra blanks. Normalising first means an exact or prefix rule written the
// natural way ("rm -rf /") catches every spacing of the same command, and
// regex authors need not sprinkle \s+ everywhere. The price is that white
// space inside quotes is collapsed too ("echo 'a  b'" is seen as
// "echo 'a b'"), which can only make a rule match more, never less.
func NormalizeCommand(command string) string {
	return strings.Join(strings.Fields(command), " ")
}

type compiledRule struct {
	rule api.CommandFilterRule
	re   *regexp.Regexp
}

// Filter is a compiled command filter, safe for concurrent use.
type Filter struct {
	defaultAction string
	rules         []compiledRule
}

// NewFilter compiles a command filter. An empty default action means allow.
// It fails on what ValidateCommandFilter reports (an invalid regex, an
// unknown match kind), so a stored, validated policy always compiles.
func NewFilter(cf api.CommandFilter) (*Filter, error) {
	f := &Filter{defaultAction: cf.DefaultAction, rules: make([]compiledRule, 0, len(cf.Rules))}
	if f.defaultAction == "" {
		f.defaultAction = api.CommandActionAllow
	}
	for i, r := range cf.Rules {
		c := compiledRule{rule: r}
		switch r.Match {
		case api.CommandMatchRegex:
			re, err := regexp.Compile(r.Pattern)
			if err != nil {
				return nil, fmt.Errorf("command filter rule %d: %w", i, err)
			}
			c.re = re
		case api.CommandMatchGlob:
			re, err := GlobRegexp(r.Pattern)
			if err != nil {
				return nil, fmt.Errorf("command filter rule %d: glob %q: %w", i, r.Pattern, err)
			}
			c.re = re
		case api.CommandMatchExact, api.CommandMatchPrefix:
		default:
			return nil, fmt.Errorf("command filter rule %d: unknown match %q", i, r.Match)
		}
		f.rules = append(f.rules, c)
	}
	return f, nil
}

// MustFilter is NewFilter for tests and constant filters; it panics on error.
func MustFilter(cf api.CommandFilter) *Filter {
	f, err := NewFilter(cf)
	if err != nil {
		panic(err)
	}
	return f
}

// Match decides a command line: the command is normalised
// (NormalizeCommand), then the rules are tried in order and the first that
// matches decides, returning its action, its 0-based index and the rule.
// When none matches, the default action decides with index -1 and a nil
// rule.
//
//   - exact: the normalised command equals the pattern;
//   - prefix: the normalised command starts with the pattern (bytes; write
//     "sudo " with a trailing space to not also match "sudoedit");
//   - glob: path.Match syntax on the whole line, except that '*' and '?'
//     also match '/': a command line is not a path, and "rm *" must catch
//     "rm /etc/passwd" (see GlobRegexp);
//   - regex: Go RE2 syntax, searched in the whole line (unanchored unless
//     the pattern uses ^ and $).
func (f *Filter) Match(command string) (action string, ruleIndex int, rule *api.CommandFilterRule) {
	cmd := NormalizeCommand(command)
	for i := range f.rules {
		c := &f.rules[i]
		if c.matches(cmd) {
			return c.rule.Action, i, &c.rule
		}
	}
	return f.defaultAction, -1, nil
}

func (c *compiledRule) matches(cmd string) bool {
	switch c.rule.Match {
	case api.CommandMatchExact:
		return cmd == c.rule.Pattern
	case api.CommandMatchPrefix:
		return strings.HasPrefix(cmd, c.rule.Pattern)
	case api.CommandMatchGlob, api.CommandMatchRegex:
		return c.re.MatchString(cmd)
	}
	return false
}

// Rules returns the number of rules of the filter.
func (f *Filter) Rules() int { return len(f.rules) }

// DefaultAction returns the action applied when no rule matches.
func (f *Filter) DefaultAction() string { return f.defaultAction }

// GlobRegexp compiles a glob in path.Match syntax ('*', '?', '[class]',
// '[^class]', '\\' escapes) into an anchored regular expression in which '*'
// matches any run of characters and '?' any one character, '/' included.
// path.Match stops '*' at '/', which suits file paths but would let
// "rm /etc/passwd" slip past a deny rule "rm *". The syntax is checked by
// path.Match first, so what it accepts and refuses is unchanged.
func GlobRegexp(pattern string) (*regexp.Regexp, error) {
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, err
	}
	rs := []rune(pattern)
	var b strings.Builder
	b.WriteString(`^(?s:`)
	lit := func(r rune) { fmt.Fprintf(&b, `\x{%x}`, r) }
	for i := 0; i < len(rs); i++ {
		switch rs[i] {
		case '*':
			b.WriteString(`.*`)
		case '?':
			b.WriteString(`.`)
		case '\\':
			i++
			lit(rs[i]) // path.Match refused a trailing backslash above
		case '[':
			i++
			b.WriteString(`[`)
			if rs[i] == '^' {
				b.WriteString(`^`)
				i++
			}
			for ; rs[i] != ']'; i++ {
				if rs[i] == '\\' {
					i++
				}
				lit(rs[i])
				if i+1 < len(rs) && rs[i+1] == '-' {
					i += 2
					if rs[i] == '\\' {
						i++
					}
					b.WriteString(`-`)
					lit(rs[i])
				}
			}
			b.WriteString(`]`)
		default:
			lit(rs[i])
		}
	}
	b.WriteString(`)$`)
	return regexp.Compile(b.String())
}
