package sqlstore

import (
	"database/sql"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/store"
)

// --- MFA (TOTP enrollments) ---

func (t *tx) GetTOTPEnrollment(subject string) (store.TOTPEnrollment, error) {
	e := store.TOTPEnrollment{Subject: subject}
	var created string
	var confirmed, failedSince sql.NullString
	err := t.queryRow(`SELECT secret_sealed, confirmed_at, last_used_step, failed_attempts, failed_since, created_at
		FROM mfa_totp WHERE subject = $1`, subject).
		Scan(&e.SealedSecret, &confirmed, &e.LastUsedStep, &e.FailedAttempts, &failedSince, &created)
	if err != nil {
		return e, t.mapErr(err)
	}
	if e.CreatedAt, err = parseTS(created); err != nil {
		return e, err
	}
	if e.ConfirmedAt, err = parseNullTS(confirmed); err != nil {
		return e, err
	}
	if e.FailedSince, err = parseNullTS(failedSince); err != nil {
		return e, err
	}
	return e, nil
}

func (t *tx) PutTOTPEnrollment(e store.TOTPEnrollment) error {
	_, err := t.exec(`INSERT INTO mfa_totp (subject, secret_sealed, confirmed_at, last_used_step, failed_attempts, failed_since, created_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7)
		ON CONFLICT (subject) DO UPDATE SET secret_sealed = excluded.secret_sealed, confirmed_at = excluded.confirmed_at,
		last_used_step = excluded.last_used_step, failed_attempts = excluded.failed_attempts,
		failed_since = excluded.failed_since, created_at = excluded.created_at`,
		e.Subject, e.SealedSecret, nullTS(e.ConfirmedAt), e.LastUsedStep, e.FailedAttempts, nullTS(e.FailedSince), ts(e.CreatedAt))
	return err
}

func (t *tx) UseTOTPStep(subject string, prevStep, step int64, confirmedAt *time.Time) error {
	res, err := t.exec(`UPDATE mfa_totp SET last_used_step = $1, confirmed_at = COALESCE(confirmed_at, $2),
		failed_attempts = 0, failed_since = NULL
		WHERE subject = $3 AND last_used_step = $4`, step, nullTS(confirmedAt), subject, prevStep)
	if err != nil {
		return err
	}
	return t.checkOne(res, `SELECT 1 FROM mfa_totp WHERE subject = $1`, subject)
}

func (t *tx) SetTOTPFailures(subject string, failures int, since *time.Time) error {
	return t.execOne(`UPDATE mfa_totp SET failed_attempts = $1, failed_since = $2 WHERE subject = $3`, failures, nullTS(since), subject)
}

func (t *tx) DeleteTOTPEnrollment(subject string) error {
	return t.execOne(`DELETE FROM mfa_totp WHERE subject = $1`, subject)
}
