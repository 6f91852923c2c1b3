package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/eval"
	"github.com/accrete/accrete/eval/plot"
	"github.com/accrete/accrete/lora"
)

// Choosing a learning rate per method, fairly (issue 13): a small grid per family of methods, each
// rate trained for one round on the first task and scored on validation items, items held back from
// the study (never trained on, never scored as its test items).

// validationShare is the share of each task's items (and of the base facts) held back for validation.
const validationShare = 0.2

// selectionCriterion states how a rate is picked from its grid, for the report.
const selectionCriterion = "the rate with the highest mean of acquisition (the first task's validation items, " +
	"held-out phrasings) and retention (the validation base facts) after one round from the base model; " +
	"acquisition alone when retention is not measured; on a tie the lowest rate"

// family is a group of methods that share a learning rate: "lora" (the adapter methods: LoRA, O-LoRA,
// merging, the mixture's experts, replay, joint) or "fft" (full fine-tuning).
type family struct {
	name, label string
	grid        []float64
	given       bool // the rate was set by its flag: used as given, not chosen
}

const (
	familyLoRA = "lora"
	familyFFT  = "fft"
)

// familyOf is the family whose learning rate a method trains with.
func familyOf(m method) string {
	if m.name == "fft1" || m.name == "seq-fft" {
		return familyFFT
	}
	return familyLoRA
}

// itemKey identifies an item across a task's Train and Test: its id, or its prompt when it has none.
func itemKey(e accrete.Example) string {
	if e.ID != "" {
		return e.ID
	}
	return "\x00" + e.Prompt
}

// splitValidation holds back a seeded validationShare of each task's items, by item (a fact's training
// and test versions go to the same side), so that no validation item is ever trained on or scored as a
// test item. study has the other items; each validation task has the held-back items as Test (their
// test versions, or their training versions for items only in Train) and no Train. A task keeps at
// least one training and one test item; a task with a single item holds back none. The tasks given are
// not changed.
func splitValidation(tasks []accrete.Task, seed uint64) (study, val []accrete.Task) {
	study, val = make([]accrete.Task, len(tasks)), make([]accrete.Task, len(tasks))
	for i, t := range tasks {
		var keys []string
		inTrain, inTest := map[string]bool{}, map[string]bool{}
		for _, e := range t.Train {
			k := itemKey(e)
			if !inTrain[k] && !inTest[k] {
				keys = append(keys, k)
			}
			inTrain[k] = true
		}
		for _, e := range t.Test {
			k := itemKey(e)
			if !inTrain[k] && !inTest[k] {
				keys = append(keys, k)
			}
			inTest[k] = true
		}
		h := fnv.New64a()
		h.Write([]byte(t.Name))
		r := rand.New(rand.NewPCG(seed, h.Sum64()))
		want := int(math.Round(validationShare * float64(len(keys))))
		if len(keys) >= 2 {
			want = max(want, 1)
		}
		trainLeft, testLeft := len(inTrain), len(inTest)
		held := map[string]bool{}
		for _, j := range r.Perm(len(keys)) {
			if len(held) == want {
				break
			}
			k := keys[j]
			if (inTrain[k] && trainLeft == 1) || (inTest[k] && testLeft == 1) {
				continue
			}
			held[k] = true
			if inTrain[k] {
				trainLeft--
			}
			if inTest[k] {
				testLeft--
			}
		}
		s, v := t, t // name, metric and template
		s.Train, s.Test, v.Train, v.Test = nil, nil, nil, nil
		for _, e := range t.Train {
			if k := itemKey(e); !held[k] {
				s.Train = append(s.Train, e)
			} else if !inTest[k] {
				v.Test = append(v.Test, e)
			}
		}
		for _, e := range t.Test {
			if held[itemKey(e)] {
				v.Test = append(v.Test, e)
			} else {
				s.Test = append(s.Test, e)
			}
		}
		study[i], val[i] = s, v
	}
	return study, val
}

// validationTasks gives what the grid and the frontier train on and score for the first n tasks: the
// validation items (val, at most limit of each, evenly spaced; 0: all) are the test items; when they
// have held-out phrasings (knowledge items) they are also what is trained on (their trained phrasings),
// otherwise the study's training items of the task (sampled) are. Either way no validation item is
// trained on or scored by the study itself. It refuses a task with no validation item.
func validationTasks(sampled, val []accrete.Task, n, limit int) ([]accrete.Task, error) {
	out := make([]accrete.Task, n)
	for i := range n {
		if len(val[i].Test) == 0 {
			return nil, fmt.Errorf("task %s has too few items to hold any back for validation (use -lr-grid=false)", val[i].Name)
		}
		test := sampleEvenly(val[i].Test, limit, 0)
		train := sampled[i].Train
		if heldOutPhrasings(test) {
			// Knowledge items (the packs): facts held back from the study are learned from their trained
			// phrasings and scored on their held-out ones. Training on other facts could not teach them,
			// so the grid would measure nothing but retention.
			train = test
		}
		out[i] = sampled[i]
		out[i].Train, out[i].Test = train, test
	}
	return out, nil
}

