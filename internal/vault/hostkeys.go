package vault

import (
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// ParseHostKey parses one pinned host key in authorized_keys / known_hosts
// key form ("ssh-ed25519 AAAA... optional comment") and returns the key and
// its normalised form (type and base64, no comment), which is what pamd
// stores and compares. The error says what to send instead.
func ParseHostKey(text string) (ssh.PublicKey, string, error) {
	text = strings.TrimSpace(text)
	switch {
	case text == "":
		return nil, "", fmt.Errorf("is empty; give the target's public host key, e.g. the line of /etc/ssh/ssh_host_ed25519_key.pub")
	case strings.Contains(text, "PRIVATE KEY"):
		return nil, "", fmt.Errorf("is a PRIVATE key: give the target's public host key (the .pub file) instead")
	case strings.ContainsAny(text, "\r\n"):
		return nil, "", fmt.Errorf("must hold exactly one key on one line")
	}
	pk, _, options, _, err := ssh.ParseAuthorizedKey([]byte(text))
	if err != nil {
		return nil, "", fmt.Errorf("is not an SSH public key in the form \"ssh-ed25519 AAAA... comment\" "+
			"(as in /etc/ssh/ssh_host_*_key.pub or printed by ssh-keyscan without the host name): %s", err.Error())
	}
	if len(options) > 0 {
		return nil, "", fmt.Errorf("must not carry authorized_keys options or a known_hosts host pattern (%s); give the key alone",
			strings.Join(options, ","))
	}
	return pk, NormalizedHostKey(pk), nil
}

// NormalizedHostKey is the stored form of a host key: "TYPE BASE64".
func NormalizedHostKey(pk ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk)))
}

// normalizeHostKeys validates host_keys (violations at /host_keys/N) and
// returns them normalised, never nil. Only platform unix_ssh is reached over
// SSH by the gateway: pinning on another platform would protect nothing
// while looking as if it did, so it is refused.
func normalizeHostKeys(platform string, keys []string) ([]string, []api.Violation) {
	var vs []api.Violation
	if len(keys) > 0 && platform != api.PlatformUnixSSH {
		vs = append(vs, field("/host_keys", CodeMismatch, "only platform %s accounts are reached over SSH by the gateway; "+
			"remove host_keys from this %s account", api.PlatformUnixSSH, platform))
	}
	if len(keys) > api.MaxHostKeys {
		vs = append(vs, field("/host_keys", CodeTooMany, "at most %d host keys allowed", api.MaxHostKeys))
	}
	out := make([]string, 0, len(keys))
	seen := make(map[string]int, len(keys))
	for i, k := range keys {
		ptr := fmt.Sprintf("/host_keys/%d", i)
		_, norm, err := ParseHostKey(k)
		if err != nil {
			vs = append(vs, field(ptr, CodePattern, "%s", err.Error()))
			continue
		}
		if j, dup := seen[norm]; dup {
			vs = append(vs, field(ptr, CodeDuplicate, "is the same key as host_keys[%d] (comments are ignored)", j))
			continue
		}
		seen[norm] = i
		out = append(out, norm)
	}
	return out, vs
}
