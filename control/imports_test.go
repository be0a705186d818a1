package control

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestControlReachesNoKernels: control and everything it imports (tests
// aside) stay clear of native and engine/model, so the scheduler builds and
// runs on fakes; the real executor is wired in by the composition root.
func TestControlReachesNoKernels(t *testing.T) {
	const module = "github.com/kiln-llm/kiln"
	forbidden := map[string]bool{module + "/native": true, module + "/engine/model": true}
	seen := map[string]string{module + "/control": ""} // package -> the package importing it
	queue := []string{module + "/control"}
	for len(queue) > 0 {
		pkg := queue[0]
		queue = queue[1:]
		dir := filepath.Join("..", strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/"))
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("package %s: no Go files in %s (%v)", pkg, dir, err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			ast, err := parser.ParseFile(token.NewFileSet(), f, src, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range ast.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				if !strings.HasPrefix(path, module+"/") {
					continue
				}
				if forbidden[path] {
					chain := path
					for p := pkg; p != ""; p = seen[p] {
						chain = p + " -> " + chain
					}
					t.Errorf("%s imports %s: %s", filepath.Base(f), path, chain)
				}
				if _, ok := seen[path]; !ok {
					seen[path] = pkg
					queue = append(queue, path)
				}
			}
		}
	}
}
