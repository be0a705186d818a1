package deploy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction: its keyword (upper-cased),
// flags (--from=build) and arguments, continuation lines joined.
type instruction struct {
	line  int
	cmd   string
	flags map[string]string
	args  string
}

// parseDockerfile reads the instructions of a Dockerfile: comments and
// blank lines dropped, lines ending in a backslash joined. It is the
// subset of the syntax deploy/Dockerfile uses (no heredocs, no parser
// directives other than comments).
func parseDockerfile(path string) ([]instruction, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []instruction
	var cur strings.Builder
	start := 0
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || (line == "" && cur.Len() == 0) {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if body, cont := strings.CutSuffix(line, `\`); cont {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(line)
		in, err := parseInstruction(start, cur.String())
		if err != nil {
			return nil, err
		}
		out = append(out, in)
		cur.Reset()
	}
	if cur.Len() > 0 {
		return nil, fmt.Errorf("%s: line %d: continuation at end of file", path, start)
	}
	return out, sc.Err()
}

var knownInstructions = []string{"FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT",
	"VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"}

func parseInstruction(line int, s string) (instruction, error) {
	cmd, rest, _ := strings.Cut(s, " ")
	in := instruction{line: line, cmd: strings.ToUpper(cmd), flags: map[string]string{}}
	if !slices.Contains(knownInstructions, in.cmd) {
		return in, fmt.Errorf("line %d: unknown instruction %q", line, cmd)
	}
	rest = strings.TrimSpace(rest)
	for strings.HasPrefix(rest, "--") {
		var flag string
		flag, rest, _ = strings.Cut(rest, " ")
		k, v, _ := strings.Cut(strings.TrimPrefix(flag, "--"), "=")
		in.flags[k] = v
		rest = strings.TrimSpace(rest)
	}
	in.args = rest
	return in, nil
}

// execForm decodes a JSON-array argument (ENTRYPOINT ["a", "b"]).
func execForm(args string) ([]string, error) {
	var out []string
	if err := json.Unmarshal([]byte(args), &out); err != nil {
		return nil, fmt.Errorf("%s: not the exec (JSON array) form: %w", args, err)
	}
	return out, nil
}

func TestDockerfile(t *testing.T) {
	ins, err := parseDockerfile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	root := ".." // the build context: the repository root
	by := map[string][]instruction{}
	stages := map[string]bool{}
	var stage string
	for _, in := range ins {
		by[in.cmd] = append(by[in.cmd], in)
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			stage = ""
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				stage = f[2]
				stages[stage] = true
			}
		}
		if in.cmd == "COPY" || in.cmd == "ADD" {
			f := strings.Fields(in.args)
			if len(f) < 2 {
				t.Errorf("line %d: %s needs a source and a destination", in.line, in.cmd)
				continue
			}
			if from := in.flags["from"]; from != "" {
				if !stages[from] {
					t.Errorf("line %d: COPY --from=%s: no such earlier stage", in.line, from)
				}
				continue
			}
			for _, src := range f[:len(f)-1] {
				if _, err := os.Stat(filepath.Join(root, src)); err != nil {
					t.Errorf("line %d: COPY source %s is not in the repository: %v", in.line, src, err)
				}
			}
		}
		if in.cmd == "RUN" && stage == "build" {
			for _, m := range regexp.MustCompile(`\bmake\s+([a-z][\w-]*)`).FindAllStringSubmatch(in.args, -1) {
				mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
				if err != nil {
					t.Fatal(err)
				}
				if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(m[1]) + `:`).Match(mk) {
					t.Errorf("line %d: make %s: no such Makefile target", in.line, m[1])
				}
			}
		}
	}
	t.Run("multi-stage", func(t *testing.T) {
		if len(by["FROM"]) != 2 || !stages["build"] {
			t.Fatalf("want a build stage and a runtime stage, got %d FROM, stages %v", len(by["FROM"]), stages)
		}
		if rt := by["FROM"][1].args; !strings.Contains(rt, "slim") {
			t.Errorf("runtime base %q is not a slim image", rt)
		}
	})
	t.Run("non-root", func(t *testing.T) {
		u := by["USER"]
		if len(u) == 0 {
			t.Fatal("no USER: the server would run as root")
		}
		if name := strings.Split(u[len(u)-1].args, ":")[0]; name == "root" || name == "0" {
			t.Errorf("USER %s", u[len(u)-1].args)
		}
	})
	t.Run("port, health check, volume, entrypoint", func(t *testing.T) {
		if e := by["EXPOSE"]; len(e) != 1 || e[0].args != "8000" {
			t.Errorf("EXPOSE %+v; want 8000", e)
		}
		if h := by["HEALTHCHECK"]; len(h) != 1 || !strings.Contains(h[0].args, "127.0.0.1:8000/health") {
			t.Errorf("HEALTHCHECK %+v; want a check of /health", h)
		}
		if v := by["VOLUME"]; len(v) != 1 || !strings.Contains(v[0].args, `"/models"`) {
			t.Errorf("VOLUME %+v; want /models", v)
		}
		ep := by["ENTRYPOINT"]
		if len(ep) != 1 {
			t.Fatalf("want one ENTRYPOINT, got %d", len(ep))
		}
		if args, err := execForm(ep[0].args); err != nil || !slices.Equal(args, []string{"kiln", "serve"}) {
			t.Errorf("ENTRYPOINT %s (%v); want [kiln serve]", ep[0].args, err)
		}
		if c := by["CMD"]; len(c) == 1 {
			args, err := execForm(c[0].args)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := checkArgs(args); err != nil {
				t.Errorf("CMD: %v", err)
			}
		}
	})
}

func TestParseDockerfileRefuses(t *testing.T) {
	for name, src := range map[string]string{
		"unknown instruction": "FROM x\nRUNN make\n",
		"dangling backslash":  "FROM x\nRUN a \\\n",
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "Dockerfile")
			if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := parseDockerfile(p); err == nil {
				t.Error("parsed without error")
			}
		})
	}
}
