package lora

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/accrete/accrete/model"
)

// Method is what a memory plan is for: training an adapter, training every weight, or decoding.
type Method string

// Methods of PlanOptions.
const (
	MethodLoRA   Method = "lora"   // train an adapter on a frozen base
	MethodFFT    Method = "fft"    // full fine-tuning: every weight trained
	MethodDecode Method = "decode" // greedy decoding with a KV cache, no training
)

// DType is the storage and compute type of a plan's base weights and activations.
type DType string

// DTypes of PlanOptions. Adapters, optimizer state and FFT's master weights are float32 in both.
const (
	F32  DType = "f32"
	BF16 DType = "bf16"
)

func (d DType) bytes() int64 {
	if d == BF16 {
		return 2
	}
	return 4
}

// PlanOptions describes a run for PlanMemory. Zero values mean the documented defaults.
type PlanOptions struct {
	// Method trained (or decoding). Default (""): MethodLoRA.
	Method Method
	// Adapter gives the rank and target modules under MethodLoRA. Default: Config{} (rank 8, all seven
	// modules).
	Adapter Config
	// TrainableParams, when > 0, is the number of trained parameters, in place of the count Method and
	// Adapter imply (Train passes the sizes of the tensors it is given).
	TrainableParams int64
	// Batch is the number of sequences run at once (the micro-batch under gradient accumulation).
	// Default (0): 8.
	Batch int
	// SeqLen is the padded sequence length; under MethodDecode the KV cache's length. Default (0): 256.
	SeqLen int
	// AnswerLen is the padded answer window of a training step: the positions of a sequence whose
	// logits the loss reads (Train runs the output head on those only). Default (0) or above SeqLen:
	// SeqLen, a loss on every position.
	AnswerLen int
	// Accumulate says the run accumulates gradients over micro-batches: the running sum is held
	// beside the micro-batch's gradients. Default false.
	Accumulate bool
	// DType of the base weights. Default (""): F32.
	DType DType
	// Compute is the type of the activations and logits. Default (""): DType on a device; F32 in the
	// host layout, since the CPU backends compute in float32 whatever the weights are stored in.
	Compute DType
	// CopiedWeights says the backend copies the host weights into buffers of its own (GoMLX's stock
	// pure-Go backend), so the host layout holds them twice; the accrete backend borrows them.
	CopiedWeights bool
	// OptimizerStates is the number of float32 values of optimizer state per trained parameter.
	// Default (0): 2 (AdamW's two moments); negative: none.
	OptimizerStates int
	// Recompute plans activation recomputation (TrainConfig.Recompute): the backward pass keeps each
	// layer's input [B, T, D] and one layer's intermediates, not every layer's.
	Recompute bool
	// Device plans the device-resident layout of an accelerator (XLA): one copy of each weight and the
	// optimizer state in device memory. Default false: the CPU backends' host layout, in which the
	// backend reads the host Weights in place (see CopiedWeights), Train keeps a restore copy of the
	// trained tensors (in memory up to 256 MB, else in a temporary file) and AdamW runs on the host.
	Device bool
	// Devices, when > 1, plans one device of a data-parallel run over that many (TrainConfig.Devices):
	// each holds the weights, the gradients and the optimizer state whole and ⌈Batch/Devices⌉
	// sequences' activations and logits. Default (0 or 1): one device.
	Devices int
}

func (o PlanOptions) withDefaults() PlanOptions {
	if o.Method == "" {
		o.Method = MethodLoRA
	}
	if o.Batch <= 0 {
		o.Batch = 8
	}
	if o.SeqLen <= 0 {
		o.SeqLen = 256
	}
	if o.AnswerLen <= 0 || o.AnswerLen > o.SeqLen {
		o.AnswerLen = o.SeqLen
	}
	if o.DType == "" {
		o.DType = F32
	}
	if o.Compute == "" {
		o.Compute = F32
		if o.Device {
			o.Compute = o.DType
		}
	}
	if o.OptimizerStates == 0 {
		o.OptimizerStates = 2
	} else if o.OptimizerStates < 0 {
		o.OptimizerStates = 0
	}
	return o
}

// Validate names the first bad field.
func (o PlanOptions) Validate() error {
	switch {
	case o.Method != "" && o.Method != MethodLoRA && o.Method != MethodFFT && o.Method != MethodDecode:
		return fmt.Errorf("lora plan options: Method %q unknown (lora, fft or decode)", o.Method)
	case o.DType != "" && o.DType != F32 && o.DType != BF16:
		return fmt.Errorf("lora plan options: DType %q unknown (f32 or bf16)", o.DType)
	case o.Compute != "" && o.Compute != F32 && o.Compute != BF16:
		return fmt.Errorf("lora plan options: Compute %q unknown (f32 or bf16)", o.Compute)
	case o.TrainableParams < 0:
		return fmt.Errorf("lora plan options: TrainableParams must be ≥ 0, got %d", o.TrainableParams)
	case o.Batch < 0 || o.SeqLen < 0 || o.AnswerLen < 0:
		return fmt.Errorf("lora plan options: Batch, SeqLen and AnswerLen must be ≥ 0, got %d, %d, %d", o.Batch, o.SeqLen, o.AnswerLen)
	case o.Devices < 0:
		return fmt.Errorf("lora plan options: Devices must be ≥ 0, got %d", o.Devices)
	}
	if o.Method == MethodLoRA || o.Method == "" {
		return o.Adapter.Validate()
	}
	return nil
}

