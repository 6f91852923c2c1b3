package lora

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"unsafe"

	"github.com/accrete/accrete/model"
)

// snapshotInMemory is the size of trained tensors up to which the host layout's restore copy stays
// in memory; a larger one (full fine-tuning of a real model) goes to a temporary file, so that
// training does not hold the trained weights twice.
var snapshotInMemory int64 = 256 << 20

// restoreCopy is the host layout's restore copy of the trained tensors (Train restores them on error):
// each tensor's stored bytes, float32 or bfloat16 as it is stored, so that a restore is bit for bit.
type restoreCopy struct {
	names []string
	mem   map[string][]byte
	file  *os.File // when the copy is on disk: the tensors' stored bytes in names order
}

// takeSnapshot copies the tensors of host, to memory or, above snapshotInMemory, to a temporary file
// in os.TempDir (removed by close); if the file cannot be written, the copy stays in memory.
func takeSnapshot(host map[string]*model.Tensor) *restoreCopy {
	s := &restoreCopy{names: slices.Sorted(func(yield func(string) bool) {
		for n := range host {
			if !yield(n) {
				return
			}
		}
	})}
	var size int64
	for _, t := range host {
		size += int64(len(storedBytes(t)))
	}
	if size > snapshotInMemory {
		if err := s.toFile(host); err == nil {
			return s
		}
	}
	s.mem = make(map[string][]byte, len(host))
	for n, t := range host {
		s.mem[n] = slices.Clone(storedBytes(t))
	}
	return s
}

// storedBytes returns the memory of t's values as it stores them: Data's float32 bytes, or BF16's
// bfloat16 bytes.
func storedBytes(t *model.Tensor) []byte {
	if t.BF16 != nil {
		if len(t.BF16) == 0 {
			return nil
		}
		return unsafe.Slice((*byte)(unsafe.Pointer(&t.BF16[0])), 2*len(t.BF16))
	}
	if len(t.Data) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&t.Data[0])), 4*len(t.Data))
}

func (s *restoreCopy) toFile(host map[string]*model.Tensor) error {
	f, err := os.CreateTemp("", "accrete-restore-*.bin")
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for _, n := range s.names {
		if _, err = w.Write(storedBytes(host[n])); err != nil {
			break
		}
	}
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	s.file = f
	return nil
}

// restore writes the copy back into the tensors of host.
func (s *restoreCopy) restore(host map[string]*model.Tensor) error {
	if s.file == nil {
		for n, t := range host {
			copy(storedBytes(t), s.mem[n])
		}
		return nil
	}
	r := bufio.NewReaderSize(io.NewSectionReader(s.file, 0, 1<<62), 1<<20)
	for _, n := range s.names {
		if _, err := io.ReadFull(r, storedBytes(host[n])); err != nil {
			return fmt.Errorf("lora: Train: reading back the restore copy of %q from %s: %w", n, s.file.Name(), err)
		}
	}
	return nil
}

// close removes the temporary file, if any.
func (s *restoreCopy) close() {
	if s.file != nil {
		s.file.Close()
		os.Remove(s.file.Name())
		s.file = nil
	}
}
