// Package bench is the home of the benchmark harness behind `make bench`
// (cmd/pam-bench): its subpackages generate configurations (tfgen), drive
// OpenTofu against a real pamd (tfbench), load pamd over HTTP (load,
// throughput), seed large stores (largestore) and summarise samples (stats).
// Figures are produced and written to BENCHMARKS.md, never asserted by tests.
package bench
