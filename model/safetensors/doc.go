// Package safetensors reads and writes the safetensors tensor file format used by Hugging Face.
//
// # Overview
//
// A file is an 8-byte little-endian header length N, then N bytes of JSON
//
//	{"name": {"dtype": "BF16", "shape": [4096, 4096], "data_offsets": [begin, end]}, ...,
//	 "__metadata__": {"format": "pt"}}
//
// then the data section, in which each tensor occupies bytes [begin, end) in row-major,
// little-endian order. Read and Parse validate a file completely before returning it; File.Float32
// converts F32, F16 and BF16 to float32 exactly (F64 rounds to nearest) and File.Raw and File.Int64
// give access to the other dtypes. Write stores float32 tensors as F32 (bit-exact), BF16 or F16
// (both rounded to nearest even, as PyTorch does), atomically.
//
// # Invariants
//
// A File that Parse accepts satisfies: the header is at most MaxHeaderSize bytes and fits the input;
// every dtype is known; every tensor's byte range lies inside the data section and holds exactly
// dtype size × product(shape) bytes; and the ranges tile the data section with no overlap, hole or
// trailing byte. Parse never panics and runs in time linear in its input, whatever the input; every
// validation error wraps ErrFormat and names the file and the tensor.
//
// The format is specified at https://github.com/huggingface/safetensors. This package is an
// independent implementation of it.
//
// # Not for
//
// Memory-mapping files larger than RAM (Read loads the whole file), or writing integer tensors.
package safetensors
