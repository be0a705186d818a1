package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"
)

// loadProgress reports reading the model file: on a terminal a bar with
// bytes done, rate and ETA, redrawn at most ten times a second; otherwise
// a log line per 10% with the same figures. now is the clock (tests fake it).
func loadProgress(what string, w io.Writer, tty bool, log *slog.Logger, now func() time.Time) func(done, total int64) {
	start := now()
	var last time.Time
	lastDecile := -1
	return func(done, total int64) {
		if total <= 0 {
			return
		}
		t := now()
		elapsed := t.Sub(start)
		rate := 0.0
		if s := elapsed.Seconds(); s > 0 {
			rate = float64(done) / s
		}
		eta := time.Duration(0)
		if rate > 0 {
			eta = time.Duration(float64(total-done) / rate * float64(time.Second))
		}
		finished := done >= total
		if tty {
			if !finished && t.Sub(last) < 100*time.Millisecond {
				return
			}
			last = t
			const width = 30
			n := int(done * width / total)
			fmt.Fprintf(w, "\r%s [%s%s] %3d%% %s/%s %s/s ETA %s ", what, strings.Repeat("#", n), strings.Repeat(".", width-n),
				done*100/total, humanBytes(done), humanBytes(total), humanBytes(int64(rate)), eta.Round(time.Second))
			if finished {
				fmt.Fprintf(w, "\r%s: %s in %s%s\n", what, humanBytes(total), elapsed.Round(time.Millisecond), strings.Repeat(" ", 40))
			}
			return
		}
		if d := int(done * 10 / total); d != lastDecile {
			lastDecile = d
			log.Info(what, "bytes", done, "total", total, "percent", done*100/total, "eta", eta.Round(time.Second).String())
		}
	}
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// humanBytes is n in B, KiB, MiB or GiB with one decimal.
func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
