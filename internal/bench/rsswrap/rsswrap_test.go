package rsswrap

import (
	"os"
	"path/filepath"
	"testing"
)

func TestPeakKiB(t *testing.T) {
	p := filepath.Join(t.TempDir(), "rss")
	if v, err := PeakKiB(p); err != nil || v != 0 {
		t.Fatalf("missing file: %v %v", v, err)
	}
	if err := appendLine(p, "1200"); err != nil {
		t.Fatal(err)
	}
	if err := appendLine(p, "80000"); err != nil {
		t.Fatal(err)
	}
	if err := appendLine(p, "64000"); err != nil {
		t.Fatal(err)
	}
	v, err := PeakKiB(p)
	if err != nil || v != 80000 {
		t.Fatalf("PeakKiB = %v %v, want 80000", v, err)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Error("PeakKiB left the file behind")
	}
	if _, err := maxOfLines("12\nx\n"); err == nil {
		t.Error("a bad line was accepted")
	}
}
