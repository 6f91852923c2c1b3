package eval

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestNoPlottingDependency: package eval and the root package accrete, which every user of the library
// imports, do not link gonum.org/v1/plot and what it brings (fonts, a LaTeX renderer, PDF and SVG
// writers); figures are package eval/plot's.
func TestNoPlottingDependency(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to list the dependencies")
	}
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{.ImportPath}}", ".", "..").CombinedOutput()
	require.NoError(t, err, "go list: %s", out)
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"gonum.org/v1/plot", "codeberg.org/go-latex/", "codeberg.org/go-fonts/",
			"codeberg.org/go-pdf/", "github.com/ajstarks/svgo", "git.sr.ht/~sbinet/gg", "golang.org/x/image/font"} {
			require.False(t, strings.HasPrefix(dep, banned), "eval or accrete depends on %s", dep)
		}
	}
}
