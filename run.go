package accrete

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/accrete/accrete/eval"
	"github.com/accrete/accrete/model"
)

// RunOptions configures Run. The zero value scores with eval's defaults, keeps no checkpoints and
// measures no base knowledge.
type RunOptions struct {
	// Eval configures scoring. Its Template is replaced by the learner's, which a task's own
	// Template (eval.Task.Template) may replace in turn only for the Knowledge tasks: Run refuses a
	// trained task whose Template differs from the learner's.
	Eval eval.Options
	// Knowledge are tasks the base model already knows; their mean headline score (held-out
	// phrasings, where they have any) after every round is the matrix's retention column
	// (Matrix.Knowledge). Each is scored in its own Template when it sets one (the template the base
	// model learnt it in), else in the learner's. nil: not measured.
	Knowledge []Task
	// GeneralText is held-out general text (documents the model never trained on) whose bits per byte
	// (eval.BitsPerByte) are measured on the base model and after every round: the other retention
	// measure (Matrix.BaseBPB and Matrix.BPB). Each document is scored whole, so keep them within the
	// model's context. nil: not measured.
	GeneralText []string
	// CheckpointDir, when set, receives after every round the effective weights, the strategy's state
	// (Stateful), the matrix so far and a record of what the run is: the strategy's name and settings
	// (Configurable), each task's name and a hash of its items, the learner's LoRA and training
	// configurations, template and seeds, the base model's lora.Fingerprint, eval's MaxTokens and
	// what retention is measured on. A later Run with the same directory resumes after the last
	// finished round if its record is the same, and otherwise refuses, naming the first field that
	// differs. A checkpoint written before records were kept resumes with a warning in the log.
	// Resuming also removes the temporary round directories (".round-*") of a run killed while
	// writing one.
	CheckpointDir string
	// ResumeMismatchOK resumes from CheckpointDir even when its record differs from this run's,
	// logging the difference as a warning. Default false: a difference is an error.
	ResumeMismatchOK bool
	// OnRound, when set, is called after each round with its scores (e.g. to print them).
	OnRound func(round int, scores []eval.TaskScore, knowledge float64)
	// Scores, when set, lets Run reuse the scores of a model it or another Run with the same cache
	// has already scored the same way (see ScoreCache). nil: every scoring is computed.
	Scores *ScoreCache
}

