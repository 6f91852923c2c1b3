// Package tokenizer turns text into the token ids of Llama-family models and back, and trains small
// BPE vocabularies of the same kinds.
//
// # Overview
//
// Tokenizer is the interface the rest of accrete uses. Three implementations:
//
//   - BPE reads a Hugging Face tokenizer.json (LoadHF, ParseHF) in either Llama flavour: Llama 2's
//     SentencePiece-style BPE with byte fallback (Flavour SentencePiece) or Llama 3's byte-level BPE
//     (Flavour ByteLevel), told apart by the file's normalizer and pre_tokenizer. Merges may be
//     written as "a b" strings or as [a, b] pairs. Added tokens such as <|eot_id|> are matched
//     verbatim in the text before anything else.
//   - Llama2C reads the tokenizer.bin of Karpathy's llama2.c (LoadLlama2C) and encodes as its run.c.
//   - Train builds a BPE vocabulary of a chosen size from texts, in either flavour, and BPE.Save
//     writes it as a tokenizer.json with the schema of Llama 2's (or Llama 3's) file.
//
// Encoding merges the adjacent pair of best rank (or, for llama2.c, best score) first, leftmost
// among equals, using a heap over a linked list of symbols, so it is O(n log n) in the text's
// length; byte-level words are cached. Stream decodes ids one at a time for generation.
//
// Llama 3's pre-tokenizer regular expression uses a lookahead, which Go's regexp lacks; it is
// implemented by hand as a scanner with the same leftmost-first, backtracking semantics.
//
// # Invariants
//
//   - Decode(Encode(s, bos, eos)) == s for any string s, invalid UTF-8 included, unless s holds a
//     special token's string or, for the SentencePiece flavour, "▁" (which decodes as a space).
//   - Train is deterministic: the same texts, size and options give the same file, byte for byte.
//   - Train's vocabulary has exactly the requested number of ids, special tokens included.
//
// # Tests against the real vocabularies
//
// The Llama 2 and Llama 3 vocabularies are not committed. internal/testdata/fetch-tokenizers.sh DIR
// rebuilds both tokenizer.json files, and reference encodings, from the npm packages
// llama-tokenizer-js@1.2.2 and llama3-tokenizer-js@1.2.0; the tests use them when
// ACCRETE_TOKENIZER_DATA=DIR is set and skip otherwise.
//
// The package is not a general Hugging Face tokenizers port: Unigram and WordPiece models, other
// normalizers (NFC, NFKC, ...) and other split expressions (GPT-2's, Qwen's, ...) are rejected with
// an error wrapping ErrFormat, and there is no truncation or padding.
package tokenizer
