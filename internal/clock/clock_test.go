package clock

import (
	"testing"
	"time"
)

func TestFakeAdvanceAndSet(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	f := NewFake(start)
	if got := f.Now(); !got.Equal(start) || got.Location() != time.UTC {
		t.Fatalf("Now() = %v, want %v in UTC", got, start)
	}
	f.Advance(90 * time.Second)
	if got := f.Now(); !got.Equal(start.Add(90 * time.Second)) {
		t.Fatalf("after Advance: %v", got)
	}
	f.Set(start)
	if got := f.Now(); !got.Equal(start) {
		t.Fatalf("after Set: %v", got)
	}
}

func TestOffsetAdvance(t *testing.T) {
	var o Offset
	before := time.Now().UTC()
	o.Advance(2 * time.Hour)
	got := o.Now()
	if got.Before(before.Add(2*time.Hour)) || got.After(time.Now().UTC().Add(2*time.Hour+time.Second)) {
		t.Fatalf("Offset.Now() = %v, want about %v", got, before.Add(2*time.Hour))
	}
}
