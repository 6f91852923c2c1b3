package accrete

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

type settingsOnly struct{ n int }

func (s settingsOnly) Settings() any { return struct{ N int }{s.n} }

func TestDescribe(t *testing.T) {
	type inner struct {
		F    float64
		Out  *bytes.Buffer
		Hook func()
		M    map[string]int
	}
	type outer struct {
		Name    string
		In      *inner
		Nil     *inner
		S       []uint8
		hidden  int
		Any     any
		Setting settingsOnly
	}
	v := outer{Name: "x", In: &inner{F: 0.5, Out: new(bytes.Buffer), Hook: func() {}, M: map[string]int{"b": 2, "a": 1}},
		S: []uint8{1, 2}, hidden: 3, Any: 7, Setting: settingsOnly{4}}
	require.Equal(t, `{Name:"x" In:{F:0.5 M:map["a":1 "b":2]} Nil:nil S:[1 2] Any:7 Setting:accrete.settingsOnly settings {N:4}}`, describe(v))
	require.Equal(t, describe(v), describe(v), "deterministic")
	require.Equal(t, "accrete.StrategyFunc", describe(StrategyFunc(nil)))
}

func TestMismatchShowsWhereLongValuesDiffer(t *testing.T) {
	a := &runRecord{Settings: strings.Repeat("a", 300) + "X" + strings.Repeat("b", 300)}
	b := &runRecord{Settings: strings.Repeat("a", 300) + "Y" + strings.Repeat("b", 300)}
	msg := a.mismatch(b)
	require.True(t, strings.HasPrefix(msg, "strategy settings differs: checkpoint has \"…aaa"), msg)
	require.Contains(t, msg, "aX")
	require.Contains(t, msg, "aY")
	require.Less(t, len(msg), 300)
	require.Empty(t, a.mismatch(a))
}
