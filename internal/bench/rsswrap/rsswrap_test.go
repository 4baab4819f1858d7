package rsswrap

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestRead(t *testing.T) {
	p := filepath.Join(t.TempDir(), "rss")
	if u, err := Read(p); err != nil || u != (Usage{}) {
		t.Fatalf("missing file: %v %v", u, err)
	}
	for _, l := range []string{"1200 1000000", "80000 250000000", "64000 50000000"} {
		if err := appendLine(p, l); err != nil {
			t.Fatal(err)
		}
	}
	u, err := Read(p)
	if err != nil || u.PeakKiB != 80000 || u.CPU != 301*time.Millisecond {
		t.Fatalf("Read = %+v %v, want peak 80000 KiB and 301ms CPU", u, err)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Error("Read left the file behind")
	}
	for _, bad := range []string{"12\n", "12 x\n", "1 2 3\n"} {
		if _, err := parse(bad); err == nil {
			t.Errorf("bad input %q was accepted", bad)
		}
	}
}
