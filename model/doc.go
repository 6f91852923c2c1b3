// Package model runs Llama-family decoders in GoMLX: the forward pass, the loss, KV-cache generation
// and the checkpoint formats of Hugging Face and llama2.c.
//
// # Overview
//
// A Model is a Config (Hugging Face's config.json), Weights (host float32 tensors) and the compiled
// graphs that run them on a GoMLX backend. The architecture is transformers' LlamaForCausalLM:
// grouped-query attention (NumKeyValueHeads ≤ NumAttentionHeads, HeadDim may differ from
// HiddenSize/NumAttentionHeads), rotate-half RoPE with rope_theta and llama3 or linear rope_scaling,
// RMSNorm, SwiGLU, and a tied or untied LM head. It is checked against an independent float64 Go
// forward pass and against PyTorch (testdata/torchref: logits within 1e-4, the same greedy
// continuations as the reference's KV-cache generate).
//
// # Memory
//
// A Model's weights are host tensors (Tensor), float32 or, for frozen base weights, bfloat16
// (LoadOptions.BF16 or Weights.ToBF16: half the memory; BF16 checkpoints load with no float32 copy).
// On the accrete CPU backend the backend's buffers borrow the host tensors instead of copying them, so
// every weight is held once (TestWeightsHeldOnce: the model holds its weights plus under 5%), and a
// bfloat16 weight is converted to float32 block by block inside the matmul that reads it, never
// whole; computation stays float32 either way (TestBF16StorageMatchesTorchRef: logits within 1e-4 of
// PyTorch's on the same bfloat16 weights upcast). Other backends get a copy of each weight on the
// device, which XLA holds as stored (bfloat16 stays bfloat16).
//
// Weights are keyed by Hugging Face's tensor names ("model.layers.3.self_attn.q_proj.weight") and
// every linear weight keeps PyTorch's [out, in] layout, so LoadHF and SaveHF (config.json plus
// model.safetensors, or sharded with model.safetensors.index.json; F32, BF16, F16) move checkpoints
// to and from transformers unchanged. LoadLlama2C reads Karpathy's llama2.c .bin files, permuting the
// q and k rows from llama2.c's interleaved RoPE to the rotate-half layout.
//
// The graph functions Forward, Logits, TokenLogProbs and MaskedCrossEntropy build the same
// computation inside any GoMLX graph, for trainers (package lora) to differentiate. Adapters change a
// model without touching its weights through one hook: an Adapter (Model.SetAdapter) contributes
// tensors and, for each linear layer (Modules, in transformers' names), a delta added to its output.
// After changing host tensors, Model.UpdateWeights refreshes their device copies.
//
// Generate decodes a batch of prompts together: one prefill pass over the left-padded prompts fills a
// per-layer KV cache, then each step feeds one token per row; it decodes greedily or samples with
// Temperature, TopK and TopP from a seeded math/rand/v2 source, and stops rows at stop tokens.
// Shapes are bucketed (lengths to powers of two from 8, batches to powers of two) so a few compiled
// graphs serve every request; a Model keeps one compiled graph per bucket, dropping the least
// recently used beyond 48, so GoMLX's per-Exec limit of 32 cached shapes is never reached however
// many shapes a program uses.
//
// # Backends
//
// NewBackend and Backend create the backend named by the GOMLX_BACKEND environment variable, for
// example "xla:cuda" or "xla:/abs/path/pjrt_c_api_cpu_plugin.so", so the same code runs on XLA's CPU,
// GPU or TPU plugins. When it is unset the default is DefaultBackendConfig, "accrete": the project's own
// pure-Go CPU backend (internal/cpubackend), which needs no C library or download and uses every
// core. "go:ops_sequential" selects GoMLX's stock pure-Go backend, with ops run one after another
// because its parallel-ops mode deadlocks on 2-core machines in GoMLX v0.26.0. Computation on the CPU
// backends is float32.
//
// # What it is not for
//
// It runs the Llama models of accrete's experiments on a CPU, and real shapes through XLA (see
// bench_test.go and BENCHMARKS.md for measured speeds). It is not a serving engine (no paged attention, continuous batching or
// quantisation beyond bfloat16 storage), and it loads only the Llama architecture.
//
// accrete uses it as the base model of "Collaboratively adding new knowledge to an LLM" (Lee &
// Wynter, arXiv 2410.14753) and of O-LoRA (arXiv 2310.14152).
package model
