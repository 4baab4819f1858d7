// Package ids mints the opaque, prefixed identifiers of pamd objects
// ("role_01JB8X4M0Q3K7Z9V6W2D5R1T8N"). ULIDs sort by creation time, which gives
// list endpoints a stable default order for free.
package ids

import (
	"crypto/rand"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

var (
	mu     sync.Mutex
	lastMS uint64
	// Monotonic entropy keeps IDs minted in the same millisecond ordered, so a
	// burst of creates still lists in creation order.
	entropy = ulid.Monotonic(rand.Reader, 0)
)

// New returns "<prefix>_<ULID>" for the given time.
func New(prefix string, t time.Time) string {
	mu.Lock()
	defer mu.Unlock()
	// Never go back in time: callers pass differently rounded clocks and a
	// clock can step backwards, yet ids must keep sorting in minting order.
	ms := max(ulid.Timestamp(t), lastMS)
	lastMS = ms
	id, err := ulid.New(ms, entropy)
	if err != nil {
		// Monotonic entropy only overflows after 2^80 ids in one millisecond.
		lastMS++
		id = ulid.MustNew(lastMS, rand.Reader)
	}
	return prefix + "_" + id.String()
}

// Valid reports whether id is "<prefix>_<ULID>".
func Valid(prefix, id string) bool {
	rest, ok := strings.CutPrefix(id, prefix+"_")
	if !ok {
		return false
	}
	_, err := ulid.ParseStrict(rest)
	return err == nil
}