// Run trains s over tasks, one round per task, and scores the effective model on every task (and on
// the knowledge tasks and the general text) before the first round and after each round, returning
// the accuracy matrix: headline scores in R, trained-phrasing scores in Trained, retention in
// Knowledge and BPB.
// A semi-cooperative strategy sees only the current round's task; a FullyCooperative one also gets
// the history. If a round fails, the model's weights are restored to what they were before it.
func Run(ctx context.Context, l *Learner, s Strategy, tasks []Task, o RunOptions) (*eval.Matrix, error) {
	if len(tasks) == 0 {
		return nil, errors.New("accrete: Run: no tasks")
	}
	if v, ok := s.(Validator); ok {
		if err := v.Validate(); err != nil {
			return nil, fmt.Errorf("accrete: Run: %w", err)
		}
	}
	names := make([]string, len(tasks))
	for i, t := range tasks {
		names[i] = t.Name
		// A round trains in the learner's template (Learner.Encode); scoring the task in another
		// would measure a prompt it never learnt.
		if t.Template != (eval.Template{}) && fullTemplate(t.Template) != fullTemplate(l.Template) {
			return nil, fmt.Errorf("accrete: Run: task %q has its own Template %+v, but rounds train in the learner's %+v: leave a trained task's Template zero",
				t.Name, t.Template, l.Template)
		}
	}
	o.Eval.Template = l.Template
	start := 0
	var mat *eval.Matrix
	var rec *runRecord
	if o.CheckpointDir != "" {
		rec = newRunRecord(l, s, tasks, o)
		if err := removeStale(o.CheckpointDir, l); err != nil {
			return nil, err
		}
		var err error
		start, mat, err = resume(o.CheckpointDir, l, s, names, rec, o.ResumeMismatchOK)
		if err != nil {
			return nil, err
		}
		if start > 0 {
			l.log("resuming after round %d from %s", start, o.CheckpointDir)
		}
	}
	if mat == nil {
		l.log("scoring the base model on %d tasks", len(tasks))
		sc, err := cachedScoreAll(ctx, l, tasks, o)
		if err != nil {
			return nil, err
		}
		mat = eval.NewMatrix(names, headlines(sc.tasks), sc.knowledge)
		mat.BaseTrained, mat.BaseBPB = trained(sc.tasks), sc.bpb
	}
	for i := start; i < len(tasks); i++ {
		r := Round{Index: i, Task: tasks[i]}
		if isFullyCooperative(s) {
			r.History = append([]Task(nil), tasks[:i]...)
		}
		began := time.Now()
		l.log("round %d/%d: %s (%d items)", i+1, len(tasks), tasks[i].Name, len(tasks[i].Train))
		before := l.Model.Weights.Clone()
		l.warnings = nil
		if err := s.Learn(ctx, l, r); err != nil {
			l.Model.SetAdapter(nil)
			if rerr := l.SetWeights(before); rerr != nil {
				err = errors.Join(err, rerr)
			}
			return mat, fmt.Errorf("accrete: round %d (%s): %w", i+1, tasks[i].Name, err)
		}
		sc, err := cachedScoreAll(ctx, l, tasks, o)
		if err != nil {
			return mat, err
		}
		rs := eval.RoundScores{Scores: headlines(sc.tasks), Trained: trained(sc.tasks), Knowledge: sc.knowledge, BPB: sc.bpb}
		if err := mat.Add(rs); err != nil {
			return mat, err
		}
		l.log("round %d done in %s: score on %s %.3f (trained phrasing %.3f), knowledge %.3f, bits per byte %.4f",
			i+1, time.Since(began).Round(time.Second), tasks[i].Name, rs.Scores[i], rs.Trained[i], sc.knowledge, sc.bpb)
		l.History = append(l.History, RoundRecord{Index: i, Task: tasks[i].Name, Strategy: strategyName(s),
			Duration: time.Since(began), Scores: rs.Scores, Trained: rs.Trained, Knowledge: sc.knowledge, BPB: sc.bpb,
			Warning: strings.Join(l.warnings, "; ")})
		l.warnings = nil
		if o.OnRound != nil {
			o.OnRound(i, sc.tasks, sc.knowledge)
		}
		if o.CheckpointDir != "" {
			if err := checkpoint(o.CheckpointDir, i, l, s, mat, rec); err != nil {
				return mat, err
			}
		}
	}
	return mat, nil
}

func strategyName(s Strategy) string {
	if n, ok := s.(Namer); ok {
		return n.Name()
	}
	return fmt.Sprintf("%T", s)
}

func headlines(scores []eval.TaskScore) []float64 {
	out := make([]float64, len(scores))
	for i, s := range scores {
		out[i] = s.Headline()
	}
	return out
}

// trained returns the trained-phrasing score of each task.
func trained(scores []eval.TaskScore) []float64 {
	out := make([]float64, len(scores))
	for i, s := range scores {
		out[i] = s.Trained
	}
	return out
}

// scores is what scoreAll measures.
type scores struct {
	tasks     []eval.TaskScore
	knowledge float64 // mean headline of the knowledge tasks; NaN without any
	bpb       float64 // bits per byte on the general text; NaN without any
}

// scoreAll scores every task, the knowledge tasks and the general text.
func scoreAll(ctx context.Context, l *Learner, tasks []Task, o RunOptions) (scores, error) {
	m := l.EvalModel()
	sc := scores{tasks: make([]eval.TaskScore, len(tasks)), knowledge: math.NaN(), bpb: math.NaN()}
	for i, t := range tasks {
		s, err := eval.Score(ctx, m, t, o.Eval)
		if err != nil {
			return sc, fmt.Errorf("accrete: scoring %s: %w", t.Name, err)
		}
		sc.tasks[i] = s
	}
	if len(o.Knowledge) > 0 {
		sc.knowledge = 0
		ko := o.Eval
		ko.HeadlineOnly = true // retention is the headline: the trained phrasings need not be scored
		for _, t := range o.Knowledge {
			s, err := eval.Score(ctx, m, t, ko)
			if err != nil {
				return sc, fmt.Errorf("accrete: scoring knowledge task %s: %w", t.Name, err)
			}
			sc.knowledge += s.Headline()
		}
		sc.knowledge /= float64(len(o.Knowledge))
	}
	if len(o.GeneralText) > 0 {
		bpb, err := eval.BitsPerByte(ctx, m, o.GeneralText)
		if err != nil {
			return sc, fmt.Errorf("accrete: scoring general text: %w", err)
		}
		sc.bpb = bpb
	}
	return sc, nil
}

