// Package tiny ships accrete's base model: a small Llama (5.4M parameters: hidden 256, 6 layers, 8
// heads, 4 KV heads, MLP 688, tied head, a 4,096-token BPE vocabulary of its own), pretrained from
// scratch by examples/pretrain on 8 MB of general English text with the base pack's 1,277 facts mixed
// in, each in several phrasings (packs/data/base). It knows those facts in phrasings it never saw
// (knowledge, not memorised strings), and they are the "old knowledge" whose retention the study
// measures; it is small enough to train adapters on two CPU cores in seconds.
//
// The files (config.json, model.safetensors, tokenizer.json and RECIPE.md with the exact recipe, seed
// and scores) are embedded, in Hugging Face layout, under llama/.
package tiny
