package eval_test

import (
	"context"
	"fmt"
	"math"

	"github.com/accrete/accrete/eval"
)

// The continual-learning metrics of a three-round run.
func ExampleMatrix_continualMetrics() {
	m := eval.NewMatrix([]string{"stance", "fomc", "py150"}, []float64{0.10, 0.20, 0.10}, 0.62)
	m.AddRound([]float64{0.80, 0.10, 0.20}, 0.60) // after training on stance
	m.AddRound([]float64{0.85, 0.90, 0.30}, 0.55) // after fomc
	m.AddRound([]float64{0.50, 0.70, 0.95}, 0.50) // after py150

	fmt.Printf("ACC %.4g\n", m.ACC())
	fmt.Printf("BWT %.4g (GEM, ÷ T−1)\n", m.BWT())
	fmt.Printf("BWT %.4g (TRACE, ÷ T)\n", m.TraceBWT(m.Rounds()))
	fmt.Printf("FWT %.4g\n", m.FWT())
	fmt.Printf("forgetting %.4g\n", m.Forgetting())
	fmt.Printf("avg. incremental accuracy %.4g\n", m.AvgIncrementalAccuracy())
	fmt.Printf("retention %.4g (base %.4g)\n", m.FinalKnowledge(), m.BaseKnowledge)
	// Output:
	// ACC 0.7167
	// BWT -0.25 (GEM, ÷ T−1)
	// BWT -0.1667 (TRACE, ÷ T)
	// FWT 0.05
	// forgetting 0.275
	// avg. incremental accuracy 0.7972
	// retention 0.5 (base 0.62)
}

// BWT is undefined after a single round.
func ExampleMatrix_oneRound() {
	m := eval.NewMatrix([]string{"capitals"}, nil, math.NaN())
	m.AddRound([]float64{0.9}, math.NaN())
	fmt.Printf("ACC %.4g, BWT %.4g\n", m.ACC(), m.BWT())
	// Output:
	// ACC 0.9, BWT NaN
}

// Scoring generations with the task metrics.
func ExampleRougeLF1() {
	fmt.Printf("%.4g\n", eval.RougeLF1("the committee approved the budget", "committee approved budget on monday"))
	fmt.Printf("%.4g\n", eval.EditSimilarity("for i in range(n):", "for j in range(n):"))
	fmt.Printf("%.4g\n", eval.ExactMatchScore("The Eiffel Tower.", "eiffel tower"))
	fmt.Printf("%.4g\n", eval.FirstCharScore(" b) hawkish", "B"))
	// Output:
	// 0.75
	// 0.9444
	// 1
	// 1
}

// acc picks the largest summed log-likelihood; acc_norm divides by the choice's length first.
func ExampleChoiceAccuracy() {
	lls := []float64{-4, -6} // log P(" no"), log P(" absolutely")
	acc, accNorm := eval.ChoiceAccuracy(lls, []string{"no", "absolutely"}, 1)
	fmt.Printf("acc %.4g, acc_norm %.4g\n", acc, accNorm)
	// Output:
	// acc 0, acc_norm 1
}

// parrot knows the answers to the trained phrasings only.
type parrot map[string]string

func (p parrot) Generate(_ context.Context, prompts []string, _ int) ([]string, error) {
	out := make([]string, len(prompts))
	for i, q := range prompts {
		out[i] = p[q]
	}
	return out, nil
}

func (p parrot) LogLikelihood(_ context.Context, pairs [][2]string) ([]float64, []int, error) {
	return make([]float64, len(pairs)), make([]int, len(pairs)), nil
}

// A model that memorised the trained strings scores 1 on them and 0 on the held-out phrasings, its
// headline score.
func ExampleScore_memorisation() {
	task := eval.Task{Name: "capitals", Metric: eval.ExactMatch, Test: []eval.Example{
		{ID: "fr", Prompt: "Capital of France?", Answer: "Paris", Paraphrases: []string{"France's capital is?"},
			Novel: []string{"Landing in France's capital, you are in?"}},
		{ID: "it", Prompt: "Capital of Italy?", Answer: "Rome", Paraphrases: []string{"Italy's capital is?"}},
	}}
	m := parrot{
		eval.Format("Capital of France?"): " Paris",
		eval.Format("Capital of Italy?"):  " Rome",
	}
	s, err := eval.Score(context.Background(), m, task, eval.Options{})
	if err != nil {
		panic(err)
	}
	fmt.Printf("trained %.4g, paraphrase %.4g, novel %.4g over %d items\n", s.Trained, s.Paraphrase, s.Novel, s.N)
	fmt.Printf("held out %.4g over %d phrasings; headline %.4g\n", s.HeldOut, s.NParaphrases+s.NNovel, s.Headline())
	fmt.Printf("%q%q\n", eval.Format("Capital of France?"), eval.FormatAnswer("Paris"))
	// Output:
	// trained 1, paraphrase 0, novel 0 over 2 items
	// held out 0 over 3 phrasings; headline 0
	// "Q: Capital of France?\nA:"" Paris\n"
}

// SARI of a simplification, on the example Hugging Face evaluate documents for its sari metric
// (which reports 100 × this: 26.95).
func ExampleSARIScore() {
	source := "About 95 species are currently accepted."
	refs := []string{"About 95 species are currently known.", "About 95 species are now accepted.", "95 species are now accepted."}
	fmt.Printf("%.4g\n", 100*eval.SARIScore(source, "About 95 you now get in.", refs))
	// Output: 26.95
}

// SARI of a corpus as EASSE pools it, beside Hugging Face evaluate's mean of the sentences' scores.
func ExampleCorpusSARI() {
	sources := []string{"About 95 species are currently accepted.", "The cat sat on the mat because it was tired."}
	preds := []string{"About 95 you now get in.", "The cat sat on the mat."}
	refs := [][]string{{"95 species are now accepted."}, {"The cat was tired."}}
	mean := (eval.SARIScore(sources[0], preds[0], refs[0]) + eval.SARIScore(sources[1], preds[1], refs[1])) / 2
	fmt.Printf("EASSE %.4g, evaluate %.4g\n", 100*eval.CorpusSARI(sources, preds, refs), 100*mean)
	// Output: EASSE 29.38, evaluate 37.47
}

// The final number of a worked solution, as lm-eval-harness's gsm8k task reads it.
func ExampleExtractNumber() {
	fmt.Println(eval.ExtractNumber("Natalia sold 48 + 24 clips.\n#### 72"))
	fmt.Println(eval.ExtractNumber("She pays 3 × $410 = $1,230."))
	fmt.Println(eval.NumericMatchScore("The answer is: 1,230", "#### 1230"))
	// Output:
	// 72
	// 1230
	// 1
}

// Alpaca's prompt for a MetaMathQA query: the first line is the instruction, the rest the input.
func ExampleAlpacaQuery() {
	fmt.Println(eval.AlpacaQuery("Add the numbers.\n4 and 7"))
	// Output:
	// Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.
	//
	// ### Instruction:
	// Add the numbers.
	//
	// ### Input:
	// 4 and 7
	//
	// ### Response:
}

// A training sequence longer than the maximum: the prompt keeps its head and its tail, the answer its head.
func ExampleTruncate() {
	prompt := []string{"<s>", "a", "b", "c", "d", "e", "f", "g"}
	answer := []string{"x", "y"}
	p, a := eval.Truncate(prompt, answer, 6)
	fmt.Println(p, a)
	// Output: [<s> a f g] [x y]
}
