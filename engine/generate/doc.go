// Package generate is the single-sequence text generation loop behind
// `kiln run`: tokenize a prompt with the model's BOS rule, prefill it in
// chunks of the model's max batch, then sample, stream and evaluate one token
// at a time until an end-of-generation token, the token limit or the context
// is reached. It keeps the loop out of package main so it can be tested and
// reused (the server schedules many sequences through control instead).
package generate
