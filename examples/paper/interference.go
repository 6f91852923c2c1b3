package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"time"

	gplot "gonum.org/v1/plot"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/eval"
	"github.com/accrete/accrete/eval/plot"
	"github.com/accrete/accrete/internal/atomicfile"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/merge"
)

// The interference study (issue 19): do the interference diagnostics of two tasks' adapters, measured
// before they are merged (merge.Interference), predict what merging the two costs those tasks? For
// every seed and every pair of tasks, the pair's one-round adapters (the ones the merge rows merge)
// are compared, merged as a pair by each of the study's merges, and scored on both tasks; the
// correlations over the pairs, with intervals and permutation p-values, go into the report.

// signDensity is the density at which sign conflicts are counted: the study's TIES trim (PEFT's 0.2).
const signDensity = 0.2

// permutationDraws is how many random relabellings a permutation p-value draws when there are too
// many to enumerate (exactLimit).
const permutationDraws = 9999

// mergeSpec is a merge the pairs are merged with: its label in the study and its configuration.
type mergeSpec struct {
	label string
	cfg   merge.Config
}

// taskOutcome is what a model scores on one task: its headline score (held-out phrasings, as the
// accuracy matrix) and the mean negative log-likelihood of the reference answers on the same
// phrasings, in nats per answer token.
type taskOutcome struct{ score, nll float64 }

// measureFunc merges adapters into the base model by cfg and measures the tasks numbered tasks.
type measureFunc func(ctx context.Context, adapters []*lora.Adapter, cfg merge.Config, tasks []int) ([]taskOutcome, error)

// interference measures and outcomes, by their keys in report.json.
var (
	interferenceMeasures = []string{"cosine", "overlap", "sign_conflict"}
	interferenceOutcomes = []string{"score_loss", "nll_increase"}
	measureLabels        = map[string]string{
		"cosine":        "ΔW cosine",
		"overlap":       "A-subspace overlap",
		"sign_conflict": "sign conflicts",
		"score_loss":    "score loss",
		"nll_increase":  "answer NLL increase (nats/token)",
	}
)

// pairPoint is one pair of tasks of one seed, merged by one method: the adapters' interference before
// the merge (each averaged over the modules) and what the merge cost the two tasks.
type pairPoint struct {
	Merge string    `json:"merge"`
	Seed  uint64    `json:"seed"`
	Tasks [2]string `json:"tasks"`
	// I and J number the tasks within the seed (I < J).
	I int `json:"i"`
	J int `json:"j"`
	// Cosine is the cosine of the two ΔW, Overlap the mean cos² of the principal angles between the
	// adapters' A row spaces, SignConflict the fraction of entries kept by both after TIES's trim at
	// signDensity whose signs differ.
	Cosine       jnum `json:"cosine"`
	Overlap      jnum `json:"overlap"`
	SignConflict jnum `json:"sign_conflict"`
	// Own are the two tasks' headline scores with their own adapter alone, Merged with the pair merged;
	// OwnNLL and MergedNLL the answers' nats per token.
	Own       [2]jnum `json:"own_score"`
	Merged    [2]jnum `json:"merged_score"`
	OwnNLL    [2]jnum `json:"own_nll"`
	MergedNLL [2]jnum `json:"merged_nll"`
	// ScoreLoss is the mean over the two tasks of own − merged score (positive: the merge lost
	// knowledge); NLLIncrease the mean of merged − own nats per token (positive: the answers got less
	// likely).
	ScoreLoss   jnum `json:"score_loss"`
	NLLIncrease jnum `json:"nll_increase"`
}

func (p pairPoint) value(key string) float64 {
	switch key {
	case "cosine":
		return float64(p.Cosine)
	case "overlap":
		return float64(p.Overlap)
	case "sign_conflict":
		return float64(p.SignConflict)
	case "score_loss":
		return float64(p.ScoreLoss)
	case "nll_increase":
		return float64(p.NLLIncrease)
	}
	panic("paper: no pair value " + key)
}

// corrStat is a correlation coefficient with its 95% interval, its permutation p-value and that
// p-value Holm-adjusted over every test of its kind in the study.
type corrStat struct {
	R    jnum `json:"r"`
	Lo   jnum `json:"lo"`
	Hi   jnum `json:"hi"`
	P    jnum `json:"p"`
	Holm jnum `json:"p_holm"`
}

