package audit

import (
	"encoding/json"
	"fmt"
)

// Result of verifying a chain.
type Result struct {
	// Checked counts the events that passed before the first failure.
	Checked int64
	// FirstBad is the first sequence number that failed; 0 when the chain is intact.
	FirstBad int64
	// Reason says why FirstBad failed.
	Reason string
}

// OK reports whether the chain verified.
func (r Result) OK() bool { return r.FirstBad == 0 }

func (r Result) String() string {
	if r.OK() {
		return fmt.Sprintf("ok: %d events", r.Checked)
	}
	return fmt.Sprintf("FAILED at sequence %d: %s (%d events verified before it)", r.FirstBad, r.Reason, r.Checked)
}

// Verifier checks records one at a time, in stored sequence order, so a chain
// of any length is verified in constant memory.
type Verifier struct {
	prev    Head
	res     Result
	stopped bool
}

// NewVerifier starts at the genesis of a chain.
func NewVerifier() *Verifier { return &Verifier{prev: Head{Hash: Genesis}} }

func (v *Verifier) fail(seq int64, format string, args ...any) bool {
	v.res.FirstBad = seq
	v.res.Reason = fmt.Sprintf(format, args...)
	v.stopped = true
	return false
}

// Next checks the next stored record; it returns false once a failure was
// found, after which the verifier ignores further records.
func (v *Verifier) Next(r Record) bool {
	if v.stopped {
		return false
	}
	want := v.prev.Sequence + 1
	switch {
	case r.Sequence > want:
		return v.fail(want, "deleted: sequence %d is missing (next stored event is %d)", want, r.Sequence)
	case r.Sequence < want:
		return v.fail(r.Sequence, "duplicate: sequence %d stored twice", r.Sequence)
	}
	if HashBody(r.Body) != r.Hash {
		return v.fail(r.Sequence, "modified: event content does not match its hash")
	}
	var link struct {
		Sequence int64  `json:"sequence"`
		PrevHash string `json:"prev_hash"`
	}
	if err := json.Unmarshal(r.Body, &link); err != nil {
		return v.fail(r.Sequence, "modified: event body is not JSON")
	}
	if link.Sequence != r.Sequence {
		return v.fail(r.Sequence, "reordered: event for sequence %d is stored at sequence %d", link.Sequence, r.Sequence)
	}
	if link.PrevHash != v.prev.Hash {
		return v.fail(r.Sequence, "chain broken: prev_hash does not match the hash of sequence %d (an event was replaced, reordered or modified and re-hashed)", v.prev.Sequence)
	}
	v.prev = Head{Sequence: r.Sequence, Hash: r.Hash}
	v.res.Checked++
	return true
}

// Finish checks the end of the chain against the recorded head, which catches
// deletion of the newest events, and returns the result.
func (v *Verifier) Finish(head *Head) Result {
	if v.stopped || head == nil {
		return v.res
	}
	if head.Sequence > v.prev.Sequence {
		v.fail(v.prev.Sequence+1, "deleted: chain head is at sequence %d but the log ends at %d", head.Sequence, v.prev.Sequence)
	} else if head.Sequence < v.prev.Sequence || head.Hash != v.prev.Hash {
		v.fail(v.prev.Sequence, "chain head (sequence %d) does not match the last event", head.Sequence)
	}
	return v.res
}

// Verify checks a whole chain held in memory.
func Verify(records []Record, head *Head) Result {
	v := NewVerifier()
	for _, r := range records {
		if !v.Next(r) {
			break
		}
	}
	return v.Finish(head)
}
