package session

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"time"
)

// Asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/): a JSON
// header line, then one JSON array per event: [seconds since start, type,
// data]. pamd records output ("o"), input lines ("i") and markers ("m", e.g.
// command filter hits) of a session.

// Asciicast event types.
const (
	EventOutput = "o"
	EventInput  = "i"
	EventMarker = "m"
	EventResize = "r"
)

// AsciicastHeader is the first line of a recording.
type AsciicastHeader struct {
	Version   int               `json:"version"`
	Width     int               `json:"width"`
	Height    int               `json:"height"`
	Timestamp int64             `json:"timestamp,omitempty"`
	Title     string            `json:"title,omitempty"`
	Env       map[string]string `json:"env,omitempty"`
}

// AsciicastEvent is one event of a recording.
type AsciicastEvent struct {
	// Time is seconds since the start of the recording.
	Time float64
	Type string
	Data string
}

// MarshalJSON renders the event as asciicast's [time, type, data] array.
func (e AsciicastEvent) MarshalJSON() ([]byte, error) {
	return json.Marshal([]any{math.Round(e.Time*1e6) / 1e6, e.Type, e.Data})
}

// UnmarshalJSON parses an asciicast [time, type, data] array.
func (e *AsciicastEvent) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if len(raw) != 3 {
		return fmt.Errorf("asciicast event has %d elements, want 3", len(raw))
	}
	if err := json.Unmarshal(raw[0], &e.Time); err != nil {
		return fmt.Errorf("asciicast event time: %w", err)
	}
	if err := json.Unmarshal(raw[1], &e.Type); err != nil {
		return fmt.Errorf("asciicast event type: %w", err)
	}
	if err := json.Unmarshal(raw[2], &e.Data); err != nil {
		return fmt.Errorf("asciicast event data: %w", err)
	}
	if e.Time < 0 || math.IsNaN(e.Time) || math.IsInf(e.Time, 0) {
		return fmt.Errorf("asciicast event time %v is not a non-negative number", e.Time)
	}
	return nil
}

// AsciicastWriter writes a recording; safe for concurrent use.
type AsciicastWriter struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
	last  float64
}

// NewAsciicastWriter writes the header (version 2, timestamp from start when
// zero) and returns a writer whose event times are relative to start.
func NewAsciicastWriter(w io.Writer, h AsciicastHeader, start time.Time) (*AsciicastWriter, error) {
	h.Version = 2
	if h.Timestamp == 0 {
		h.Timestamp = start.Unix()
	}
	b, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return nil, err
	}
	return &AsciicastWriter{w: w, start: start}, nil
}

// Event appends one event at time at. Times never go backwards: an event
// earlier than the previous one is written at the previous one's time.
func (a *AsciicastWriter) Event(at time.Time, typ, data string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	t := max(at.Sub(a.start).Seconds(), a.last)
	a.last = t
	b, err := json.Marshal(AsciicastEvent{Time: t, Type: typ, Data: data})
	if err != nil {
		return err
	}
	_, err = a.w.Write(append(b, '\n'))
	return err
}

// Duration is the time of the last event written.
func (a *AsciicastWriter) Duration() time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	return time.Duration(a.last * float64(time.Second))
}

// ParseAsciicast reads a whole asciicast v2 recording.
func ParseAsciicast(r io.Reader) (AsciicastHeader, []AsciicastEvent, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	var h AsciicastHeader
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return h, nil, err
		}
		return h, nil, errors.New("asciicast: empty recording")
	}
	if err := json.Unmarshal(sc.Bytes(), &h); err != nil {
		return h, nil, fmt.Errorf("asciicast header: %w", err)
	}
	if h.Version != 2 {
		return h, nil, fmt.Errorf("asciicast: version %d is not supported (want 2)", h.Version)
	}
	var events []AsciicastEvent
	line := 1
	for sc.Scan() {
		line++
		if len(sc.Bytes()) == 0 {
			continue
		}
		var e AsciicastEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return h, events, fmt.Errorf("asciicast line %d: %w", line, err)
		}
		events = append(events, e)
	}
	return h, events, sc.Err()
}

// Replay writes the output events to w, waiting between them for the
// recorded time divided by speed; speed 0 (or less) writes everything
// without waiting. sleep is time.Sleep outside tests. Waits are capped at
// maxWait (0 means no cap) so that a long idle stretch does not stall a
// replay.
func Replay(w io.Writer, events []AsciicastEvent, speed float64, maxWait time.Duration, sleep func(time.Duration)) error {
	prev := 0.0
	for _, e := range events {
		if e.Type != EventOutput {
			continue
		}
		if speed > 0 && e.Time > prev {
			d := time.Duration((e.Time - prev) / speed * float64(time.Second))
			if maxWait > 0 && d > maxWait {
				d = maxWait
			}
			sleep(d)
		}
		prev = max(prev, e.Time)
		if _, err := io.WriteString(w, e.Data); err != nil {
			return err
		}
	}
	return nil
}
