package atomicfile_test

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/accrete/accrete/internal/atomicfile"
)

// A state file is replaced whole: a reader sees the old JSON or the new one, never half of it.
func Example_replaceStateFile() {
	dir, err := os.MkdirTemp("", "atomicfile")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "state.json")

	for round := 1; round <= 2; round++ {
		err := atomicfile.Write(path, func(w io.Writer) error {
			return json.NewEncoder(w).Encode(map[string]int{"round": round})
		})
		if err != nil {
			panic(err)
		}
	}
	data, _ := os.ReadFile(path)
	entries, _ := os.ReadDir(dir)
	fmt.Printf("%s%d file(s)\n", data, len(entries))
	// Output:
	// {"round":2}
	// 1 file(s)
}
