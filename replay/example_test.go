package replay_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/replay"
)

func facts(name string, n int) accrete.Task {
	t := accrete.Task{Name: name}
	for i := range n {
		t.Train = append(t.Train, accrete.Example{ID: fmt.Sprintf("%s-%d", name, i), Prompt: "q", Answer: "a"})
	}
	return t
}

// Wrap a base strategy (here one that only reports what it is given) so that each round also trains on
// 10% of the current task's size from every earlier task, as accrete.Run would drive it.
func ExampleWrap() {
	base := accrete.StrategyFunc(func(_ context.Context, _ *accrete.Learner, r accrete.Round) error {
		count := map[string]int{}
		for _, ex := range r.Task.Train {
			count[ex.ID[:strings.IndexByte(ex.ID, '-')]]++
		}
		fmt.Printf("round %d trains on %d items: %v; history given: %v\n", r.Index+1, len(r.Task.Train), count, r.History != nil)
		return nil
	})
	s := replay.Wrap(base, replay.Config{Ratio: 0.1, Seed: 1})
	tasks := []accrete.Task{facts("stance", 50), facts("fomc", 40), facts("science", 30)}
	for i, t := range tasks {
		if err := s.Learn(context.Background(), nil, accrete.Round{Index: i, Task: t, History: tasks[:i]}); err != nil {
			fmt.Println(err)
			return
		}
	}
	fmt.Println(s.Name())
	// Output:
	// round 1 trains on 50 items: map[stance:50]; history given: false
	// round 2 trains on 44 items: map[fomc:40 stance:4]; history given: false
	// round 3 trains on 36 items: map[fomc:3 science:30 stance:3]; history given: false
	// replay(accrete.StrategyFunc)
}

// With a budget, the earlier tasks live only in a reservoir of at most Budget items.
func ExampleBuffer() {
	b := replay.NewBuffer(5, 42)
	b.Add(facts("stance", 50).Train...)
	b.Add(facts("fomc", 40).Train...)
	fmt.Println(b.Len(), b.Seen())
	// Output:
	// 5 90
}
