package store

import "time"

// TOTPEnrollment is a subject's TOTP enrollment. SealedSecret is the
// envelope-encrypted secret (internal/keys compact form); the store never sees
// the secret itself.
type TOTPEnrollment struct {
	Subject      string
	SealedSecret string
	CreatedAt    time.Time
	// ConfirmedAt is nil until a first valid code confirmed the enrollment.
	ConfirmedAt *time.Time
	// LastUsedStep is the TOTP step of the last accepted code (0 before any).
	LastUsedStep int64
	// FailedAttempts counts wrong codes since FailedSince (nil when zero).
	FailedAttempts int
	FailedSince    *time.Time
}

// MFATx persists MFA enrollments.
type MFATx interface {
	// GetTOTPEnrollment returns the subject's enrollment or ErrNotFound.
	GetTOTPEnrollment(subject string) (TOTPEnrollment, error)
	// PutTOTPEnrollment inserts the enrollment or replaces the subject's.
	PutTOTPEnrollment(e TOTPEnrollment) error
	// UseTOTPStep records an accepted code: it sets last_used_step to step
	// only if it is still prevStep (compare-and-set, so two requests cannot
	// spend one code), sets confirmed_at to confirmedAt when it was unset and
	// confirmedAt is not nil, and clears the failure counter. ErrNotFound or
	// ErrVersionMismatch otherwise.
	UseTOTPStep(subject string, prevStep, step int64, confirmedAt *time.Time) error
	// SetTOTPFailures stores the failure counter (ErrNotFound without an enrollment).
	SetTOTPFailures(subject string, failures int, since *time.Time) error
	// DeleteTOTPEnrollment removes the enrollment or returns ErrNotFound.
	DeleteTOTPEnrollment(subject string) error
}
