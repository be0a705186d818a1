package main

import (
	"strings"

	"github.com/spf13/pflag"
)

// serveFlagAlias maps option names that users bring from other servers to
// kiln's own flag (pflag calls normalizeServeFlag for every flag it parses,
// so an alias works anywhere a flag does and --help lists only kiln's names):
//   - LMDeploy's api_server: --server-name, --server-port, --tp
//     (and its older snake_case spellings, --server_port, --session_len, ...)
//   - FastChat's workers: --model-path, --model-names (comma-separated)
//   - vLLM (and furiosa-llm): --model-name is accepted as --served-model-name
func serveFlagAlias(name string) (string, bool) {
	switch name {
	case "server-name":
		return "host", true
	case "server-port":
		return "port", true
	case "tp":
		return "tensor-parallel-size", true
	case "dp":
		return "data-parallel-size", true
	case "model-path":
		return "model", true
	case "model-names", "model-name":
		return "served-model-name", true
	}
	return "", false
}

// normalizeServeFlag is kiln serve's pflag normalizer: snake_case becomes
// kebab-case (LMDeploy's --session_len is --session-len), then aliases
// become kiln's names.
func normalizeServeFlag(_ *pflag.FlagSet, name string) pflag.NormalizedName {
	name = strings.ReplaceAll(name, "_", "-")
	if canon, ok := serveFlagAlias(name); ok {
		name = canon
	}
	return pflag.NormalizedName(name)
}
