package rotation

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/sethvargo/go-password/password"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// Character classes of generated passwords.
const (
	lowerLetters = "abcdefghijklmnopqrstuvwxyz"
	upperLetters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	digitChars   = "0123456789"
	// AmbiguousCharacters are removed from every class by exclude_ambiguous:
	// characters that look alike in common fonts, and quotes that are easily
	// mangled when a password is pasted into a shell or config file.
	AmbiguousCharacters = "0OIl1|`'\""
)

// NormalizePasswordPolicy fills in defaults: length 0 means
// api.DefaultPasswordLength and a nil symbol set means api.DefaultPasswordSymbols.
func NormalizePasswordPolicy(p api.RotationPasswordPolicy) api.RotationPasswordPolicy {
	if p.Length == 0 {
		p.Length = api.DefaultPasswordLength
	}
	if p.Symbols == nil {
		s := api.DefaultPasswordSymbols
		p.Symbols = &s
	} else {
		s := *p.Symbols
		p.Symbols = &s
	}
	return p
}

// ValidatePasswordPolicy reports why a policy is malformed or cannot be
// satisfied. base is the JSON pointer of the policy ("/password_policy"). It is
// pure: the provider calls it at plan time.
func ValidatePasswordPolicy(base string, p api.RotationPasswordPolicy) []api.Violation {
	var vs []api.Violation
	n := NormalizePasswordPolicy(p)
	if n.Length < api.MinPasswordLength || n.Length > api.MaxPasswordLength {
		vs = append(vs, fieldViolation(base+"/length", CodeRange, "must be between %d and %d (0 means %d), got %d",
			api.MinPasswordLength, api.MaxPasswordLength, api.DefaultPasswordLength, p.Length))
	}
	symbols := *n.Symbols
	symbolsOK := true
	seen := map[rune]bool{}
	for _, r := range symbols {
		switch {
		case r < 0x21 || r > 0x7e:
			vs = append(vs, fieldViolation(base+"/symbols", CodePattern, "symbol %q is not a printable ASCII character other than space", r))
			symbolsOK = false
		case strings.ContainsRune(lowerLetters+upperLetters+digitChars, r):
			vs = append(vs, fieldViolation(base+"/symbols", CodePattern, "symbol %q is a letter or digit; symbols are punctuation only", r))
			symbolsOK = false
		case seen[r]:
			vs = append(vs, fieldViolation(base+"/symbols", CodeDuplicate, "symbol %q is listed twice", r))
			symbolsOK = false
		}
		seen[r] = true
	}
	if !symbolsOK {
		return vs
	}
	classes := passwordClasses(n)
	if n.RequireSymbols && classes.symbols == "" {
		msg := "require_symbols is true but the symbol set is empty"
		if symbols != "" {
			msg = "require_symbols is true but every allowed symbol is ambiguous and exclude_ambiguous removes it"
		}
		vs = append(vs, fieldViolation(base+"/symbols", CodeUnsatisfiable, "%s", msg))
	}
	required := classes.required()
	if n.Length >= api.MinPasswordLength && n.Length < required {
		vs = append(vs, fieldViolation(base+"/length", CodeUnsatisfiable,
			"length %d cannot hold one character of each of the %d required classes", n.Length, required))
	}
	return vs
}

// classSet holds the characters of each class after exclusions, and which
// classes must appear.
type classSet struct {
	lower, upper, digits, symbols string
	reqLower, reqUpper, reqDigits bool
	reqSymbols                    bool
}

func (c classSet) required() int {
	n := 0
	for _, b := range []bool{c.reqLower, c.reqUpper, c.reqDigits, c.reqSymbols} {
		if b {
			n++
		}
	}
	return n
}

func passwordClasses(p api.RotationPasswordPolicy) classSet {
	strip := func(s string) string {
		if !p.ExcludeAmbiguous {
			return s
		}
		return strings.Map(func(r rune) rune {
			if strings.ContainsRune(AmbiguousCharacters, r) {
				return -1
			}
			return r
		}, s)
	}
	symbols := ""
	if p.Symbols != nil {
		symbols = *p.Symbols
	}
	return classSet{
		lower: strip(lowerLetters), upper: strip(upperLetters), digits: strip(digitChars), symbols: strip(symbols),
		reqLower: p.RequireLowercase, reqUpper: p.RequireUppercase, reqDigits: p.RequireDigits, reqSymbols: p.RequireSymbols,
	}
}

