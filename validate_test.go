package accrete_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/ella"
	"github.com/accrete/accrete/ewc"
	"github.com/accrete/accrete/inflora"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/merge"
	"github.com/accrete/accrete/moe"
	"github.com/accrete/accrete/nlora"
	"github.com/accrete/accrete/orthlora"
	"github.com/accrete/accrete/osf"
	"github.com/accrete/accrete/replay"
)

// refusing is a strategy whose configuration is bad: Learn must never run.
type refusing struct{ learned *bool }

func (s refusing) Validate() error { return errors.New("refusing: Config.X must be > 0, got 0") }

func (s refusing) Learn(context.Context, *accrete.Learner, accrete.Round) error {
	*s.learned = true
	return nil
}

// TestRunValidatesBeforeScoring: a strategy with a bad configuration fails before Run scores the base
// model (Run returns no matrix) and before any round, for every strategy of the module.
func TestRunValidatesBeforeScoring(t *testing.T) {
	bad := &lora.TrainConfig{LearningRate: -1}
	var learned bool
	for _, tc := range []struct {
		name string
		s    accrete.Strategy
		want string
	}{
		{"custom", refusing{&learned}, "Config.X"},
		{"sequential mode", accrete.Sequential{Mode: "qlora"}, `unknown Mode "qlora"`},
		{"sequential train", accrete.Sequential{Train: bad}, "LearningRate"},
		{"joint mode", accrete.Joint{Mode: "qlora"}, `unknown Mode "qlora"`},
		{"joint train", accrete.Joint{Train: bad}, "LearningRate"},
		{"replay", replay.Wrap(accrete.Sequential{}, replay.Config{Ratio: -1}), "Ratio"},
		{"replay base", replay.Wrap(accrete.Sequential{Mode: "qlora"}, replay.Config{}), `unknown Mode "qlora"`},
		{"orthlora", orthlora.New(orthlora.Config{Lambda: -1}), "Lambda"},
		{"ewc", ewc.New(ewc.Config{Train: bad}), "LearningRate"},
		{"nlora", nlora.New(nlora.Config{Train: bad}), "LearningRate"},
		{"ella", ella.New(ella.Config{Train: bad}), "LearningRate"},
		{"inflora", inflora.New(inflora.Config{Train: bad}), "LearningRate"},
		{"osf", osf.New(osf.Config{Train: bad}), "LearningRate"},
		{"moe", moe.New(moe.Config{TopK: -1}), "TopK"},
		{"merge", merge.New(merge.Config{Train: bad}), "LearningRate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ok := tc.s.(accrete.Validator)
			require.True(t, ok, "%T implements accrete.Validator", tc.s)
			l := tinyLearner(t, 1)
			var log strings.Builder
			l.Progress = &log
			mat, err := accrete.Run(context.Background(), l, tc.s, []accrete.Task{tinyTask("ka", 4, 1)}, accrete.RunOptions{})
			require.ErrorContains(t, err, tc.want)
			require.Nil(t, mat, "refused before the base model is scored")
			require.Empty(t, log.String(), "nothing logged: no scoring, no round")
		})
	}
	require.False(t, learned)
}
