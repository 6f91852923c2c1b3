package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestBarPrintsETAAndFinalLine(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, "train", 4)
	clock := b.start
	b.now = func() time.Time { return clock }
	clock = clock.Add(11 * time.Second)
	b.Update(1, "loss 2")
	clock = clock.Add(time.Second)
	b.Update(2, "loss 1") // within the 10 s period: suppressed
	clock = clock.Add(time.Second)
	b.Update(4, "loss 0.5") // final: always printed
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 2)
	require.Equal(t, "train [#####...............] 1/4 0:11 ETA 0:33 loss 2", lines[0])
	require.Contains(t, lines[1], "4/4")
	require.Contains(t, lines[1], "ETA 0:00")
	var nilBar *Bar
	nilBar.Update(1, "") // silent, no panic
}