// correlation is how one interference measure goes with one outcome over the pairs one merge made.
type correlation struct {
	Merge    string   `json:"merge"`
	Measure  string   `json:"measure"`
	Outcome  string   `json:"outcome"`
	N        int      `json:"n"`
	Pearson  corrStat `json:"pearson"`
	Spearman corrStat `json:"spearman"`
	// Permutations is how many relabellings the p-values are over; Exact says they are all of them.
	Permutations int  `json:"permutations"`
	Exact        bool `json:"exact"`
}

// interferenceReport is the study's section of report.json.
type interferenceReport struct {
	// Tasks are the tasks whose pairs were merged, per seed; Seeds the seeds.
	Tasks       []string      `json:"tasks"`
	Seeds       []uint64      `json:"seeds"`
	SignDensity float64       `json:"sign_density"`
	Modules     int           `json:"modules"`
	How         string        `json:"how"`
	Correlation []correlation `json:"correlations"`
	Pairs       []pairPoint   `json:"pairs"`
	Seconds     float64       `json:"seconds"`
}

// measurePairs compares every pair of adapters (one per task, trained from the base) with
// merge.Interference, merges each pair by each of merges, and measures both tasks of the pair with
// measure, beside each task with its own adapter alone (a single adapter at weight 1 reproduces
// itself under Linear, so that is the adapter's own model). It returns one point per merge and pair,
// and the number of modules the interference is averaged over.
func measurePairs(ctx context.Context, seed uint64, names []string, adapters []*lora.Adapter, merges []mergeSpec,
	measure measureFunc) ([]pairPoint, int, error) {
	mods, err := merge.Interference(adapters, signDensity)
	if err != nil {
		return nil, 0, err
	}
	own := make([]taskOutcome, len(adapters))
	for i, a := range adapters {
		out, err := measure(ctx, []*lora.Adapter{a}, merge.Config{Method: merge.Linear}, []int{i})
		if err != nil {
			return nil, 0, fmt.Errorf("%s alone: %w", names[i], err)
		}
		own[i] = out[0]
	}
	type pairMeans struct{ cosine, overlap, signs float64 }
	means := map[[2]int]pairMeans{}
	for _, mi := range mods {
		for _, p := range mi.Pairs {
			m := means[[2]int{p.I, p.J}]
			n := float64(len(mods))
			m.cosine += p.Cosine / n
			m.overlap += p.Overlap() / n
			m.signs += p.SignConflict / n
			means[[2]int{p.I, p.J}] = m
		}
	}
	var points []pairPoint
	for _, ms := range merges {
		for i := range adapters {
			for j := i + 1; j < len(adapters); j++ {
				out, err := measure(ctx, []*lora.Adapter{adapters[i], adapters[j]}, ms.cfg, []int{i, j})
				if err != nil {
					return nil, 0, fmt.Errorf("%s of %s and %s: %w", ms.label, names[i], names[j], err)
				}
				m := means[[2]int{i, j}]
				p := pairPoint{Merge: ms.label, Seed: seed, Tasks: [2]string{names[i], names[j]}, I: i, J: j,
					Cosine: jnum(m.cosine), Overlap: jnum(m.overlap), SignConflict: jnum(m.signs)}
				for k, t := range []int{i, j} {
					p.Own[k], p.Merged[k] = jnum(own[t].score), jnum(out[k].score)
					p.OwnNLL[k], p.MergedNLL[k] = jnum(own[t].nll), jnum(out[k].nll)
				}
				p.ScoreLoss = jnum((own[i].score - out[0].score + own[j].score - out[1].score) / 2)
				p.NLLIncrease = jnum((out[0].nll - own[i].nll + out[1].nll - own[j].nll) / 2)
				points = append(points, p)
			}
		}
	}
	return points, len(mods), nil
}