// ErrUnsatisfiable is returned by GeneratePassword for a policy that
// ValidatePasswordPolicy rejects.
var ErrUnsatisfiable = errors.New("password policy cannot be satisfied")

// maxGenerateAttempts bounds the rejection sampling of GeneratePassword. With
// at least two letters per password the chance that a required letter class
// is missing is below 1/2 per try, so 64 tries fail with odds below 2^-64.
const maxGenerateAttempts = 64

// GeneratePassword returns a random password satisfying the policy (after
// NormalizePasswordPolicy). Characters come from crypto/rand through
// github.com/sethvargo/go-password: how many digits and symbols a password
// has is drawn first (each position weighted by class size, at least one of
// each required class), the library places them, and a result missing a
// required letter class is drawn again.
func GeneratePassword(p api.RotationPasswordPolicy) (string, error) {
	p = NormalizePasswordPolicy(p)
	if vs := ValidatePasswordPolicy("", p); len(vs) > 0 {
		return "", fmt.Errorf("%w: %s", ErrUnsatisfiable, vs[0].Message)
	}
	c := passwordClasses(p)
	symbols := c.symbols
	if symbols == "" {
		// go-password substitutes its own set for an empty one; numSymbols
		// is 0 then, so the set is never drawn from.
		symbols = "!"
	}
	gen, err := password.NewGenerator(&password.GeneratorInput{
		LowerLetters: c.lower, UpperLetters: c.upper, Digits: c.digits, Symbols: symbols,
	})
	if err != nil {
		return "", fmt.Errorf("password generator: %w", err)
	}
	for range maxGenerateAttempts {
		nDigits, nSymbols, err := drawCounts(p.Length, c)
		if err != nil {
			return "", err
		}
		pw, err := gen.Generate(p.Length, nDigits, nSymbols, false, true)
		if err != nil {
			return "", fmt.Errorf("password generator: %w", err)
		}
		if CheckPassword(p, pw) == nil {
			return pw, nil
		}
	}
	return "", fmt.Errorf("%w: no password found after %d attempts", ErrUnsatisfiable, maxGenerateAttempts)
}

// drawCounts picks how many digits and symbols a password of length n gets:
// the required minimum, plus each remaining position's class drawn with
// probability proportional to the class size. Letter positions keep room for
// each required letter class.
func drawCounts(n int, c classSet) (digits, symbols int, err error) {
	letterMin := 0
	if c.reqLower {
		letterMin++
	}
	if c.reqUpper {
		letterMin++
	}
	if c.reqDigits {
		digits = 1
	}
	if c.reqSymbols {
		symbols = 1
	}
	letters := len(c.lower) + len(c.upper)
	total := int64(letters + len(c.digits) + len(c.symbols))
	free := n - letterMin - digits - symbols
	for range free {
		k, err := rand.Int(rand.Reader, big.NewInt(total))
		if err != nil {
			return 0, 0, fmt.Errorf("random: %w", err)
		}
		switch x := int(k.Int64()); {
		case x < letters:
		case x < letters+len(c.digits):
			digits++
		default:
			symbols++
		}
	}
	return digits, symbols, nil
}

// CheckPassword reports whether pw satisfies the policy: its length, every
// required class present, and no character outside the allowed classes.
func CheckPassword(p api.RotationPasswordPolicy, pw string) error {
	p = NormalizePasswordPolicy(p)
	c := passwordClasses(p)
	if len(pw) != p.Length {
		return fmt.Errorf("length %d, want %d", len(pw), p.Length)
	}
	var hasLower, hasUpper, hasDigit, hasSymbol bool
	for i, r := range pw {
		switch {
		case strings.ContainsRune(c.lower, r):
			hasLower = true
		case strings.ContainsRune(c.upper, r):
			hasUpper = true
		case strings.ContainsRune(c.digits, r):
			hasDigit = true
		case strings.ContainsRune(c.symbols, r):
			hasSymbol = true
		default:
			return fmt.Errorf("character at %d is not allowed by the policy", i)
		}
	}
	switch {
	case c.reqLower && !hasLower:
		return errors.New("no lowercase letter")
	case c.reqUpper && !hasUpper:
		return errors.New("no uppercase letter")
	case c.reqDigits && !hasDigit:
		return errors.New("no digit")
	case c.reqSymbols && !hasSymbol:
		return errors.New("no symbol")
	}
	return nil
}
