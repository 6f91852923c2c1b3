// Package lora adds low-rank adapters to a Llama model, trains them (or the full model), and keeps
// them on disk in Hugging Face PEFT's format.
//
// # Overview
//
// LoRA (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models", arXiv 2106.09685)
// freezes a linear layer's weight W [out, in] and learns an update ΔW = scale·B·A of rank r, with
// A [r, in], B [out, r] and scale = alpha/r (alpha/√r with RSLoRA). An Adapter holds A and B for
// every target module of every layer and plugs into a model.Model through its adapter hook
// (Model.SetAdapter), adding scale·(x·Aᵀ)·Bᵀ to the module's output; Adapter.Fold adds ΔW to the
// weights instead (PEFT's merge_and_unload).
//
// Train minimises the masked cross-entropy of answer tokens with AdamW over any named tensors of a
// model: the adapter's (LoRA) or the base weights (full fine-tuning), plus an optional in-graph extra
// loss (O-LoRA's orthogonality penalty).
//
// TrainConfig.MicroBatchSize accumulates gradients over micro-batches, so an effective batch larger
// than memory allows takes the same update as in one piece. PlanMemory estimates the bytes a run needs
// by category (weights, gradients, optimizer state, activations, logits, KV cache) for LoRA, FFT or
// decoding, in float32 or bf16, in the CPU backends' host layout or a device's; Train refuses a run
// whose plan exceeds TrainConfig.MemoryBudget (by default the machine's memory) before it allocates.
// On the CPU backends Train keeps the trained tensors and AdamW's moments in host memory; on a device
// backend (XLA) it keeps them in device buffers and updates them in the graph, so that a step moves
// only the batch and the loss (TrainConfig.Layout).
//
// A Store keeps named adapters for one base model in a directory, each in its own subdirectory as
// PEFT writes it, with a manifest that records the base model's Fingerprint and each adapter's task,
// round, creation time and metrics. SavePEFT and LoadPEFT read and write single adapter directories.
//
// # Full fine-tuning in bfloat16
//
// A trained tensor stored as bfloat16 (a model loaded with model.LoadOptions.BF16, or after
// Weights.ToBF16) is trained with float32 master weights, as DeepSpeed's and Megatron's bf16
// optimizers do, with nothing to set: the forward and backward passes read the bfloat16 weights
// (widened to float32 inside the kernels, as the model always computes); the gradient is taken with
// respect to that float32 widening, so it is float32 and never rounded to bfloat16; AdamW updates a
// float32 master copy of the weight with float32 moments; and after every step the stored weight is
// the master rounded to nearest even (safetensors.Float32ToBF16, as Weights.ToBF16 rounds). An update
// under half a bfloat16 ulp, which applied to the bfloat16 weight would round away, stays in the
// master until the steps add up. In the host layout the master is a host slice beside AdamW's
// moments; in the device layout it is a device buffer made from the bfloat16 value in a graph, and
// the update graph writes the rounded bfloat16 weight from it, with the old value, the master and the
// moments donated. (The in-graph rounding is the backend's conversion where it rounds to nearest even,
// as XLA's and the accrete backend's do, and exact float32 arithmetic otherwise: GoMLX's pure-Go
// backend truncates.) The master lives for one Train call: each call starts it from the stored
// bfloat16 values, so a run split over several calls rounds at each boundary. A failed run restores
// the bfloat16 bits; a successful one leaves the rounded weights in the model. The memory plan counts
// 4 bytes of master per trained parameter (PlanMemory's Optimizer row) and float32 gradients.
//
// # Several devices
//
// TrainConfig.Devices = n > 1 trains data-parallel on n devices of an XLA backend through GoMLX's
// distributed package: a one-axis DeviceMesh ("data") and the AutoSharding strategy (XLA Shardy).
// Each micro-batch is split along the batch axis into n equal shares; the weights, the trained
// tensors and AdamW's moments are replicated on every device; the step graph is the one-device
// graph, and XLA inserts the all-reduce of the gradients, so the update is the one-device update of
// the same batch (the mean loss over its answer tokens) up to the order of float32 sums. Train
// refuses, before it allocates, more devices than the backend has (the CPU backends have one), the
// host layout, and a micro-batch (MicroBatchSize, else BatchSize) that n does not divide.
// PlanOptions.Devices plans one device's memory: the weights and optimizer state whole, 1/n of the
// activations and logits.
//
//	// GOMLX_BACKEND=xla:cuda on a machine with 8 GPUs
//	res, err := lora.Train(ctx, m, names, data, lora.TrainConfig{BatchSize: 32, Devices: 8})
//
// The tests run this path on a mesh simulated on one device (same weights as one device, bit for bit);
// XLA's partitioning itself has not run here, for want of a machine with several devices. With adapter
// dropout the masks are drawn over the whole micro-batch from a replicated RNG state; that they equal
// the one-device masks depends on how XLA partitions the random-number generator.
//
// # PEFT conventions
//
// The files and names are PEFT's, so adapters move between this package and Python unchanged:
// adapter_config.json (peft_type "LORA", task_type "CAUSAL_LM", r, lora_alpha, lora_dropout,
// target_modules, bias "none", use_rslora, fan_in_fan_out false) and adapter_model.safetensors with
// keys "base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight" [r, in] and
// "...lora_B.weight" [out, r] (mlp.gate_proj, mlp.up_proj, mlp.down_proj for the MLP). A is
// initialised Kaiming-uniform and B to zero, as PEFT does. Module names are transformers' Llama names
// (model.Modules).
//
// # Invariants
//
//   - A fresh adapter (B = 0) leaves the model's outputs bit-identical.
//   - Under LoRA only the adapter's tensors change: Train leaves every tensor not named trainable
//     bit-identical, the base weights included.
//   - Train is deterministic: the same model, data, adapter seed and TrainConfig.Seed give
//     bit-identical tensors.
//   - A failed Train (a non-finite loss, a cancelled context) restores the trained tensors to their
//     values before the call.
//   - Store writes are atomic: an interrupted Add or Delete leaves the store readable as it was
//     before or after, never with a partial adapter; saving and loading a store gives adapters that
//     produce bit-identical logits.
//
// # Not for
//
// Quantised bases (QLoRA), training in bfloat16 arithmetic (the weights may be stored as bfloat16;
// the computation and the optimizer are float32), DoRA, bias training, per-module rank or alpha patterns, or adapters on
// embeddings; LoadPEFT refuses adapter files that use them.
package lora
