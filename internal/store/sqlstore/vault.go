package sqlstore

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

// Vault objects are stored as JSON in body; secrets only in
// vault_secret_versions.sealed, never in a body.

// --- safes ---

const safeCountSQL = `(SELECT COUNT(*) FROM vault_accounts a WHERE a.safe_id = s.id)`

func (t *tx) scanSafe(sc scanner) (api.Safe, error) {
	var body string
	var n int
	if err := sc.Scan(&body, &n); err != nil {
		return api.Safe{}, t.mapErr(err)
	}
	s, err := decodeBody[api.Safe]("safe", body)
	s.AccountCount = n
	return s, err
}

func safeBody(s api.Safe) (string, error) {
	s.AccountCount = 0
	b, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("safe: %w", err)
	}
	return string(b), nil
}

func (t *tx) GetSafe(id string) (api.Safe, error) {
	return t.scanSafe(t.queryRow(`SELECT s.body, `+safeCountSQL+` FROM safes s WHERE s.id = $1`, id))
}

func (t *tx) GetSafeIDByName(name string) (string, error) {
	var id string
	err := t.queryRow(`SELECT id FROM safes WHERE name = $1`, name).Scan(&id)
	return id, t.mapErr(err)
}

func (t *tx) ListSafes(f store.SafeFilter) ([]api.Safe, error) {
	return queryAll(t, t.scanSafe, `SELECT s.body, `+safeCountSQL+` FROM safes s WHERE s.id > $1 AND ($2 = '' OR s.name = $2) ORDER BY s.id LIMIT $3`,
		f.AfterID, f.Name, max(f.Limit, 1))
}