// correlate returns, for each merge (in the order of points) and each interference measure and
// outcome, the correlation over the merge's pairs: Pearson's r and Spearman's ρ with their Fisher-z
// intervals and permutation p-values (tasks relabelled within each seed), then the p-values
// Holm-adjusted over all the returned tests of each kind. rng draws the relabellings when there are
// too many to enumerate.
func correlate(points []pairPoint, rng *rand.Rand) []correlation {
	var order []string
	byMerge := map[string][]pairPoint{}
	for _, p := range points {
		if _, ok := byMerge[p.Merge]; !ok {
			order = append(order, p.Merge)
		}
		byMerge[p.Merge] = append(byMerge[p.Merge], p)
	}
	var out []correlation
	for _, m := range order {
		ps := byMerge[m]
		strata := map[uint64]int{}
		var sample pairSample
		for _, p := range ps {
			if _, ok := strata[p.Seed]; !ok {
				strata[p.Seed] = len(strata)
			}
			sample.s = append(sample.s, strata[p.Seed])
			sample.a, sample.b = append(sample.a, p.I), append(sample.b, p.J)
		}
		for _, meas := range interferenceMeasures {
			for _, outc := range interferenceOutcomes {
				s := sample
				s.x, s.y = make([]float64, len(ps)), make([]float64, len(ps))
				for k, p := range ps {
					s.x[k], s.y[k] = p.value(meas), p.value(outc)
				}
				xs, ys := s.finite(s.y)
				c := correlation{Merge: m, Measure: meas, Outcome: outc, N: len(xs)}
				r, rho := pearson(xs, ys), spearman(xs, ys)
				lo, hi := fisherInterval(r, len(xs), 1)
				c.Pearson = corrStat{R: jnum(r), Lo: jnum(lo), Hi: jnum(hi)}
				lo, hi = fisherInterval(rho, len(xs), math.Sqrt(1.06))
				c.Spearman = corrStat{R: jnum(rho), Lo: jnum(lo), Hi: jnum(hi)}
				pp, _, _ := permutationTest(s, pearson, permutationDraws, rng)
				sp, n, exact := permutationTest(s, spearman, permutationDraws, rng)
				c.Pearson.P, c.Spearman.P, c.Permutations, c.Exact = jnum(pp), jnum(sp), n, exact
				out = append(out, c)
			}
		}
	}
	pp, sp := make([]float64, len(out)), make([]float64, len(out))
	for k, c := range out {
		pp[k], sp[k] = float64(c.Pearson.P), float64(c.Spearman.P)
	}
	ph, sh := holm(pp), holm(sp)
	for k := range out {
		out[k].Pearson.Holm, out[k].Spearman.Holm = jnum(ph[k]), jnum(sh[k])
	}
	return out
}

// taskAdapters returns each task's one-round adapter, trained from the base exactly as a merge
// strategy with lc and tc (nil: the learner's) trains it in the round of the task's index, so that a
// learner sharing the study's AdapterCache gets the merge rows' adapters back without training.
func taskAdapters(ctx context.Context, l *accrete.Learner, tasks []accrete.Task, lc *lora.Config, tc *lora.TrainConfig) ([]*lora.Adapter, error) {
	out := make([]*lora.Adapter, len(tasks))
	for i, t := range tasks {
		l.ResetToBase()
		c, tr := l.RoundConfig(lc, tc, i)
		a, _, err := l.TrainAdapter(ctx, accrete.AdapterName(accrete.Round{Index: i, Task: t}), l.Encode(t.Train), &c, &tr)
		if err != nil {
			return nil, fmt.Errorf("adapter of %s: %w", t.Name, err)
		}
		out[i] = a
	}
	return out, nil
}

// modelMeasure measures tasks on l's model: the base with the adapters folded in by merge.Merge, each
// task's headline score (eval.Score with l's template) and answer NLL (answerNLL).
func modelMeasure(l *accrete.Learner, tasks []accrete.Task) measureFunc {
	return func(ctx context.Context, adapters []*lora.Adapter, cfg merge.Config, which []int) ([]taskOutcome, error) {
		l.ResetToBase()
		if err := merge.Merge(adapters, cfg, merge.FoldInto(l.Model.Weights)); err != nil {
			l.ResetToBase()
			return nil, err
		}
		l.Model.UpdateWeights()
		m := l.EvalModel()
		out := make([]taskOutcome, len(which))
		for k, i := range which {
			s, err := eval.Score(ctx, m, tasks[i], eval.Options{Template: l.Template})
			if err != nil {
				return nil, err
			}
			nll, err := answerNLL(ctx, m, tasks[i], l.Template)
			if err != nil {
				return nil, err
			}
			out[k] = taskOutcome{s.Headline(), nll}
		}
		return out, nil
	}
}

