package safetensors

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
)

// MaxHeaderSize bounds the JSON header, as the reference Rust implementation does (100 MB).
const MaxHeaderSize = 100_000_000

// metadataKey is the reserved header entry holding the string-to-string metadata.
const metadataKey = "__metadata__"

var (
	// ErrFormat is wrapped by every error about a malformed file: bad header length, invalid JSON,
	// unknown dtype, offsets outside the data or inconsistent with the shape, overlaps and holes.
	ErrFormat = errors.New("invalid safetensors data")
	// ErrNotFound is wrapped by the error for a tensor name the file does not hold.
	ErrNotFound = errors.New("tensor not found")
)

// Info describes one tensor of a file.
type Info struct {
	DType DType
	Shape []int
	// Begin and End are the tensor's byte offsets within the data section (after the header).
	Begin, End int
}

// NumElements is the product of the shape (1 for a scalar).
func (i Info) NumElements() int {
	n := 1
	for _, d := range i.Shape {
		n *= d
	}
	return n
}

// File is a parsed safetensors file held in memory. It is safe for concurrent reads.
type File struct {
	// Name is the path the file was read from ("" when parsed from memory); errors mention it.
	Name string
	// Metadata is the header's "__metadata__" map (empty, never nil, when there is none).
	Metadata map[string]string

	names []string
	infos map[string]Info
	data  []byte // the data section
	unmap func() error
}

// Read reads and validates the safetensors file at path. The whole file is read into memory.
func Read(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	return parse(path, data)
}