func (t *tx) InsertSafe(s api.Safe) error {
	body, err := safeBody(s)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO safes (id, name, version, body) VALUES ($1,$2,$3,$4)`, s.ID, s.Name, s.Version, body)
	return err
}

func (t *tx) UpdateSafe(s api.Safe, prevVersion int64) error {
	body, err := safeBody(s)
	if err != nil {
		return err
	}
	res, err := t.exec(`UPDATE safes SET name = $1, version = $2, body = $3 WHERE id = $4 AND version = $5`, s.Name, s.Version, body, s.ID, prevVersion)
	if err != nil {
		return err
	}
	return t.checkOne(res, `SELECT 1 FROM safes WHERE id = $1`, s.ID)
}

func (t *tx) DeleteSafe(id string) error { return t.deleteByID("safes", id) }

// --- vault accounts ---

func (t *tx) scanAccount(sc scanner) (api.VaultAccount, error) {
	var body, status string
	if err := sc.Scan(&body, &status); err != nil {
		return api.VaultAccount{}, t.mapErr(err)
	}
	a, err := decodeBody[api.VaultAccount]("vault account", body)
	if err != nil {
		return a, err
	}
	st, err := decodeBody[api.VaultAccountStatus]("vault account status", status)
	a.Status = st
	a.Secret = "" // never stored; defensive
	return a, err
}

func accountBody(a api.VaultAccount) (string, error) {
	a.Secret = ""
	a.Status = api.VaultAccountStatus{}
	b, err := json.Marshal(a)
	if err != nil {
		return "", fmt.Errorf("vault account: %w", err)
	}
	return string(b), nil
}

func (t *tx) GetVaultAccount(id string) (api.VaultAccount, error) {
	return t.scanAccount(t.queryRow(`SELECT body, status FROM vault_accounts WHERE id = $1`, id))
}

func (t *tx) GetVaultAccountIDsByName(safeID, name string) ([]string, error) {
	rows, err := t.query(`SELECT id FROM vault_accounts WHERE name = $1 AND ($2 = '' OR safe_id = $2) ORDER BY id`, name, safeID)
	if err != nil {
		return nil, t.mapErr(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, t.mapErr(err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, t.mapErr(err)
	}
	if len(out) == 0 {
		return nil, store.ErrNotFound
	}
	return out, nil
}

func (t *tx) ListVaultAccounts(f store.VaultAccountFilter) ([]api.VaultAccount, error) {
	return queryAll(t, t.scanAccount, `SELECT body, status FROM vault_accounts
		WHERE id > $1 AND ($2 = '' OR safe_id = $2) AND ($3 = '' OR name = $3) AND ($4 = '' OR platform = $4)
		ORDER BY id LIMIT $5`, f.AfterID, f.SafeID, f.Name, f.Platform, max(f.Limit, 1))
}

func (t *tx) InsertVaultAccount(a api.VaultAccount) error {
	body, err := accountBody(a)
	if err != nil {
		return err
	}
	st, err := json.Marshal(rotationStatus(a.Status))
	if err != nil {
		return fmt.Errorf("vault account status: %w", err)
	}
	_, err = t.exec(`INSERT INTO vault_accounts (id, safe_id, name, platform, version, status, body) VALUES ($1,$2,$3,$4,$5,$6,$7)`,
		a.ID, a.SafeID, a.Name, a.Platform, a.Version, string(st), body)
	return err
}

func (t *tx) UpdateVaultAccount(a api.VaultAccount, prevVersion int64) error {
	body, err := accountBody(a)
	if err != nil {
		return err
	}
	res, err := t.exec(`UPDATE vault_accounts SET safe_id = $1, name = $2, platform = $3, version = $4, body = $5 WHERE id = $6 AND version = $7`,
		a.SafeID, a.Name, a.Platform, a.Version, body, a.ID, prevVersion)
	if err != nil {
		return err
	}
	return t.checkOne(res, `SELECT 1 FROM vault_accounts WHERE id = $1`, a.ID)
}

func (t *tx) DeleteVaultAccount(id string) error { return t.deleteByID("vault_accounts", id) }

// rotationStatus drops the checkout part, which is derived, not stored.
func rotationStatus(st api.VaultAccountStatus) api.VaultAccountStatus {
	st.CheckedOutBy, st.CheckoutID, st.CheckoutExpiresAt = nil, "", nil
	return st
}

func (t *tx) SetVaultAccountStatus(id string, st api.VaultAccountStatus) error {
	b, err := json.Marshal(rotationStatus(st))
	if err != nil {
		return fmt.Errorf("vault account status: %w", err)
	}
	return t.execOne(`UPDATE vault_accounts SET status = $1 WHERE id = $2`, string(b), id)
}

// --- secret versions ---

//nolint:gosec // column names, not a credential
const secretCols = `account_id, version, sealed, source, operation_id, created_at, created_by_type, created_by_id`

func (t *tx) scanSecret(sc scanner) (store.SecretVersionRecord, error) {
	var r store.SecretVersionRecord
	var created string
	if err := sc.Scan(&r.AccountID, &r.Version, &r.Sealed, &r.Source, &r.OperationID, &created, &r.CreatedBy.Type, &r.CreatedBy.ID); err != nil {
		return r, t.mapErr(err)
	}
	var err error
	r.CreatedAt, err = parseTS(created)
	return r, err
}

func (t *tx) InsertSecretVersion(r store.SecretVersionRecord) error {
	_, err := t.exec(`INSERT INTO vault_secret_versions (`+secretCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`,
		r.AccountID, r.Version, r.Sealed, r.Source, r.OperationID, ts(r.CreatedAt), r.CreatedBy.Type, r.CreatedBy.ID)
	return err
}

func (t *tx) GetSecretVersion(accountID string, version int64) (store.SecretVersionRecord, error) {
	return t.scanSecret(t.queryRow(`SELECT `+secretCols+` FROM vault_secret_versions WHERE account_id = $1 AND version = $2`, accountID, version))
}

func (t *tx) ListSecretVersions(accountID string) ([]store.SecretVersionRecord, error) {
	return queryAll(t, t.scanSecret, `SELECT `+secretCols+` FROM vault_secret_versions WHERE account_id = $1 ORDER BY version DESC`, accountID)
}

// --- sealed values (master key rotation) ---

func (t *tx) ListSealedValues() ([]store.SealedValue, error) {
	rows, err := t.query(`SELECT 'vault_secret', account_id, version, sealed FROM vault_secret_versions
		UNION ALL SELECT 'mfa_totp', subject, 0, secret_sealed FROM mfa_totp
		UNION ALL SELECT 'role_webhook', role_id, position, secret FROM role_webhooks
		UNION ALL SELECT 'session_recording', id, 0, sealed FROM session_recordings WHERE sealed <> '' ORDER BY 1, 2, 3`)
	if err != nil {
		return nil, t.mapErr(err)
	}
	defer rows.Close()
	out := []store.SealedValue{}
	for rows.Next() {
		var v store.SealedValue
		if err := rows.Scan(&v.Kind, &v.Key, &v.Version, &v.Sealed); err != nil {
			return nil, t.mapErr(err)
		}
		out = append(out, v)
	}
	return out, t.mapErr(rows.Err())
}

