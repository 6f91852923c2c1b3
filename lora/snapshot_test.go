package lora

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/internal/testmodel"
	"github.com/accrete/accrete/model"
)

// TestRestoreCopyOnDisk checks that a restore copy above snapshotInMemory goes to a temporary file
// (not memory), that a failed Train (a cancelled context) restores every trained tensor bit for bit
// from it, and that the file is removed afterwards.
func TestRestoreCopyOnDisk(t *testing.T) {
	old := snapshotInMemory
	snapshotInMemory = 0
	defer func() { snapshotInMemory = old }()
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)

	m := testmodel.Tiny(t, tinyConfig, 1)
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range m.Weights {
			if !yield(n) {
				return
			}
		}
	})
	before := m.Weights.Clone()
	host := map[string]*model.Tensor{}
	for _, n := range names {
		host[n] = m.Weights[n]
	}
	s := takeSnapshot(host)
	require.NotNil(t, s.file, "the copy stayed in memory")
	require.Nil(t, s.mem)
	s.close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, err := Train(ctx, m, names, tinyFacts(16, 9), TrainConfig{BatchSize: 4, LearningRate: 1e-2, Progress: cancelOnWrite{cancel}})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 1, res.Steps, "one step ran before the cancellation was seen")
	for n, w := range before {
		require.Equal(t, w.Data, m.Weights[n].Data, "%s not restored", n)
	}
	left, _ := filepath.Glob(filepath.Join(tmp, "accrete-restore-*"))
	require.Empty(t, left, "the restore file was left behind")
}
