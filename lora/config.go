package lora

import (
	"fmt"
	"math"
	"slices"

	"github.com/accrete/accrete/model"
)

// Config describes a LoRA adapter, with PEFT's meanings.
type Config struct {
	// Rank r of the update ΔW = scale·B·A. Default (0): 8.
	Rank int
	// Alpha sets the scale alpha/r (alpha/√r with RSLoRA). Default (0): 2·Rank.
	Alpha float64
	// Dropout is the probability of zeroing an adapter input during training (PEFT's lora_dropout).
	// Default 0: none.
	Dropout float64
	// TargetModules are the linear layers adapted, any of model.Modules. Default (nil): all seven.
	TargetModules []string
	// RSLoRA scales by alpha/√r instead of alpha/r (Kalajdzievski 2023). Default false.
	RSLoRA bool
	// Seed draws A (Kaiming-uniform as in PEFT); B starts at zero. Default 0.
	Seed uint64
}

// WithDefaults returns c with zero fields replaced by their defaults.
func (c Config) WithDefaults() Config {
	if c.Rank == 0 {
		c.Rank = 8
	}
	if c.Alpha == 0 {
		c.Alpha = 2 * float64(c.Rank)
	}
	if c.TargetModules == nil {
		c.TargetModules = slices.Clone(model.Modules)
	}
	return c
}

// Validate names the first bad field and its value.
func (c Config) Validate() error {
	c = c.WithDefaults()
	if c.Rank < 0 {
		return fmt.Errorf("lora config: Rank must be > 0, got %d", c.Rank)
	}
	if c.Alpha < 0 || math.IsNaN(c.Alpha) || math.IsInf(c.Alpha, 0) {
		return fmt.Errorf("lora config: Alpha must be a positive number, got %g", c.Alpha)
	}
	if c.Dropout < 0 || c.Dropout >= 1 || math.IsNaN(c.Dropout) {
		return fmt.Errorf("lora config: Dropout must be in [0, 1), got %g", c.Dropout)
	}
	if len(c.TargetModules) == 0 {
		return fmt.Errorf("lora config: TargetModules is empty (nil means all of %v)", model.Modules)
	}
	seen := map[string]bool{}
	for _, m := range c.TargetModules {
		if !slices.Contains(model.Modules, m) {
			return fmt.Errorf("lora config: TargetModules: unknown module %q (want any of %v)", m, model.Modules)
		}
		if seen[m] {
			return fmt.Errorf("lora config: TargetModules: %q listed twice", m)
		}
		seen[m] = true
	}
	return nil
}

// Scale is the factor of B·A: Alpha/Rank, or Alpha/√Rank with RSLoRA.
func (c Config) Scale() float64 {
	c = c.WithDefaults()
	if c.RSLoRA {
		return c.Alpha / math.Sqrt(float64(c.Rank))
	}
	return c.Alpha / float64(c.Rank)
}