func (t *tx) ReplaceSealedValue(v store.SealedValue) error {
	switch v.Kind {
	case store.SealedVaultSecret:
		return t.execOne(`UPDATE vault_secret_versions SET sealed = $1 WHERE account_id = $2 AND version = $3`, v.Sealed, v.Key, v.Version)
	case store.SealedMFATOTP:
		return t.execOne(`UPDATE mfa_totp SET secret_sealed = $1 WHERE subject = $2`, v.Sealed, v.Key)
	case store.SealedRoleWebhook:
		return t.execOne(`UPDATE role_webhooks SET secret = $1 WHERE role_id = $2 AND position = $3`, v.Sealed, v.Key, v.Version)
	case store.SealedSessionRecording:
		return t.execOne(`UPDATE session_recordings SET sealed = $1 WHERE id = $2`, v.Sealed, v.Key)
	default:
		return fmt.Errorf("sealed value kind %q unknown", v.Kind)
	}
}

// --- checkouts ---

func checkoutBody(c api.Checkout) (string, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("checkout: %w", err)
	}
	return string(b), nil
}

func (t *tx) queryCheckouts(q string, args ...any) ([]api.Checkout, error) {
	return queryBodies[api.Checkout](t, "checkout", q, args...)
}

func (t *tx) GetCheckout(id string) (api.Checkout, error) {
	var body string
	if err := t.queryRow(`SELECT body FROM checkouts WHERE id = $1`, id).Scan(&body); err != nil {
		return api.Checkout{}, t.mapErr(err)
	}
	return decodeBody[api.Checkout]("checkout", body)
}

func (t *tx) InsertCheckout(c api.Checkout, exclusive bool) error {
	body, err := checkoutBody(c)
	if err != nil {
		return err
	}
	ex := 0
	if exclusive {
		ex = 1
	}
	_, err = t.exec(`INSERT INTO checkouts (id, account_id, holder_type, holder_id, state, exclusive, expires_at, version, body)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`, c.ID, c.AccountID, c.Holder.Type, c.Holder.ID, c.State, ex, ts(c.ExpiresAt), c.Version, body)
	return err
}

func (t *tx) UpdateCheckout(c api.Checkout, prevVersion int64) error {
	body, err := checkoutBody(c)
	if err != nil {
		return err
	}
	res, err := t.exec(`UPDATE checkouts SET state = $1, expires_at = $2, version = $3, body = $4 WHERE id = $5 AND version = $6`,
		c.State, ts(c.ExpiresAt), c.Version, body, c.ID, prevVersion)
	if err != nil {
		return err
	}
	return t.checkOne(res, `SELECT 1 FROM checkouts WHERE id = $1`, c.ID)
}

func (t *tx) ListCheckouts(f store.CheckoutFilter) ([]api.Checkout, error) {
	q := `SELECT body FROM checkouts WHERE id > $1 AND ($2 = '' OR account_id = $2) AND ($3 = '' OR holder_type = $3) AND ($4 = '' OR holder_id = $4)`
	args := []any{f.AfterID, f.AccountID, f.HolderType, f.HolderID}
	if len(f.States) > 0 {
		ph := make([]string, len(f.States))
		for i, s := range f.States {
			args = append(args, s)
			ph[i] = fmt.Sprintf("$%d", len(args))
		}
		q += ` AND state IN (` + strings.Join(ph, ",") + `)`
	}
	args = append(args, max(f.Limit, 1))
	q += fmt.Sprintf(` ORDER BY id LIMIT $%d`, len(args))
	return t.queryCheckouts(q, args...)
}

func (t *tx) ActiveCheckouts(accountID string) ([]api.Checkout, error) {
	return t.queryCheckouts(`SELECT body FROM checkouts WHERE account_id = $1 AND state = 'active' ORDER BY expires_at, id`, accountID)
}

func (t *tx) DueCheckouts(now time.Time, limit int) ([]api.Checkout, error) {
	return t.queryCheckouts(`SELECT body FROM checkouts WHERE state = 'active' AND expires_at <= $1 ORDER BY expires_at, id LIMIT $2`, ts(now), max(limit, 1))
}
