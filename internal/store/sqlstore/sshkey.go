package sqlstore

import (
	"encoding/json"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

// --- registered SSH public keys ---

func (t *tx) InsertSSHKey(k api.SSHKey) error {
	b, err := json.Marshal(k)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO ssh_keys (id, subject, token_id, fingerprint, body) VALUES ($1,$2,$3,$4,$5)`,
		k.ID, k.Subject, k.TokenID, k.Fingerprint, string(b))
	return err
}

func (t *tx) sshKeyWhere(where string, arg any) (api.SSHKey, error) {
	var body string
	if err := t.queryRow(`SELECT body FROM ssh_keys WHERE `+where+` = $1`, arg).Scan(&body); err != nil { //nolint:gosec // where is a constant column name
		return api.SSHKey{}, t.mapErr(err)
	}
	return decodeBody[api.SSHKey]("ssh key", body)
}

func (t *tx) GetSSHKey(id string) (api.SSHKey, error) { return t.sshKeyWhere("id", id) }

func (t *tx) SSHKeyByFingerprint(fp string) (api.SSHKey, error) {
	return t.sshKeyWhere("fingerprint", fp)
}

func (t *tx) ListSSHKeys(f store.SSHKeyFilter) ([]api.SSHKey, error) {
	return queryBodies[api.SSHKey](t, "ssh key", `SELECT body FROM ssh_keys WHERE id > $1 AND ($2 = '' OR subject = $2) ORDER BY id LIMIT $3`,
		f.AfterID, f.Subject, max(f.Limit, 1))
}

func (t *tx) DeleteSSHKey(id string) error { return t.deleteByID("ssh_keys", id) }
