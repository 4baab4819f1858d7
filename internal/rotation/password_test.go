package rotation

import (
	"strings"
	"testing"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

func TestValidatePasswordPolicy(t *testing.T) {
	all := api.RotationPasswordPolicy{RequireLowercase: true, RequireUppercase: true, RequireDigits: true, RequireSymbols: true}
	cases := []struct {
		name    string
		p       api.RotationPasswordPolicy
		pointer string
		code    string
	}{
		{"too short", api.RotationPasswordPolicy{Length: 7}, "/password_policy/length", CodeRange},
		{"too long", api.RotationPasswordPolicy{Length: 129}, "/password_policy/length", CodeRange},
		{"empty symbols required", api.RotationPasswordPolicy{RequireSymbols: true, Symbols: ptr("")}, "/password_policy/symbols", CodeUnsatisfiable},
		{"only ambiguous symbols", api.RotationPasswordPolicy{RequireSymbols: true, Symbols: ptr("|`"), ExcludeAmbiguous: true}, "/password_policy/symbols", CodeUnsatisfiable},
		{"letter as symbol", api.RotationPasswordPolicy{Symbols: ptr("!a")}, "/password_policy/symbols", CodePattern},
		{"space as symbol", api.RotationPasswordPolicy{Symbols: ptr("! ")}, "/password_policy/symbols", CodePattern},
		{"duplicate symbol", api.RotationPasswordPolicy{Symbols: ptr("!!")}, "/password_policy/symbols", CodeDuplicate},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vs := ValidatePasswordPolicy("/password_policy", c.p)
			if len(vs) == 0 || vs[0].Pointer != c.pointer || vs[0].Code != c.code {
				t.Fatalf("got %+v, want %s %s", vs, c.pointer, c.code)
			}
			if _, err := GeneratePassword(c.p); err == nil {
				t.Fatal("GeneratePassword accepted an invalid policy")
			}
		})
	}
	// Length 8 holds all four classes; the bound is checked against the
	// number of required classes, which is at most 4 < MinPasswordLength, so
	// it can only bite together with a custom length in range.
	all.Length = 8
	if vs := ValidatePasswordPolicy("/password_policy", all); len(vs) != 0 {
		t.Fatalf("8 characters with 4 classes: %+v", vs)
	}
	// Not required and empty is fine: no symbols at all.
	if vs := ValidatePasswordPolicy("", api.RotationPasswordPolicy{Symbols: ptr("")}); len(vs) != 0 {
		t.Fatalf("empty optional symbols: %+v", vs)
	}
}

// TestGeneratePasswordProperty: 1000 generations per policy all satisfy it.
func TestGeneratePasswordProperty(t *testing.T) {
	policies := []api.RotationPasswordPolicy{
		{},
		{Length: 8, RequireLowercase: true, RequireUppercase: true, RequireDigits: true, RequireSymbols: true},
		{Length: 12, RequireDigits: true, Symbols: ptr("")},
		{Length: 64, RequireLowercase: true, RequireUppercase: true, RequireDigits: true, RequireSymbols: true, Symbols: ptr("!#%+-=_"), ExcludeAmbiguous: true},
		{Length: 16, RequireSymbols: true, Symbols: ptr(`'"\`)}, // quoting-hostile symbols
		{Length: 10, RequireUppercase: true, ExcludeAmbiguous: true},
		{Length: 128, RequireLowercase: true},
	}
	for i, p := range policies {
		seen := map[string]bool{}
		for range 1000 {
			pw, err := GeneratePassword(p)
			if err != nil {
				t.Fatalf("policy %d: %v", i, err)
			}
			if err := CheckPassword(p, pw); err != nil {
				t.Fatalf("policy %d: generated password violates it: %v", i, err)
			}
			if p.ExcludeAmbiguous && strings.ContainsAny(pw, AmbiguousCharacters) {
				t.Fatalf("policy %d: ambiguous character in password", i)
			}
			if p.Symbols != nil && *p.Symbols == "" && strings.ContainsAny(pw, api.DefaultPasswordSymbols+"~!@#$%^&*()_+`-={}|[]\\:\"<>?,./") {
				t.Fatalf("policy %d: symbol in a password whose symbol set is empty", i)
			}
			seen[pw] = true
		}
		if len(seen) < 990 {
			t.Fatalf("policy %d: only %d distinct passwords in 1000", i, len(seen))
		}
	}
}

func TestCheckPasswordRejects(t *testing.T) {
	p := api.RotationPasswordPolicy{Length: 8, RequireDigits: true, Symbols: ptr("!")}
	for pw, why := range map[string]string{
		"abcdefgh":  "no digit",
		"abcdefg1x": "length",
		"abcdef1?":  "not allowed",
	} {
		if err := CheckPassword(p, pw); err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("%q: %v, want %q", pw, err, why)
		}
	}
}