// Plan is the memory a run needs, in bytes, by category. It is an estimate from the shapes (see
// PlanMemory for the model); Total is the figure to compare with a machine's memory.
type Plan struct {
	Options PlanOptions // with defaults filled in
	Config  model.Config
	// Params and Trainable count the model's parameters and the trained ones.
	Params, Trainable int64

	Weights     int64 // base weights (and adapter), every copy the layout holds
	Gradients   int64 // gradients of the trained tensors (twice under accumulation)
	Optimizer   int64 // optimizer moments, and FFT's float32 master weights under bf16
	Snapshot    int64 // the host layout's restore copy of the trained tensors
	Activations int64 // per-layer values the backward pass keeps
	Logits      int64 // [B, A, V] logits over the answer window and their gradient; a decoding step's logits
	KVCache     int64 // decoding's keys and values
	Working     int64 // one layer's transient values in the backward pass (or a prefill's)
	Transient   int64 // the host layout's Go-heap slack: upload copies the garbage collector has not freed
	Overhead    int64 // runtime, compiled programs, workspace
}

// Total is the sum of every category.
func (p Plan) Total() int64 {
	return p.Weights + p.Gradients + p.Optimizer + p.Snapshot + p.Activations + p.Logits + p.KVCache +
		p.Working + p.Transient + p.Overhead
}

// Fits reports whether the plan's total is at most budget bytes.
func (p Plan) Fits(budget int64) bool { return p.Total() <= budget }

// String is a table of the categories in MB (10⁶ bytes) and the total.
func (p Plan) String() string {
	var b bytes.Buffer
	o := p.Options
	layout := "host layout"
	if o.Device {
		layout = "device layout"
	}
	if o.Devices > 1 {
		layout += fmt.Sprintf(", per device of %d", o.Devices)
	}
	fmt.Fprintf(&b, "memory plan: %s, %s, %s, B%d T%d, %.3gB params (%.3gM trained)\n", o.Method, o.DType, layout,
		o.Batch, o.SeqLen, float64(p.Params)/1e9, float64(p.Trainable)/1e6)
	row := func(name string, v int64) {
		if v != 0 {
			fmt.Fprintf(&b, "  %-12s %10s MB\n", name, mb(v))
		}
	}
	row("weights", p.Weights)
	row("gradients", p.Gradients)
	row("optimizer", p.Optimizer)
	row("snapshot", p.Snapshot)
	row("activations", p.Activations)
	row("logits", p.Logits)
	row("kv cache", p.KVCache)
	row("working", p.Working)
	row("transient", p.Transient)
	row("overhead", p.Overhead)
	fmt.Fprintf(&b, "  %-12s %10s MB", "total", mb(p.Total()))
	return b.String()
}

