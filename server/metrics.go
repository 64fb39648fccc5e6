package server

import (
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"keyden/model"
)

var reasons = []model.Reason{"", model.ReasonMissing, model.ReasonMalformed, model.ReasonUnknown, model.ReasonExpired,
	model.ReasonDisabled, model.ReasonWrongEnv, model.ReasonScopeMissing, model.ReasonIPNotAllowed}

// Latency buckets in seconds.
var buckets = []float64{0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01}

type metrics struct {
	checks      [9]atomic.Uint64 // by reasons' index
	latency     [11]atomic.Uint64
	latencySum  atomic.Int64 // ns
	keys        atomic.Int64
	reloads     atomic.Uint64
	changes     atomic.Uint64
	flushes     atomic.Uint64
	flushErrors atomic.Uint64
	syncErrors  atomic.Uint64
}

func (m *metrics) observe(r model.Reason, d time.Duration) {
	for i, x := range reasons {
		if x == r {
			m.checks[i].Add(1)
			break
		}
	}
	i := 0
	for i < len(buckets) && d.Seconds() > buckets[i] {
		i++
	}
	m.latency[i].Add(1)
	m.latencySum.Add(int64(d))
}

// write prints the Prometheus text format.
func (m *metrics) write(w io.Writer) {
	fmt.Fprintln(w, "# HELP keyden_checks_total Key checks by result.")
	fmt.Fprintln(w, "# TYPE keyden_checks_total counter")
	total := uint64(0)
	for i, r := range reasons {
		name := string(r)
		if name == "" {
			name = "ok"
		}
		n := m.checks[i].Load()
		total += n
		fmt.Fprintf(w, "keyden_checks_total{result=%q} %d\n", name, n)
	}
	fmt.Fprintln(w, "# HELP keyden_check_duration_seconds Time to answer a check, from request to response.")
	fmt.Fprintln(w, "# TYPE keyden_check_duration_seconds histogram")
	cum := uint64(0)
	for i, b := range buckets {
		cum += m.latency[i].Load()
		fmt.Fprintf(w, "keyden_check_duration_seconds_bucket{le=\"%g\"} %d\n", b, cum)
	}
	cum += m.latency[len(buckets)].Load()
	fmt.Fprintf(w, "keyden_check_duration_seconds_bucket{le=\"+Inf\"} %d\n", cum)
	fmt.Fprintf(w, "keyden_check_duration_seconds_sum %g\n", time.Duration(m.latencySum.Load()).Seconds())
	fmt.Fprintf(w, "keyden_check_duration_seconds_count %d\n", cum)
	for _, g := range []struct {
		name, help, typ string
		v               any
	}{
		{"keyden_keys", "Keys in the in-memory table.", "gauge", m.keys.Load()},
		{"keyden_reloads_total", "Full reads of the store.", "counter", m.reloads.Load()},
		{"keyden_key_changes_total", "Key changes taken in from the change feed.", "counter", m.changes.Load()},
		{"keyden_lastused_flushes_total", "Last-used batches written.", "counter", m.flushes.Load()},
		{"keyden_lastused_flush_errors_total", "Last-used batches that could not be written (kept for the next try).", "counter", m.flushErrors.Load()},
		{"keyden_follow_errors_total", "Reads of the change feed that failed (each is tried again).", "counter", m.syncErrors.Load()},
	} {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %v\n", g.name, g.help, g.name, g.typ, g.name, g.v)
	}
}
