package safetensors

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"testing"
)

// seedHeaders are headers for FuzzParseHeader's seed corpus; each is paired with 16 bytes of data.
var seedHeaders = []string{
	`{}`,
	`{"__metadata__":{"format":"pt"}}`,
	`{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}`,
	`{"a":{"dtype":"BF16","shape":[4],"data_offsets":[0,8]},"b":{"dtype":"F16","shape":[2,2],"data_offsets":[8,16]}}`,
	`{"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"b":{"dtype":"F64","shape":[],"data_offsets":[8,16]}}`,
	`{"a":{"dtype":"U8","shape":[16],"data_offsets":[0,16]},"e":{"dtype":"BOOL","shape":[0],"data_offsets":[16,16]}}`,
	`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`,
	`{"a":{"dtype":"F32","shape":[9223372036854775807,2],"data_offsets":[0,16]}}`,
	`{"a":{"dtype":"X","shape":[-1],"data_offsets":[18446744073709551615,0]}}`,
	`{"__metadata__":null,"a":null}`,
}

// FuzzParseHeader fuzzes the JSON header: Parse must never panic, and every file it accepts must be
// fully readable and survive an F32 re-encode unchanged.
func FuzzParseHeader(f *testing.F) {
	for _, h := range seedHeaders {
		f.Add([]byte(h), uint16(16))
	}
	f.Fuzz(func(t *testing.T, header []byte, dataLen uint16) {
		file := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
		file = append(file, header...)
		file = append(file, make([]byte, int(dataLen)%4096)...)
		checkParsed(t, file)
	})
}

// FuzzParse fuzzes whole files, header length included.
func FuzzParse(f *testing.F) {
	for _, h := range seedHeaders {
		f.Add(rawFile(h, make([]byte, 16)))
	}
	if data, err := os.ReadFile("testdata/torch_rounding.safetensors"); err == nil {
		f.Add(data)
	}
	f.Add([]byte{})
	f.Add(binary.LittleEndian.AppendUint64(nil, math.MaxUint64))
	f.Fuzz(checkParsed)
}

func checkParsed(t *testing.T, file []byte) {
	p, err := Parse(file)
	if err != nil {
		return
	}
	floats := map[string]Tensor{}
	for _, name := range p.Names() {
		info, ok := p.Info(name)
		if !ok {
			t.Fatalf("Names lists %q but Info does not know it", name)
		}
		raw, _, err := p.Raw(name)
		if err != nil || len(raw) != info.NumElements()*info.DType.Size() {
			t.Fatalf("tensor %q: Raw gave %d bytes, err %v", name, len(raw), err)
		}
		if info.DType.IsFloat() {
			data, shape, err := p.Float32(name)
			if err != nil {
				t.Fatalf("tensor %q: %v", name, err)
			}
			floats[name] = Tensor{Shape: shape, Data: data}
		} else if _, _, err := p.Int64(name); err != nil && info.DType != U64 {
			t.Fatalf("tensor %q: %v", name, err)
		}
	}
	var buf bytes.Buffer
	if err := Encode(&buf, floats, F32, p.Metadata); err != nil {
		t.Fatalf("re-encoding: %v", err)
	}
	q, err := Parse(buf.Bytes())
	if err != nil {
		t.Fatalf("re-encoded file does not parse: %v", err)
	}
	for name, want := range floats {
		got, _, err := q.Float32(name)
		if err != nil || len(got) != len(want.Data) {
			t.Fatalf("tensor %q after re-encode: %d values, err %v", name, len(got), err)
		}
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want.Data[i]) {
				t.Fatalf("tensor %q[%d] changed on re-encode", name, i)
			}
		}
	}
}
