package eval

import "strings"

// The two prompts of Stanford Alpaca, as the paper's released code writes them (PROMPT_DICT in
// github.com/RhuiDih/cl, do_finetuning.py): with an input block and without one.
const (
	alpacaHead = "Below is an instruction that describes a task"
	alpacaTail = "Write a response that appropriately completes the request.\n\n### Instruction:\n"
)

// AlpacaPrompt is Alpaca's prompt for an instruction and its input; an empty input gives the
// prompt without the input block:
//
//	Below is an instruction that describes a task. Write a response that appropriately completes the request.
//
//	### Instruction:
//	{instruction}
//
//	### Response:
//
// The response follows "### Response:" directly; AlpacaTemplate's answer adds no space.
func AlpacaPrompt(instruction, input string) string {
	if input == "" {
		return alpacaHead + ". " + alpacaTail + instruction + "\n\n### Response:"
	}
	return alpacaHead + ", paired with an input that provides further context. " + alpacaTail +
		instruction + "\n\n### Input:\n" + input + "\n\n### Response:"
}

// AlpacaQuery is AlpacaPrompt for a MetaMathQA query, whose first line is the instruction and the
// rest (after that line's newline) the input, as the paper's code splits it.
func AlpacaQuery(query string) string {
	instruction, input, _ := strings.Cut(query, "\n")
	return AlpacaPrompt(instruction, input)
}

// PaperTemplate is the paper's template for items whose prompt is already the model's text (a TRACE
// prompt, or a MetaMathQA query put in AlpacaQuery's prompt by ReadTaskDir): the prompt as is, the
// answer right after it, then the end-of-sequence token. Multiple-choice continuations get
// lm-eval-harness's " " delimiter.
var PaperTemplate = Template{Prompt: "{prompt}", Answer: "{answer}", EOS: true, ChoiceDelimiter: " "}

// AlpacaTemplate puts each prompt in Alpaca's prompt without an input block (AlpacaPrompt(prompt, "")),
// the answer right after "### Response:", then the end-of-sequence token. For prompts that carry an
// input block, build them with AlpacaPrompt or AlpacaQuery and use PaperTemplate.
var AlpacaTemplate = Template{Prompt: AlpacaPrompt("{prompt}", ""), Answer: "{answer}", EOS: true, ChoiceDelimiter: " "}

// Truncate fits one training sequence, prompt tokens then answer tokens, into maxLen tokens as the
// paper's released code does (DataCollatorFlat2 in github.com/RhuiDih/cl, do_finetuning.py). A
// sequence that fits is returned as is. Otherwise the prompt keeps its head and its tail (half of its
// budget each, the tail getting the odd token) and the answer keeps its head:
//   - an answer longer than maxLen/2 tokens: the prompt gets ⌊len(prompt)/(len(prompt)+len(answer))·maxLen⌋
//     tokens and the answer the rest;
//   - a shorter answer is kept whole and the prompt gets what is left.
//
// The head of the prompt keeps its beginning-of-sequence token. Where that code, given a prompt budget of
// zero, would keep the whole prompt (Python's x[-0:]), Truncate keeps none of it, so the result always
// fits. The slices returned share memory with those given. It returns nil, nil for maxLen ≤ 0.
func Truncate[T any](prompt, answer []T, maxLen int) (p, a []T) {
	if maxLen <= 0 {
		return nil, nil
	}
	lp, la := len(prompt), len(answer)
	if lp+la <= maxLen {
		return prompt, answer
	}
	var n1 int
	if la > maxLen/2 {
		n1 = int(float64(lp) / float64(lp+la) * float64(maxLen))
		answer = answer[:min(la, maxLen-n1)]
	} else {
		n1 = maxLen - la
	}
	head := n1 / 2
	tail := n1 - head
	out := make([]T, 0, n1)
	out = append(out, prompt[:head]...)
	out = append(out, prompt[lp-tail:]...)
	return out, answer
}
