// Package audit owns the tamper-evident audit log: canonicalisation of events
// (RFC 8785 JCS), the hash chain that links each event to its predecessor, the
// verification that finds the first broken link, and the compact change lists
// recorded for mutations. Persisting events is the store's job; the store calls
// Seal inside the same transaction as the change it records.
package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/gowebpki/jcs"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// Constants that are part of every hash; changing any breaks every chain.
const (
	DefaultChain     = "default"
	HashAlg          = "sha256"
	Canonicalization = "rfc8785-jcs"
	hashDomain       = "pam-audit-v1\n"
)

// Genesis is the prev_hash of the first event of a chain.
var Genesis = strings.Repeat("0", 64)

// TimeFormat renders occurred_at at millisecond precision, so that the stored
// string, and with it the hash, is stable.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// FormatTime renders t as stored in events.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// Canonical returns the RFC 8785 canonical JSON of v.
func Canonical(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// JCS never escapes <, > and &; encoding/json does unless told not to.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("marshal event: %w", err)
	}
	out, err := jcs.Transform(bytes.TrimRight(buf.Bytes(), "\n"))
	if err != nil {
		return nil, fmt.Errorf("canonicalise event: %w", err)
	}
	return out, nil
}

// HashBody hashes the canonical body of an event (the event without "hash").
func HashBody(body []byte) string {
	h := sha256.New()
	h.Write([]byte(hashDomain))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// Head is the tip of a chain: the last sequence and its hash.
type Head struct {
	Sequence int64
	Hash     string
}

// Record is an event as stored: the canonical body the hash covers, and the hash.
type Record struct {
	Sequence int64
	Body     []byte
	Hash     string
}

// Seal links ev to head: it assigns the next sequence and prev_hash, computes
// the hash, and returns the stored record and the new head. ev is updated in
// place so the caller can return it.
func Seal(head Head, ev *api.AuditEvent) (Record, Head, error) {
	if head.Hash == "" {
		head.Hash = Genesis
	}
	ev.Sequence = head.Sequence + 1
	ev.PrevHash = head.Hash
	ev.HashAlg = HashAlg
	ev.Canonicalization = Canonicalization
	if ev.ChainID == "" {
		ev.ChainID = DefaultChain
	}
	ev.Hash = ""
	body, err := Canonical(ev)
	if err != nil {
		return Record{}, head, err
	}
	ev.Hash = HashBody(body)
	return Record{Sequence: ev.Sequence, Body: body, Hash: ev.Hash}, Head{Sequence: ev.Sequence, Hash: ev.Hash}, nil
}

// Decode turns a stored record back into an event.
func Decode(r Record) (api.AuditEvent, error) {
	var ev api.AuditEvent
	if err := json.Unmarshal(r.Body, &ev); err != nil {
		return ev, fmt.Errorf("decode audit event %d: %w", r.Sequence, err)
	}
	ev.Hash = r.Hash
	return ev, nil
}
