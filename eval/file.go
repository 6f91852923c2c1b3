package eval

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"

	"github.com/accrete/accrete/internal/atomicfile"
)

// num is a float64 that JSON encodes NaN and ±Inf as null (encoding/json refuses them) and decodes null
// as NaN: metrics that are undefined stay undefined across a round trip.
type num float64

func (n num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(f)
}

func (n *num) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		*n = num(math.NaN())
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*n = num(f)
	return nil
}

func toNums(xs []float64) []num {
	if xs == nil {
		return nil
	}
	out := make([]num, len(xs))
	for i, x := range xs {
		out[i] = num(x)
	}
	return out
}

func fromNums(xs []num) []float64 {
	if xs == nil {
		return nil
	}
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = float64(x)
	}
	return out
}

type taskScoreJSON struct {
	Task              string      `json:"task"`
	Metric            Metric      `json:"metric"`
	N                 int         `json:"n"`
	NParaphrases      int         `json:"n_paraphrases"`
	NNovel            int         `json:"n_novel"`
	Trained           num         `json:"trained"`
	Paraphrase        num         `json:"paraphrase"`
	Novel             num         `json:"novel"`
	HeldOut           num         `json:"held_out"`
	AccNorm           num         `json:"acc_norm"`
	ParaphraseAccNorm num         `json:"paraphrase_acc_norm"`
	NovelAccNorm      num         `json:"novel_acc_norm"`
	HeldOutAccNorm    num         `json:"held_out_acc_norm"`
	Items             []ItemScore `json:"items,omitempty"`
}

// MarshalJSON encodes NaN scores as null.
func (s TaskScore) MarshalJSON() ([]byte, error) {
	return json.Marshal(taskScoreJSON{s.Task, s.Metric, s.N, s.NParaphrases, s.NNovel, num(s.Trained),
		num(s.Paraphrase), num(s.Novel), num(s.HeldOut), num(s.AccNorm), num(s.ParaphraseAccNorm),
		num(s.NovelAccNorm), num(s.HeldOutAccNorm), s.Items})
}

// UnmarshalJSON decodes null scores as NaN. Scores absent from older files (novel, held_out and their
// acc_norm) decode as NaN too.
func (s *TaskScore) UnmarshalJSON(b []byte) error {
	nan := num(math.NaN())
	j := taskScoreJSON{Novel: nan, HeldOut: nan, NovelAccNorm: nan, HeldOutAccNorm: nan}
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*s = TaskScore{j.Task, j.Metric, j.N, j.NParaphrases, j.NNovel, float64(j.Trained), float64(j.Paraphrase),
		float64(j.Novel), float64(j.HeldOut), float64(j.AccNorm), float64(j.ParaphraseAccNorm),
		float64(j.NovelAccNorm), float64(j.HeldOutAccNorm), j.Items}
	return nil
}

// writeFileAtomic writes path through write atomically (see atomicfile.Write): a reader never sees a
// partial file, and a failed write leaves the old one in place.
func writeFileAtomic(path string, write func(w io.Writer) error) error {
	if err := atomicfile.Write(path, write); err != nil {
		return fmt.Errorf("eval: writing %s: %w", path, err)
	}
	return nil
}
