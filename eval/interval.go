package eval

import (
	"encoding/json"
	"fmt"
	"math"
)

// Interval is a mean over seeds with its two-sided 95% confidence interval from Student's t
// distribution: Mean ± t_{0.975, N−1}·s/√N, s being the sample standard deviation of the N values.
// Lo and Hi are NaN when N < 2 (no spread to estimate) and every field is NaN, N 0, when no value was
// measured.
type Interval struct {
	Mean, Lo, Hi float64
	// N is the number of values (seeds) the interval is over; undefined values are not counted.
	N int
}

// HalfWidth is (Hi − Lo)/2, NaN when the interval is undefined.
func (iv Interval) HalfWidth() float64 { return (iv.Hi - iv.Lo) / 2 }

// String formats the interval as "0.5120 [0.4780, 0.5460]", or the mean alone when N < 2, or "–".
func (iv Interval) String() string {
	switch {
	case math.IsNaN(iv.Mean):
		return "–"
	case math.IsNaN(iv.Lo):
		return fmt.Sprintf("%.4f", iv.Mean)
	}
	return fmt.Sprintf("%.4f [%.4f, %.4f]", iv.Mean, iv.Lo, iv.Hi)
}

type intervalJSON struct {
	Mean num `json:"mean"`
	Lo   num `json:"lo"`
	Hi   num `json:"hi"`
	N    int `json:"n"`
}

// MarshalJSON encodes NaN as null.
func (iv Interval) MarshalJSON() ([]byte, error) {
	return json.Marshal(intervalJSON{num(iv.Mean), num(iv.Lo), num(iv.Hi), iv.N})
}

// UnmarshalJSON decodes null as NaN.
func (iv *Interval) UnmarshalJSON(b []byte) error {
	nan := num(math.NaN())
	j := intervalJSON{Mean: nan, Lo: nan, Hi: nan}
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*iv = Interval{float64(j.Mean), float64(j.Lo), float64(j.Hi), j.N}
	return nil
}

// MeanInterval returns the mean of the defined (non-NaN, finite) values of xs and its 95% Student-t
// interval (see Interval).
func MeanInterval(xs []float64) Interval {
	var vs []float64
	for _, x := range xs {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			vs = append(vs, x)
		}
	}
	iv := Interval{Mean: math.NaN(), Lo: math.NaN(), Hi: math.NaN(), N: len(vs)}
	if len(vs) == 0 {
		return iv
	}
	var sum float64
	for _, v := range vs {
		sum += v
	}
	n := float64(len(vs))
	iv.Mean = sum / n
	if len(vs) < 2 {
		return iv
	}
	var ss float64
	for _, v := range vs {
		ss += (v - iv.Mean) * (v - iv.Mean)
	}
	h := TQuantile(0.975, len(vs)-1) * math.Sqrt(ss/(n-1)) / math.Sqrt(n)
	iv.Lo, iv.Hi = iv.Mean-h, iv.Mean+h
	return iv
}

// TQuantile returns the p-quantile of Student's t distribution with df degrees of freedom (df ≥ 1,
// 0 < p < 1): t_{0.975,2} = 4.303, t_{0.975,4} = 2.776. It inverts the distribution function, computed
// from the regularised incomplete beta function, by bisection, to about 1e-10. It panics on df < 1
// or p outside (0, 1).
func TQuantile(p float64, df int) float64 {
	if df < 1 || !(p > 0 && p < 1) {
		panic(fmt.Sprintf("eval: TQuantile(%g, %d): need 0 < p < 1 and df ≥ 1", p, df))
	}
	if p == 0.5 {
		return 0
	}
	if p < 0.5 {
		return -TQuantile(1-p, df)
	}
	lo, hi := 0.0, 1.0
	for tCDF(hi, df) < p {
		lo, hi = hi, 2*hi
	}
	for range 200 {
		mid := (lo + hi) / 2
		if tCDF(mid, df) < p {
			lo = mid
		} else {
			hi = mid
		}
		if hi-lo < 1e-12*hi {
			break
		}
	}
	return (lo + hi) / 2
}

// tCDF is P(T ≤ t) for t ≥ 0 under Student's t with df degrees of freedom.
func tCDF(t float64, df int) float64 {
	v := float64(df)
	return 1 - 0.5*regIncBeta(v/2, 0.5, v/(v+t*t))
}

// regIncBeta is the regularised incomplete beta function I_x(a, b), by its continued fraction
// (Numerical Recipes, betai/betacf).
func regIncBeta(a, b, x float64) float64 {
	if x <= 0 {
		return 0
	}
	if x >= 1 {
		return 1
	}
	la, _ := math.Lgamma(a)
	lb, _ := math.Lgamma(b)
	lab, _ := math.Lgamma(a + b)
	front := math.Exp(lab - la - lb + a*math.Log(x) + b*math.Log(1-x))
	if x < (a+1)/(a+b+2) {
		return front * betaCF(a, b, x) / a
	}
	return 1 - front*betaCF(b, a, 1-x)/b
}

func betaCF(a, b, x float64) float64 {
	const tiny = 1e-300
	qab, qap, qam := a+b, a+1, a-1
	c, d := 1.0, 1-qab*x/qap
	if math.Abs(d) < tiny {
		d = tiny
	}
	d = 1 / d
	h := d
	for m := 1; m <= 300; m++ {
		fm := float64(m)
		m2 := 2 * fm
		aa := fm * (b - fm) * x / ((qam + m2) * (a + m2))
		d = 1 + aa*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + aa/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		h *= d * c
		aa = -(a + fm) * (qab + fm) * x / ((a + m2) * (qap + m2))
		d = 1 + aa*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + aa/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < 1e-15 {
			break
		}
	}
	return h
}
