package adamw

import "math"

// sqrt32 is the correctly rounded float32 square root: the float64 square root of a float32 is
// correctly rounded to float32 by the conversion (53 ≥ 2·24+2 bits, so the double rounding is
// harmless), and equals what VSQRTPS computes.
func sqrt32(x float32) float32 { return float32(math.Sqrt(float64(x))) }
