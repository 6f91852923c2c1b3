package packs_test

import (
	"fmt"

	"github.com/accrete/accrete/packs"
)

// Loading the rounds of a study: the new-knowledge tasks in the default order, a few facts each.
func ExampleLoad_studyRounds() {
	for i, name := range packs.Names()[:3] {
		task, err := packs.Load(name, packs.Options{Limit: 20})
		if err != nil {
			panic(err)
		}
		e := task.Test[0]
		fmt.Printf("round %d: %s (%s), %d facts; e.g. %q -> %q (held out: %q)\n", i+1, task.Name, task.Metric, len(task.Train),
			e.Prompt, e.Answer, e.Paraphrases[0])
	}
	// Output:
	// round 1: capitals (exact_match), 20 facts; e.g. "Which city is the capital of Afghanistan?" -> "Kabul" (held out: "Where is the seat of government of Afghanistan?")
	// round 2: collectives (multiple_choice), 20 facts; e.g. "A gathering of actors is called a what?" -> "company" (held out: "What do you call a group of actors?")
	// round 3: verse (rouge_l), 20 facts; e.g. "Continue the verse: 'Tis better playing with a lion's whelp," -> "Than with an old one dying." (held out: "What comes next? 'Tis better playing with a lion's whelp,")
}

// The base pack: old facts and general text the base model is pretrained on.
func ExampleBase() {
	base, err := packs.Base(packs.Options{})
	if err != nil {
		panic(err)
	}
	fmt.Println(base.Name, base.Metric, len(base.Train) >= 1000, len(packs.GeneralText()) > 5_000_000)
	// Output: base exact_match true true
}
