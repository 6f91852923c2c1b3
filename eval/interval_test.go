package eval

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTQuantileKnownValues(t *testing.T) {
	for _, tc := range []struct {
		p    float64
		df   int
		want float64
	}{
		{0.975, 1, 12.706}, {0.975, 2, 4.303}, {0.975, 3, 3.182}, {0.975, 4, 2.776}, {0.975, 9, 2.262},
		{0.975, 30, 2.042}, {0.975, 1000, 1.962}, {0.95, 5, 2.015}, {0.025, 4, -2.776}, {0.5, 3, 0},
	} {
		assert.InDelta(t, tc.want, TQuantile(tc.p, tc.df), 5e-4, "t_{%g,%d}", tc.p, tc.df)
	}
	assert.Panics(t, func() { TQuantile(0.975, 0) })
	assert.Panics(t, func() { TQuantile(1, 3) })
}

func TestMeanInterval(t *testing.T) {
	// 1, 2, 3: mean 2, s = 1, half-width t_{0.975,2}·1/√3 = 4.3027/1.7321 = 2.4841.
	iv := MeanInterval([]float64{1, 2, 3})
	assert.Equal(t, 3, iv.N)
	assert.InDelta(t, 2, iv.Mean, 1e-12)
	assert.InDelta(t, 2-2.4841, iv.Lo, 1e-4)
	assert.InDelta(t, 2+2.4841, iv.Hi, 1e-4)
	assert.InDelta(t, 2.4841, iv.HalfWidth(), 1e-4)
	// NaN values are not counted; one value has no interval; none has no mean.
	iv = MeanInterval([]float64{0.5, math.NaN()})
	assert.Equal(t, 1, iv.N)
	assert.Equal(t, 0.5, iv.Mean)
	assert.True(t, math.IsNaN(iv.Lo) && math.IsNaN(iv.Hi))
	assert.Equal(t, "0.5000", iv.String())
	iv = MeanInterval(nil)
	assert.True(t, math.IsNaN(iv.Mean))
	assert.Equal(t, "–", iv.String())
	// Equal values: a zero-width interval.
	iv = MeanInterval([]float64{0.25, 0.25, 0.25, 0.25, 0.25})
	assert.Equal(t, "0.2500 [0.2500, 0.2500]", iv.String())

	b, err := json.Marshal(Interval{Mean: 1, Lo: math.NaN(), Hi: math.NaN(), N: 1})
	require.NoError(t, err)
	assert.JSONEq(t, `{"mean":1,"lo":null,"hi":null,"n":1}`, string(b))
	var back Interval
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, 1.0, back.Mean)
	assert.True(t, math.IsNaN(back.Lo))
}
