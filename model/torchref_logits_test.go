package model

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var updateTorchRef = flag.Bool("update-torchref", false,
	"rewrite testdata/torchref/generate.json by running scripts/torchref/llama_ref.py generate (needs PyTorch; $ACCRETE_TORCHREF names another llama_ref.py)")

// torchRefGenerate is the golden file of greedy continuations that the PyTorch reference's KV-cache
// generate_greedy produces for torchRefPrompt on each checkpoint of torchRefCheckpoints.
const torchRefGenerate = "testdata/torchref/generate.json"

var (
	torchRefPrompt = []int{1, 2, 3}
	torchRefLogits = []int{1, 2, 3, 4, 5} // the tokens logits.npy was computed on
)

const torchRefNew = 16

// torchRefGolden is the layout of generate.json.
type torchRefGolden struct {
	Command string           `json:"command"`
	Prompt  []int            `json:"prompt"`
	New     int              `json:"new"`
	Tokens  map[string][]int `json:"tokens"` // checkpoint directory → new token ids
}

func TestLogitsMatchTorchRef(t *testing.T) {
	b, err := Backend()
	require.NoError(t, err)
	for _, tc := range torchRefCheckpoints {
		t.Run(tc.dir, func(t *testing.T) {
			dir := filepath.Join("testdata", "torchref", tc.dir)
			cfg, w, err := LoadHF(dir)
			require.NoError(t, err)
			m, err := New(b, cfg, w)
			require.NoError(t, err)
			want, shape := readNpyFloat32(t, filepath.Join(dir, "logits.npy"))
			require.Equal(t, []int{len(torchRefLogits), cfg.VocabSize}, shape)

			got, err := m.Logits([][]int{torchRefLogits})
			require.NoError(t, err)
			require.Len(t, got[0], len(torchRefLogits))
			maxDiff, maxAbs := 0.0, 0.0
			for tt, row := range got[0] {
				require.Len(t, row, cfg.VocabSize)
				for v, x := range row {
					w := float64(want[tt*cfg.VocabSize+v])
					maxDiff = max(maxDiff, math.Abs(float64(x)-w))
					maxAbs = max(maxAbs, math.Abs(w))
				}
			}
			t.Logf("max |logit| %.3g, max |GoMLX − PyTorch| %.3g", maxAbs, maxDiff)
			require.Greater(t, maxAbs, 0.1, "the reference logits are degenerate: the comparison would prove nothing")
			require.Less(t, maxDiff, 1e-4)
		})
	}
}

func TestGenerateMatchesTorchRef(t *testing.T) {
	if *updateTorchRef {
		writeTorchRefGolden(t)
	}
	data, err := os.ReadFile(torchRefGenerate)
	require.NoError(t, err)
	var golden torchRefGolden
	require.NoError(t, json.Unmarshal(data, &golden))
	require.Equal(t, torchRefPrompt, golden.Prompt, "%s was written for another prompt: rerun with -update-torchref", torchRefGenerate)
	require.Equal(t, torchRefNew, golden.New, torchRefGenerate)

	b, err := Backend()
	require.NoError(t, err)
	for _, tc := range torchRefCheckpoints {
		t.Run(tc.dir, func(t *testing.T) {
			want, ok := golden.Tokens[tc.dir]
			require.True(t, ok, "%s has no entry for %s: rerun with -update-torchref", torchRefGenerate, tc.dir)
			require.Len(t, want, torchRefNew)
			cfg, w, err := LoadHF(filepath.Join("testdata", "torchref", tc.dir))
			require.NoError(t, err)
			m, err := New(b, cfg, w)
			require.NoError(t, err)
			got, err := m.Generate(context.Background(), [][]int{torchRefPrompt},
				GenerateOptions{MaxNewTokens: torchRefNew, StopTokens: []int{}})
			require.NoError(t, err)
			require.Equal(t, want, got[0])

			// A float32 disagreement can only flip a greedy choice whose top two logits are closer than
			// the forward's error (< 1e-4 above): report the smallest margin so a flip is easy to judge.
			seq := slices.Concat(torchRefPrompt, got[0][:len(got[0])-1])
			lg, err := m.Logits([][]int{seq})
			require.NoError(t, err)
			minMargin := math.Inf(1)
			for _, row := range lg[0][len(torchRefPrompt)-1:] {
				s := slices.Clone(row)
				slices.Sort(s)
				minMargin = min(minMargin, float64(s[len(s)-1]-s[len(s)-2]))
			}
			t.Logf("smallest top-1/top-2 logit margin along the continuation: %.3g", minMargin)
		})
	}
}

// writeTorchRefGolden runs the PyTorch reference's greedy KV-cache generation on every golden
// checkpoint and writes generate.json.
func writeTorchRefGolden(t *testing.T) {
	ref := os.Getenv("ACCRETE_TORCHREF")
	if ref == "" {
		// The project's own reference; the test runs in model/.
		ref = filepath.Join("..", "scripts", "torchref", "llama_ref.py")
	}
	prompt := make([]string, len(torchRefPrompt))
	for i, id := range torchRefPrompt {
		prompt[i] = strconv.Itoa(id)
	}
	g := torchRefGolden{
		Command: fmt.Sprintf("python3 llama_ref.py generate --model DIR --tokens %s --new %d", strings.Join(prompt, ","), torchRefNew),
		Prompt:  torchRefPrompt, New: torchRefNew, Tokens: map[string][]int{},
	}
	for _, tc := range torchRefCheckpoints {
		out, err := exec.Command("python3", ref, "generate", "--model", filepath.Join("testdata", "torchref", tc.dir),
			"--tokens", strings.Join(prompt, ","), "--new", strconv.Itoa(torchRefNew)).Output()
		require.NoError(t, err, "running %s generate on %s", ref, tc.dir)
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		var ids []int
		for _, f := range strings.Split(lines[len(lines)-1], ",") {
			id, err := strconv.Atoi(strings.TrimSpace(f))
			require.NoError(t, err, "parsing %q from %s", lines[len(lines)-1], ref)
			ids = append(ids, id)
		}
		g.Tokens[tc.dir] = ids
	}
	// One line per checkpoint keeps the file's diffs readable.
	var buf strings.Builder
	head, err := json.Marshal(g.Command)
	require.NoError(t, err)
	fmt.Fprintf(&buf, "{\n  \"command\": %s,\n  \"prompt\": %s,\n  \"new\": %d,\n  \"tokens\": {\n", head, jsonInts(g.Prompt), g.New)
	for i, tc := range torchRefCheckpoints {
		sep := ","
		if i == len(torchRefCheckpoints)-1 {
			sep = ""
		}
		fmt.Fprintf(&buf, "    %q: %s%s\n", tc.dir, jsonInts(g.Tokens[tc.dir]), sep)
	}
	buf.WriteString("  }\n}\n")
	data := []byte(buf.String())
	tmp := torchRefGenerate + ".tmp"
	require.NoError(t, os.WriteFile(tmp, data, 0o644))
	require.NoError(t, os.Rename(tmp, torchRefGenerate))
}

func jsonInts(ids []int) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(id)
	}
	return "[" + strings.Join(s, ", ") + "]"
}