// answerNLL is the negative log-likelihood of t's reference answers given their held-out phrasings
// (an item without any: its trained prompt), in nats per answer token over all of them: a continuous
// measure of the knowledge the headline score counts in whole answers. The answer is scored as
// tmpl.Continuation, without its stop text (for a multiple-choice item: the right choice).
func answerNLL(ctx context.Context, m eval.Model, t accrete.Task, tmpl eval.Template) (float64, error) {
	var pairs [][2]string
	for _, e := range t.Test {
		held := append(slices.Clone(e.Paraphrases), e.Novel...)
		if len(held) == 0 {
			held = []string{e.Prompt}
		}
		for _, q := range held {
			pairs = append(pairs, [2]string{tmpl.Format(q), tmpl.Continuation(e.Answer)})
		}
	}
	var sum float64
	var tokens int
	for start := 0; start < len(pairs); start += 16 {
		ll, n, err := m.LogLikelihood(ctx, pairs[start:min(start+16, len(pairs))])
		if err != nil {
			return math.NaN(), fmt.Errorf("answer likelihood of %s: %w", t.Name, err)
		}
		for k := range ll {
			sum -= ll[k]
			tokens += n[k]
		}
	}
	if tokens == 0 {
		return math.NaN(), nil
	}
	return sum / float64(tokens), nil
}

// interferenceMerges returns the merges the study's pairs are merged with: the merge methods of the
// run, or, when the run has none, every merge method of the study.
func interferenceMerges(o options) []mergeSpec {
	var names []string
	for _, m := range o.methods {
		if strings.HasPrefix(m, "merge-") {
			names = append(names, m)
		}
	}
	if len(names) == 0 {
		for _, m := range methods {
			if strings.HasPrefix(m.name, "merge-") {
				names = append(names, m.name)
			}
		}
	}
	var out []mergeSpec
	for _, n := range names {
		spec, _ := methodByName(n)
		s, ok := spec.build(o).(accrete.Configurable)
		if !ok {
			continue
		}
		if cfg, ok := s.Settings().(merge.Config); ok {
			out = append(out, mergeSpec{spec.label, cfg})
		}
	}
	return out
}

// interferenceTasks is how many tasks (the first ones) the interference study pairs: -interference
// when given, else the merge methods' rounds when the run has a merge method (whose adapters it
// reuses), else none.
func interferenceTasks(o options, tasks int) int {
	switch {
	case o.interference == 0:
		return 0
	case o.interference > 0:
		return min(o.interference, tasks)
	}
	for _, m := range o.methods {
		if strings.HasPrefix(m, "merge-") {
			return rounds(tasks, o.rounds)
		}
	}
	return 0
}

// describeInterference is the report's header note on the interference study: what it pairs and
// whether the default run includes it.
func describeInterference(o options, tasks []accrete.Task, n int) string {
	how := "part of every run with a merge method; -interference 0 turns it off"
	if o.interference > 0 {
		how = fmt.Sprintf("-interference %d", o.interference)
	}
	pairs := n * (n - 1) / 2
	return fmt.Sprintf("Interference study (%s): every pair of the first %d tasks (%s), %d pairs per seed, %d in all, "+
		"merged by each merge method; see \"Interference and merge loss\" at the end and figure7_interference.png.",
		how, n, taskNames(tasks[:n]), pairs, pairs*o.seeds)
}

// interferenceStudy runs the study over the seeds' samples of tasks: for each seed a learner from
// newLearner gets the tasks' adapters (from the study's cache where the merge rows trained them),
// then measurePairs and correlate.
func interferenceStudy(ctx context.Context, o options, newLearner func(options, io.Writer) (*accrete.Learner, error),
	samples [][]accrete.Task, n int, stdout io.Writer) (*interferenceReport, error) {
	began := time.Now()
	merges := interferenceMerges(o)
	if len(merges) == 0 {
		return nil, fmt.Errorf("interference: no merge method")
	}
	ir := &interferenceReport{Tasks: strings.Split(taskNames(samples[0][:n]), ", "), SignDensity: signDensity}
	// The seeds are independent: -parallel measures them at once, and their points join in seed order.
	perSeed := make([][]pairPoint, len(samples))
	modules := make([]int, len(samples))
	label := func(k int) string { return fmt.Sprintf("[interference s%d] ", o.seed+uint64(k)) }
	err := runJobs(ctx, o.parallel, len(samples), stdout, label, func(ctx context.Context, k int, out io.Writer) error {
		so := o
		so.seed = o.seed + uint64(k)
		l, err := newLearner(so, out)
		if err != nil {
			return err
		}
		ts := samples[k][:n]
		fmt.Fprintf(out, "\n== interference: %d pairs of %s, merged by %d methods (seed %d) ==\n", n*(n-1)/2,
			taskNames(ts), len(merges), so.seed)
		ms := interferenceMerges(so) // the seed's own DARE draws, as in its merge rows
		ads, err := taskAdapters(ctx, l, ts, ms[0].cfg.LoRA, ms[0].cfg.Train)
		if err != nil {
			return fmt.Errorf("interference (seed %d): %w", so.seed, err)
		}
		points, mods, err := measurePairs(ctx, so.seed, strings.Split(taskNames(ts), ", "), ads, ms, modelMeasure(l, ts))
		l.ResetToBase()
		if err != nil {
			return fmt.Errorf("interference (seed %d): %w", so.seed, err)
		}
		perSeed[k], modules[k] = points, mods
		return nil
	})
	if err != nil {
		return nil, err
	}
	for k := range samples {
		ir.Seeds = append(ir.Seeds, o.seed+uint64(k))
		ir.Modules = modules[k]
		ir.Pairs = append(ir.Pairs, perSeed[k]...)
	}
	ir.Correlation = correlate(ir.Pairs, rand.New(rand.NewPCG(o.seed, 0x19)))
	ir.Seconds = time.Since(began).Seconds()
	ir.How = interferenceHow(ir)
	fmt.Fprintf(stdout, "interference study: %d points in %s\n", len(ir.Pairs), time.Since(began).Round(time.Second))
	return ir, nil
}

