package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSystemdUnitsParse checks the bare-metal units in deploy/systemd:
// each ExecStart runs /usr/local/bin/kiln with a command whose real flag
// parser accepts every argument (serve through configs, as `kiln serve`
// parses them; gateway through its cobra flags, then gateway.New's checks).
func TestSystemdUnitsParse(t *testing.T) {
	units, err := filepath.Glob("deploy/systemd/*.service")
	if err != nil || len(units) < 2 {
		t.Fatalf("units %v (%v)", units, err)
	}
	for _, unit := range units {
		t.Run(filepath.Base(unit), func(t *testing.T) {
			b, err := os.ReadFile(unit)
			if err != nil {
				t.Fatal(err)
			}
			text := strings.ReplaceAll(string(b), "\\\n", " ")
			m := regexp.MustCompile(`(?m)^ExecStart=(.*)$`).FindStringSubmatch(text)
			if m == nil {
				t.Fatal("no ExecStart")
			}
			args := strings.Fields(m[1])
			if len(args) < 2 || args[0] != "/usr/local/bin/kiln" {
				t.Fatalf("ExecStart %q does not run /usr/local/bin/kiln", m[1])
			}
			for _, key := range []string{"[Unit]", "[Service]", "[Install]", "TimeoutStopSec=", "KillSignal=SIGTERM"} {
				if !strings.Contains(text, key) {
					t.Errorf("no %s", key)
				}
			}
			switch args[1] {
			case "serve":
				cmd := newServeCommand()
				if err := cmd.Flags().Parse(repeatedModels(expandShorthands(args[2:]))); err != nil || cmd.Flags().NArg() > 0 {
					t.Fatalf("kiln serve rejects %v: %v", args[2:], err)
				}
			case "gateway":
				cmd := newGatewayCommand()
				if err := cmd.ParseFlags(args[2:]); err != nil || cmd.Flags().NArg() > 0 {
					t.Fatalf("kiln gateway rejects %v: %v", args[2:], err)
				}
				backends, _ := cmd.Flags().GetStringArray("backend")
				if len(backends) < 2 {
					t.Fatalf("a gateway unit with %d backends", len(backends))
				}
			default:
				t.Fatalf("ExecStart runs kiln %s", args[1])
			}
		})
	}
}
