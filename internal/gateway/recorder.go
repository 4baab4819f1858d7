package gateway

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/accessplane/terraform-provider-pam/internal/clock"
	"github.com/accessplane/terraform-provider-pam/internal/session"
)

// DefaultMaxRecordingBytes bounds one recording in memory; beyond it output
// is dropped and a marker says so.
const DefaultMaxRecordingBytes = 64 << 20

// Recorder buffers one session as asciicast v2 in memory: output ("o"),
// input lines ("i"), command filter hits ("m") and resizes ("r"). The body is
// sealed and stored once, when the session ends. Safe for concurrent use.
type Recorder struct {
	mu        sync.Mutex
	clk       clock.Clock
	start     time.Time
	hdr       session.AsciicastHeader
	buf       bytes.Buffer
	w         *session.AsciicastWriter
	limit     int
	truncated bool
	carry     []byte // an incomplete UTF-8 sequence at the end of the last output
}

// NewRecorder starts a recording at the clock's time.
func NewRecorder(clk clock.Clock, title string, limit int) *Recorder {
	if limit <= 0 {
		limit = DefaultMaxRecordingBytes
	}
	r := &Recorder{clk: clk, start: clk.Now(), limit: limit,
		hdr: session.AsciicastHeader{Version: 2, Width: 80, Height: 24, Title: title}}
	// The header is rewritten by Bytes with the final terminal size.
	r.w, _ = session.NewAsciicastWriter(&r.buf, r.hdr, r.start) // a bytes.Buffer does not fail
	return r
}

// SetTerminal records the terminal of the pty request.
func (r *Recorder) SetTerminal(term string, cols, rows int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if cols > 0 && rows > 0 {
		r.hdr.Width, r.hdr.Height = cols, rows
	}
	if term != "" {
		r.hdr.Env = map[string]string{"TERM": term}
	}
}

func (r *Recorder) event(typ, data string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.truncated {
		return
	}
	if r.buf.Len()+len(data) > r.limit {
		r.truncated = true
		_ = r.w.Event(r.clk.Now(), session.EventMarker, "recording truncated: size limit reached")
		return
	}
	_ = r.w.Event(r.clk.Now(), typ, data)
}

// Output records bytes sent to the user, keeping UTF-8 sequences split
// across reads whole.
func (r *Recorder) Output(p []byte) {
	r.mu.Lock()
	data := append(r.carry, p...)
	r.carry = nil
	if n := incompleteTail(data); n > 0 {
		r.carry = append([]byte(nil), data[len(data)-n:]...)
		data = data[:len(data)-n]
	}
	r.mu.Unlock()
	if len(data) > 0 {
		r.event(session.EventOutput, string(data))
	}
}

// Input records one input line (or raw input of a non-filtered session).
func (r *Recorder) Input(s string) { r.event(session.EventInput, s) }

// Marker records a filter hit or a session event.
func (r *Recorder) Marker(s string) { r.event(session.EventMarker, s) }

// Resize records a window change.
func (r *Recorder) Resize(cols, rows int) {
	r.event(session.EventResize, itoa(cols)+"x"+itoa(rows))
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// Bytes is the whole recording: the final header, then the events.
func (r *Recorder) Bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.carry) > 0 {
		_ = r.w.Event(r.clk.Now(), session.EventOutput, string(r.carry))
		r.carry = nil
	}
	body := r.buf.Bytes()
	if i := bytes.IndexByte(body, '\n'); i >= 0 {
		body = body[i+1:]
	}
	h := r.hdr
	h.Timestamp = r.start.Unix()
	hb, _ := json.Marshal(h)
	return append(append(hb, '\n'), body...)
}

// Duration is the time from the start to the last event.
func (r *Recorder) Duration() time.Duration { return r.w.Duration() }

// Sum is the hex sha256 of a recording body.
func Sum(body []byte) string {
	s := sha256.Sum256(body)
	return hex.EncodeToString(s[:])
}

// incompleteTail is how many bytes at the end of p start a UTF-8 sequence
// that is not complete yet (0 when p ends on a boundary).
func incompleteTail(p []byte) int {
	for n := 1; n <= 3 && n <= len(p); n++ {
		b := p[len(p)-n]
		if b < 0x80 {
			return 0
		}
		if b >= 0xC0 { // a leading byte
			if !utf8.FullRune(p[len(p)-n:]) {
				return n
			}
			return 0
		}
	}
	return 0
}