type runMeta struct {
	Tasks  []string     `json:"tasks"`
	Round  int          `json:"round"` // rounds finished
	Matrix *eval.Matrix `json:"matrix"`
	// Record is what the run is (absent in checkpoints written before it was kept).
	Record *runRecord `json:"record,omitempty"`
}

// removeStale removes the temporary round directories that a run killed inside checkpoint left in
// dir (a missing dir has none).
func removeStale(dir string, l *Learner) error {
	stale, err := filepath.Glob(filepath.Join(dir, ".round-*"))
	if err != nil {
		return fmt.Errorf("accrete: resume %s: %w", dir, err)
	}
	for _, p := range stale {
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("accrete: resume %s: removing a stale temporary directory: %w", dir, err)
		}
		l.log("removed %s, left by an interrupted checkpoint", p)
	}
	return nil
}

func roundDir(dir string, i int) string { return filepath.Join(dir, fmt.Sprintf("round-%02d", i+1)) }

// checkpoint writes round i's state into a temporary directory and renames it into place, so a
// checkpoint directory either holds a whole round or none of it.
func checkpoint(dir string, i int, l *Learner, s Strategy, mat *eval.Matrix, rec *runRecord) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("accrete: checkpoint: %w", err)
	}
	final := roundDir(dir, i)
	tmp, err := os.MkdirTemp(dir, ".round-*")
	if err != nil {
		return fmt.Errorf("accrete: checkpoint: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := model.SaveHF(filepath.Join(tmp, "model"), l.Model.Config, l.Model.Weights, model.SaveOptions{}); err != nil {
		return fmt.Errorf("accrete: checkpoint round %d: %w", i+1, err)
	}
	if st, ok := s.(Stateful); ok {
		sd := filepath.Join(tmp, "state")
		if err := os.Mkdir(sd, 0o755); err != nil {
			return err
		}
		if err := st.SaveState(sd); err != nil {
			return fmt.Errorf("accrete: checkpoint round %d: saving strategy state: %w", i+1, err)
		}
	}
	names := mat.Tasks
	data, err := json.MarshalIndent(runMeta{Tasks: names, Round: i + 1, Matrix: mat, Record: rec}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, "run.json"), data, 0o644); err != nil {
		return fmt.Errorf("accrete: checkpoint: %w", err)
	}
	os.RemoveAll(final)
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("accrete: checkpoint: %w", err)
	}
	return nil
}

// resume finds the last complete round in dir and restores the learner and strategy from it, after
// checking that the round's record matches rec (unless mismatchOK, which only warns).
func resume(dir string, l *Learner, s Strategy, names []string, rec *runRecord, mismatchOK bool) (int, *eval.Matrix, error) {
	for i := len(names) - 1; i >= 0; i-- {
		rd := roundDir(dir, i)
		data, err := os.ReadFile(filepath.Join(rd, "run.json"))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, nil, fmt.Errorf("accrete: resume: %w", err)
		}
		var meta runMeta
		if err := json.Unmarshal(data, &meta); err != nil {
			return 0, nil, fmt.Errorf("accrete: resume: %s: %w", filepath.Join(rd, "run.json"), err)
		}
		if fmt.Sprint(meta.Tasks) != fmt.Sprint(names) || meta.Round != i+1 || meta.Matrix == nil {
			return 0, nil, fmt.Errorf("accrete: resume: %s was written for tasks %v, this run has %v", rd, meta.Tasks, names)
		}
		switch {
		case meta.Record == nil:
			l.log("warning: %s has no record of what it is a run of (written by an older version); resuming without checking that it matches this run", rd)
		case meta.Record.mismatch(rec) != "":
			msg := meta.Record.mismatch(rec)
			if !mismatchOK {
				return 0, nil, fmt.Errorf("accrete: resume %s: %s (RunOptions.ResumeMismatchOK continues anyway)", dir, msg)
			}
			l.log("warning: resuming %s although its %s", dir, msg)
		}
		_, w, err := model.LoadHF(filepath.Join(rd, "model"))
		if err != nil {
			return 0, nil, fmt.Errorf("accrete: resume: %w", err)
		}
		l.Model.SetAdapter(nil)
		if err := l.SetWeights(w); err != nil {
			return 0, nil, err
		}
		if st, ok := s.(Stateful); ok {
			if err := st.LoadState(filepath.Join(rd, "state"), l); err != nil {
				return 0, nil, fmt.Errorf("accrete: resume: strategy state: %w", err)
			}
		}
		return i + 1, meta.Matrix, nil
	}
	return 0, nil, nil
}
