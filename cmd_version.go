package main

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/kiln-llm/kiln/native"
	"github.com/spf13/cobra"
)

func newVersionCommand() *cobra.Command {
	var dp, tp int
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit, CPU features and the kernel variant in use",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "kiln %s (commit %s, %s, %s/%s)\n", version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			fmt.Fprintf(out, "kernels: library %s, binding %s\n", native.Version(), native.Binding)
			if err := native.Init(0); err != nil {
				return fmt.Errorf("kernel library: %w", err)
			}
			fmt.Fprintf(out, "cpu features: %s\n", strings.Join(native.CPUFeatures(), " "))
			var supported, whyNot []string
			for _, isa := range native.AllISAs {
				if native.Supported(isa) {
					supported = append(supported, isa.String())
				} else if why := native.UnsupportedReason(isa); why != "" {
					whyNot = append(whyNot, why)
				}
			}
			fmt.Fprintf(out, "kernel variant: %s (supported: %s; force with KILN_ISA)\n", native.CurrentISA(), strings.Join(supported, ", "))
			for _, why := range whyNot {
				fmt.Fprintf(out, "  off: %s\n", why)
			}
			fmt.Fprintf(out, "threads: %d\n", native.Threads())
			if err := writeTopology(out, sysNodeRoot, dp, tp); err != nil {
				return err
			}
			fmt.Fprintln(out, "kernels:")
			for _, k := range native.Kernels() {
				fmt.Fprintf(out, "  %-16s %s\n", k.Name, k.Variant)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&dp, "dp", 0, "also print the cores kiln serve -dp N gives each replica")
	cmd.Flags().IntVar(&tp, "tp", 0, "threads per replica for --dp (0: the allowed CPUs shared out evenly)")
	return cmd
}
