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

// restoreCopy is the host layout's restore copy of the trained tensors (Train restores them on error).
type restoreCopy struct {
	names []string
	mem   map[string][]float32
	file  *os.File // when the copy is on disk: the tensors' float32 bytes in names order
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
		size += 4 * int64(len(t.Data))
	}
	if size > snapshotInMemory {
		if err := s.toFile(host); err == nil {
			return s
		}
	}
	s.mem = make(map[string][]float32, len(host))
	for n, t := range host {
		s.mem[n] = slices.Clone(t.Data)
	}
	return s
}

func floatBytes(f []float32) []byte {
	if len(f) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&f[0])), 4*len(f))
}

func (s *restoreCopy) toFile(host map[string]*model.Tensor) error {
	f, err := os.CreateTemp("", "accrete-restore-*.f32")
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for _, n := range s.names {
		if _, err = w.Write(floatBytes(host[n].Data)); err != nil {
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
			copy(t.Data, s.mem[n])
		}
		return nil
	}
	r := bufio.NewReaderSize(io.NewSectionReader(s.file, 0, 1<<62), 1<<20)
	for _, n := range s.names {
		if _, err := io.ReadFull(r, floatBytes(host[n].Data)); err != nil {
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