// interferenceHow says, for the report, how the study measured and tested.
func interferenceHow(ir *interferenceReport) string {
	return fmt.Sprintf("For each seed, each task's one-round adapter (trained from the base as the merge rows train it; "+
		"the same adapters) is compared with every other before merging, by merge.Interference averaged over the %d "+
		"adapted modules: the cosine of the two ΔW; the A-subspace overlap, the mean cos² of the principal angles "+
		"between the adapters' A row spaces (1: one contains the other, 0: orthogonal); and the fraction of the "+
		"entries both keep after TIES's trim at density %g whose signs differ. Each pair is then merged alone by each "+
		"merge method (its study configuration) and both tasks are scored. Score loss: each task's headline score "+
		"(held-out phrasings) with its own adapter alone minus with the pair merged, averaged over the pair's two "+
		"tasks (positive: the merge lost knowledge). Answer NLL increase: the same for the reference answers' "+
		"negative log-likelihood on those phrasings, merged minus own, in nats per answer token (positive: the "+
		"answers got less likely). Intervals: 95%%, Fisher's z (Spearman's with the √1.06 factor of Fieller et al. "+
		"1957); they treat the pairs as independent, which pairs sharing a task are not, so they are optimistic. "+
		"p: two-sided permutation p-value relabelling the tasks within each seed (a Mantel test, which respects the "+
		"shared tasks), exact over every relabelling when there are at most %d, else %d random ones; "+
		"Holm: adjusted over the table's %d tests of each coefficient.", ir.Modules, ir.SignDensity, exactLimit,
		permutationDraws, len(ir.Correlation))
}

// writeInterference writes the study's Markdown section: how it was measured, the interference
// measures' range, and the correlation table.
func writeInterference(w io.Writer, ir *interferenceReport) error {
	ew := &errWriter{w: w}
	ew.printf("\n## Interference and merge loss\n\n%s\n\n", ir.How)
	ew.printf("Tasks paired: %s; seeds %v; %d points (merge × seed × pair); %.0f s on this machine (the adapters "+
		"the merge rows had trained were reused).\n\n", strings.Join(ir.Tasks, ", "), ir.Seeds, len(ir.Pairs), ir.Seconds)
	ew.printf("| quantity | mean | min | max |\n| --- | ---: | ---: | ---: |\n")
	first := ir.Pairs
	if len(first) > 0 { // the interference measures are the same for every merge: one merge's pairs
		m := first[0].Merge
		first = slices.DeleteFunc(slices.Clone(first), func(p pairPoint) bool { return p.Merge != m })
	}
	for _, key := range interferenceMeasures {
		ew.printf("| %s | %s |\n", measureLabels[key], rangeCells(first, key))
	}
	for _, m := range mergeOrder(ir.Pairs) {
		sel := slices.DeleteFunc(slices.Clone(ir.Pairs), func(p pairPoint) bool { return p.Merge != m })
		for _, key := range interferenceOutcomes {
			ew.printf("| %s: %s | %s |\n", m, measureLabels[key], rangeCells(sel, key))
		}
	}
	ew.printf("\n| merge | interference | outcome | n | Pearson r [95%% CI] | p | Spearman ρ [95%% CI] | p | p Holm (ρ) |\n")
	ew.printf("| --- | --- | --- | ---: | --- | ---: | --- | ---: | ---: |\n")
	for _, c := range ir.Correlation {
		ew.printf("| %s | %s | %s | %d | %s | %s | %s | %s | %s |\n", c.Merge, measureLabels[c.Measure],
			measureLabels[c.Outcome], c.N, fmtCorr(c.Pearson), fmtP(c.Pearson.P), fmtCorr(c.Spearman),
			fmtP(c.Spearman.P), fmtP(c.Spearman.Holm))
	}
	if len(ir.Correlation) > 0 {
		kind := "exact, over all"
		if !ir.Correlation[0].Exact {
			kind = "random"
		}
		ew.printf("\nPermutations per p-value: %d (%s relabellings). Every pair's measures and scores are in report.json "+
			"(\"interference\").\n", ir.Correlation[0].Permutations, kind)
	}
	return ew.err
}

