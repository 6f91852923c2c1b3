package accrete_test

import (
	"context"
	"testing"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/eval"
	"github.com/stretchr/testify/require"
)

func TestEncodeEOSAndMaxLen(t *testing.T) {
	l := tinyLearner(t, 1)
	l.Template = eval.PaperTemplate
	items := []accrete.Example{{Prompt: "what is the colour of ka 1 in the long story?", Answer: "red and blue"}}
	enc := l.Encode(items)
	require.Len(t, enc, 1)
	eos := l.Tokenizer.EOS()
	require.GreaterOrEqual(t, eos, 0)
	toks := enc[0].Tokens
	require.Equal(t, eos, toks[len(toks)-1], "EOS follows the answer")
	require.Greater(t, len(toks), enc[0].PromptLen+1, "the answer and EOS are both trained on")

	l.MaxLen = 8
	cut := l.Encode(items)[0]
	require.LessOrEqual(t, len(cut.Tokens), 8)
	require.Equal(t, l.Tokenizer.BOS(), cut.Tokens[0], "the prompt keeps its head")
	wantP, wantA := eval.Truncate(toks[:enc[0].PromptLen], toks[enc[0].PromptLen:], 8)
	require.Equal(t, append(append([]int{}, wantP...), wantA...), cut.Tokens)
	require.Equal(t, len(wantP), cut.PromptLen)

	_, ok := l.EvalModel().(eval.EOSGenerator)
	require.True(t, ok, "scoring can generate past newlines")
	_, err := l.EvalModel().(eval.EOSGenerator).GenerateUntilEOS(context.Background(), []string{"a"}, 4)
	require.NoError(t, err)
}
