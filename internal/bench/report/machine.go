package report

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Machine describes where the figures were taken.
type Machine struct {
	CPU      string
	Cores    int
	MemoryGB float64
	OS       string
	Kernel   string
	Go       string
	OpenTofu string
	// LoadStart and LoadEnd are /proc/loadavg at the start and the end: a
	// load well above the core count means other work shared the machine.
	LoadStart, LoadEnd string
}

// Load returns the 1, 5 and 15 minute load averages.
func Load() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// Describe inspects this machine and the OpenTofu binary.
func Describe(ctx context.Context, tofu string) Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version(), CPU: "unknown", OS: runtime.GOOS, LoadStart: Load()}
	if v := procField("/proc/cpuinfo", "model name"); v != "" {
		m.CPU = v
	}
	if v := procField("/proc/meminfo", "MemTotal"); v != "" {
		if kb, err := strconv.ParseFloat(strings.TrimSuffix(v, " kB"), 64); err == nil {
			m.MemoryGB = kb / 1024 / 1024
		}
	}
	if v := procField("/etc/os-release", "PRETTY_NAME"); v != "" {
		m.OS = strings.Trim(v, `"`)
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, tofu, "version").Output(); err == nil { //nolint:gosec // the OpenTofu the benchmark runs
		// A warning about the person's CLI config may come first.
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(l, "OpenTofu v") {
				m.OpenTofu = strings.TrimSpace(l)
				break
			}
		}
	}
	return m
}

// procField returns the value of the first "key: value" or "key=value" line.
func procField(path, key string) string {
	f, err := os.Open(path) //nolint:gosec // fixed system files
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		for _, sep := range []string{":", "="} {
			k, v, ok := strings.Cut(line, sep)
			if ok && strings.TrimSpace(k) == key {
				return strings.TrimSpace(v)
			}
		}
	}
	return ""
}