func rangeCells(ps []pairPoint, key string) string {
	var xs []float64
	for _, p := range ps {
		if v := p.value(key); isFinite(v) {
			xs = append(xs, v)
		}
	}
	if len(xs) == 0 {
		return "– | – | –"
	}
	var s float64
	for _, x := range xs {
		s += x
	}
	return fmt.Sprintf("%+.4f | %+.4f | %+.4f", s/float64(len(xs)), slices.Min(xs), slices.Max(xs))
}

func mergeOrder(ps []pairPoint) []string {
	var out []string
	for _, p := range ps {
		if !slices.Contains(out, p.Merge) {
			out = append(out, p.Merge)
		}
	}
	return out
}

func fmtCorr(c corrStat) string {
	if !isFinite(float64(c.R)) {
		return "–"
	}
	if !isFinite(float64(c.Lo)) {
		return fmt.Sprintf("%+.3f", float64(c.R))
	}
	return fmt.Sprintf("%+.3f [%+.3f, %+.3f]", float64(c.R), float64(c.Lo), float64(c.Hi))
}

func fmtP(p jnum) string {
	if !isFinite(float64(p)) {
		return "–"
	}
	return fmt.Sprintf("%.3g", float64(p))
}

// interferenceFigure draws figure7_interference.png: one panel per interference measure (columns) and
// outcome (rows), each merge's pairs in its own colour with its least-squares line, its Spearman ρ in
// the legend.
func interferenceFigure(dir string, ir *interferenceReport) error {
	rho := map[[3]string]float64{}
	for _, c := range ir.Correlation {
		rho[[3]string{c.Merge, c.Measure, c.Outcome}] = float64(c.Spearman.R)
	}
	merges := mergeOrder(ir.Pairs)
	var grid [][]*gplot.Plot
	for _, outc := range interferenceOutcomes {
		var row []*gplot.Plot
		for _, meas := range interferenceMeasures {
			var series []plot.ScatterSeries
			for _, m := range merges {
				s := plot.ScatterSeries{Name: fmt.Sprintf("%s (ρ = %+.2f)", m, rho[[3]string{m, meas, outc}]), Fit: true}
				for _, p := range ir.Pairs {
					if p.Merge == m {
						s.X, s.Y = append(s.X, p.value(meas)), append(s.Y, p.value(outc))
					}
				}
				series = append(series, s)
			}
			p, err := plot.Scatter(measureLabels[meas]+" vs "+measureLabels[outc], measureLabels[meas]+" (mean over modules)",
				measureLabels[outc], series)
			if err != nil {
				row = append(row, nil) // no finite point (e.g. an outcome not measured): a blank panel
				continue
			}
			row = append(row, p)
		}
		grid = append(grid, row)
	}
	return plot.SaveGrid(grid, filepath.Join(dir, "figure7_interference.png"), 0, 0)
}

// saveInterference rewrites report.md and report.json in dir (each atomically) as r writes them, with
// the interference study added: its Markdown section after everything else, and its data under
// "interference" in the JSON.
func saveInterference(dir string, r *eval.Report, ir *interferenceReport) error {
	if err := atomicfile.Write(filepath.Join(dir, "report.md"), func(w io.Writer) error {
		if err := r.WriteMarkdown(w); err != nil {
			return err
		}
		return writeInterference(w, ir)
	}); err != nil {
		return fmt.Errorf("writing report.md: %w", err)
	}
	full := struct {
		*eval.Report
		Interference *interferenceReport `json:"interference"`
	}{r, ir}
	if err := atomicfile.Write(filepath.Join(dir, "report.json"), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(full)
	}); err != nil {
		return fmt.Errorf("writing report.json: %w", err)
	}
	return nil
}

// errWriter keeps the first error of a series of writes.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}