// chooseRate marks and returns the index of the point picked by selectionCriterion: the highest mean of
// acquisition and retention (acquisition alone where retention is NaN), ties to the lowest rate. Failed
// points and points without acquisition are never picked; it is an error if every point is such.
// heldOutPhrasings reports whether every item has a held-out phrasing to be scored on.
func heldOutPhrasings(items []accrete.Example) bool {
	for _, e := range items {
		if len(e.Paraphrases)+len(e.Novel) == 0 {
			return false
		}
	}
	return len(items) > 0
}

func chooseRate(points []eval.FrontierPoint) (int, error) {
	best, bestScore := -1, math.Inf(-1)
	for i, p := range points {
		if p.Failed != "" || math.IsNaN(p.Acquisition) {
			continue
		}
		score := p.Acquisition
		if !math.IsNaN(p.Retention) {
			score = (p.Acquisition + p.Retention) / 2
		}
		if best < 0 || score > bestScore+1e-12 || (math.Abs(score-bestScore) <= 1e-12 && p.LearningRate < points[best].LearningRate) {
			best, bestScore = i, score
		}
	}
	if best < 0 {
		return -1, errors.New("no learning rate of the grid trained and scored")
	}
	points[best].Chosen = true
	return best, nil
}

// trainAt trains spec on tasks (one round per task) at learning rate lr for its family and returns
// its final acquisition (one round: the task's score; several: ACC) and retention on knowledge,
// writing its progress to out. A run whose loss diverges is a failed point, not an error.
type trainAt func(ctx context.Context, spec method, lr float64, tasks, knowledge []accrete.Task, out io.Writer) (eval.FrontierPoint, error)

// trainJob is one call of a trainAt.
type trainJob struct {
	spec             method
	lr               float64
	tasks, knowledge []accrete.Task
}

// trainAll calls train on every job, parallel at a time (runJobs), and returns their points in order.
func trainAll(ctx context.Context, parallel int, train trainAt, jobs []trainJob, log io.Writer) ([]eval.FrontierPoint, error) {
	pts := make([]eval.FrontierPoint, len(jobs))
	label := func(i int) string { return fmt.Sprintf("[%s %s] ", jobs[i].spec.label, eval.FormatRate(jobs[i].lr)) }
	err := runJobs(ctx, parallel, len(jobs), log, label, func(ctx context.Context, i int, out io.Writer) error {
		j := jobs[i]
		p, err := train(ctx, j.spec, j.lr, j.tasks, j.knowledge, out)
		pts[i] = p
		return err
	})
	return pts, err
}

// runGrid trains every rate of f's grid for one round with spec and chooses one (chooseRate); the
// points are the one-round frontier of f.
func runGrid(ctx context.Context, parallel int, f family, spec method, train trainAt, tasks, knowledge []accrete.Task, log io.Writer) ([]eval.FrontierPoint, float64, error) {
	var jobs []trainJob
	for _, lr := range f.grid {
		jobs = append(jobs, trainJob{spec, lr, tasks[:1], knowledge})
	}
	pts, err := trainAll(ctx, parallel, train, jobs, log)
	if err != nil {
		return nil, 0, err
	}
	for i := range pts {
		p := &pts[i]
		p.Method, p.Training = f.label, "one round"
		fmt.Fprintf(log, "learning rate grid: %s at %s: acquisition %s, retention %s%s\n", f.label, eval.FormatRate(jobs[i].lr),
			fmtScore(p.Acquisition), fmtScore(p.Retention), failedNote(*p))
	}
	i, err := chooseRate(pts)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", f.label, err)
	}
	return pts, pts[i].LearningRate, nil
}

