package model

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/accrete/accrete/model/safetensors"
)

// Tensor is a dense row-major array. Linear weights use Hugging Face's [out, in] layout.
//
// Its values are float32 in Data, unless the tensor is stored as bfloat16: then BF16 holds them and
// Data is nil. bfloat16 storage is for base weights (LoadOptions.BF16, Weights.ToBF16): it halves
// their memory, and the backend converts them to float32 inside its matmuls and lookups, so
// computation stays float32 (lora.Train fine-tunes such a tensor through a float32 master copy).
// Code that needs float32 values of any tensor calls Float32.
type Tensor struct {
	Shape []int
	Data  []float32
	// BF16, when not nil, holds the values as bfloat16 bits (the upper 16 bits of a float32).
	BF16 []uint16
}

// NewTensor returns a zero tensor of the given shape.
func NewTensor(shape ...int) *Tensor {
	return &Tensor{Shape: slices.Clone(shape), Data: make([]float32, numElements(shape))}
}

// Clone returns a deep copy, stored as t is.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{Shape: slices.Clone(t.Shape), Data: slices.Clone(t.Data), BF16: slices.Clone(t.BF16)}
}

// IsBF16 reports whether t is stored as bfloat16.
func (t *Tensor) IsBF16() bool { return t.BF16 != nil }

// Float32 returns t's values as float32: Data itself, or a new slice widened from BF16.
func (t *Tensor) Float32() []float32 {
	if t.BF16 == nil {
		return t.Data
	}
	out := make([]float32, len(t.BF16))
	for i, b := range t.BF16 {
		out[i] = safetensors.BF16ToFloat32(b)
	}
	return out
}

// SetFloat32 stores v (of t's size) in t, rounded to bfloat16 when t is stored as bfloat16.
func (t *Tensor) SetFloat32(v []float32) {
	if t.BF16 == nil {
		copy(t.Data, v)
		return
	}
	for i, x := range v {
		t.BF16[i] = safetensors.Float32ToBF16(x)
	}
}

// CopyFrom copies src's values into t, which must have the same size. Storage follows t's: a
// bfloat16 source widens exactly into a float32 tensor, and a float32 one rounds into a bfloat16 one.
func (t *Tensor) CopyFrom(src *Tensor) {
	switch {
	case t.BF16 != nil && src.BF16 != nil:
		copy(t.BF16, src.BF16)
	case t.BF16 == nil && src.BF16 == nil:
		copy(t.Data, src.Data)
	default:
		t.SetFloat32(src.Float32())
	}
}

// storedLen is the number of values t holds.
func (t *Tensor) storedLen() int {
	if t.BF16 != nil {
		return len(t.BF16)
	}
	return len(t.Data)
}

// ToBF16 stores the named tensors (with no names: every matrix, that is every tensor of rank 2: the
// embedding, the linear weights and the LM head; the norm weights stay float32) as bfloat16,
// rounding to nearest even as torch's .bfloat16() does, and drops their float32 values.
func (w Weights) ToBF16(names ...string) error {
	if len(names) == 0 {
		for name, t := range w {
			if len(t.Shape) == 2 {
				names = append(names, name)
			}
		}
	}
	for _, name := range names {
		t, ok := w[name]
		if !ok {
			return fmt.Errorf("model: ToBF16: no tensor %q", name)
		}
		if t.BF16 != nil {
			continue
		}
		b := make([]uint16, len(t.Data))
		for i, v := range t.Data {
			b[i] = safetensors.Float32ToBF16(v)
		}
		t.BF16, t.Data = b, nil
	}
	return nil
}

// Size is the number of elements.
func (t *Tensor) Size() int { return numElements(t.Shape) }

// Weights maps Hugging Face tensor names to tensors.
type Weights map[string]*Tensor

// Clone returns a deep copy.
func (w Weights) Clone() Weights {
	out := make(Weights, len(w))
	for k, v := range w {
		out[k] = v.Clone()
	}
	return out
}

// Check verifies that w holds exactly the tensors cfg needs, with the right shapes. The error names
// the tensor and both shapes.
func (w Weights) Check(cfg Config) error {
	names, shapes := cfg.TensorShapes()
	for _, name := range names {
		t, ok := w[name]
		if !ok {
			return fmt.Errorf("model: missing tensor %q (shape %v)", name, shapes[name])
		}
		if !slices.Equal(t.Shape, shapes[name]) {
			return fmt.Errorf("model: tensor %q has shape %v, config.json implies %v", name, t.Shape, shapes[name])
		}
		if t.storedLen() != numElements(t.Shape) {
			return fmt.Errorf("model: tensor %q holds %d values for shape %v", name, t.storedLen(), t.Shape)
		}
		if t.Data != nil && t.BF16 != nil {
			return fmt.Errorf("model: tensor %q holds both float32 and bfloat16 values", name)
		}
	}
	for name := range w {
		if _, ok := shapes[name]; !ok {
			return fmt.Errorf("model: unexpected tensor %q", name)
		}
	}
	return nil
}

// RandomWeights draws weights for cfg: linear and embedding weights from N(0, std²) and norm weights
// equal to 1 (or 1+N(0, normStd²) when normStd > 0, so that a bug in the norm weights cannot go unseen).
func RandomWeights(cfg Config, rng *rand.Rand, std, normStd float64) Weights {
	names, shapes := cfg.TensorShapes()
	w := make(Weights, len(names))
	for _, name := range names {
		t := NewTensor(shapes[name]...)
		if len(t.Shape) == 1 {
			for i := range t.Data {
				t.Data[i] = float32(1 + normStd*rng.NormFloat64())
			}
		} else {
			for i := range t.Data {
				t.Data[i] = float32(std * rng.NormFloat64())
			}
		}
		w[name] = t
	}
	return w
}
