package model

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// Tensor is a dense row-major float32 array. Linear weights use Hugging Face's [out, in] layout.
type Tensor struct {
	Shape []int
	Data  []float32
}

// NewTensor returns a zero tensor of the given shape.
func NewTensor(shape ...int) *Tensor {
	return &Tensor{Shape: slices.Clone(shape), Data: make([]float32, numElements(shape))}
}

// Clone returns a deep copy.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{Shape: slices.Clone(t.Shape), Data: slices.Clone(t.Data)}
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
		if len(t.Data) != numElements(t.Shape) {
			return fmt.Errorf("model: tensor %q holds %d values for shape %v", name, len(t.Data), t.Shape)
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