// runFrontier trains each of specs sequentially over its rounds of tasks at every rate of its family's
// grid: the sequential frontier.
func runFrontier(ctx context.Context, parallel int, specs []method, fams map[string]family, roundsOf func(method) int, train trainAt,
	tasks, knowledge []accrete.Task, log io.Writer) ([]eval.FrontierPoint, error) {
	var jobs []trainJob
	for _, spec := range specs {
		for _, lr := range fams[familyOf(spec)].grid {
			jobs = append(jobs, trainJob{spec, lr, tasks[:roundsOf(spec)], knowledge})
		}
	}
	pts, err := trainAll(ctx, parallel, train, jobs, log)
	if err != nil {
		return nil, err
	}
	for i := range pts {
		p, j := &pts[i], jobs[i]
		p.Method, p.Training = j.spec.label, fmt.Sprintf("sequential, %d rounds", len(j.tasks))
		fmt.Fprintf(log, "frontier: %s at %s: ACC %s, retention %s%s\n", j.spec.label, eval.FormatRate(j.lr),
			fmtScore(p.Acquisition), fmtScore(p.Retention), failedNote(*p))
	}
	return pts, nil
}

// frontierPoint summarises a validation run: the last round's score for one round, ACC for several.
func frontierPoint(lr float64, mat *eval.Matrix, err error) (eval.FrontierPoint, error) {
	p := eval.FrontierPoint{LearningRate: lr, Acquisition: math.NaN(), Retention: math.NaN()}
	if errors.Is(err, lora.ErrNonFinite) {
		p.Failed = "loss not finite"
		return p, nil
	}
	if err != nil {
		return p, err
	}
	p.Acquisition, p.Retention = mat.ACC(), mat.FinalKnowledge()
	if mat.Rounds() == 1 {
		p.Acquisition = mat.R[0][0]
	}
	return p, nil
}

// parseRates parses a comma-separated list of positive learning rates, sorted and without repeats.
func parseRates(flagName, s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		x, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || !(x > 0) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("-%s: %q is not a positive learning rate", flagName, strings.TrimSpace(f))
		}
		out = append(out, x)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func formatRates(xs []float64) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = eval.FormatRate(x)
	}
	return strings.Join(s, ", ")
}

func fmtScore(x float64) string {
	if math.IsNaN(x) {
		return "n/a"
	}
	return fmt.Sprintf("%.3f", x)
}

func failedNote(p eval.FrontierPoint) string {
	if p.Failed == "" {
		return ""
	}
	return " (failed: " + p.Failed + ")"
}

// families are the learning-rate families of o: their grids, whether their rate was given, and their
// names in the report.
func families(o options) map[string]family {
	return map[string]family{
		familyLoRA: {name: "LoRA", label: "LoRA (the adapter methods: LoRA, O-LoRA, merging, MoE experts, replay, joint)",
			grid: o.lrGridLoRA, given: o.lrLoRAGiven},
		familyFFT: {name: "FFT", label: "FFT (full fine-tuning)", grid: o.lrGridFFT, given: o.lrFFTGiven},
	}
}

// needsValidation says whether o chooses a rate on validation items (-lr-grid, for a family some
// method uses whose rate was not given) or draws the frontier: only then are items held back.
func needsValidation(o options) bool {
	if o.frontier {
		return true
	}
	if !o.lrGrid {
		return false
	}
	fams := families(o)
	for _, name := range o.methods {
		spec, _ := methodByName(name)
		if !fams[familyOf(spec)].given {
			return true
		}
	}
	return false
}

// withRate is o with fam's learning rate set to lr.
func withRate(o options, fam string, lr float64) options {
	if fam == familyFFT {
		o.lrFFT = lr
	} else {
		o.lrLoRA = lr
	}
	return o
}

// rateChoice is what chooseRates found: the rates the study runs with, the frontier points, and the
// report's note on them.
type rateChoice struct {
	rates  []eval.LearningRate
	points []eval.FrontierPoint
	note   string
}

