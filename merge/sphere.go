package merge

import "math"

// dot returns Σ a_j b_j in float64.
func dot(a, b []float32) float64 {
	var s float64
	for j, v := range a {
		s += float64(v) * float64(b[j])
	}
	return s
}

// cosine returns the cosine of a and b, 0 when either is zero.
func cosine(a, b []float32) float64 {
	na, nb := math.Sqrt(dot(a, a)), math.Sqrt(dot(b, b))
	if na == 0 || nb == 0 {
		return 0
	}
	return max(-1, min(1, dot(a, b)/(na*nb)))
}

// modelStock writes f·t·sum, t = N·c/(1+(N−1)·c) with c the mean pairwise cosine of the N deltas
// d[i][:n], clamped to [0, 1]; t = 1 for one delta (Jang et al., arXiv 2403.19522). f is λ/Σw and
// sum the weighted sum Σ w_i d_i.
func modelStock(dst []float32, sum []float64, d [][]float32, n int, f float64) {
	t := 1.0
	if N := len(d); N > 1 {
		var c float64
		pairs := 0
		for i := range N {
			for k := i + 1; k < N; k++ {
				c += cosine(d[i][:n], d[k][:n])
				pairs++
			}
		}
		c = max(0, min(1, c/float64(pairs)))
		t = float64(N) * c / (1 + float64(N-1)*c)
	}
	for j, v := range sum {
		dst[j] = float32(f * t * v)
	}
}

// nuslerp writes λ·slerp(t, d[0], d[1]) with t = w_1/(w_0+w_1), over the whole of d[i][:n] or, with
// rows, over each row of length in separately; one delta is written as λ·d[0].
func nuslerp(dst []float32, d [][]float32, n int, w []float64, in int, rows bool, lambda float64) {
	if len(d) == 1 {
		for j, v := range d[0][:n] {
			dst[j] = float32(lambda * float64(v))
		}
		return
	}
	t := w[1] / (w[0] + w[1])
	seg := n
	if rows {
		seg = in
	}
	for off := 0; off < n; off += seg {
		slerp(dst[off:off+seg], d[0][off:off+seg], d[1][off:off+seg], t, lambda)
	}
}

// slerp writes λ·(sin((1−t)θ)·a + sin(tθ)·b)/sinθ, θ the angle between a and b (a zero vector counts
// as orthogonal to everything, as mergekit's normalisation with a floor of 1e-7 makes it), or the
// linear λ·((1−t)·a + t·b) where sinθ < 1e-8.
func slerp(dst, a, b []float32, t, lambda float64) {
	const floor = 1e-7
	na, nb := max(math.Sqrt(dot(a, a)), floor), max(math.Sqrt(dot(b, b)), floor)
	theta := math.Acos(max(-1, min(1, dot(a, b)/(na*nb))))
	s := math.Sin(theta)
	c0, c1 := 1-t, t
	if math.Abs(s) >= 1e-8 {
		c0, c1 = math.Sin((1-t)*theta)/s, math.Sin(t*theta)/s
	}
	for j := range dst {
		dst[j] = float32(lambda * (c0*float64(a[j]) + c1*float64(b[j])))
	}
}

// karcher writes λ·(Σ ŵ_i‖d_i‖)·μ, μ the weighted Karcher mean of the unit vectors d_i/‖d_i‖ on the
// sphere (ŵ the weights normalised to sum 1; deltas with ‖d_i‖ ≤ tol are left out of μ), found by at
// most iters geodesic steps along the weighted mean of the logarithm maps, stopping when a step is
// shorter than tol. One delta is written as λ·d[0].
func karcher(dst []float32, d [][]float32, n int, w []float64, iters int, tol, lambda float64) {
	if len(d) == 1 {
		for j, v := range d[0][:n] {
			dst[j] = float32(lambda * float64(v))
		}
		return
	}
	var wsum float64
	for _, v := range w {
		wsum += v
	}
	norms := make([]float64, len(d))
	var scale, vsum float64
	var valid []int
	for i := range d {
		norms[i] = math.Sqrt(dot(d[i][:n], d[i][:n]))
		scale += w[i] / wsum * norms[i]
		if norms[i] > tol {
			valid = append(valid, i)
			vsum += w[i]
		}
	}
	if len(valid) == 0 || vsum == 0 {
		clear(dst[:n])
		return
	}
	alpha := make([]float64, len(d)) // the weights renormalised over the valid deltas
	for _, i := range valid {
		alpha[i] = w[i] / vsum
	}
	unit := func(i, j int) float64 { return float64(d[i][j]) / norms[i] }
	mu := make([]float64, n)
	for _, i := range valid {
		for j := range mu {
			mu[j] += alpha[i] * unit(i, j)
		}
	}
	if !normalize(mu, tol) {
		for j := range mu {
			mu[j] = unit(valid[0], j)
		}
	}
	tangent := make([]float64, n)
	for range iters {
		clear(tangent)
		for _, i := range valid {
			var c float64
			for j, m := range mu {
				c += m * unit(i, j)
			}
			c = max(-1, min(1, c))
			theta := math.Acos(c)
			s := math.Sin(theta)
			if theta < tol || s < 1e-12 { // at the mean, or antipodal (no unique geodesic)
				continue
			}
			f := alpha[i] * theta / s
			for j, m := range mu {
				tangent[j] += f * (unit(i, j) - c*m)
			}
		}
		var tn float64
		for _, v := range tangent {
			tn += v * v
		}
		tn = math.Sqrt(tn)
		if tn < tol {
			break
		}
		cs, sn := math.Cos(tn), math.Sin(tn)
		for j := range mu {
			mu[j] = cs*mu[j] + sn*tangent[j]/tn
		}
		normalize(mu, tol)
	}
	for j, m := range mu {
		dst[j] = float32(lambda * scale * m)
	}
}

// normalize scales v to unit length and reports true, or leaves it and reports false when its norm is
// at most tol.
func normalize(v []float64, tol float64) bool {
	var s float64
	for _, x := range v {
		s += x * x
	}
	s = math.Sqrt(s)
	if s <= tol {
		return false
	}
	for j := range v {
		v[j] /= s
	}
	return true
}
