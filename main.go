// Command kiln is an OpenAI-compatible LLM inference server for CPUs.
//
// main.go and the cmd_*.go files are the composition root: the cobra
// commands, and the only place that imports every layer.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// version and commit are set at link time by the Makefile
// (-ldflags "-X main.version=... -X main.commit=...").
var (
	version = "0.1.0-dev"
	commit  = "unknown"
)

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "kiln",
		Short:         "kiln: an OpenAI-compatible LLM inference server for CPUs",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newVersionCommand(), newRunCommand(), newBenchCommand())
	root.AddCommand(newSynthCommand(), newQuantizeCommand(), newConvertCommand())
	root.AddCommand(newServeCommand(), newChatCommand(), newGatewayCommand())
	return root
}

func main() {
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "kiln:", err)
		os.Exit(1)
	}
}