func mb(v int64) string {
	s := strconv.FormatInt((v+500_000)/1_000_000, 10)
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// Overheads: the Go runtime, the compiled programs and the tokenizer on the host; the CUDA context
// and XLA's workspace on a device. Rough constants; the activations dominate at real shapes.
const (
	hostOverhead   = 150 << 20
	deviceOverhead = 1 << 30
)

// PlanMemory estimates the bytes a run of cfg needs, by category.
//
// The model: weights N·w (w = 4 or 2 bytes), twice only when the backend copies them
// (CopiedWeights); float32 gradients of the trained tensors (in the Compute type for FFT: Train's
// are float32, a bf16-compute trainer's bf16); OptimizerStates float32 values per trained parameter,
// plus float32 master weights for FFT in bf16 (Train keeps one for every trained tensor stored as
// bfloat16; the plan counts one per trained parameter, the few float32 norm weights included).
// Activations (in the Compute type) are what a Llama layer's backward pass reads, per token: 6·D
// (the two norms' inputs and outputs, the rotated queries, the attention output), 2·KV·hd (rotated
// keys, values), 5·F (gate, its sigmoid, SiLU, up, their product) plus H·T attention probabilities,
// times the layers; the logits 2·B·A·V over the answer window A = AnswerLen (logits and their
// gradient; B·A·V in the host layout, where the gradient is computed in the logits' buffer). Decoding
// keeps
// 2·L·B·T·KV·hd cached keys and values and one step's logits. The working set is one layer's
// activations. Under data parallelism (Devices > 1) the plan is one device's, with B its share of the
// batch. The host layout adds the restore copy of the trained tensors as stored (w bytes a
// parameter for FFT, 4 for an adapter) when it stays in memory (up to 256 MB) and, when the backend
// copies the weights, the Go heap's slack: with GOGC=100 the heap may reach twice its live size
// before the garbage collector returns upload copies.
//
// It panics if cfg or o is invalid (check them with Validate).
func PlanMemory(cfg model.Config, o PlanOptions) Plan {
	if err := cfg.Validate(); err != nil {
		panic("lora.PlanMemory: " + err.Error())
	}
	if err := o.Validate(); err != nil {
		panic("lora.PlanMemory: " + err.Error())
	}
	cfg = cfg.WithDefaults()
	o = o.withDefaults()
	w := o.DType.bytes()
	p := Plan{Options: o, Config: cfg, Params: int64(cfg.NumParams())}
	B, T := int64(o.Batch), int64(o.SeqLen)
	if o.Devices > 1 {
		B = (B + int64(o.Devices) - 1) / int64(o.Devices) // this device's share of the batch
	}
	D, F, V := int64(cfg.HiddenSize), int64(cfg.IntermediateSize), int64(cfg.VocabSize)
	H, KV, hd, L := int64(cfg.NumAttentionHeads), int64(cfg.NumKeyValueHeads), int64(cfg.HeadDim), int64(cfg.NumHiddenLayers)

	var adapterParams int64
	if o.Method == MethodLoRA {
		adapterParams = loraParams(cfg, o.Adapter)
	}
	switch {
	case o.Method == MethodDecode:
	case o.TrainableParams > 0:
		p.Trainable = o.TrainableParams
	case o.Method == MethodFFT:
		p.Trainable = p.Params
	default:
		p.Trainable = adapterParams
	}
	copies := int64(1)
	if o.CopiedWeights && !o.Device {
		copies = 2
	}
	p.Weights = copies * (p.Params*w + adapterParams*4)

	a := o.Compute.bytes()
	layer := B * T * (6*D + 2*KV*hd + 5*F + H*T) * a
	if o.Method == MethodDecode {
		p.KVCache = 2 * L * B * T * KV * hd * a
		p.Logits = B * V * 4
		p.Working = layer
	} else {
		gradBytes := int64(4)
		if o.Method == MethodFFT {
			gradBytes = o.Compute.bytes()
		}
		p.Gradients = p.Trainable * gradBytes
		if o.Accumulate {
			p.Gradients *= 2
		}
		p.Optimizer = p.Trainable * 4 * int64(o.OptimizerStates)
		if o.Method == MethodFFT && o.DType == BF16 {
			p.Optimizer += p.Trainable * 4
		}
		p.Activations = L * layer
		if o.Recompute {
			p.Activations = L * B * T * D * a
		}
		p.Logits = 2 * B * int64(o.AnswerLen) * V * a
		if !o.Device {
			p.Logits /= 2 // the accrete backend computes their gradient in the logits' own buffer
		}
		p.Working = layer
	}

	if o.Device {
		p.Overhead = deviceOverhead
		return p
	}
	p.Overhead = hostOverhead
	snapshot := p.Trainable * 4
	if o.Method == MethodFFT {
		snapshot = p.Trainable * w
	}
	if snapshot <= snapshotInMemory {
		p.Snapshot = snapshot
	}
	if o.CopiedWeights {
		// The Go heap holds the host weights, the snapshot and the optimizer state; the garbage it may
		// accumulate is bounded by its live size and by what is uploaded: every weight once, and every
		// trained base weight again on every step (an adapter's uploads are negligible).
		live := p.Params*w + adapterParams*4 + p.Snapshot + p.Optimizer
		garbage := p.Params * w
		if o.Method == MethodFFT {
			garbage = live
		}
		p.Transient = min(live, garbage)
	}
	return p
}

// loraParams counts an adapter's parameters: r·(in + out) per target module and layer.
func loraParams(cfg model.Config, c Config) int64 {
	c = c.WithDefaults()
	var n int64
	for _, m := range c.TargetModules {
		out, in := cfg.ModuleShape(m)
		n += int64(c.Rank) * int64(in+out)
	}
	return n * int64(cfg.NumHiddenLayers)
}

// ErrMemory is returned (wrapped, with the plan) when a run's memory plan exceeds its budget.
var ErrMemory = errors.New("lora: the run does not fit in memory")

// PlanError is the error of a run refused for memory: the plan and the budget it exceeds.
type PlanError struct {
	Plan   Plan
	Budget int64
}

func (e *PlanError) Error() string {
	return fmt.Sprintf("%v: the plan needs %s MB, the budget is %s MB (TrainConfig.MemoryBudget; negative: no check)\n%s",
		ErrMemory, mb(e.Plan.Total()), mb(e.Budget), e.Plan)
}

// Unwrap returns ErrMemory.
func (e *PlanError) Unwrap() error { return ErrMemory }

// hostMemory returns the machine's physical memory (MemTotal in /proc/meminfo), or 0 when it cannot be
// read.
func hostMemory() int64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}
