package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"github.com/accrete/accrete/internal/atomicfile"
)

// Tensor is a dense row-major array to write: float32 values in Data or, when BF16 is set (and Data
// nil), bfloat16 bits, which a BF16 file stores as they are and other dtypes widen exactly first.
type Tensor struct {
	Shape []int
	Data  []float32
	BF16  []uint16
}

// values is the number of values t holds.
func (t Tensor) values() int {
	if t.BF16 != nil {
		return len(t.BF16)
	}
	return len(t.Data)
}

// Write writes tensors to path as a safetensors file whose float data is stored as dtype (F32, BF16
// or F16; "" means F32), with the given metadata (may be nil). F32 is bit-exact; BF16 and F16 round
// to nearest even. Tensors are laid out in sorted-name order and the header is padded with spaces to
// a multiple of 8 bytes.
//
// The write is atomic: the data goes to a temporary file in the same directory, which is synced and
// then renamed over path, and the directory is synced. On error path is left as it was.
func Write(path string, tensors map[string]Tensor, dtype DType, metadata map[string]string) error {
	if err := check(tensors, dtype); err != nil {
		return fmt.Errorf("safetensors %s: %w", path, err)
	}
	err := atomicfile.Write(path, func(w io.Writer) error { return Encode(w, tensors, dtype, metadata) })
	if err != nil {
		return fmt.Errorf("safetensors: writing %s: %w", path, err)
	}
	return nil
}

// Encode writes tensors in the safetensors format to w; see Write for the layout and dtypes.
func Encode(w io.Writer, tensors map[string]Tensor, dtype DType, metadata map[string]string) error {
	if dtype == "" {
		dtype = F32
	}
	if err := check(tensors, dtype); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	header, err := encodeHeader(tensors, dtype, metadata)
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(header)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	if _, err := w.Write(header); err != nil {
		return err
	}
	const chunk = 1 << 16
	buf := make([]byte, chunk*dtype.Size())
	var wide []float32
	for _, name := range sortedNames(tensors) {
		if bf := tensors[name].BF16; bf != nil {
			for start := 0; start < len(bf); start += chunk {
				part := bf[start:min(start+chunk, len(bf))]
				b := buf[:len(part)*dtype.Size()]
				if dtype == BF16 {
					for i, v := range part {
						binary.LittleEndian.PutUint16(b[2*i:], v)
					}
				} else {
					wide = wide[:0]
					for _, v := range part {
						wide = append(wide, BF16ToFloat32(v))
					}
					encodeFloat32(b, wide, dtype)
				}
				if _, err := w.Write(b); err != nil {
					return err
				}
			}
			continue
		}
		data := tensors[name].Data
		for start := 0; start < len(data); start += chunk {
			part := data[start:min(start+chunk, len(data))]
			b := buf[:len(part)*dtype.Size()]
			encodeFloat32(b, part, dtype)
			if _, err := w.Write(b); err != nil {
				return err
			}
		}
	}
	return nil
}

// EncodedSize returns the number of bytes Encode writes for tensors of these shapes.
func EncodedSize(tensors map[string]Tensor, dtype DType, metadata map[string]string) (int64, error) {
	if dtype == "" {
		dtype = F32
	}
	if err := check(tensors, dtype); err != nil {
		return 0, fmt.Errorf("safetensors: %w", err)
	}
	header, err := encodeHeader(tensors, dtype, metadata)
	if err != nil {
		return 0, fmt.Errorf("safetensors: %w", err)
	}
	n := int64(8 + len(header))
	for _, t := range tensors {
		n += int64(t.values() * dtype.Size())
	}
	return n, nil
}

// check validates the dtype and that every tensor's data matches its shape.
func check(tensors map[string]Tensor, dtype DType) error {
	switch dtype {
	case "", F32, BF16, F16:
	default:
		return fmt.Errorf("cannot write dtype %q (want F32, BF16 or F16)", dtype)
	}
	for _, name := range sortedNames(tensors) {
		t := tensors[name]
		if name == metadataKey {
			return fmt.Errorf("tensor name %q is reserved", name)
		}
		n := 1
		for _, d := range t.Shape {
			if d < 0 {
				return fmt.Errorf("tensor %q: negative dimension in shape %v", name, t.Shape)
			}
			n *= d
		}
		if t.Data != nil && t.BF16 != nil {
			return fmt.Errorf("tensor %q: both Data and BF16 are set", name)
		}
		if n != t.values() {
			return fmt.Errorf("tensor %q: shape %v needs %d values, got %d", name, t.Shape, n, t.values())
		}
	}
	return nil
}

type headerEntry struct {
	DType       DType  `json:"dtype"`
	Shape       []int  `json:"shape"`
	DataOffsets [2]int `json:"data_offsets"`
}

// encodeHeader returns the JSON header padded with spaces to a multiple of 8 bytes.
func encodeHeader(tensors map[string]Tensor, dtype DType, metadata map[string]string) ([]byte, error) {
	header := make(map[string]any, len(tensors)+1)
	if len(metadata) > 0 {
		header[metadataKey] = metadata
	}
	off := 0
	for _, name := range sortedNames(tensors) {
		t := tensors[name]
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		n := t.values() * dtype.Size()
		header[name] = headerEntry{DType: dtype, Shape: shape, DataOffsets: [2]int{off, off + n}}
		off += n
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(header); err != nil {
		return nil, err
	}
	b := bytes.TrimRight(buf.Bytes(), "\n")
	for len(b)%8 != 0 {
		b = append(b, ' ')
	}
	return b, nil
}

func sortedNames(tensors map[string]Tensor) []string {
	names := make([]string, 0, len(tensors))
	for name := range tensors {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
