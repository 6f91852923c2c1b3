// Package moe mixes frozen LoRA experts with learned per-module routers (moetify, Lee, Wynter & Ganti,
// arXiv 2408.17280), and provides the semi-cooperative strategy of arXiv 2410.14753 that adds one
// expert per round and retrains the routers on a small calibration sample.
//
// # Overview
//
// A Mixture is a model.Adapter. For every adapted module it holds a router Linear(in → n), without
// bias, initialised uniform in ±1/√in from a seed as PyTorch's nn.Linear (moetify's router) is; per
// token the router's logits pick the top-k experts (default 2) and the gate turns their logits into
// weights, as moetify does it: Softmax applies a softmax to the top-k logits only — the same as taking
// the softmax over all experts, keeping the k largest and renormalising them to sum to 1 — and Sigmoid
// applies a sigmoid to each top-k logit, unnormalised. The module's output is
//
//	W·x + Σ_e g_e(x)·scale_e·B_e·A_e·x
//
// with the base output always on and the experts frozen. Attached with Model.SetAdapter it runs in all
// of the model's graphs (Logits, TokenLogProbs, Generate with its KV cache, training). A Uniform
// mixture has no router: every expert weighs 1/n, which equals folding the mean of the experts' ΔW
// into the base weights. Unlike a merge, a routed mixture cannot be folded into the weights.
//
// TrainRouter trains only the router tensors (lora.Train over Mixture.RouterNames) on a few
// calibration examples, optionally adding the load-balancing loss of Switch Transformers (Fedus,
// Zoph & Shazeer, arXiv 2101.03961) in Mixtral's top-k form: n·Σ_e f_e·P_e per module, averaged over
// modules, where f_e is the fraction of tokens whose top-k holds e (divided by k) and P_e the mean
// softmax probability of e; top-k selection is not differentiable, so P carries the gradient. Its
// coefficient defaults to 0.01, between Mixtral's 0.02 and transformers' 0.001. The router sees
// every position of a batch, padding included, because the adapter hook is not given the mask.
//
// # Strategy
//
// New(Config) is an accrete.Strategy: each round resets the model to the base, trains an adapter from
// the base on the round's task, adds it as an expert, keeps a seeded sample of CalibrationPerTask
// (default 16) of the task's items — the only data a semi-cooperative party hands over — retrains the
// routers on the samples of all tasks so far (keeping the rows learned for earlier experts), and
// attaches the mixture to the learner's model. It is Stateful (experts in PEFT's layout, routers in
// router.safetensors, the calibration items in calibration.json) and a Namer ("moe-top2", ...).
//
// The package is not a sparse-MoE training framework: experts are LoRA deltas on one base model and
// every expert is computed for every token (the top-k mask zeroes the others' weights), which is what
// a handful of small experts on a CPU needs.
package moe