// Open maps the safetensors file at path into memory read-only (on Unix; elsewhere it reads it) and
// validates it, like Read, without copying the file into the Go heap: the operating system pages
// the tensors in as they are read and can drop them again, so converting a multi-gigabyte shard
// holds no second copy of it. The slices Raw returns point into the mapping and must not be used
// after Close, which the caller must call when done with the File.
func Open(path string) (*File, error) {
	data, unmap, err := mapFile(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	f, err := parse(path, data)
	if err != nil {
		unmap()
		return nil, err
	}
	f.unmap = unmap
	return f, nil
}

// Close releases the memory map of a File from Open (a no-op for Read and Parse). The File must not
// be used afterwards.
func (f *File) Close() error {
	if f.unmap == nil {
		return nil
	}
	err := f.unmap()
	f.unmap, f.data, f.infos, f.names = nil, nil, map[string]Info{}, nil
	if err != nil {
		return fmt.Errorf("safetensors: closing %s: %w", f.Name, err)
	}
	return nil
}

// Release tells the operating system that the bytes of tensor name will not be read again, so that
// the pages of a File from Open that hold only that tensor leave the process's resident memory at once
// rather than when the File is closed: a loader that converts each tensor into memory of its own
// (float32 from bfloat16, say) then never holds the mapped shard and the converted weights in full
// at the same time, which would raise its peak RSS by the shard's size. The pages are dropped from
// this process only (the page cache keeps them; a later read pages them in again). It is a no-op for
// a File from Read or Parse, for an unknown name, and where files are not mapped.
func (f *File) Release(name string) {
	if f.unmap == nil {
		return
	}
	if info, ok := f.infos[name]; ok {
		dropPages(f.data[info.Begin:info.End])
	}
}

// Parse validates a safetensors file held in data. The File refers to data, which must not be
// modified afterwards. Parse never panics: any malformed input gives an error wrapping ErrFormat.
func Parse(data []byte) (*File, error) {
	return parse("", data)
}

// rawInfo is a header entry as it appears in the JSON.
type rawInfo struct {
	DType       *string `json:"dtype"`
	Shape       *[]int  `json:"shape"`
	DataOffsets []int   `json:"data_offsets"`
}

func parse(name string, data []byte) (*File, error) {
	f := &File{Name: name, Metadata: map[string]string{}, infos: map[string]Info{}}
	if len(data) < 8 {
		return nil, f.formatErr("", "file is %d bytes, shorter than the 8-byte header length", len(data))
	}
	n := binary.LittleEndian.Uint64(data)
	if n > MaxHeaderSize {
		return nil, f.formatErr("", "header length %d exceeds the limit of %d bytes", n, MaxHeaderSize)
	}
	if n > uint64(len(data)-8) {
		return nil, f.formatErr("", "header length %d exceeds the %d bytes that follow it", n, len(data)-8)
	}
	header := data[8 : 8+n]
	if trimmed := bytes.TrimLeft(header, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, f.formatErr("", "header is not a JSON object")
	}
	var entries map[string]json.RawMessage
	if err := json.Unmarshal(header, &entries); err != nil {
		return nil, f.formatErr("", "header JSON: %v", err)
	}
	f.data = data[8+n:]
	for key, msg := range entries {
		if key == metadataKey {
			if err := json.Unmarshal(msg, &f.Metadata); err != nil {
				return nil, f.formatErr("", "%s must map strings to strings: %v", metadataKey, err)
			}
			if f.Metadata == nil { // the JSON value was null
				f.Metadata = map[string]string{}
			}
			continue
		}
		info, err := f.checkEntry(key, msg)
		if err != nil {
			return nil, err
		}
		f.infos[key] = info
		f.names = append(f.names, key)
	}
	slices.Sort(f.names)
	if err := f.checkLayout(); err != nil {
		return nil, err
	}
	return f, nil
}

// checkEntry validates one tensor's header entry against the data section.
func (f *File) checkEntry(name string, msg json.RawMessage) (Info, error) {
	var r rawInfo
	if err := json.Unmarshal(msg, &r); err != nil {
		return Info{}, f.formatErr(name, "header entry: %v", err)
	}
	if r.DType == nil {
		return Info{}, f.formatErr(name, "header entry has no dtype")
	}
	dt := DType(*r.DType)
	size := dt.Size()
	if size == 0 {
		return Info{}, f.formatErr(name, "unknown dtype %q", *r.DType)
	}
	if r.Shape == nil {
		return Info{}, f.formatErr(name, "header entry has no shape")
	}
	shape := *r.Shape
	if shape == nil {
		shape = []int{}
	}
	if len(r.DataOffsets) != 2 {
		return Info{}, f.formatErr(name, "data_offsets must be [begin, end], got %v", r.DataOffsets)
	}
	begin, end := r.DataOffsets[0], r.DataOffsets[1]
	if begin < 0 || end < begin || end > len(f.data) {
		return Info{}, f.formatErr(name, "data_offsets [%d, %d] outside the %d-byte data section", begin, end, len(f.data))
	}
	// The product of the shape is checked against the byte count step by step, so a huge shape can
	// neither overflow nor pass.
	elems := 1
	for _, d := range shape {
		if d < 0 {
			return Info{}, f.formatErr(name, "negative dimension in shape %v", shape)
		}
		if d == 0 {
			elems = 0
		}
	}
	if elems != 0 {
		limit := len(f.data) / size
		for _, d := range shape {
			if elems > limit/d {
				return Info{}, f.formatErr(name, "shape %v %s needs more bytes than the %d-byte data section", shape, dt, len(f.data))
			}
			elems *= d
		}
	}
	if end-begin != elems*size {
		return Info{}, f.formatErr(name, "data_offsets [%d, %d] span %d bytes, shape %v %s needs %d",
			begin, end, end-begin, shape, dt, elems*size)
	}
	return Info{DType: dt, Shape: shape, Begin: begin, End: end}, nil
}

// checkLayout verifies that the tensors tile the data section exactly: no overlaps, no holes and no
// trailing bytes, as the reference implementation requires.
func (f *File) checkLayout() error {
	order := slices.Clone(f.names)
	slices.SortFunc(order, func(a, b string) int {
		ia, ib := f.infos[a], f.infos[b]
		return cmp.Or(cmp.Compare(ia.Begin, ib.Begin), cmp.Compare(ia.End, ib.End), cmp.Compare(a, b))
	})
	pos, prev := 0, ""
	for _, name := range order {
		info := f.infos[name]
		if info.Begin < pos {
			return f.formatErr(name, "data_offsets [%d, %d] overlap tensor %q, which ends at %d", info.Begin, info.End, prev, pos)
		}
		if info.Begin > pos {
			return f.formatErr(name, "data_offsets [%d, %d] leave a hole: the previous tensor ends at %d", info.Begin, info.End, pos)
		}
		pos, prev = info.End, name
	}
	if pos != len(f.data) {
		return f.formatErr("", "tensors cover %d bytes of the %d-byte data section", pos, len(f.data))
	}
	return nil
}

// formatErr returns an error wrapping ErrFormat that names the file and, if given, the tensor.
func (f *File) formatErr(tensor, format string, args ...any) error {
	return fmt.Errorf("%s: %w: %s", f.where(tensor), ErrFormat, fmt.Sprintf(format, args...))
}

func (f *File) where(tensor string) string {
	s := "safetensors"
	if f.Name != "" {
		s += " " + f.Name
	}
	if tensor != "" {
		s += fmt.Sprintf(": tensor %q", tensor)
	}
	return s
}

// Names returns the tensor names in sorted order (without "__metadata__"). The slice is a copy.
func (f *File) Names() []string { return slices.Clone(f.names) }

// Len is the number of tensors.
func (f *File) Len() int { return len(f.names) }

// Info returns the dtype, shape and offsets of a tensor, and false when the file does not hold it.
// The shape is a copy.
func (f *File) Info(name string) (Info, bool) {
	info, ok := f.infos[name]
	info.Shape = slices.Clone(info.Shape)
	return info, ok
}

// Raw returns a tensor's little-endian bytes and its info. The bytes alias the file's buffer and must
// not be modified.
func (f *File) Raw(name string) ([]byte, Info, error) {
	info, ok := f.Info(name)
	if !ok {
		return nil, Info{}, fmt.Errorf("%s: %w", f.where(name), ErrNotFound)
	}
	return f.data[info.Begin:info.End:info.End], info, nil
}

// Float32 returns a tensor converted to float32 and its shape. F32, F16 and BF16 convert exactly; F64
// rounds to nearest. Other dtypes give an error naming the tensor and its dtype.
func (f *File) Float32(name string) ([]float32, []int, error) {
	raw, info, err := f.Raw(name)
	if err != nil {
		return nil, nil, err
	}
	if !info.DType.IsFloat() {
		return nil, nil, fmt.Errorf("%s: dtype %s shape %v is not a float type (F64, F32, F16, BF16)", f.where(name), info.DType, info.Shape)
	}
	out := make([]float32, info.NumElements())
	decodeFloat32(out, raw, info.DType)
	return out, info.Shape, nil
}

// Int64 returns an integer or bool tensor converted to int64 and its shape. U64 values above
// math.MaxInt64 and float dtypes give an error.
func (f *File) Int64(name string) ([]int64, []int, error) {
	raw, info, err := f.Raw(name)
	if err != nil {
		return nil, nil, err
	}
	if info.DType.IsFloat() {
		return nil, nil, fmt.Errorf("%s: dtype %s shape %v is not an integer or bool type", f.where(name), info.DType, info.Shape)
	}
	out := make([]int64, info.NumElements())
	le := binary.LittleEndian
	for i := range out {
		switch info.DType {
		case I64:
			out[i] = int64(le.Uint64(raw[8*i:]))
		case U64:
			v := le.Uint64(raw[8*i:])
			if v > 1<<63-1 {
				return nil, nil, fmt.Errorf("%s: U64 element %d = %d overflows int64", f.where(name), i, v)
			}
			out[i] = int64(v)
		case I32:
			out[i] = int64(int32(le.Uint32(raw[4*i:])))
		case U32:
			out[i] = int64(le.Uint32(raw[4*i:]))
		case I16:
			out[i] = int64(int16(le.Uint16(raw[2*i:])))
		case U16:
			out[i] = int64(le.Uint16(raw[2*i:]))
		case I8:
			out[i] = int64(int8(raw[i]))
		case U8, Bool:
			out[i] = int64(raw[i])
		}
	}
	return out, info.Shape, nil
}
