package model

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// bf16Tolerance bounds |logit| differences between a model whose matrices are stored as bfloat16 and
// the float32 model of the same (bfloat16-representable) values: they compute the same float32
// function, so only the order of float32 additions may differ.
const bf16Tolerance = 1e-5

// TestBF16StorageMatchesTorchRef loads the PyTorch reference's bfloat16 checkpoint keeping its
// matrices bfloat16 (no float32 copy) and checks the logits against PyTorch's, which upcasts the same
// bfloat16 weights to float32, within the float32 path's tolerance, and greedy decoding against the
// reference's KV-cache continuation.
func TestBF16StorageMatchesTorchRef(t *testing.T) {
	b, err := Backend()
	require.NoError(t, err)
	dir := filepath.Join("testdata", "torchref", "untied_bf16")
	cfg, w, err := LoadHFWith(dir, LoadOptions{BF16: true})
	require.NoError(t, err)
	for name, tw := range w {
		require.Equal(t, len(tw.Shape) == 2, tw.IsBF16(), "%s %v: only the matrices are bfloat16", name, tw.Shape)
		require.Equal(t, len(tw.Shape) == 2, tw.Data == nil, "%s keeps a float32 copy", name)
	}
	m, err := New(b, cfg, w)
	require.NoError(t, err)
	want, _ := readNpyFloat32(t, filepath.Join(dir, "logits.npy"))
	got, err := m.Logits([][]int{torchRefLogits})
	require.NoError(t, err)
	maxDiff := 0.0
	for tt, row := range got[0] {
		for v, x := range row {
			maxDiff = max(maxDiff, math.Abs(float64(x)-float64(want[tt*cfg.VocabSize+v])))
		}
	}
	t.Logf("max |GoMLX (bf16 storage) − PyTorch (bf16 upcast to f32)| %.3g", maxDiff)
	require.Less(t, maxDiff, 1e-4)

	data, err := os.ReadFile(torchRefGenerate)
	require.NoError(t, err)
	var golden torchRefGolden
	require.NoError(t, json.Unmarshal(data, &golden))
	gen, err := m.Generate(context.Background(), [][]int{torchRefPrompt}, GenerateOptions{MaxNewTokens: torchRefNew, StopTokens: []int{}})
	require.NoError(t, err)
	require.Equal(t, golden.Tokens["untied_bf16"], gen[0])
}

// TestBF16StorageComputesTheFloat32Function checks, on tied and untied models with grouped-query
// attention, that storing the matrices as bfloat16 changes nothing but memory: logits equal those of
// the float32 model holding the same rounded values (to bf16Tolerance), decoding gives the same
// tokens, and the stored tensors are half the size.
func TestBF16StorageComputesTheFloat32Function(t *testing.T) {
	b, err := Backend()
	require.NoError(t, err)
	for name, cfg := range testConfigs {
		t.Run(name, func(t *testing.T) {
			w16 := RandomWeights(cfg, rand.New(rand.NewPCG(5, 6)), 0.2, 0.1)
			require.NoError(t, w16.ToBF16())
			w32 := make(Weights, len(w16))
			for n, tw := range w16 {
				w32[n] = &Tensor{Shape: tw.Shape, Data: tw.Float32()}
			}
			m16, err := New(b, cfg, w16)
			require.NoError(t, err)
			m32, err := New(b, cfg, w32)
			require.NoError(t, err)
			seqs := [][]int{{1, 2, 3, 4, 5, 6, 7}, {7, 3, 1}}
			l16, err := m16.Logits(seqs)
			require.NoError(t, err)
			l32, err := m32.Logits(seqs)
			require.NoError(t, err)
			for s := range l32 {
				for tt := range l32[s] {
					for v := range l32[s][tt] {
						require.InDelta(t, l32[s][tt][v], l16[s][tt][v], bf16Tolerance, "seq %d pos %d token %d", s, tt, v)
					}
				}
			}
			opt := GenerateOptions{MaxNewTokens: 8, StopTokens: []int{}}
			g16, err := m16.Generate(context.Background(), seqs, opt)
			require.NoError(t, err)
			g32, err := m32.Generate(context.Background(), seqs, opt)
			require.NoError(t, err)
			require.Equal(t, g32, g16)
		})
	}
}

// TestBF16SaveLoadRoundTrip checks that bfloat16-stored weights save to a BF16 checkpoint and load
// back bit for bit, and that rounding is to nearest even as torch's .bfloat16() does.
func TestBF16SaveLoadRoundTrip(t *testing.T) {
	cfg := testConfigs["gqa-untied"]
	w := RandomWeights(cfg, rand.New(rand.NewPCG(7, 8)), 0.2, 0.1)
	name := "model.embed_tokens.weight"
	w[name].Data[0] = 1 + 1.0/256 // halfway between 1 and 1+2⁻⁷: ties to even, 1
	w[name].Data[1] = 1 + 3.0/256 // halfway between 1+2⁻⁷ and 1+2⁻⁶: ties to even, 1+2⁻⁶
	require.NoError(t, w.ToBF16())
	require.Equal(t, []uint16{0x3f80, 0x3f82}, w[name].BF16[:2])
	dir := t.TempDir()
	require.NoError(t, SaveHF(dir, cfg, w, SaveOptions{DType: "BF16", MaxShardBytes: 4096}))
	_, back, err := LoadHFWith(dir, LoadOptions{BF16: true})
	require.NoError(t, err)
	for n, tw := range w {
		if tw.IsBF16() {
			require.Equal(t, tw.BF16, back[n].BF16, n)
		} else { // a norm weight: float32 in memory, rounded in the BF16 file
			require.False(t, back[n].IsBF16(), n)
			want := &Tensor{Shape: tw.Shape, Data: tw.Data}
			require.NoError(t, Weights{n: want}.ToBF16(n))
			require.Equal(t, want.Float32(), back[n].Data, n)
		}
	}
	_, f32, err := LoadHF(dir)
	require.NoError(t, err)
	require.Equal(t, w[name].Float32(), f32[name].Data)
}
