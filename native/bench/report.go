package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes the human-readable report: ceilings, then one line per
// kernel row with its ratio to the relevant ceiling (and, for Q8_0 GEMM, to
// the int8 peak) and to gorgonia.
func (r *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "kernel variant %s, binding %s, cpu: %s\n\n", r.ISA, r.Binding, strings.Join(r.CPU, " "))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "threads\tread GB/s\tFMA peak GFLOP/s\tint8 peak GOP/s\tbf16 peak GFLOP/s\t")
	for _, c := range r.Ceilings {
		fmt.Fprintf(tw, "%d\t%.1f\t%.1f\t%.1f\t%.1f\t\n", c.Threads, c.ReadGBps, c.FMAPeakGFLOPS, c.Int8PeakGOPS, c.BF16PeakGFLOPS)
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "kernel\ttype\tshape n×k\tm\tthreads\tms/op\tGFLOP/s\tGB/s\t% ceiling\t% int8 peak\tvs gorgonia\t")
	for _, b := range r.Baselines {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%.3f\t%.2f\t\t\t\t1.00x\t\n", b.Kernel, b.Type, b.Shape, b.M, b.Threads, b.Seconds*1e3, b.GFLOPS)
	}
	for _, row := range r.Rows {
		vs, int8 := "", ""
		if row.VsGorgonia > 0 {
			vs = fmt.Sprintf("%.2fx", row.VsGorgonia)
		}
		if row.PctInt8Peak > 0 {
			int8 = fmt.Sprintf("%.1f%%", row.PctInt8Peak)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%.3f\t%.2f\t%.2f\t%.1f%% %s\t%s\t%s\t\n", row.Kernel, row.Type, row.Shape, row.M, row.Threads,
			row.Seconds*1e3, row.GFLOPS, row.GBps, row.PctCeiling, row.Bound, int8, vs)
	}
	tw.Flush()
	if len(r.Checks) > 0 {
		fmt.Fprintln(w, "\nacceptance figures:")
		for _, c := range r.Checks {
			verdict := "below target"
			if c.Pass {
				verdict = "ok"
			}
			fmt.Fprintf(w, "  %-70s %7.2f%s (target %.4g%s, %s) %s\n", c.Name, c.Value, c.Unit, c.Target, c.Unit, verdict, c.Detail)
		}
	}
	return nil
}
