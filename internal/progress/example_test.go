package progress_test

import (
	"os"

	"github.com/accrete/accrete/internal/progress"
)

// A bar that writes to a log rather than a terminal prints its first step and its last, and between
// them at most one line every 10 seconds.
func ExampleBar_log() {
	bar := progress.New(os.Stdout, "train", 4)
	bar.Update(1, "loss 2.31")
	bar.Update(2, "loss 2.02") // within 10 s of the last line: not printed
	bar.Update(3, "loss 1.87")
	bar.Update(4, "loss 1.75")
	// Output:
	// train [#####...............] 1/4 0:00 ETA 0:00 loss 2.31
	// train [####################] 4/4 0:00 ETA 0:00 loss 1.75
}