// chooseRates sets o.lrLoRA and o.lrFFT for the families o.methods use: chosen from their grids with
// -lr-grid (runGrid on the first task's training items in sampled and its validation items in val,
// retention on the validation facts valKnowledge), else as given; with -frontier it adds the
// sequential frontier of sequential LoRA, FFT and O-LoRA λ=0.5 over their rounds.
func chooseRates(ctx context.Context, o *options, train trainAt, sampled, val, valKnowledge []accrete.Task, log io.Writer) (rateChoice, error) {
	var c rateChoice
	fams := families(*o)
	need := map[string]bool{}
	for _, name := range o.methods {
		spec, _ := methodByName(name)
		need[familyOf(spec)] = true
	}
	knowledge := sampleTasks(valKnowledge, o.knowledge, o.seed, 0)
	var said []string
	for _, fam := range []string{familyLoRA, familyFFT} {
		if !need[fam] {
			continue
		}
		f := fams[fam]
		given := o.lrLoRA
		if fam == familyFFT {
			given = o.lrFFT
		}
		if !o.lrGrid || f.given {
			how := "given (-lr-" + fam + ")"
			if !f.given {
				how = "-lr-" + fam + " (-lr-grid=false)"
			}
			c.rates = append(c.rates, eval.LearningRate{Family: f.label, Rate: given, How: how})
			said = append(said, fmt.Sprintf("%s %s, %s", f.name, eval.FormatRate(given), how))
			continue
		}
		tasks, err := validationTasks(sampled, val, 1, o.limit)
		if err != nil {
			return c, err
		}
		spec, _ := methodByName(map[string]string{familyLoRA: "lora1", familyFFT: "fft1"}[fam])
		pts, lr, err := runGrid(ctx, o.parallel, f, spec, train, tasks, knowledge, log)
		if err != nil {
			return c, err
		}
		*o = withRate(*o, fam, lr)
		c.points = append(c.points, pts...)
		c.rates = append(c.rates, eval.LearningRate{Family: f.label, Rate: lr, Grid: f.grid,
			How: "chosen on the validation items: " + selectionCriterion})
		said = append(said, fmt.Sprintf("%s %s, chosen from {%s}", f.name, eval.FormatRate(lr), formatRates(f.grid)))
	}
	if o.frontier {
		var specs []method
		n := 0
		roundsOf := func(m method) int { return runRounds(*o, m, len(sampled)) }
		for _, name := range []string{"seq-lora", "seq-fft", "olora-0.5"} {
			spec, _ := methodByName(name)
			specs = append(specs, spec)
			n = max(n, roundsOf(spec))
		}
		tasks, err := validationTasks(sampled, val, n, o.limit)
		if err != nil {
			return c, err
		}
		pts, err := runFrontier(ctx, o.parallel, specs, fams, roundsOf, train, tasks, knowledge, log)
		if err != nil {
			return c, err
		}
		c.points = append(c.points, pts...)
	}
	c.note = "Learning rates: " + strings.Join(said, "; ") + "."
	if o.lrGrid && len(c.points) > 0 {
		c.note += " A rate is chosen as " + selectionCriterion + ", after training on the first task's validation items " +
			"(their trained phrasings; the study's training items for tasks without held-out phrasings) " +
			"(every method of a family then runs at its rate, on every seed). The mean of the two weighs learning and " +
			"keeping equally, as the paper's verdict does (\"once acquisition and retention are both counted\"), with no " +
			"threshold to pick; a one-round run of O-LoRA is LoRA's, so O-LoRA takes LoRA's rate."
	}
	if o.frontier {
		c.note += " The frontier (figure6_frontier.png) also trains sequential LoRA, FFT and O-LoRA λ=0.5 at every rate of their " +
			"grid over the study's rounds, scored on the validation items: compare them at matched acquisition."
	}
	return c, nil
}

// describeValidation is the report's note on the validation split.
func describeValidation(o options, val, valKnowledge []accrete.Task) string {
	var items []string
	for _, t := range val {
		items = append(items, fmt.Sprintf("%s %d", t.Name, len(t.Test)))
	}
	for _, t := range valKnowledge {
		items = append(items, fmt.Sprintf("%s (base facts) %d", t.Name, len(t.Test)))
	}
	return fmt.Sprintf("Validation items: %.0f%% of each task's items and of the base facts, drawn with seed %d, are held "+
		"back from the study (never trained on, never scored as its test items) to choose the learning rates "+
		"and draw the frontier: %s (at most -limit and -knowledge of them are scored). The item counts above are of "+
		"the rest.", validationShare*100, o.seed, strings.Join(items, ", "))
}

// frontierFigure writes figure6_frontier.png from the frontier points, if any point has both scores.
func frontierFigure(dir string, points []eval.FrontierPoint) error {
	if !slices.ContainsFunc(points, func(p eval.FrontierPoint) bool {
		return !math.IsNaN(p.Acquisition) && !math.IsNaN(p.Retention)
	}) {
		return nil
	}
	p, err := plot.Frontier("Acquisition-retention frontier over the learning-rate grid (validation items)", points)
	if err != nil {
		return err
	}
	return plot.Save(p, filepath.Join(dir, "figure6_frontier.png"), 16*36, 11*36)
}

// checkOut makes sure the output directory can be written before any training: it creates it and
// writes and removes a probe file.
func checkOut(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("-out %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return fmt.Errorf("-out %s is not writable: %w", dir, err)
	}
	_, werr := f.WriteString("probe")
	cerr := f.Close()
	if err := cmp.Or(werr, cerr, os.Remove(f.Name())); err != nil {
		return fmt.Errorf("-out %s is not writable: %w", dir, err)
	}
	return nil
}
